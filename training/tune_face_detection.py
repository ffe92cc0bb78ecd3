"""Choose when the face pass believes MTCNN: count faces on photos with and without people.

    python -m training.tune_face_detection            # prints the table, writes JSON to runs/

A false face is costly: the restore's face pass re-draws it as a face (it once put a
face box over a landscape of boats). MTCNN's own score is not enough (a rock scored
0.983, real faces in the 1927 Solvay photo 0.973), so the engine also asks ONet about
the mirrored crop (engine.ops.faces.mirror_scores). This script measures, per
split of the corpus, the faces found on photos without people (false faces; faces of
statues and apes count as false here) and on photos with people, for several mirror
thresholds at the engine's score cut-off. The threshold is chosen on the training and
validation photos; the held-out ones only report.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.images import load_image
from engine.ops import faces as face_ops
from engine.pipelines.restore import FACE_SCORE
from training.data.corpus import load_corpus

MIRRORS = (0.0, 0.5, 0.8, 0.9, 0.95)
MIN_FACE = 48  # RestoreOptions.min_face

# Corpus photos whose subject includes people (training/data/CORPUS.md); every other
# photo has none, so any face found there is false.
PEOPLE_PREFIXES = (
    "astronaut",
    "camera",
    "grace_hopper",
    "solvay_1927",
    "explore_world_music-",
    "opencv-messi5",
    "opencv-basketball",
    "opencv-football",
    "opencv-chessboard",
)


def has_people(name: str) -> bool:
    return name.startswith(PEOPLE_PREFIXES)


def sweep(photos: list[tuple[str, Path]], detector: face_ops.FaceDetector) -> dict:
    """Per mirror threshold: false faces (photos without people), faces on people photos."""
    counts = {m: {"false_faces": 0, "false_photos": [], "people_faces": 0} for m in MIRRORS}
    for name, path in photos:
        image = load_image(path).pixels
        found = [
            f for f in face_ops.detect_faces(image, detector, MIN_FACE) if f.score >= FACE_SCORE
        ]
        scores = face_ops.mirror_scores(image, found, detector)  # once, for every threshold
        for mirror in MIRRORS:
            kept = [f for f, p in zip(found, scores, strict=True) if p >= mirror]
            row = counts[mirror]
            if has_people(name):
                row["people_faces"] += len(kept)
            elif kept:
                row["false_faces"] += len(kept)
                row["false_photos"].append(name)
    return {str(m): v for m, v in counts.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs") / "face-detection.json")
    args = parser.parse_args(argv)
    corpus = load_corpus()
    detector = face_ops.FaceDetector.from_registry(device="cpu")
    results = {}
    for split in ("train", "validation", "heldout"):
        usable = set(corpus.split(split))  # without the diffusion-only photos
        photos = [(r.name, corpus.root / r.file) for r in corpus.records]
        photos = [(n, p) for n, p in photos if p in usable]
        people = sum(has_people(n) for n, _ in photos)
        results[split] = {"photos": len(photos), "people_photos": people, **sweep(photos, detector)}
        for mirror in MIRRORS:
            row = results[split][str(mirror)]
            print(
                f"{split:10s} mirror {mirror:4.2f}: {row['false_faces']:3d} false faces "
                f"({', '.join(row['false_photos']) or 'none'}); {row['people_faces']} faces on "
                f"{people} people photos"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
