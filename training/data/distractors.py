"""Thin structures that are *not* damage, drawn into the clean photo before it is aged.

A scratch detector trained only on photos plus scratches learns "thin and contrasted
means damage", and then wipes what a photographer values most: the stars of a flag,
the text of a name badge, the rims of glasses, fence posts, wires, hair. Drawn on the
clean side of a training pair, these structures appear in the target photo and are
absent from the damage mask, so the detector learns what they look like and leaves
them alone. Each is an everyday shape, not a random stroke: straight lines that
cross the whole crop, glyphs, five-pointed stars, paired ellipses, bundles of parallel
curves, a badge with text, outlined objects, bright compact highlights (shirt fronts, hands).

Images are float32 HxWx3 RGB in [0, 1]; functions draw in place on a copy and return it.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

_SHIFT = 4
_SUB = 1 << _SHIFT


def _colour(rng: np.random.Generator, image: np.ndarray, at: tuple[int, int]) -> tuple:
    """A colour that contrasts with the photo around ``at`` (dark on light, light on dark)."""
    y, x = at
    h, w = image.shape[:2]
    patch = image[max(0, y - 8) : min(h, y + 8), max(0, x - 8) : min(w, x + 8)]
    light = float(patch.mean()) if patch.size else 0.5
    base = rng.uniform(0.0, 0.25) if light > 0.5 else rng.uniform(0.75, 1.0)
    tint = rng.uniform(-0.08, 0.08, 3)
    return tuple(float(np.clip(base + t, 0, 1)) for t in tint)


def _paint(out: np.ndarray, coverage: np.ndarray, colour: tuple) -> None:
    """Blend ``colour`` into ``out`` where a uint8 ``coverage`` canvas was drawn
    (OpenCV draws text into 8-bit images only)."""
    alpha = (coverage.astype(np.float32) / 255.0)[..., None]
    out *= 1.0 - alpha
    out += alpha * np.asarray(colour, np.float32)


def _pt(x: float, y: float) -> tuple[int, int]:
    return round(x * _SUB), round(y * _SUB)


def crossing_lines(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Straight lines across the whole crop: posts, wires, window frames, horizons."""
    out = image.copy()
    h, w = out.shape[:2]
    vertical = rng.random() < 0.5
    count = int(rng.integers(1, 5))
    spacing = rng.uniform(0.1, 0.3) * (w if vertical else h)
    start = rng.uniform(0, w if vertical else h)
    tilt = rng.normal(0, 0.05)
    thickness = int(rng.integers(1, 4))
    colour = _colour(rng, out, (h // 2, w // 2))
    for i in range(count):
        c = start + i * spacing
        if vertical:
            a, b = _pt(c, -2), _pt(c + tilt * h, h + 2)
        else:
            a, b = _pt(-2, c), _pt(w + 2, c + tilt * w)
        cv2.line(out, a, b, colour, thickness, cv2.LINE_AA, _SHIFT)
    return out


def text(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A line or two of printed text: signs, captions, names on a badge."""
    out = image.copy()
    h, w = out.shape[:2]
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .-"
    for _ in range(int(rng.integers(1, 3))):
        words = "".join(rng.choice(list(letters), int(rng.integers(4, 14))))
        scale = rng.uniform(0.3, 1.0)
        thickness = 1 if scale < 0.6 else int(rng.integers(1, 3))
        x, y = int(rng.uniform(0, w * 0.6)), int(rng.uniform(h * 0.15, h))
        font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX]))
        colour = _colour(rng, out, (min(y, h - 1), x))
        canvas = np.zeros((h, w), np.uint8)
        cv2.putText(canvas, words, (x, y), font, scale, 255, thickness, cv2.LINE_AA)
        _paint(out, canvas, colour)
    return out


def stars(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Five-pointed stars in rows, as on a flag: small ones and large ones (Grace
    Hopper's flag has stars of 10-14 px at the working size)."""
    out = image.copy()
    h, w = out.shape[:2]
    radius = rng.uniform(2.5, 7.0) if rng.random() < 0.5 else rng.uniform(7.0, 15.0)
    rows, cols = int(rng.integers(1, 4)), int(rng.integers(2, 6))
    x0, y0 = rng.uniform(0, w * 0.5), rng.uniform(0, h * 0.5)
    step = radius * rng.uniform(3.0, 5.0)
    colour = _colour(rng, out, (int(y0), int(x0)))
    angles = -np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, radius, radius * 0.4)
    for r in range(rows):
        for c in range(cols):
            cx, cy = x0 + c * step + (step / 2 if r % 2 else 0), y0 + r * step
            pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1)
            cv2.fillPoly(out, [np.round(pts * _SUB).astype(np.int32)], colour, cv2.LINE_AA, _SHIFT)
    return out


def glasses(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Eyeglass frames: two thin ellipses and a bridge."""
    out = image.copy()
    h, w = out.shape[:2]
    rx, ry = rng.uniform(8, 24), rng.uniform(6, 16)
    cx, cy = rng.uniform(rx, w - 3.5 * rx), rng.uniform(ry, h - ry)
    gap = rx * rng.uniform(0.4, 0.9)
    thickness = int(rng.integers(1, 3))
    colour = _colour(rng, out, (int(cy), int(cx)))
    for centre in ((cx, cy), (cx + 2 * rx + gap, cy)):
        axes = (round(rx * _SUB), round(ry * _SUB))
        cv2.ellipse(out, _pt(*centre), axes, 0, 0, 360, colour, thickness, cv2.LINE_AA, _SHIFT)
    bridge = (_pt(cx + rx, cy - ry * 0.3), _pt(cx + rx + gap, cy - ry * 0.3))
    cv2.line(out, *bridge, colour, thickness, cv2.LINE_AA, _SHIFT)
    return out


def hair(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A bundle of fine, nearly parallel curves: hair, grass, a fur edge."""
    out = image.copy()
    h, w = out.shape[:2]
    n = int(rng.integers(6, 20))
    angle = rng.uniform(0, np.pi)
    direction = np.array([np.cos(angle), np.sin(angle)])
    normal = np.array([-direction[1], direction[0]])
    origin = np.array([rng.uniform(0, w), rng.uniform(0, h)])
    length = rng.uniform(0.3, 0.8) * max(h, w)
    bend = rng.normal(0, 0.3)
    colour = _colour(rng, out, (int(origin[1]) % h, int(origin[0]) % w))
    t = np.linspace(-0.5, 0.5, 24)[:, None]
    for i in range(n):
        offset = (i - n / 2) * rng.uniform(1.5, 3.5)
        curve = origin + t * length * direction + (offset + bend * length * t**2) * normal
        fixed = np.round(curve * _SUB).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [fixed], False, colour, 1, cv2.LINE_AA, _SHIFT)
    return out


def badge(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A small light rectangle with a dark border and text, as a name badge."""
    out = image.copy()
    h, w = out.shape[:2]
    bw, bh = int(rng.uniform(30, 70)), int(rng.uniform(12, 26))
    x, y = int(rng.uniform(0, max(1, w - bw))), int(rng.uniform(0, max(1, h - bh)))
    fill = float(rng.uniform(0.75, 0.95))
    cv2.rectangle(out, (x, y), (x + bw, y + bh), (fill, fill, fill * 0.97), -1)
    cv2.rectangle(out, (x, y), (x + bw, y + bh), (0.15, 0.15, 0.2), 1, cv2.LINE_AA)
    label = "".join(rng.choice(list("ABCDEFGHIKLMNOPRSTU"), int(rng.integers(3, 7))))
    canvas = np.zeros((h, w), np.uint8)
    origin = (x + 3, y + bh - 4)
    cv2.putText(canvas, label, origin, cv2.FONT_HERSHEY_SIMPLEX, bh / 40, 255, 1, cv2.LINE_AA)
    _paint(out, canvas, (0.1, 0.1, 0.15))
    return out


def rims(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An object with a thin contrasting outline: a plate, a fruit's skin, a boat's
    gunwale, a bright collar. Its edge is a long thin curve that is not damage."""
    out = image.copy()
    h, w = out.shape[:2]
    centre = _pt(rng.uniform(0, w), rng.uniform(0, h))
    axes = (round(rng.uniform(0.2, 0.9) * w * _SUB), round(rng.uniform(0.1, 0.6) * h * _SUB))
    angle = float(rng.uniform(0, 180))
    inside = np.zeros((h, w), np.uint8)
    cv2.ellipse(inside, centre, axes, angle, 0, 360, 255, -1, cv2.LINE_AA, _SHIFT)
    gain = 1.0 + (inside.astype(np.float32) / 255.0)[..., None] * rng.uniform(-0.1, 0.1)
    out *= gain  # the object is a shade lighter or darker than what lies around it
    colour = _colour(rng, out, (h // 2, w // 2))
    thickness = int(rng.integers(1, 4))
    cv2.ellipse(out, centre, axes, angle, 0, 360, colour, thickness, cv2.LINE_AA, _SHIFT)
    return out


def highlights(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bright compact shapes: shirt fronts, cuffs, hands in sunlight, the white centre of
    a fruit, reflections on metal. Unlike a blotch (flat paint that replaces the photo)
    they brighten what is there, so its texture and shading survive."""
    out = image.copy()
    h, w = out.shape[:2]
    for _ in range(int(rng.integers(1, 4))):
        coverage = np.zeros((h, w), np.uint8)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        n = int(rng.integers(5, 10))
        radius = rng.uniform(6, 40) * rng.uniform(0.6, 1.4, n)
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        pts = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], 1)
        cv2.fillPoly(coverage, [np.round(pts * _SUB).astype(np.int32)], 255, cv2.LINE_AA, _SHIFT)
        soft = cv2.GaussianBlur(coverage, (0, 0), rng.uniform(1.0, 4.0)).astype(np.float32)
        alpha = (soft / 255.0 * rng.uniform(0.5, 0.85))[..., None]
        out += (1.0 - out) * alpha  # a screen blend: lighter, texture kept
    return out


DISTRACTORS: tuple[Callable[[np.ndarray, np.random.Generator], np.ndarray], ...] = (
    crossing_lines,
    text,
    stars,
    glasses,
    hair,
    badge,
    rims,
    highlights,
)


def add_distractors(image: np.ndarray, rng: np.random.Generator, count: int = 1) -> np.ndarray:
    """``count`` randomly chosen non-damage structures drawn into a copy of ``image``."""
    out = np.ascontiguousarray(image, dtype=np.float32)
    for _ in range(count):
        out = DISTRACTORS[int(rng.integers(len(DISTRACTORS)))](out, rng)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)
