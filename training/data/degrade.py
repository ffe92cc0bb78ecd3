"""Synthetic old-photo degradation: paired (clean, degraded, damage mask) training data.

Follows the order of "Bringing Old Photos Back to Life": local damage is drawn on the
print (scratches, dust, blotches), then the whole print ages (grayscale, sepia or colour
cast, fading, contrast loss, paper texture, film grain), then the scan adds blur, noise,
resampling and JPEG.

Images are float32 HxWx3 RGB in [0, 1]. Every operation is a public function of
``(image, rng, **ranges)``; local-damage operations return ``(image, mask)``, global ones
only the image. The mask (float32 HxW, 1 = damaged) covers exactly the pixels a stroke
altered: a stroke's anti-aliased coverage below ``DAMAGE_THRESHOLD`` is dropped, so a pixel
is either untouched (mask 0) or painted with at least that opacity (mask 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from engine import arrays

Range = tuple[float, float]

DAMAGE_THRESHOLD = 0.25  # stroke coverage at or above which a pixel counts as damaged
_SHIFT = 4  # cv2 fixed-point bits: strokes are drawn with 1/16 px precision
_SUB = 1 << _SHIFT


@dataclass
class Degraded:
    """A degraded image, its local-damage mask (HxW, {0, 1}) and the ops applied, in order."""

    image: np.ndarray
    mask: np.ndarray
    ops: list[str] = field(default_factory=list)


def _check(image: np.ndarray) -> None:
    if image.dtype != np.float32 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected float32 HxWx3, got {image.dtype} {image.shape}")


def _clip(image: np.ndarray) -> np.ndarray:
    return np.clip(image, 0.0, 1.0, out=image).astype(np.float32, copy=False)


def _u(rng: np.random.Generator, r: Range) -> float:
    return float(rng.uniform(r[0], r[1]))


def _count(rng: np.random.Generator, r: Range, scale: float) -> int:
    """A random count in ``r`` per 256x256 area unit, scaled by ``scale``."""
    return int(rng.poisson(max(0.0, _u(rng, r) * scale)))


# --------------------------------------------------------------------------- local damage


def composite(
    image: np.ndarray, coverage: np.ndarray, colour: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Paint ``colour`` (HxWx3 or 3) over ``image`` with opacity ``coverage`` (HxW, [0, 1]).

    Coverage below DAMAGE_THRESHOLD is dropped; the returned mask is 1 exactly where
    paint was applied.
    """
    mask = coverage >= DAMAGE_THRESHOLD
    alpha = np.where(mask, coverage, 0.0).astype(np.float32)[..., None]
    out = image * (1.0 - alpha) + np.asarray(colour, np.float32) * alpha
    return _clip(out.astype(np.float32)), mask.astype(np.float32)


def _walk(rng: np.random.Generator, h: int, w: int, length: float, bend: float) -> np.ndarray:
    """A smooth random curve (N x 2, x/y in px) of about ``length`` px.

    ``bend`` is the typical total turn over the whole curve in radians; the curvature
    varies smoothly along it, so S-curves appear as well as arcs.
    """
    n = max(3, int(length / 4))
    profile = np.interp(np.linspace(0, 3, n), np.arange(4), rng.normal(0.0, 1.0, 4))
    rate = bend * (rng.normal(0.0, 1.0) + profile) / n
    angles = rng.uniform(0, 2 * np.pi) + np.cumsum(rate)
    steps = np.stack([np.cos(angles), np.sin(angles)], 1) * (length / n)
    start = rng.uniform((0.0, 0.0), (w, h))
    return start + np.vstack([np.zeros((1, 2)), np.cumsum(steps, 0)])


def _polyline(canvas: np.ndarray, pts: np.ndarray, value: float, thickness: int) -> None:
    """Draw an anti-aliased polyline of opacity ``value`` (0..1) into a uint8 canvas."""
    fixed = np.round(pts * _SUB).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(canvas, [fixed], False, round(value * 255), thickness, cv2.LINE_AA, _SHIFT)


def _coverage(canvas: np.ndarray) -> np.ndarray:
    return canvas.astype(np.float32) / 255.0


def _wear(rng: np.random.Generator, h: int, w: int, cell: int = 12) -> np.ndarray:
    """Smooth random opacity field in [0, 1] (features ~``cell`` px) so strokes fade and break."""
    low = rng.uniform(0.2, 1.6, (h // cell + 2, w // cell + 2)).astype(np.float32)
    return np.clip(cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def scratches(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    long: Range = (0.5, 3.0),
    short: Range = (1.0, 8.0),
    width: tuple[int, int] = (1, 4),
    dark: float = 0.35,
) -> tuple[np.ndarray, np.ndarray]:
    """Thin curved scratches, bright (emulsion lost) or dark (dirt), anti-aliased.

    ``long`` / ``short`` are mean counts per 256 px of image size (long ones span a good
    part of the image, short ones 3-20 % of it); ``width`` is the stroke width range in
    px; ``dark`` is the share of dark strokes.
    """
    _check(image)
    h, w = image.shape[:2]
    side = float(np.hypot(h, w))
    size_scale = side / 362.0  # the diagonal of a 256x256 patch
    bright = np.zeros((h, w), np.uint8)
    darks = np.zeros((h, w), np.uint8)
    n_long = _count(rng, long, size_scale)
    n_short = _count(rng, short, size_scale * size_scale)
    if n_long + n_short == 0:
        n_short = 1
    for i in range(n_long + n_short):
        frac = (0.3, 1.0) if i < n_long else (0.03, 0.2)
        bend = _u(rng, (0.05, 0.8) if i < n_long else (0.1, 1.5))
        pts = _walk(rng, h, w, _u(rng, frac) * side, bend)
        thickness = int(width[0] + min(rng.geometric(0.45) - 1, width[1] - width[0]))
        canvas = darks if rng.random() < dark else bright
        _polyline(canvas, pts, _u(rng, (0.6, 1.0)), thickness)
    out, mask_b = composite(
        image,
        _coverage(bright) * _wear(rng, h, w),
        np.float32(_u(rng, (0.82, 1.0))) * np.array([1.0, 0.98, 0.93], np.float32),
    )
    out, mask_d = composite(
        out, _coverage(darks) * _wear(rng, h, w), np.full(3, _u(rng, (0.02, 0.2)), np.float32)
    )
    return out, np.maximum(mask_b, mask_d)


def dust(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    specks: Range = (5.0, 40.0),
    radius: Range = (0.6, 2.5),
    hairs: Range = (0.0, 1.5),
    dark: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Dust specks (small anti-aliased dots) and short curly hairs, bright or dark.

    ``specks`` and ``hairs`` are mean counts per 256x256 px; ``radius`` in px.
    """
    _check(image)
    h, w = image.shape[:2]
    area_scale = h * w / 65536.0
    bright = np.zeros((h, w), np.uint8)
    darks = np.zeros((h, w), np.uint8)
    n = max(1, _count(rng, specks, area_scale))
    centres = np.round(rng.uniform((0, 0), (w, h), (n, 2)) * _SUB).astype(np.int32)
    radii = np.round(rng.uniform(radius[0], radius[1], n) * _SUB).astype(np.int32)
    is_dark = rng.random(n) < dark
    values = np.round(rng.uniform(0.6, 1.0, n) * 255.0)
    for c, r, d, v in zip(centres, radii, is_dark, values, strict=True):
        cv2.circle(
            darks if d else bright,
            (int(c[0]), int(c[1])),
            int(r),
            float(v),
            -1,
            cv2.LINE_AA,
            _SHIFT,
        )
    for _ in range(_count(rng, hairs, area_scale)):
        pts = _walk(rng, h, w, _u(rng, (8.0, 40.0)), _u(rng, (1.5, 5.0)))
        _polyline(darks if rng.random() < dark else bright, pts, _u(rng, (0.6, 1.0)), 1)
    out, mask_b = composite(image, _coverage(bright), np.full(3, _u(rng, (0.85, 1.0)), np.float32))
    out, mask_d = composite(out, _coverage(darks), np.full(3, _u(rng, (0.0, 0.15)), np.float32))
    return out, np.maximum(mask_b, mask_d)


def blotches(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    count: Range = (0.3, 1.5),
    radius: Range = (0.02, 0.12),
) -> tuple[np.ndarray, np.ndarray]:
    """Irregular stains and emulsion losses with ragged edges.

    ``count`` is the mean number per 256x256 px; ``radius`` a fraction of the short side.
    Bright blotches are paper showing through, dark ones brownish stains.
    """
    _check(image)
    h, w = image.shape[:2]
    coverage = np.zeros((h, w), np.float32)
    n = max(1, _count(rng, count, h * w / 65536.0))
    for _ in range(n):
        r = max(3, int(_u(rng, radius) * min(h, w)))
        size = 2 * r + 1
        noise = cv2.GaussianBlur(rng.random((size, size), np.float32), (0, 0), r / 4 + 0.5)
        noise = (noise - noise.mean()) / (noise.std() + 1e-6)
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float32) / r
        blob = 1.0 - np.hypot(xx * _u(rng, (0.6, 1.4)), yy) + 0.35 * noise
        blob = np.clip((blob - 0.2) * 6.0, 0.0, 1.0) * _u(rng, (0.6, 1.0))
        cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
        y0, x0 = max(0, cy - r), max(0, cx - r)
        y1, x1 = min(h, cy + r + 1), min(w, cx + r + 1)
        patch = blob[y0 - (cy - r) : y1 - (cy - r), x0 - (cx - r) : x1 - (cx - r)]
        np.maximum(coverage[y0:y1, x0:x1], patch, out=coverage[y0:y1, x0:x1])
    if rng.random() < 0.5:
        colour = np.float32(_u(rng, (0.85, 1.0))) * np.array([1.0, 0.97, 0.9], np.float32)
    else:
        colour = np.float32(_u(rng, (0.15, 0.45))) * np.array([1.0, 0.8, 0.55], np.float32)
    return composite(image, coverage, colour)


# --------------------------------------------------------------------------- print ageing


def grayscale(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A black-and-white print: luma with slightly random channel weights, 3 channels."""
    _check(image)
    weights = np.array(arrays.LUMA, np.float32) + rng.normal(0, 0.03, 3)
    weights = (np.clip(weights, 0.02, None) / np.clip(weights, 0.02, None).sum()).astype(np.float32)
    return _clip(np.repeat((image @ weights)[..., None], 3, axis=2))


def sepia(image: np.ndarray, rng: np.random.Generator, *, amount: Range = (0.5, 1.0)) -> np.ndarray:
    """Sepia toning: luma mapped through a warm brown tint, blended by ``amount``."""
    _check(image)
    tint = np.array([1.0, 0.82, 0.6], np.float32) + rng.normal(0, 0.03, 3).astype(np.float32)
    y = arrays.luma(image)[..., None]
    toned = y * tint + (1.0 - tint) * 0.12 * y * (1.0 - y)
    a = _u(rng, amount)
    return _clip(image * (1.0 - a) + toned * a)


def colour_cast(
    image: np.ndarray, rng: np.random.Generator, *, shift: Range = (0.03, 0.12)
) -> np.ndarray:
    """Dye shift of a colour print: per-channel gain and offset (often yellow/magenta/cyan)."""
    _check(image)
    direction = rng.normal(0, 1, 3).astype(np.float32)
    direction /= np.linalg.norm(direction) + 1e-6
    s = _u(rng, shift)
    gain = (1.0 + direction * s).astype(np.float32)
    offset = (direction * s * 0.5).astype(np.float32)
    return _clip(image * gain + offset)


def fade(image: np.ndarray, rng: np.random.Generator, *, amount: Range = (0.1, 0.45)) -> np.ndarray:
    """Faded print: blacks lift towards a warm paper tone, highlights dim slightly."""
    _check(image)
    a = _u(rng, amount)
    paper = np.array([0.93, 0.9, 0.82], np.float32) + rng.normal(0, 0.02, 3).astype(np.float32)
    lifted = image * (1.0 - a) + paper * a * (0.55 + 0.45 * image)
    return _clip(lifted * (1.0 - 0.2 * a))


def contrast_loss(
    image: np.ndarray, rng: np.random.Generator, *, amount: Range = (0.1, 0.4)
) -> np.ndarray:
    """Contrast pulled towards the mean brightness, with a small gamma change."""
    _check(image)
    a = _u(rng, amount)
    mean = image.mean(axis=(0, 1), keepdims=True)
    out = mean + (image - mean) * (1.0 - a)
    return _clip(np.power(np.clip(out, 0, 1), _u(rng, (0.8, 1.25))).astype(np.float32))


def paper_texture(
    image: np.ndarray, rng: np.random.Generator, *, amount: Range = (0.03, 0.1)
) -> np.ndarray:
    """Multiplicative paper structure: blotchy low-frequency tone plus fine fibres."""
    _check(image)
    h, w = image.shape[:2]
    low = cv2.GaussianBlur(rng.standard_normal((h, w), np.float32), (0, 0), max(h, w) / 24)
    low /= low.std() + 1e-6
    fib = cv2.GaussianBlur(
        rng.standard_normal((h, w), np.float32), (0, 0), sigmaX=_u(rng, (0.8, 3.0)), sigmaY=0.6
    )
    fib /= fib.std() + 1e-6
    a = _u(rng, amount)
    tex = 1.0 + a * (0.7 * low + 0.5 * fib)
    return _clip(image * tex[..., None])


def film_grain(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    sigma: Range = (0.02, 0.07),
    size: Range = (0.5, 1.2),
) -> np.ndarray:
    """Silver grain: blurred luminance noise, strongest in the mid-tones.

    ``sigma`` is the grain amplitude (in [0, 1] units), ``size`` its blur radius in px.
    """
    _check(image)
    h, w = image.shape[:2]
    grain = cv2.GaussianBlur(rng.standard_normal((h, w), np.float32), (0, 0), _u(rng, size))
    grain /= grain.std() + 1e-6
    y = arrays.luma(image)
    weight = 0.4 + 2.4 * y * (1.0 - y)
    return _clip(image + (grain * weight * _u(rng, sigma))[..., None])


# --------------------------------------------------------------------------- the scan


def gaussian_blur(
    image: np.ndarray, rng: np.random.Generator, *, sigma: Range = (0.5, 2.0)
) -> np.ndarray:
    """Out-of-focus print or scan; ``sigma`` in px."""
    _check(image)
    return _clip(cv2.GaussianBlur(image, (0, 0), _u(rng, sigma)))


def gaussian_noise(
    image: np.ndarray, rng: np.random.Generator, *, sigma: Range = (0.01, 0.06)
) -> np.ndarray:
    """Additive white Gaussian noise, per channel."""
    _check(image)
    noise = rng.standard_normal(image.shape, np.float32) * np.float32(_u(rng, sigma))
    return _clip(image + noise)


def speckle_noise(
    image: np.ndarray, rng: np.random.Generator, *, sigma: Range = (0.03, 0.15)
) -> np.ndarray:
    """Multiplicative noise: image * (1 + n), n ~ N(0, sigma)."""
    _check(image)
    noise = rng.standard_normal(image.shape, np.float32) * np.float32(_u(rng, sigma))
    return _clip(image * (1.0 + noise))


def salt_pepper_noise(
    image: np.ndarray, rng: np.random.Generator, *, amount: Range = (0.001, 0.01)
) -> np.ndarray:
    """A fraction ``amount`` of pixels set to black or white (all channels)."""
    _check(image)
    h, w = image.shape[:2]
    p = _u(rng, amount)
    u = rng.random((h, w), np.float32)
    out = image.copy()
    out[u < p / 2] = 0.0
    out[u > 1.0 - p / 2] = 1.0
    return out


def downscale_upscale(
    image: np.ndarray, rng: np.random.Generator, *, factor: Range = (1.5, 4.0)
) -> np.ndarray:
    """Low-resolution scan: shrink by ``factor`` then enlarge back (random interpolation)."""
    _check(image)
    h, w = image.shape[:2]
    f = _u(rng, factor)
    small = (max(1, round(w / f)), max(1, round(h / f)))
    modes = (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC)
    down = cv2.resize(image, small, interpolation=modes[int(rng.integers(0, 3))])
    up = cv2.resize(down, (w, h), interpolation=modes[int(rng.integers(1, 3))])
    return _clip(up)


def jpeg(
    image: np.ndarray, rng: np.random.Generator, *, quality: tuple[int, int] = (40, 100)
) -> np.ndarray:
    """JPEG round trip at a quality drawn from ``quality`` (inclusive)."""
    _check(image)
    q = int(rng.integers(quality[0], quality[1] + 1))
    bgr = cv2.cvtColor((image * 255.0 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, q])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return out.astype(np.float32) / 255.0


# --------------------------------------------------------------------------- the pipeline

GlobalOp = Callable[..., np.ndarray]


def _scaled(r: Range, strength: float) -> Range:
    return (r[0] * strength, r[1] * strength)


def degrade(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    strength: float = 1.0,
    damage: bool | None = None,
) -> Degraded:
    """Turn a clean photo into a plausible old scanned print.

    ``strength`` scales how likely and how strong each degradation is (0 < strength,
    1 = the training default). ``damage``: None draws local damage at random, True always
    draws scratches and dust, False never draws local damage (unstructured degradation
    only, as BOPBTL's first domain). At least one operation is always applied. The input
    is not modified.
    """
    _check(image)
    s = float(strength)
    p = min(1.0, s)
    out = image.copy()
    mask = np.zeros(image.shape[:2], np.float32)
    ops: list[str] = []

    def local(
        name: str, prob: float, fn: Callable[..., tuple[np.ndarray, np.ndarray]], **kw: object
    ) -> None:
        nonlocal out, mask
        forced = damage is True and name in ("scratches", "dust")
        if damage is not False and (forced or rng.random() < prob * p):
            out, m = fn(out, rng, **kw)
            mask = np.maximum(mask, m)
            ops.append(name)

    local("scratches", 0.6, scratches, long=_scaled((0.5, 3.0), s), short=_scaled((1.0, 8.0), s))
    local("dust", 0.5, dust, specks=_scaled((5.0, 40.0), s))
    local("blotches", 0.2, blotches)

    def glob(name: str, prob: float, fn: GlobalOp, **kw: object) -> bool:
        nonlocal out
        if rng.random() < prob * p:
            out = fn(out, rng, **kw)
            ops.append(name)
            return True
        return False

    if glob("grayscale", 0.35, grayscale):
        glob("sepia", 0.5, sepia)
    else:
        glob("colour_cast", 0.4, colour_cast, shift=_scaled((0.03, 0.12), s))
    glob("fade", 0.5, fade, amount=_scaled((0.1, 0.45), s))
    glob("contrast_loss", 0.35, contrast_loss, amount=_scaled((0.1, 0.4), s))
    glob("paper_texture", 0.25, paper_texture, amount=_scaled((0.03, 0.1), s))
    glob("film_grain", 0.4, film_grain, sigma=_scaled((0.02, 0.07), s))

    glob("gaussian_blur", 0.5, gaussian_blur, sigma=_scaled((0.5, 2.0), s))
    glob("downscale_upscale", 0.3, downscale_upscale, factor=(1.0 + 0.5 * s, 1.0 + 3.0 * s))
    noise = (
        ("gaussian_noise", gaussian_noise, (0.01, 0.06)),
        ("speckle_noise", speckle_noise, (0.03, 0.15)),
        ("salt_pepper_noise", salt_pepper_noise, (0.001, 0.01)),
    )
    name, fn, r = noise[int(rng.choice(3, p=[0.5, 0.35, 0.15]))]
    glob(name, 0.5, fn, **{"amount" if name == "salt_pepper_noise" else "sigma": _scaled(r, s)})
    if not glob("jpeg", 0.5, jpeg, quality=(int(100 - 60 * p), 100)) and not ops:
        out = jpeg(out, rng, quality=(40, 90))
        ops.append("jpeg")
    return Degraded(out, mask, ops)
