"""Choose the face pass's share of smoothing (engine FACE_SMOOTHING) on validation faces.

    python -m training.tune_face_pass [--seeds 8]

The validation photo with a face (astronaut) is aged with ``--seeds`` random
degradations; each is restored without the face pass and with it at several shares of
the pre-pass's denoising. Prints PSNR and SSIM inside the detected face box (and of the
whole photo) per setting; the engine's constant is the best face score.
"""

from __future__ import annotations

import argparse
from unittest import mock

import numpy as np

from engine import arrays
from engine.pipelines import restore
from training.data.corpus import load_corpus, photo_array
from training.data.degrade import degrade
from training.eval.metrics import psnr, ssim

SHARES = (0.0, 0.5, 1.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args(argv)
    clean = photo_array(load_corpus().path("astronaut")).astype(np.float32) / 255
    scores: dict[str, list[tuple[float, float, float]]] = {}
    for seed in range(args.seeds):
        aged = degrade(clean, np.random.default_rng(1000 + seed), damage=True)
        target = arrays.rgb(arrays.luma(clean)[..., None]) if "grayscale" in aged.ops else clean
        plain = restore.restore_photo(aged.image, restore.RestoreOptions(faces=False))
        options = restore.RestoreOptions(mask=plain.images["mask"])
        outputs = {"no face pass": plain}
        for share in SHARES:
            with mock.patch.object(restore, "FACE_SMOOTHING", share):
                outputs[f"face pass, smoothing share {share:g}"] = restore.restore_photo(
                    aged.image, options
                )
        found = outputs[f"face pass, smoothing share {SHARES[-1]:g}"].info["faces"]
        if not found:
            continue
        x0, y0, x1, y1 = (int(v) for v in found[0])
        box = np.s_[y0:y1, x0:x1]
        for name, result in outputs.items():
            out = arrays.rgb(result.images["restored"])
            scores.setdefault(name, []).append(
                (psnr(out[box], target[box]), ssim(out[box], target[box]), psnr(out, target))
            )
    for name, rows in scores.items():
        face_psnr, face_ssim, whole = np.mean(rows, axis=0)
        print(f"{name:34s} face {face_psnr:.2f} dB / SSIM {face_ssim:.3f}; photo {whole:.2f} dB")


if __name__ == "__main__":
    main()
