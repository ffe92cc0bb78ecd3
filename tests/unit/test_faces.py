"""Face detection, alignment and pasting through the real bundled MTCNN packs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from matplotlib import cbook
from PIL import Image
from skimage import data as skdata

from downloads import CACHE as DOWNLOADS
from downloads import cached_or_skip
from engine.cancel import CancelToken
from engine.errors import Cancelled
from engine.images import load_image
from engine.models import BUNDLED_DIR, Registry
from engine.ops.faces import (
    Face,
    FaceDetector,
    align_face,
    confirm_faces,
    detect_faces,
    paste_face,
    similarity_transform,
    template_points,
)

CACHE = DOWNLOADS / "insightface"
SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
INSIGHTFACE = "insightface==2.1"


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> FaceDetector:
    registry = Registry(bundled=BUNDLED_DIR, user=tmp_path_factory.mktemp("no-user-packs"))
    return FaceDetector.from_registry(registry, device="cpu")


def _float(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def grace() -> np.ndarray:
    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as image:
        return _float(np.asarray(image.convert("RGB")))


@pytest.fixture(scope="module")
def grace_face(grace: np.ndarray, detector: FaceDetector) -> Face:
    (face,) = detect_faces(grace, detector)
    return face


@pytest.fixture(scope="module")
def group_photo() -> np.ndarray:
    """insightface's sample group photo t1.jpg, taken from its wheel (cached)."""

    target = CACHE / "t1.jpg"

    def fetch() -> Path:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "-q",
                INSIGHTFACE,
                "-d",
                str(CACHE),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        (wheel,) = CACHE.glob("insightface-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            target.write_bytes(archive.read("insightface/data/images/t1.jpg"))
        return target

    with Image.open(cached_or_skip(f"{INSIGHTFACE}'s t1.jpg", target, fetch)) as image:
        return _float(np.asarray(image.convert("RGB")))


def _assert_plausible(face: Face, shape: tuple[int, ...]) -> None:
    x0, y0, x1, y1 = face.box
    assert 0 <= x0 < x1 <= shape[1] and 0 <= y0 < y1 <= shape[0]
    (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = face.landmarks
    assert lx < nx < rx and mlx < mrx  # left eye, nose, right eye, in image left-to-right
    assert max(ly, ry) < ny < max(mly, mry)  # eyes above the nose above the mouth
    assert np.all((face.landmarks >= (x0, y0)) & (face.landmarks <= (x1, y1)))


def test_one_face_in_grace_hopper(grace: np.ndarray, grace_face: Face) -> None:
    _assert_plausible(grace_face, grace.shape)
    assert grace_face.score > 0.99
    x0, y0, x1, y1 = grace_face.box
    assert 150 < x1 - x0 < 220 and 170 < y1 - y0 < 260  # her face, not the whole portrait


def test_gray_input_finds_the_same_face(
    grace: np.ndarray, grace_face: Face, detector: FaceDetector
) -> None:
    gray = grace.mean(axis=2, keepdims=True)
    (face,) = detect_faces(gray, detector)
    assert np.abs(face.landmarks - grace_face.landmarks).max() < 6


def test_one_face_in_astronaut(detector: FaceDetector) -> None:
    image = _float(skdata.astronaut())
    (face,) = detect_faces(image, detector)
    _assert_plausible(face, image.shape)


@pytest.mark.network
def test_group_photo_finds_every_face(group_photo: np.ndarray, detector: FaceDetector) -> None:
    faces = detect_faces(group_photo, detector)
    assert len(faces) == 6
    for face in faces:
        _assert_plausible(face, group_photo.shape)
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)


@pytest.mark.parametrize("name", ["coffee", "rocket"])
def test_no_faces_where_there_are_none(name: str, detector: FaceDetector) -> None:
    assert detect_faces(_float(getattr(skdata, name)()), detector) == []


def test_min_face_skips_smaller_faces(grace: np.ndarray, detector: FaceDetector) -> None:
    assert detect_faces(grace, detector, min_face=400) == []
    with pytest.raises(ValueError, match="min_face"):
        detect_faces(grace, detector, min_face=8)


def test_cancelled_detection_stops(grace: np.ndarray, detector: FaceDetector) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        detect_faces(grace, detector, cancel=token)


def test_similarity_transform_recovers_a_known_transform() -> None:
    angle, scale, shift = np.deg2rad(20.0), 0.7, np.array([40.0, -15.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    source = template_points(256)
    matrix = similarity_transform(source, source @ rotation.T + shift)
    np.testing.assert_allclose(matrix[:2, :2], rotation, atol=1e-9)
    np.testing.assert_allclose(matrix[:2, 2], shift, atol=1e-9)


def _blob_centre(image: np.ndarray, around: np.ndarray, radius: int = 8) -> np.ndarray:
    x, y = np.round(around).astype(int)
    window = image[y - radius : y + radius + 1, x - radius : x + radius + 1, 0]
    rows, cols = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    weight = window / window.sum()
    return np.array([x + (cols * weight).sum(), y + (rows * weight).sum()])


def test_align_puts_marked_points_on_the_template() -> None:
    """Dots drawn where a rotated, shrunk face's landmarks are end up on the template."""
    size, angle, scale = 256, np.deg2rad(-25.0), 0.8
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = template_points(size) @ rotation.T + (90.0, 60.0)
    rows, cols = np.mgrid[0:320, 0:400]
    image = np.zeros((320, 400, 3), np.float32)
    for x, y in points:
        image += np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * 2.0**2))[..., None]
    face = Face((0.0, 0.0, 400.0, 320.0), 1.0, points.astype(np.float32))
    crop, _ = align_face(image, face, size)
    assert crop.shape == (size, size, 3)
    for found, wanted in zip(
        (_blob_centre(crop, p) for p in template_points(size)), template_points(size), strict=True
    ):
        assert np.abs(found - wanted).max() < 0.5


def test_align_real_face_puts_eyes_on_the_template(
    grace: np.ndarray, grace_face: Face, detector: FaceDetector
) -> None:
    crop, matrix = align_face(grace, grace_face, 256)
    eyes = grace_face.landmarks[:2] @ matrix[:2, :2].T + matrix[:2, 2]
    assert np.abs(eyes - template_points(256)[:2]).max() < 3  # least squares over 5 points
    (again,) = detect_faces(crop, detector)  # the crop really shows the face upright there
    assert np.abs(again.landmarks[:2] - template_points(256)[:2]).max() < 6


def _interior(face: Face, margin: int = 30) -> tuple[slice, slice]:
    x0, y0, x1, y1 = (int(v) for v in face.box)
    return slice(y0 + margin, y1 - margin), slice(x0 + margin, x1 - margin)


@pytest.mark.parametrize("change", ["unmodified", "tone-shifted"])
def test_paste_of_the_aligned_crop_gives_the_original_back(
    grace: np.ndarray, grace_face: Face, change: str
) -> None:
    crop, matrix = align_face(grace, grace_face, 512)
    if change == "tone-shifted":  # colour matching must undo a global per-channel change
        crop = crop * np.array([0.6, 0.8, 0.5], np.float32) + 0.1
    out = paste_face(grace, crop, matrix, feather=16)
    assert out.shape == grace.shape and out.dtype == np.float32
    diff = np.abs(out - grace)[_interior(grace_face)]
    assert diff.mean() < 0.006
    assert np.percentile(diff, 99) < 0.03
    corners = np.array([[-0.5, -0.5], [511.5, -0.5], [-0.5, 511.5], [511.5, 511.5]])
    footprint = (corners - matrix[:2, 2]) @ np.linalg.inv(matrix[:2, :2]).T
    top = int(np.floor(footprint[:, 1].min()))
    if top > 0:
        np.testing.assert_array_equal(out[:top], grace[:top])  # untouched outside


@pytest.mark.parametrize("feather,limit", [(24, 0.03), (0, 0.3)])
def test_paste_feather_hides_the_seam(
    grace: np.ndarray, grace_face: Face, feather: int, limit: float
) -> None:
    """A flat crop fades in with a feather; without one its edge is a visible step."""
    crop, matrix = align_face(grace, grace_face, 256)
    out = paste_face(grace, np.full_like(crop, 0.5), matrix, feather=feather)
    excess = np.abs(np.diff(out, axis=1)).max(axis=2) - np.abs(np.diff(grace, axis=1)).max(axis=2)
    assert (excess.max() < limit) == (feather > 0)


def test_paste_works_on_gray_images(grace: np.ndarray, grace_face: Face) -> None:
    gray = grace.mean(axis=2, keepdims=True)
    crop, matrix = align_face(gray, grace_face, 512)
    out = paste_face(gray, crop, matrix, feather=16)
    assert out.shape == gray.shape
    assert np.abs(out - gray)[_interior(grace_face)].mean() < 0.006


@pytest.mark.network
def test_the_mirror_check_drops_a_false_face_and_keeps_real_ones(
    group_photo: np.ndarray, grace: np.ndarray, detector: FaceDetector
) -> None:
    """The bundled boats sample once got a face box over the boats (MTCNN score 0.92)."""
    boats = load_image(SAMPLES / "old_EveningGlow.jpg").pixels
    found = [f for f in detect_faces(boats, detector, min_face=48) if f.score >= 0.9]
    assert len(found) == 1  # MTCNN alone is fooled ...
    assert confirm_faces(boats, found, detector, 0.8) == []  # ... its mirror image is not
    for photo, count in ((grace, 1), (group_photo, 6)):
        faces = detect_faces(photo, detector)
        assert len(confirm_faces(photo, faces, detector, 0.8)) == count


def test_the_solvay_sample_keeps_its_small_gray_faces(detector: FaceDetector) -> None:
    solvay = load_image(SAMPLES / "solvay_1927.jpg").pixels
    faces = [f for f in detect_faces(solvay, detector, min_face=48) if f.score >= 0.9]
    assert len(faces) >= 15
    assert len(confirm_faces(solvay, faces, detector, 0.8)) == len(faces)
