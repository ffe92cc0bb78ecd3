"""Faces: MTCNN detection on three ONNX stages, 5-point alignment, warp back and blend.

Detection follows the MTCNN cascade (Zhang et al. 2016) as facenet-pytorch runs it:
an image pyramid through PNet, box proposals with NMS per scale and across scales,
then RNet on 24x24 and ONet on 48x48 crops, which also gives five landmarks. Box
maths keeps the reference's 1-based, inclusive-corner conventions internally so the
pretrained regressors see the boxes they were trained on; :class:`Face` reports
plain pixel coordinates.

Warps use Pillow on mode "F" planes (one per channel), so 16-bit sources keep their
precision. Pillow samples at pixel centres (corner-origin coordinates); every matrix
here maps pixel *indices*, and :func:`_pillow_affine` converts between the two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from engine.adapter import PackAdapter
from engine.cancel import NEVER, CancelToken
from engine.models import Registry
from engine.runtime import Device

STAGES = ("pnet", "rnet", "onet")
OUTPUTS = ["box_reg", "prob", "landmarks"]  # graph output names, as the packs' manifests list
PIXEL_SCALE = 255.0  # the cascade works on pixels in 0..255, as MTCNN's box maths does
BATCH = 256  # crops per RNet/ONet call: bounds memory on photos with many candidates
PREFILTER_STEP = 1.5  # warps shrinking more than this are antialiased first

# BOPBTL's 5-point face template (left eye, right eye, nose, mouth left, mouth right)
# as fractions of the aligned crop's side; its face enhancer was trained on such crops.
TEMPLATE = (
    np.array([[196.0, 226.0], [316.0, 226.0], [256.0, 286.0], [220.0, 360.4], [292.0, 360.4]])
    / 512.0
)
# The FFHQ template that GFPGAN, CodeFormer and RestoreFormer align 512x512 faces to
# (facexlib's, same point order). Its points are pixel indices of the 512 crop; + 0.5
# makes them the side fractions template_points takes.
FFHQ_TEMPLATE = (
    np.array(
        [
            [192.98138, 239.94708],
            [318.90277, 240.19360],
            [256.63416, 314.01935],
            [201.26117, 371.41043],
            [313.08905, 371.15118],
        ]
    )
    + 0.5
) / 512.0


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face, in pixel coordinates of the image it was found in.

    ``box`` is (x0, y0, x1, y1) with x1/y1 exclusive, clipped to the image.
    ``landmarks`` is 5x2 (x, y): left eye, right eye, nose, mouth left, mouth right
    (left/right as seen in the image); the centre of pixel (row i, col j) is (j, i).
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class FaceDetector:
    """The three MTCNN stages (each fed through its pack's adapter, which applies the
    pack's mean and std) and the cascade settings from their manifests."""

    pnet: PackAdapter
    rnet: PackAdapter
    onet: PackAdapter
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    factor: float = 0.709

    @classmethod
    def from_registry(
        cls, registry: Registry | None = None, device: Device = "auto"
    ) -> FaceDetector:
        """Open the installed face-detect-{pnet,rnet,onet} packs on ``device``."""
        registry = registry or Registry()
        packs = [registry.for_task(f"face-detect-{stage}") for stage in STAGES]
        stages = [PackAdapter.open(pack, device) for pack in packs]
        options = packs[0].manifest.options
        return cls(
            *stages,
            thresholds=tuple(
                float(p.manifest.options.get("threshold", t))
                for p, t in zip(packs, cls.thresholds, strict=True)
            ),
            factor=float(options.get("factor", cls.factor)),
        )


def _feed(stage: PackAdapter, pixels: np.ndarray) -> np.ndarray:
    """HxWx3 [0, 255] (or NxHxWx3) -> NCHW float32 in the stage's input range."""
    batch = pixels if pixels.ndim == 4 else pixels[None]
    return np.ascontiguousarray(
        stage.to_model(batch, "image", scale=PIXEL_SCALE).transpose(0, 3, 1, 2),
        dtype=np.float32,
    )


# --- detection ------------------------------------------------------------------


def detect_faces(
    image: np.ndarray, detector: FaceDetector, min_face: int = 20, cancel: CancelToken = NEVER
) -> list[Face]:
    """Find faces at least ``min_face`` pixels tall in an HxWxC float image in [0, 1].

    Gray (HxW or HxWx1) is replicated to RGB. Faces come best score first. Every
    network call goes through ``cancel``, so a long detection stops promptly.
    """
    if min_face < 12:
        raise ValueError("min_face must be at least 12 (PNet's window); smaller would upsample")
    rgb = _rgb255(image)
    height, width = rgb.shape[:2]
    boxes = _propose(rgb, detector, min_face, cancel)
    if len(boxes):
        boxes = _refine(rgb, boxes, detector, cancel)
    if not len(boxes):
        return []
    boxes, points = _output(rgb, boxes, detector, cancel)
    faces = []
    for row, marks in zip(boxes, points, strict=True):
        x0, y0 = max(float(row[0]) - 1.0, 0.0), max(float(row[1]) - 1.0, 0.0)
        x1, y1 = min(float(row[2]), float(width)), min(float(row[3]), float(height))
        faces.append(Face((x0, y0, x1, y1), float(row[4]), marks.astype(np.float32)))
    return sorted(faces, key=lambda f: -f.score)


def mirror_scores(
    image: np.ndarray, faces: list[Face], detector: FaceDetector, cancel: CancelToken = NEVER
) -> np.ndarray:
    """ONet's face probability for each face's square crop mirrored left to right.

    A face is nearly symmetric, so its mirror image scores about as high as itself,
    small gray faces included; the textures MTCNN mistakes for faces (rocks, a hand, a
    wave) are not, and their mirror scores far lower. training/tune_face_detection.py
    measures both on training and validation photos; the thresholds in
    engine/pipelines/restore.py come from it.
    """
    if not faces:
        return np.zeros(0, np.float32)
    boxes = []
    for face in faces:
        x0, y0, x1, y1 = face.box
        side = max(x1 - x0, y1 - y0)
        boxes.append([x0 + 1.0, y0 + 1.0, x0 + side, y0 + side, face.score])
    _, crops = _crops(_rgb255(image), np.array(boxes), 48)  # detected boxes touch the image
    mirrored = _feed(detector.onet, np.ascontiguousarray(crops[:, :, ::-1]))
    _, prob, _ = _run_batched(detector.onet, mirrored, OUTPUTS, cancel)
    return prob[:, 0]


def confirm_faces(
    image: np.ndarray,
    faces: list[Face],
    detector: FaceDetector,
    threshold: float = 0.8,
    cancel: CancelToken = NEVER,
) -> list[Face]:
    """Keep the faces whose mirror image ONet still calls a face (:func:`mirror_scores`)."""
    scores = mirror_scores(image, faces, detector, cancel)
    return [face for face, p in zip(faces, scores, strict=True) if p >= threshold]


def _rgb255(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an HxW, HxWx1, HxWx3 or HxWx4 image, got {array.shape}")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return np.clip(array[..., :3], 0.0, 1.0) * 255.0


def _resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-average resize (Pillow BOX, like torch's 'area' mode) of an HxWx3 float image."""
    planes = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(pixels[..., c])).resize(
                (width, height), Image.Resampling.BOX
            )
        )
        for c in range(pixels.shape[2])
    ]
    return np.stack(planes, axis=-1)


def _scales(height: int, width: int, min_face: int, factor: float) -> list[float]:
    scale = 12.0 / min_face
    side = min(height, width) * scale
    scales = []
    while side >= 12:
        scales.append(scale)
        scale *= factor
        side *= factor
    return scales


def _propose(
    rgb: np.ndarray, detector: FaceDetector, min_face: int, cancel: CancelToken
) -> np.ndarray:
    """Stage 1: PNet over the pyramid -> squared candidate boxes (x1, y1, x2, y2, score)."""
    height, width = rgb.shape[:2]
    found = []
    for scale in _scales(height, width, min_face, detector.factor):
        level = _resize(rgb, int(width * scale + 1), int(height * scale + 1))
        feeds = {"image": _feed(detector.pnet, level)}
        reg, prob = detector.pnet.run(feeds, cancel, OUTPUTS[:2])
        boxes = _window_boxes(reg[0], prob[0, 0], scale, detector.thresholds[0])
        found.append(boxes[_nms(boxes, 0.5)])
    boxes = np.concatenate(found) if found else np.zeros((0, 9), np.float32)
    if not len(boxes):
        return boxes[:, :5]
    boxes = boxes[_nms(boxes, 0.7)]
    size = boxes[:, 2:4] - boxes[:, 0:2]  # the reference regresses stage 1 without +1
    corners = boxes[:, :4] + boxes[:, 5:9] * np.tile(size, 2)
    return _square(np.column_stack([corners, boxes[:, 4]]))


def _window_boxes(reg: np.ndarray, prob: np.ndarray, scale: float, threshold: float) -> np.ndarray:
    """PNet cells above threshold -> boxes in image pixels (stride 2, 12x12 window)."""
    rows, cols = np.nonzero(prob >= threshold)
    x1 = np.floor((2 * cols + 1) / scale)
    y1 = np.floor((2 * rows + 1) / scale)
    x2 = np.floor((2 * cols + 12) / scale)
    y2 = np.floor((2 * rows + 12) / scale)
    return np.column_stack([x1, y1, x2, y2, prob[rows, cols], reg[:, rows, cols].T])


def _refine(
    rgb: np.ndarray, boxes: np.ndarray, detector: FaceDetector, cancel: CancelToken
) -> np.ndarray:
    """Stage 2: RNet rescoring and regression of 24x24 crops."""
    boxes, crops = _crops(rgb, boxes, 24)
    if not len(crops):
        return boxes[:, :5]
    reg, prob = _run_batched(detector.rnet, _feed(detector.rnet, crops), OUTPUTS[:2], cancel)
    keep = prob[:, 0] > detector.thresholds[1]
    boxes = np.column_stack([boxes[keep, :4], prob[keep, 0]])
    reg = reg[keep]
    pick = _nms(boxes, 0.7)
    return _square(_regress(boxes[pick], reg[pick]))


def _output(
    rgb: np.ndarray, boxes: np.ndarray, detector: FaceDetector, cancel: CancelToken
) -> tuple[np.ndarray, np.ndarray]:
    """Stage 3: ONet's final boxes and landmarks (Nx5x2, pixel indices)."""
    boxes, crops = _crops(rgb, boxes, 48)
    if not len(crops):
        return boxes[:, :5], np.zeros((0, 5, 2))
    reg, prob, marks = _run_batched(detector.onet, _feed(detector.onet, crops), OUTPUTS, cancel)
    keep = prob[:, 0] > detector.thresholds[2]
    boxes = np.column_stack([boxes[keep, :4], prob[keep, 0]])
    reg, marks = reg[keep], marks[keep]
    size = boxes[:, 2:4] - boxes[:, 0:2] + 1
    xs = size[:, :1] * marks[:, :5] + boxes[:, :1] - 1
    ys = size[:, 1:] * marks[:, 5:] + boxes[:, 1:2] - 1
    points = np.stack([xs, ys], axis=-1)
    boxes = _regress(boxes, reg)
    pick = _nms(boxes, 0.7, by_min=True)
    return boxes[pick], points[pick]


def _run_batched(
    stage: PackAdapter, batch: np.ndarray, outputs: list[str], cancel: CancelToken
) -> list[np.ndarray]:
    parts = [
        stage.run({"image": batch[i : i + BATCH]}, cancel, outputs)
        for i in range(0, len(batch), BATCH)
    ]
    return [np.concatenate(outputs) for outputs in zip(*parts, strict=True)]


def _crops(rgb: np.ndarray, boxes: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut each box (zero-padded where it leaves the image), resized to side x side.

    Boxes are truncated to integers first, as the reference does; boxes that do not
    touch the image are dropped. Returns the kept boxes and an Nx side x side x3 stack.
    """
    height, width = rgb.shape[:2]
    whole = np.trunc(boxes[:, :4]).astype(np.int64)
    kept, crops = [], []
    for row, (x1, y1, x2, y2) in zip(boxes, whole, strict=True):
        left, top = x1 - 1, y1 - 1  # 0-based first pixel
        w, h = x2 - x1 + 1, y2 - y1 + 1
        sx0, sy0 = max(left, 0), max(top, 0)
        sx1, sy1 = min(left + w, width), min(top + h, height)
        if w < 1 or h < 1 or sx1 <= sx0 or sy1 <= sy0:
            continue
        canvas = np.zeros((h, w, 3), np.float32)
        canvas[sy0 - top : sy1 - top, sx0 - left : sx1 - left] = rgb[sy0:sy1, sx0:sx1]
        crops.append(_resize(canvas, side, side))
        kept.append(row)
    if not kept:
        return np.zeros((0, 5)), np.zeros((0, side, side, 3), np.float32)
    return np.array(kept), np.stack(crops)


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    size = boxes[:, 2:4] - boxes[:, 0:2] + 1
    out = boxes.copy()
    out[:, :4] = boxes[:, :4] + reg * np.tile(size, 2)
    return out


def _square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square about its centre (the nets expect square crops)."""
    size = boxes[:, 2:4] - boxes[:, 0:2]
    side = size.max(axis=1, keepdims=True)
    out = boxes.copy()
    out[:, 0:2] = boxes[:, 0:2] + size * 0.5 - side * 0.5
    out[:, 2:4] = out[:, 0:2] + side
    return out


def _nms(boxes: np.ndarray, threshold: float, by_min: bool = False) -> np.ndarray:
    """Greedy non-maximum suppression on (x1, y1, x2, y2, score, ...) rows.

    Overlap is intersection over union, or over the smaller box (``by_min``), which
    ONet's stage uses to drop a small box sitting inside a larger one.
    """
    x1, y1, x2, y2, scores = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        iw = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1)
        ih = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1)
        inter = iw * ih
        union = np.minimum(area[best], area[rest]) if by_min else area[best] + area[rest] - inter
        order = rest[inter / union <= threshold]
    return np.array(keep, dtype=np.intp)


# --- alignment and warping back ----------------------------------------------------


def template_points(size: int, template: np.ndarray = TEMPLATE) -> np.ndarray:
    """A 5-point template (fractions of the side) in pixel indices of a ``size`` crop."""
    return template * size - 0.5


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + shift taking ``source`` to ``target``.

    Umeyama's closed form (no reflection); returns a 3x3 matrix on (x, y, 1) columns.
    """
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    src, dst = source - mu_s, target - mu_t
    u, s, vt = np.linalg.svd(dst.T @ src / len(source))
    sign = np.array([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ np.diag(sign) @ vt
    scale = float((s * sign).sum() / (src**2).sum(axis=1).mean())
    matrix = np.eye(3)
    matrix[:2, :2] = scale * rotation
    matrix[:2, 2] = mu_t - scale * rotation @ mu_s
    return matrix


def align_face(
    image: np.ndarray, face: Face, size: int = 256, template: np.ndarray = TEMPLATE
) -> tuple[np.ndarray, np.ndarray]:
    """Warp the face to ``template``'s 5-point pose in a ``size`` x ``size`` crop.

    Returns the crop (size x size x C, float32, bicubic, black outside the image) and
    the 3x3 matrix taking image pixel indices to crop pixel indices.
    """
    matrix = similarity_transform(face.landmarks, template_points(size, template))
    crop = _warp(_planes(image), np.linalg.inv(matrix), (size, size), Image.Resampling.BICUBIC)
    return crop, matrix


def paste_face(
    image: np.ndarray, enhanced_crop: np.ndarray, matrix: np.ndarray, feather: int = 16
) -> np.ndarray:
    """Put a (processed) aligned crop back into ``image`` without a visible seam.

    The crop is warped back, its per-channel mean and std are matched to the
    original's over the area it covers (so a restored face keeps the photo's tone),
    and it is blended with a mask that ramps from 0 at the crop's edge to 1 at
    ``feather`` pixels (crop pixels) inside it.
    """
    base = np.asarray(image, dtype=np.float32)
    squeeze = base.ndim == 2
    base = base[..., None] if squeeze else base
    crop = np.asarray(enhanced_crop, dtype=np.float32).reshape(
        enhanced_crop.shape[0], enhanced_crop.shape[1], -1
    )
    region = _footprint(matrix, crop.shape[:2], base.shape[:2])
    result = base.copy()
    if region is None:
        return result[..., 0] if squeeze else result
    x0, y0, x1, y1 = region
    to_crop = matrix @ _shift(x0, y0)
    shape = (x1 - x0, y1 - y0)
    warped = _warp(_planes(crop), to_crop, shape, Image.Resampling.BICUBIC)
    alpha = _warp(
        _feather_mask(crop.shape[:2], feather)[..., None], to_crop, shape, Image.Resampling.BILINEAR
    )
    original = base[y0:y1, x0:x1]
    inside = alpha[..., 0] > 0.5
    if inside.any() and warped.shape[2] == original.shape[2]:
        warped = _match_colour(warped, original, inside)
    blended = original + (warped - original) * np.clip(alpha, 0.0, 1.0)
    result[y0:y1, x0:x1] = np.clip(blended, 0.0, 1.0)
    return result[..., 0] if squeeze else result


def _planes(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image, dtype=np.float32)
    return array[..., None] if array.ndim == 2 else array


def _shift(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def _pillow_affine(out_to_in: np.ndarray) -> tuple[float, ...]:
    """Pillow's AFFINE data for a map between pixel indices (it works on pixel corners)."""
    corner = _shift(0.5, 0.5) @ out_to_in @ _shift(-0.5, -0.5)
    return tuple(float(v) for v in corner[:2].ravel())


def _warp(
    planes: np.ndarray, out_to_in: np.ndarray, size: tuple[int, int], resample: Image.Resampling
) -> np.ndarray:
    """Warp HxWxC float planes; ``size`` is (width, height) of the output.

    Only the input area the output sees is converted, and where the warp shrinks it
    by more than ``PREFILTER_STEP`` it is first reduced with Pillow's antialiasing
    resize: a bare affine transform has no prefilter and would alias (moire on hair).
    Milder shrinks skip it, as its extra softening would cost more than it saves.
    """
    planes, out_to_in = _input_window(planes, out_to_in, size)
    step = float(np.sqrt(abs(np.linalg.det(out_to_in[:2, :2]))))
    height, width = planes.shape[:2]
    if step > PREFILTER_STEP and min(height, width) > 1:
        small = (max(1, round(width / step)), max(1, round(height / step)))
        fx, fy = width / small[0], height / small[1]
        to_small = np.linalg.inv(
            np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, 0.5 * fy - 0.5], [0, 0, 1.0]])
        )
        planes = _per_channel(planes, lambda im: im.resize(small, Image.Resampling.BICUBIC))
        out_to_in = to_small @ out_to_in
    data = _pillow_affine(out_to_in)
    return _per_channel(
        planes, lambda im: im.transform(size, Image.Transform.AFFINE, data, resample=resample)
    )


def _per_channel(planes: np.ndarray, operation: Callable[[Image.Image], Image.Image]) -> np.ndarray:
    return np.stack(
        [
            np.asarray(operation(Image.fromarray(np.ascontiguousarray(planes[..., c]))))
            for c in range(planes.shape[2])
        ],
        axis=-1,
    )


def _input_window(
    planes: np.ndarray, out_to_in: np.ndarray, size: tuple[int, int], margin: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Cut the input down to what the output maps onto; shift the matrix to match."""
    low, high = _mapped_bounds(out_to_in, size)
    x0, y0 = np.clip(np.floor(low) - margin, 0, np.array(planes.shape[1::-1]) - 1).astype(int)
    x1, y1 = np.clip(np.ceil(high) + margin + 1, (x0 + 1, y0 + 1), planes.shape[1::-1]).astype(int)
    return planes[y0:y1, x0:x1], _shift(-x0, -y0) @ out_to_in


def _mapped_bounds(matrix: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Min and max (x, y) that ``matrix`` takes a (width, height) grid's outer edges to."""
    width, height = size
    corners = np.array(
        [
            [-0.5, -0.5, 1],
            [width - 0.5, -0.5, 1],
            [-0.5, height - 0.5, 1],
            [width - 0.5, height - 0.5, 1],
        ]
    ).T
    mapped = (matrix @ corners)[:2]
    return mapped.min(axis=1), mapped.max(axis=1)


def _footprint(
    matrix: np.ndarray, crop_shape: tuple[int, int], image_shape: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """Integer (x0, y0, x1, y1) of the image area the crop lands on, or None if outside."""
    low, high = _mapped_bounds(np.linalg.inv(matrix), (crop_shape[1], crop_shape[0]))
    x0, y0 = (max(int(v), 0) for v in np.floor(low))
    x1 = min(int(np.ceil(high[0])) + 1, image_shape[1])
    y1 = min(int(np.ceil(high[1])) + 1, image_shape[0])
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _feather_mask(shape: tuple[int, int], feather: int) -> np.ndarray:
    """1 inside, smoothly 0 at the border: a separable smoothstep ramp ``feather`` wide.

    The outermost 2 pixels stay 0 so bicubic ringing at the crop edge never shows.
    """

    def ramp(n: int) -> np.ndarray:
        distance = np.minimum(np.arange(n), np.arange(n)[::-1]).astype(np.float32) - 2.0
        t = np.clip(distance / max(feather, 1), 0.0, 1.0)
        return t * t * (3.0 - 2.0 * t)

    return np.outer(ramp(shape[0]), ramp(shape[1])).astype(np.float32)


def _match_colour(source: np.ndarray, reference: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Shift and scale each channel of ``source`` to ``reference``'s mean and std on ``where``."""
    src, ref = source[where], reference[where]
    mu_s, sd_s = src.mean(axis=0), src.std(axis=0)
    mu_r, sd_r = ref.mean(axis=0), ref.std(axis=0)
    gain = sd_r / np.maximum(sd_s, 1e-6)
    return ((source - mu_s) * gain + mu_r).astype(np.float32)
