"""A selfie becomes a cut-out: face found with OpenCV's bundled Haar cascade, the person
separated with GrabCut seeded from the face box.

The work is done on a copy at most `work_side` px on its long side (GrabCut's cost grows with
the pixel count; the mask is then scaled back and feathered), with OpenCV's random generator
seeded from the caller's seed, so the same selfie gives the same mask every time.

Seeding (GrabCut's mask initialisation): an ellipse inside the face box is sure foreground;
an ellipse around the head, the neck and a torso widening toward the bottom edge are probable
foreground (kept tight, so the backdrop's colours train GrabCut's background model); the
frame's top and the corners beside the head are sure background; the rest probable background.
Without a face, the centre of the frame is taken as the subject (and `face_found` is False).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

FACE_CASCADE = "haarcascade_frontalface_default.xml"


@dataclass
class Cutout:
    image: Image.Image  # RGBA, cropped to the subject
    face: tuple[int, int, int, int] | None  # x, y, w, h within `image`
    face_found: bool
    mask_share: float  # foreground share of the source frame


@lru_cache(maxsize=1)
def _cascade() -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / FACE_CASCADE))
    if cascade.empty():
        raise RuntimeError(f"OpenCV's {FACE_CASCADE} could not be loaded.")
    return cascade


def load_rgb(path: Path, max_side: int | None = None) -> Image.Image:
    """An image file as RGB with its EXIF orientation applied (optionally shrunk)."""
    with Image.open(path) as source:
        if max_side:
            source.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced scale
        image = ImageOps.exif_transpose(source).convert("RGB")
    if max_side and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def faces_find(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Frontal faces in an RGB array, largest first."""
    gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    side = min(gray.shape[:2])
    found = _cascade().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(max(24, side // 10),) * 2)
    boxes = [tuple(int(v) for v in box) for box in (found if len(found) else [])]
    return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)


def _seed_mask(h: int, w: int, face: tuple[int, int, int, int] | None) -> np.ndarray:
    mask = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
    if face is None:  # no face: the middle of the frame is probably the subject
        fx, fy, fw, fh = int(w * 0.35), int(h * 0.15), int(w * 0.3), int(h * 0.3)
    else:
        fx, fy, fw, fh = face
    cx = fx + fw // 2
    # head (with hair) and neck: probable foreground; kept tight, so the backdrop's colours
    # fall mostly into GrabCut's background model
    cv2.ellipse(mask, (cx, fy + int(fh * 0.42)), (int(fw * 0.72), int(fh * 0.78)), 0, 0, 360, int(cv2.GC_PR_FGD), -1)
    mask[fy + int(fh * 0.8):fy + int(fh * 1.35), max(0, cx - fw // 2):min(w, cx + fw // 2)] = cv2.GC_PR_FGD
    # shoulders and chest, down to the bottom edge, widening: probable foreground
    top = min(h, fy + int(fh * 1.15))
    for y in range(top, h):
        half = int(fw * (0.7 + 1.1 * min(1.0, (y - top) / max(1, fh * 0.6))))
        mask[y, max(0, cx - half):min(w, cx + half)] = cv2.GC_PR_FGD
    # the middle of the face (an ellipse well inside the detector's box, which reaches past
    # the cheeks): sure foreground
    cv2.ellipse(mask, (cx, fy + fh // 2), (max(1, int(fw * 0.3)), max(1, int(fh * 0.36))), 0, 0, 360,
                int(cv2.GC_FGD), thickness=-1)
    # beside and above the head: sure background (a thin border around the frame's top half)
    border = max(2, min(h, w) // 40)
    mask[:border, :] = cv2.GC_BGD
    mask[: max(0, fy - int(0.6 * fh)), :] = cv2.GC_BGD
    mask[: h // 2, :border] = cv2.GC_BGD
    mask[: h // 2, w - border:] = cv2.GC_BGD
    far = int(2.4 * fw)
    if cx - far > 0:
        mask[: fy + fh, : cx - far] = cv2.GC_BGD
    if cx + far < w:
        mask[: fy + fh, cx + far:] = cv2.GC_BGD
    return mask


def mask_from_seed(rgb: np.ndarray, seed_mask: np.ndarray, *, iterations: int, seed: int) -> np.ndarray:
    """GrabCut from a seeded mask; returns a bool foreground mask."""
    cv2.setRNGSeed(seed & 0x7FFFFFFF)
    mask = seed_mask.copy()
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    fg = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    # keep the component holding the subject's seed (stray background blobs go)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(fg.astype(np.uint8), connectivity=8)
    if count > 2:
        sure = labels[seed_mask == cv2.GC_FGD]
        keep = np.bincount(sure[sure > 0]).argmax() if (sure > 0).any() else 1 + int(stats[1:, cv2.CC_STAT_AREA].argmax())
        fg = labels == keep
    # fill holes (eyes, teeth, a dark shirt) inside the outline
    filled = fg.astype(np.uint8) * 255
    contours, _ = cv2.findContours(filled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(filled, contours, -1, 255, thickness=cv2.FILLED)
    return filled > 0


def cutout_make(path: Path, *, seed: int, work_side: int = 420, iterations: int = 4,
                out_side: int = 1400) -> Cutout:
    """The subject of a selfie as an RGBA image (at most `out_side` px on the long side)."""
    full = load_rgb(path, max_side=out_side)
    small = full.copy()
    small.thumbnail((work_side, work_side), Image.Resampling.BILINEAR)
    rgb = np.asarray(small)
    h, w = rgb.shape[:2]
    faces = faces_find(rgb)
    face = faces[0] if faces else None
    seeded = _seed_mask(h, w, face)
    fg = mask_from_seed(rgb, seeded, iterations=iterations, seed=seed)
    if fg.sum() < 0.02 * h * w:  # GrabCut lost the subject: keep the seeded region
        fg = (seeded == cv2.GC_FGD) | (seeded == cv2.GC_PR_FGD)
    # GrabCut's edge pixels mix subject and backdrop: pull the edge in by one work pixel, then
    # scale up and soften it over a narrow ramp (no halo of the old backdrop around the cut).
    core = cv2.erode(fg.astype(np.uint8) * 255, np.ones((3, 3), np.uint8))
    alpha = cv2.resize(core, full.size, interpolation=cv2.INTER_LINEAR).astype(np.float32)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(1.0, full.size[0] / 600))
    alpha = Image.fromarray(np.clip((alpha - 128.0) * 2.0 + 128.0, 0, 255).astype(np.uint8))
    rgba = full.copy()
    rgba.putalpha(alpha)
    box = alpha.point(lambda v: 255 if v > 24 else 0).getbbox() or (0, 0, *full.size)
    rgba = rgba.crop(box)
    scale = full.size[0] / w
    face_box = None
    if face is not None:
        fx, fy, fw, fh = face
        face_box = (int(fx * scale) - box[0], int(fy * scale) - box[1], int(fw * scale), int(fh * scale))
    return Cutout(image=rgba, face=face_box, face_found=face is not None, mask_share=float(fg.mean()))


def outline_and_shadow(cut: Image.Image, *, outline_px: int, outline_rgb: tuple[int, int, int],
                       shadow_px: int) -> tuple[Image.Image, tuple[int, int]]:
    """The cut-out on a transparent canvas with a solid outline around it and a soft drop
    shadow below-right; returns the canvas and the cut-out's offset within it."""
    pad = outline_px + shadow_px * 3
    w, h = cut.size
    canvas_size = (w + 2 * pad, h + 2 * pad)
    alpha = np.zeros((canvas_size[1], canvas_size[0]), np.uint8)
    alpha[pad:pad + h, pad:pad + w] = np.asarray(cut.getchannel("A"))
    k = 2 * outline_px + 1
    ring = cv2.dilate(alpha, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    # Where the subject runs into the photo's own edge (a torso cut by the frame), it ends in a
    # straight cut: no outline beyond that edge.
    own = np.asarray(cut.getchannel("A"))
    if own[:, 0].max() > 128:
        ring[:, :pad] = 0
    if own[:, -1].max() > 128:
        ring[:, pad + w:] = 0
    if own[0].max() > 128:
        ring[:pad] = 0
    if own[-1].max() > 128:
        ring[pad + h:] = 0
    shadow = cv2.GaussianBlur(ring, (0, 0), max(1.0, shadow_px * 0.8))
    shadow = np.roll(shadow, (shadow_px, shadow_px), axis=(0, 1))
    canvas = Image.new("RGBA", canvas_size, (0, 0, 0, 0))
    canvas.putalpha(Image.fromarray((shadow.astype(np.float32) * 0.55).astype(np.uint8)))
    outline = Image.new("RGBA", canvas_size, (*outline_rgb, 0))
    outline.putalpha(Image.fromarray(ring))
    canvas = Image.alpha_composite(canvas, outline)
    canvas.alpha_composite(cut, (pad, pad))
    return canvas, (pad, pad)
