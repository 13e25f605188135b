"""WCAG 2.x contrast, measured against the pixels actually behind the text.

`relative_luminance` follows WCAG 2.2's definition (sRGB channels linearised, weighted
0.2126/0.7152/0.0722); the ratio is (L1 + 0.05) / (L2 + 0.05). A busy backdrop has many
luminances: the contrast of a text is taken against its worst `WORST_SHARE` of them (the
brightest behind light text, the darkest behind dark text), so a few stray pixels do not
decide it but a bright patch does.
"""

from __future__ import annotations

import numpy as np

AA_NORMAL = 4.5  # WCAG AA for body text; we hold every text to it
WORST_SHARE = 0.05


def hex_rgb(value: str) -> tuple[int, int, int]:
    value = value.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


_LEVELS = np.arange(256, dtype=np.float64) / 255.0
# sRGB channel value → linear light, for the 256 values a channel can have
_LINEAR = np.where(_LEVELS <= 0.04045, _LEVELS / 12.92, ((_LEVELS + 0.055) / 1.055) ** 2.4)
_WEIGHTED = (_LINEAR * 0.2126, _LINEAR * 0.7152, _LINEAR * 0.0722)


def luminance_array(rgb: np.ndarray) -> np.ndarray:
    """Relative luminance of each pixel of an (..., 3) uint8 array."""
    rgb = np.asarray(rgb).astype(np.uint8, copy=False)
    return _WEIGHTED[0][rgb[..., 0]] + _WEIGHTED[1][rgb[..., 1]] + _WEIGHTED[2][rgb[..., 2]]


def relative_luminance(rgb: tuple[int, int, int]) -> float:
    return float(luminance_array(np.array(rgb, dtype=np.uint8).reshape(1, 3))[0])


def ratio(l1: float, l2: float) -> float:
    high, low = max(l1, l2), min(l1, l2)
    return (high + 0.05) / (low + 0.05)


def contrast_rgb(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return ratio(relative_luminance(a), relative_luminance(b))


def contrast_against(text_rgb: tuple[int, int, int], backdrop: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Contrast of a text colour against the backdrop pixels (optionally only where `mask`),
    taken at the worst WORST_SHARE of them."""
    pixels = backdrop[..., :3][mask] if mask is not None else backdrop[..., :3].reshape(-1, 3)
    lum = luminance_array(pixels).ravel()
    if lum.size == 0:
        return 21.0
    text_l = relative_luminance(text_rgb)
    if text_l >= float(np.median(lum)):
        worst = float(np.quantile(lum, 1.0 - WORST_SHARE))  # light text: the brightest pixels behind it
    else:
        worst = float(np.quantile(lum, WORST_SHARE))
    return ratio(text_l, worst)


def best_text_colour(backdrop_rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on a flat colour: one of them always reaches
    at least √21 ≈ 4.58:1, so text on a solid tag always passes AA."""
    black, white = (0, 0, 0), (255, 255, 255)
    return black if contrast_rgb(black, backdrop_rgb) >= contrast_rgb(white, backdrop_rgb) else white
