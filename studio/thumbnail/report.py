"""The score a variant is stored with: legibility at list size and safe-zone checks.

Legibility at 168×94 (the size YouTube shows a thumbnail in lists): the frame is scaled to fit
168×94 (94×168 for a tall frame, whose tile stands upright) and the headline's letters are
measured at that scale. It counts as legible when its
x-height (cap height for all-capitals) is at least LEGIBLE_X_HEIGHT_PX and its vertical stems
are at least LEGIBLE_STEM_PX wide: below ~6 px letters merge into blobs on a phone list, and a
stem thinner than a pixel is blended away by the downscale. Both are measured on the glyphs
the headline is set in ("x"/"H" for height, "l"/"I" for the stem).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .fonts import font
from .layout import Rect, intersects

LIST_SIZE = (168, 94)
LEGIBLE_X_HEIGHT_PX = 6.0
LEGIBLE_STEM_PX = 1.0


@lru_cache(maxsize=256)
def glyph_metrics(path: Path, size: int, upper: bool) -> tuple[int, int]:
    """(x-height or cap height, stem width) in px of a face at a size."""
    face = font(path, size)
    letter, stem_letter = ("H", "I") if upper else ("x", "l")
    left, top, right, bottom = face.getbbox(letter)
    height = bottom - top
    l2, t2, r2, b2 = face.getbbox(stem_letter)
    canvas = Image.new("L", (r2 - l2 + 4, b2 - t2 + 4), 0)
    ImageDraw.Draw(canvas).text((2 - l2, 2 - t2), stem_letter, font=face, fill=255)
    ink = np.asarray(canvas)
    row = ink[ink.shape[0] // 2] > 127
    best = run = 0
    for on in row:
        run = run + 1 if on else 0
        best = max(best, run)
    return int(height), int(best)


def list_scale(width: int, height: int) -> float:
    """The scale at which the frame fits the list tile: 168×94, or 94×168 for a tall frame
    (a Shorts/Reels tile stands upright)."""
    long_side, short_side = LIST_SIZE
    box = (short_side, long_side) if height > width else (long_side, short_side)
    return min(box[0] / width, box[1] / height)


def legibility(path: Path, size: int, *, upper: bool, width: int, height: int) -> dict:
    letter_px, stem_px = glyph_metrics(path, size, upper)
    scale = list_scale(width, height)
    x_height, stem = letter_px * scale, stem_px * scale
    return {
        "legible_at_168x94": bool(x_height >= LEGIBLE_X_HEIGHT_PX and stem >= LEGIBLE_STEM_PX),
        "x_height_px_at_168x94": round(x_height, 2),
        "stem_px_at_168x94": round(stem, 2),
        "thresholds": {"x_height_px": LEGIBLE_X_HEIGHT_PX, "stem_px": LEGIBLE_STEM_PX},
    }


def safe_zone_violations(boxes: list[tuple[str, Rect]], zones: list[tuple[str, Rect]], frame: Rect) -> list[dict]:
    """Each text box that meets a keep-out zone or leaves the margins, by name."""
    found = []
    for role, box in boxes:
        for name, zone in zones:
            if intersects(box, zone):
                found.append({"text": role, "zone": name})
        if box[0] < frame[0] or box[1] < frame[1] or box[2] > frame[2] or box[3] > frame[3]:
            found.append({"text": role, "zone": "margin"})
    return found
