"""Where things go: the text area clear of a platform's safe zones, the variant's arrangement,
and what a `copy_target` says about its own layout.

Variants differ in arrangement: subject left or right, text top or bottom. Variant 1 follows
the copy target when there is one (its subject on the side its face or its quieter half is,
its text where its text mass is), else the subject right and the text top; variant 2 mirrors
both, 3 swaps only top/bottom, 4 only the side.

A copy target is read for its layout only: faces (Haar cascade) and where its edges cluster
(text and graphics are dense in edges). None of its pixels reach the thumbnail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from studio.presets import Platform

from .cutout import faces_find, load_rgb

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive)


@dataclass(frozen=True)
class Arrangement:
    subject_side: str  # "left" | "right"
    text_position: str  # "top" | "bottom"
    from_copy_target: bool

    def as_dict(self) -> dict:
        return {"subject_side": self.subject_side, "text_position": self.text_position,
                "from_copy_target": self.from_copy_target}


def is_portrait(width: int, height: int) -> bool:
    return height / width > 1.05


def zones_px(platform: Platform, width: int, height: int) -> list[tuple[str, Rect]]:
    """Keep-out zones in px, rounded outward (a zone never loses a pixel to rounding)."""
    return [(z.name, (math.floor(z.x * width), math.floor(z.y * height), math.ceil((z.x + z.width) * width),
                      math.ceil((z.y + z.height) * height))) for z in platform.keep_out]


def margin_rect(platform: Platform, width: int, height: int) -> Rect:
    mx, my = round(platform.margin * width), round(platform.margin * height)
    return mx, my, width - mx, height - my


def intersects(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def area(r: Rect) -> int:
    return max(0, r[2] - r[0]) * max(0, r[3] - r[1])


def rect_clear_of(rect: Rect, zones: list[Rect]) -> Rect:
    """The largest part of `rect` (cut along one side per zone) that meets none of `zones`."""
    for zone in zones:
        if not intersects(rect, zone):
            continue
        x0, y0, x1, y1 = rect
        options = [(x0, y0, min(x1, zone[0]), y1), (max(x0, zone[2]), y0, x1, y1),
                   (x0, y0, x1, min(y1, zone[1])), (x0, max(y0, zone[3]), x1, y1)]
        rect = max(options, key=area)
    return rect


def text_area(platform: Platform, width: int, height: int, arrangement: Arrangement, *, has_subject: bool,
              face: Rect | None = None) -> Rect:
    """The rectangle the text block lives in: inside the margins, on the side away from the
    subject (and short of its face), in the arrangement's half for tall frames, clear of every
    keep-out zone."""
    x0, y0, x1, y1 = margin_rect(platform, width, height)
    if is_portrait(width, height):
        mid = height // 2
        rect = (x0, y0, x1, mid - height // 50) if arrangement.text_position == "top" else (x0, mid + height // 50, x1, y1)
    else:
        share = 0.58 if has_subject else 0.78
        gap = width // 60
        if arrangement.subject_side == "right":
            inner = round(width * share) if face is None else min(round(width * share), face[0] - gap)
            rect = (x0, y0, max(x0 + width // 4, inner), y1)
        else:
            inner = round(width * (1 - share)) if face is None else max(round(width * (1 - share)), face[2] + gap)
            rect = (min(x1 - width // 4, inner), y0, x1, y1)
    return rect_clear_of(rect, [r for _, r in zones_px(platform, width, height)])


def copy_layout(path: Path) -> Arrangement:
    """The arrangement a copy target shows: its subject's side and its text's half."""
    rgb = np.asarray(load_rgb(path, max_side=480))
    h, w = rgb.shape[:2]
    edges = cv2.Canny(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 80, 200).astype(np.float64)
    faces = faces_find(rgb)
    face_side = None
    if faces:
        fx, fy, fw, fh = faces[0]
        face_side = "left" if fx + fw / 2 < w / 2 else "right"
        # the face and the person below it are not text: leave them out of the text mass
        edges[max(0, fy - fh):h, max(0, fx - fw):min(w, fx + 2 * fw)] = 0
    total = edges.sum()
    if total <= 0:
        text_x, text_y = (w / 4 if face_side == "right" else 3 * w / 4), h / 3
    else:
        ys, xs = np.indices(edges.shape)
        text_x, text_y = float((xs * edges).sum() / total), float((ys * edges).sum() / total)
    subject_side = face_side or ("right" if text_x < w / 2 else "left")
    return Arrangement(subject_side=subject_side, text_position="top" if text_y < h / 2 else "bottom",
                       from_copy_target=True)


def variant_arrangement(variant: int, base: Arrangement | None) -> Arrangement:
    base = base or Arrangement("right", "top", False)
    flip_side = {"left": "right", "right": "left"}
    flip_pos = {"top": "bottom", "bottom": "top"}
    side, pos = base.subject_side, base.text_position
    step = (variant - 1) % 4
    if step in (1, 3):
        side = flip_side[side]
    if step in (1, 2):
        pos = flip_pos[pos]
    return Arrangement(side, pos, base.from_copy_target)
