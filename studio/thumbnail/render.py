"""One thumbnail variant, rendered locally and deterministically.

`render_variant(spec, variant, …)` takes the thumbnail params of a job (see CONTRACTS: platform,
width, height, headline, subtext, vibe, quality, …) and a variant number, and returns the
image (RGB, exactly width×height) and its score report. The same spec and variant give the
same pixels: the only randomness (the backdrop's gradient angle and shapes, OpenCV's GrabCut)
is seeded from a hash of the two.

What it does, in order:
1. Backdrop: a remote engine's `background` cover-cropped as is; else the `reference` image
   cover-cropped, blurred and graded toward the vibe's background colour; else a gradient
   from the vibe's background toward the variant's accent with a glow behind the subject.
2. Subject: the selfie cut out (`cutout.py`), scaled to ~92% of the frame's height (face at
   most 36%), its face centred on the rule-of-thirds line of the arrangement's side, standing
   on the bottom edge (so its middle is at about half the height), with an outline and a
   drop shadow. Tall frames: the lower half (text on top), or the upper half fading out at its
   foot (text below). The cut-out is kept in memory for the job's next variants.
3. Text area: the margins, the side away from the subject (the top or bottom half for tall
   frames), cut clear of the platform's keep-out zones (`layout.text_area`).
4. Headline: heavy type, at most MAX_WORDS_PER_LINE words a line, the line breaks that allow
   the largest size chosen, sized to fill the headline box and then shrunk until the set
   block (outline included) fits; an outline of OUTLINE_SHARE of the size and a drop shadow.
5. Contrast, checked: the headline's WCAG ratio against the pixels behind its lines (their
   worst 5%); below 4.5 a darker (or, for dark text, lighter) grade is laid behind it in
   steps, and if that is not enough, a solid panel. The subtext sits on an accent tag in
   black or white, whichever reads better.
6. Report: contrast ratios, headline height share, legibility at 168×94, safe-zone
   violations, the text boxes and the arrangement.

Quality "hd" cuts the selfie out on a larger working copy with more GrabCut iterations (the
engine also starts its JPEG ladder higher); "std" is tuned for speed.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageOps

from studio.presets import PLATFORMS, VIBES, Vibe

from . import contrast as wcag
from .cutout import Cutout, cutout_make, load_rgb, outline_and_shadow
from .fonts import face_for_text, font, vibe_faces
from .layout import (Arrangement, Rect, copy_layout, is_portrait, margin_rect, text_area, variant_arrangement,
                     zones_px)
from .report import legibility, safe_zone_violations

MAX_WORDS_PER_LINE = 5
OUTLINE_SHARE = {True: 0.06, False: 0.03}  # of the font size, by the vibe's `outline` (strong / light)
SHADOW_ALPHA = {True: 0.65, False: 0.35}  # by the vibe's `shadow`
MAX_HEADLINE_SHARE = 0.30  # a headline's font size is at most this share of the frame's height
CONTRAST_TARGET = wcag.AA_NORMAL
GRADE_STEPS = (0.35, 0.55, 0.75)


@dataclass
class Rendered:
    image: Image.Image
    report: dict


def spec_seed(spec: dict, variant: int | None) -> int:
    """The seed of a variant's randomness (of the whole spec's, for `variant=None`)."""
    digest = hashlib.sha256(json.dumps({"spec": spec, "variant": variant}, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _rgb(value: str) -> tuple[int, int, int]:
    return wcag.hex_rgb(value)


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)


def _mix(a, b, t: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


# --- backdrop ---------------------------------------------------------------------------

def _procedural(width: int, height: int, vibe: Vibe, accent, subject_x: float, rng) -> Image.Image:
    """A gradient from the vibe's background toward the accent, a glow behind the subject,
    a few soft accent shapes on the subject's side and a vignette (computed at a quarter of
    the size: it is smooth, so upscaling loses nothing)."""
    w, h = max(8, width // 4), max(8, height // 4)
    base = np.array(_rgb(vibe.palette["background"]), np.float32)
    second = np.array(_mix(_rgb(vibe.palette["background"]), accent, 0.38), np.float32)
    angle = float(rng.uniform(0, 2 * math.pi))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    proj = xs / w * math.cos(angle) + ys / h * math.sin(angle)
    t = (proj - proj.min()) / max(1e-6, float(proj.max() - proj.min()))
    img = base + (second - base) * t[..., None]
    glow_x, glow_y, radius = subject_x * w, 0.45 * h, 0.55 * h
    d2 = ((xs - glow_x) ** 2 + (ys - glow_y) ** 2) / radius ** 2
    glow = np.exp(-d2)[..., None] * 0.45
    img = img * (1 - glow) + np.array(accent, np.float32) * glow
    for _ in range(3):  # soft accent discs on the subject's side of the frame
        cx = subject_x * w + float(rng.uniform(-0.25, 0.25)) * w
        cy = float(rng.uniform(0.1, 0.9)) * h
        r = float(rng.uniform(0.12, 0.3)) * h
        disc = (((xs - cx) ** 2 + (ys - cy) ** 2) < r * r).astype(np.float32)
        disc = cv2.GaussianBlur(disc, (0, 0), max(1.0, r * 0.15))[..., None] * 0.12
        img = img * (1 - disc) + np.array(accent, np.float32) * disc
    r2 = ((xs / w - 0.5) ** 2 + (ys / h - 0.5) ** 2) / 0.5
    img *= (1 - 0.35 * r2)[..., None]
    small = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    return small.resize((width, height), Image.Resampling.BILINEAR)


def _graded_reference(path: Path, width: int, height: int, vibe: Vibe) -> Image.Image:
    """The reference image as a backdrop: cover-cropped, blurred, tinted toward the vibe's
    background and vignetted (so text and subject stand out from it)."""
    w, h = max(8, width // 4), max(8, height // 4)
    small = ImageOps.fit(load_rgb(path, max_side=max(w, h) * 2), (w, h), Image.Resampling.BILINEAR)
    arr = cv2.GaussianBlur(np.asarray(small).astype(np.float32), (0, 0), max(1.5, w / 90))
    tint = np.array(_rgb(vibe.palette["background"]), np.float32)
    dark = wcag.relative_luminance(_rgb(vibe.palette["background"])) < 0.4
    arr = arr * 0.62 + tint * 0.38
    arr = (arr - 128) * 1.1 + 128 + (-18 if dark else 18)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xs / w - 0.5) ** 2 + (ys / h - 0.5) ** 2) / 0.5
    arr *= (1 - 0.3 * r2)[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).resize((width, height), Image.Resampling.BILINEAR)


def _cover(path: Path, width: int, height: int) -> Image.Image:
    return ImageOps.fit(load_rgb(path, max_side=max(width, height) * 2), (width, height), Image.Resampling.LANCZOS)


# --- subject ----------------------------------------------------------------------------

@lru_cache(maxsize=2)
def _cutout(path: str, size: int, mtime_ns: int, seed: int, hd: bool, out_side: int) -> Cutout:
    """The selfie's cut-out, kept for the next variants of the same job (it depends on the
    selfie and the spec, not on the variant; the file's size and mtime stand for its content)."""
    return cutout_make(Path(path), seed=seed, work_side=520 if hd else 360, iterations=5 if hd else 3, out_side=out_side)


def _place_subject(canvas: Image.Image, selfie: Path, arrangement: Arrangement, *, seed: int, hd: bool,
                   outline_rgb) -> dict:
    width, height = canvas.size
    stat = selfie.stat()
    # the cut-out is shown at most ~0.9 of the frame's height: cut it at ¾ of the long side
    cut = _cutout(str(selfie), stat.st_size, stat.st_mtime_ns, seed, hd, min(2000, max(width, height) * 3 // 4))
    cw, ch = cut.image.size
    portrait = is_portrait(width, height)
    # Tall frames with the text below: the subject stands in the upper half, its lower edge
    # faded out; otherwise it stands on the bottom edge.
    floating = portrait and arrangement.text_position == "bottom"
    target_h = height * (0.92 if not portrait else 0.55 if not floating else 0.4)
    scale = target_h / ch
    if cut.face is not None:
        scale = min(scale, (0.36 if not portrait else 0.2) * height / max(1, cut.face[3]))
    scale = min(scale, (0.62 if not portrait else 0.9) * width / cw)
    size = (max(1, round(cw * scale)), max(1, round(ch * scale)))
    subject = cut.image.resize(size, Image.Resampling.BICUBIC)
    face_cx = (cut.face[0] + cut.face[2] / 2) * scale if cut.face is not None else size[0] / 2
    third_x = width * (2 / 3 if arrangement.subject_side == "right" else 1 / 3)
    x = round(third_x - face_cx)
    y = round(height * 0.48) - size[1] if floating else height - size[1]
    face_box = None
    if cut.face is not None:
        fx, fy, fw, fh = (round(v * scale) for v in cut.face)
        face_box = [x + fx, y + fy, x + fx + fw, y + fy + fh]
    outline_px = max(2, round(height * 0.006))
    shadow_px = max(3, round(height * 0.012))
    sticker, (ox, oy) = outline_and_shadow(subject, outline_px=outline_px, outline_rgb=outline_rgb, shadow_px=shadow_px)
    if floating:  # the cut-out, its outline and its shadow fade out together over its last 20%
        rows = np.clip((oy + size[1] - np.arange(sticker.size[1], dtype=np.float32)) / (0.2 * size[1]), 0.0, 1.0)
        alpha = np.asarray(sticker.getchannel("A")).astype(np.float32) * rows[:, None]
        sticker.putalpha(Image.fromarray(alpha.astype(np.uint8)))
    canvas.alpha_composite(sticker, (x - ox, y - oy))
    return {"face_found": cut.face_found, "box": [x, y, x + size[0], y + size[1]], "face_box": face_box,
            "thirds_x": round(third_x), "mask_share": round(cut.mask_share, 3)}


# --- text -------------------------------------------------------------------------------

def _split_balanced(words: list[str], lines: int, widths: list[float], space: float,
                    max_words: int = MAX_WORDS_PER_LINE) -> list[list[str]] | None:
    """Break `words` into `lines` lines (each at most `max_words` words) with the narrowest
    widest line (dynamic programming over break points)."""
    n = len(words)
    if lines > n or math.ceil(n / max_words) > lines:
        return None
    prefix = [0.0]
    for w in widths:
        prefix.append(prefix[-1] + w)

    def line_width(i, j):  # words i..j-1
        return prefix[j] - prefix[i] + space * (j - i - 1)

    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(lines + 1)]
    back = [[0] * (n + 1) for _ in range(lines + 1)]
    best[0][0] = 0.0
    for k in range(1, lines + 1):
        for j in range(1, n + 1):
            for i in range(max(0, j - max_words), j):
                if best[k - 1][i] == inf:
                    continue
                value = max(best[k - 1][i], line_width(i, j))
                if value < best[k][j]:
                    best[k][j], back[k][j] = value, i
    if best[lines][n] == inf:
        return None
    out, j = [], n
    for k in range(lines, 0, -1):
        i = back[k][j]
        out.append(words[i:j])
        j = i
    return list(reversed(out))


@dataclass
class TextBlock:
    lines: list[str]
    size: int
    stroke: int
    pitch: int
    top_offset: int  # from a line's y to its ink top
    line_boxes: list[tuple[int, int, int, int]]  # relative to the block's origin, stroke included
    width: int
    height: int


def _set_block(lines: list[str], path: Path, size: int, stroke_share: float, upper: bool) -> TextBlock:
    face = font(path, size)
    stroke = max(1, round(size * stroke_share))
    probe = "H" if upper else "Hg"
    pl, pt, pr, pb = face.getbbox(probe, stroke_width=stroke)
    pitch = (pb - pt) + max(2, round(size * 0.06))
    boxes, width = [], 0
    for index, line in enumerate(lines):
        l, t, r, b = face.getbbox(line, stroke_width=stroke)
        y0 = index * pitch + (t - pt)
        boxes.append((0, y0, r - l, y0 + (b - t)))
        width = max(width, r - l)
    lift = min((b[1] for b in boxes), default=0)  # ascenders above the caps: the block starts at the highest ink
    boxes = [(x0, y0 - lift, x1, y1 - lift) for x0, y0, x1, y1 in boxes]
    height = max((b[3] for b in boxes), default=0)
    return TextBlock(lines, size, stroke, pitch, pt, boxes, width, height)


def fit_headline(text: str, path: Path, box_w: int, box_h: int, *, stroke_share: float, upper: bool,
                 max_size: int) -> TextBlock:
    """The headline set as large as its box allows: for each possible line count, the
    balanced breaks and the size they allow; the largest wins; then shrunk step by step until
    the real set block (outline included) fits."""
    words = text.split() or [text]
    ref_size = 100
    ref = font(path, ref_size)
    widths = [ref.getlength(w) for w in words]
    space = ref.getlength(" ")
    probe = ref.getbbox("H" if upper else "Hg")
    line_ref = (probe[3] - probe[1]) * (1 + 2 * stroke_share) + ref_size * 0.06
    best_lines, best_size = [text], 0.0
    for count in range(1, min(len(words), 6) + 1):
        split = _split_balanced(words, count, widths, space)
        if split is None:
            continue
        joined = [" ".join(ws) for ws in split]
        widest = max(ref.getlength(line) for line in joined) + 2 * stroke_share * ref_size
        size = min(ref_size * box_w / widest, ref_size * box_h / (line_ref * count), max_size)
        if size > best_size * 1.12:  # more lines only when they allow clearly larger type
            best_lines, best_size = joined, size
    size = max(8, int(best_size))
    block = _set_block(best_lines, path, size, stroke_share, upper)
    while (block.width > box_w or block.height > box_h) and size > 8:
        size = max(8, int(size * 0.97))
        block = _set_block(best_lines, path, size, stroke_share, upper)
    return block


def _wrap_to_width(text: str, path: Path, size: int, box_w: int, max_lines: int) -> tuple[list[str], int]:
    """The subtext in as few lines as read well: one line when it fits at no less than 80% of
    `size`, else lines of balanced width (no word left alone on the last line); shrunk until
    the widest fits `box_w`."""
    words = text.split()
    face = font(path, size)
    one_line = face.getlength(text)
    if one_line <= box_w or (one_line * 0.8 <= box_w and max_lines >= 1):
        size = min(size, int(size * box_w / max(1.0, one_line)))
        return [text], max(8, size)
    lines = [text]
    for count in range(2, max_lines + 1):
        split = _split_balanced(words, count, [face.getlength(w) for w in words], face.getlength(" "), max_words=len(words))
        if split:
            lines = [" ".join(ws) for ws in split]
            break
    widest = max(face.getlength(line) for line in lines)
    if widest > box_w:
        size = max(8, int(size * box_w / widest))
    return lines, size


def _feathered_rect(width: int, height: int, rect: Rect, feather: float) -> np.ndarray:
    """1 inside `rect`, fading to 0 over about `feather` px outside it (blurred at an eighth
    of the size: a soft edge needs no detail)."""
    x0, y0, x1, y1 = (max(0, rect[0]), max(0, rect[1]), min(width, rect[2]), min(height, rect[3]))
    f = 8
    small = np.zeros((max(1, height // f), max(1, width // f)), np.float32)
    small[y0 // f:max(y0 // f + 1, y1 // f), x0 // f:max(x0 // f + 1, x1 // f)] = 1.0
    small = np.clip(cv2.GaussianBlur(small, (0, 0), max(0.5, feather / f / 2)) * 2.0, 0.0, 1.0)
    mask = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    mask[y0:y1, x0:x1] = 1.0  # solid under the text itself
    return mask


def _region_contrast(canvas: np.ndarray, boxes: list[Rect], text_rgb) -> float:
    h, w = canvas.shape[:2]
    mask = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in boxes:
        mask[max(0, y0):min(h, y1), max(0, x0):min(w, x1)] = True
    return wcag.contrast_against(text_rgb, canvas, mask)


def _rounded_panel(canvas: Image.Image, rect: Rect, colour, radius: int) -> None:
    ImageDraw.Draw(canvas).rounded_rectangle(rect, radius=radius, fill=(*colour, 255))


def _ensure_contrast(canvas: Image.Image, boxes: list[Rect], text_rgb, vibe: Vibe, *, pad: int) -> dict:
    """Measure the text's contrast against what is behind it; grade, then panel, until it
    reaches CONTRAST_TARGET. Returns what was done and the final ratio. (The grade is worked
    out on the part of the frame it can touch, not the whole frame.)"""
    width, height = canvas.size
    union = (min(b[0] for b in boxes) - pad, min(b[1] for b in boxes) - pad,
             max(b[2] for b in boxes) + pad, max(b[3] for b in boxes) + pad)
    feather = pad * 1.5
    reach = int(feather * 2.5)
    cx0, cy0 = max(0, union[0] - reach), max(0, union[1] - reach)
    cx1, cy1 = min(width, union[2] + reach), min(height, union[3] + reach)
    local_boxes = [(x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0) for x0, y0, x1, y1 in boxes]
    crop = canvas.crop((cx0, cy0, cx1, cy1))
    source = np.asarray(crop).astype(np.float32)
    measured = before = _region_contrast(source[..., :3].astype(np.uint8), local_boxes, text_rgb)
    if measured >= CONTRAST_TARGET:
        return {"contrast_ratio": round(measured, 2), "fix": None, "before_fix": round(before, 2)}
    light_text = wcag.relative_luminance(text_rgb) > 0.4
    toward = np.zeros(3, np.float32) if light_text else np.full(3, 255, np.float32)
    local_union = (union[0] - cx0, union[1] - cy0, union[2] - cx0, union[3] - cy0)
    mask = _feathered_rect(cx1 - cx0, cy1 - cy0, local_union, feather=feather)[..., None]
    for strength in GRADE_STEPS:
        graded = source.copy()
        graded[..., :3] = source[..., :3] * (1 - mask * strength) + toward * (mask * strength)
        candidate = np.clip(graded, 0, 255).astype(np.uint8)
        measured = _region_contrast(candidate[..., :3], local_boxes, text_rgb)
        if measured >= CONTRAST_TARGET:
            canvas.paste(Image.fromarray(candidate, canvas.mode), (cx0, cy0))
            return {"contrast_ratio": round(measured, 2), "fix": f"grade {strength:.2f}", "before_fix": round(before, 2)}
    # a solid panel in the vibe's surface colour, darkened (or lightened) until it reads
    panel = _rgb(vibe.palette["surface"])
    extreme = (0, 0, 0) if light_text else (255, 255, 255)
    colour = extreme
    for step in range(11):
        colour = _mix(panel, extreme, step / 10)
        if wcag.contrast_rgb(text_rgb, colour) >= 7.0:
            break
    _rounded_panel(canvas, union, colour, radius=max(4, pad // 2))
    measured = _region_contrast(np.asarray(canvas.crop((cx0, cy0, cx1, cy1)).convert("RGB")), local_boxes, text_rgb)
    return {"contrast_ratio": round(measured, 2), "fix": f"panel {_hex(colour)}", "before_fix": round(before, 2)}


def _shadow_layer(size: tuple[int, int], bounds: Rect, draw_text, offset: int, blur: float, alpha: float
                  ) -> tuple[Image.Image, tuple[int, int]]:
    """The text's drop shadow (drawn, offset, blurred) as a layer covering only `bounds` grown
    by the blur and offset; returns it and where it goes."""
    reach = int(offset + 3 * blur + 2)
    x0, y0 = max(0, bounds[0] - reach), max(0, bounds[1] - reach)
    x1, y1 = min(size[0], bounds[2] + reach), min(size[1], bounds[3] + reach)
    mask = Image.new("L", (max(1, x1 - x0), max(1, y1 - y0)), 0)
    draw_text(ImageDraw.Draw(mask), 255, offset, (-x0, -y0))
    arr = cv2.GaussianBlur(np.asarray(mask).astype(np.float32), (0, 0), max(0.8, blur)) * alpha
    layer = Image.new("RGBA", mask.size, (0, 0, 0, 0))
    layer.putalpha(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)))
    return layer, (x0, y0)


# --- the variant ------------------------------------------------------------------------

def render_variant(spec: dict, variant: int, *, selfie: Path | None = None, reference: Path | None = None,
                   copy_target: Path | None = None, background: Path | None = None) -> Rendered:
    width, height = int(spec["width"]), int(spec["height"])
    platform, vibe = PLATFORMS[spec["platform"]], VIBES[spec["vibe"]]
    seed = spec_seed(spec, variant)
    rng = np.random.default_rng(seed)
    hd = spec.get("quality") == "hd"
    accent = _rgb(vibe.accents[(variant - 1) % len(vibe.accents)] if vibe.accents else vibe.palette["accent"])
    base = copy_layout(copy_target) if copy_target else None
    arrangement = variant_arrangement(variant, base)
    portrait = is_portrait(width, height)
    subject_x = (2 / 3 if arrangement.subject_side == "right" else 1 / 3)

    if background:
        backdrop, backdrop_kind = _cover(background, width, height), "remote"
    elif reference:
        backdrop, backdrop_kind = _graded_reference(reference, width, height, vibe), "reference"
    else:
        backdrop, backdrop_kind = _procedural(width, height, vibe, accent, subject_x, rng), "generated"
    canvas = backdrop.convert("RGBA")

    dark_backdrop = wcag.relative_luminance(_rgb(vibe.palette["background"])) < 0.4
    subject = None
    if selfie:
        outline_rgb = (255, 255, 255) if dark_backdrop else _rgb(vibe.palette["text"])
        subject = _place_subject(canvas, selfie, arrangement, seed=spec_seed(spec, None), hd=hd, outline_rgb=outline_rgb)

    face_box = tuple(subject["face_box"]) if subject and subject.get("face_box") else None
    # A remote picture drawn with the selfie in it (no cut-out laid here) still has the person on
    # the arrangement's side: the text keeps to the other side as it would around a cut-out.
    person_in_picture = background is not None and bool((spec.get("inputs") or {}).get("selfie"))
    area = text_area(platform, width, height, arrangement, has_subject=subject is not None or person_in_picture,
                     face=face_box)
    area_w, area_h = area[2] - area[0], area[3] - area[1]
    head_path, sub_path = vibe_faces(vibe.key)
    upper = vibe.headline_case == "upper"
    headline = " ".join(str(spec.get("headline") or "").split())
    headline = headline.upper() if upper else headline
    subtext = " ".join(str(spec.get("subtext") or "").split())
    head_path, sub_path = face_for_text(head_path, headline), face_for_text(sub_path, subtext)
    text_rgb = _rgb(vibe.palette["text"])
    outline_colour = _rgb(vibe.palette["outline"])
    if wcag.contrast_rgb(text_rgb, outline_colour) < 3:  # an outline must frame the letters, not blur them
        outline_colour = (0, 0, 0) if wcag.relative_luminance(text_rgb) > 0.4 else (255, 255, 255)

    # Headline, subtext and accent bar share the area; the headline gets what the others leave
    # (and is set smaller again while the whole block would overflow the area).
    sub_share = 0.2 if subtext else 0.0
    head_box_h = int(area_h * ((0.62 if not portrait else 0.78) - sub_share * 0.5))
    stroke_share = OUTLINE_SHARE[vibe.outline]
    while True:
        block = fit_headline(headline, head_path, area_w, head_box_h, stroke_share=stroke_share, upper=upper,
                             max_size=int(height * MAX_HEADLINE_SHARE))
        bar_h = max(4, round(block.size * 0.07))
        gap = max(6, round(block.size * 0.18))
        sub_lines, sub_size = [], 0
        if subtext:
            sub_lines, sub_size = _wrap_to_width(
                subtext, sub_path, max(12, min(round(block.size * 0.42), round(height * 0.07))), int(area_w * 0.92),
                max_lines=2)
        sub_face = font(sub_path, sub_size) if sub_lines else None
        sub_pad_x, sub_pad_y = round(sub_size * 0.45), round(sub_size * 0.28)
        sub_pitch = round(sub_size * 1.22)
        sub_h = (len(sub_lines) * sub_pitch + 2 * sub_pad_y) if sub_lines else 0
        sub_w = (max(round(sub_face.getlength(line)) for line in sub_lines) + 2 * sub_pad_x) if sub_lines else 0
        sub_w = min(sub_w, area_w)
        total_h = block.height + gap + bar_h + ((gap + sub_h) if sub_lines else 0)
        if total_h <= area_h or block.size <= 8:
            break
        head_box_h = max(8, int(head_box_h - (total_h - area_h) - 2))
    top = area[1] if arrangement.text_position == "top" else area[3] - total_h
    top = max(area[1], min(top, area[3] - total_h))
    align = "center" if portrait else ("left" if arrangement.subject_side == "right" else "right")

    def x_for(w: int) -> int:
        if align == "left":
            return area[0]
        if align == "right":
            return area[2] - w
        return area[0] + (area_w - w) // 2

    face = font(head_path, block.size)
    head_boxes: list[Rect] = []
    line_origins = []
    for line, (bx0, by0, bx1, by1) in zip(block.lines, block.line_boxes):
        lw = bx1 - bx0
        x = x_for(lw)
        l, t, _, _ = face.getbbox(line, stroke_width=block.stroke)
        line_origins.append((x - l, top + by0 - t))
        head_boxes.append((x, top + by0, x + lw, top + by1))

    pad = max(8, round(block.size * 0.25))
    headline_contrast = _ensure_contrast(canvas, head_boxes, text_rgb, vibe, pad=pad)

    # accent bar under the headline
    bar_y = top + block.height + gap
    bar_w = max(round(block.width * 0.35), round(area_w * 0.12))
    bar_x = x_for(bar_w)
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((bar_x, bar_y, bar_x + bar_w, bar_y + bar_h), fill=(*accent, 255))

    # headline: shadow, then the letters with their outline
    shadow_offset = max(2, round(block.size * 0.05))

    def draw_headline(d: ImageDraw.ImageDraw, fill, offset: int, shift: tuple[int, int]) -> None:
        for line, (ox, oy) in zip(block.lines, line_origins):
            d.text((ox + offset + shift[0], oy + offset + shift[1]), line, font=face, fill=fill,
                   stroke_width=block.stroke, stroke_fill=fill)

    head_bounds = (min(b[0] for b in head_boxes), min(b[1] for b in head_boxes),
                   max(b[2] for b in head_boxes), max(b[3] for b in head_boxes))
    shadow, at = _shadow_layer(canvas.size, head_bounds, draw_headline, shadow_offset, block.size * 0.04,
                               SHADOW_ALPHA[vibe.shadow])
    canvas.alpha_composite(shadow, at)
    draw = ImageDraw.Draw(canvas)
    for line, (ox, oy) in zip(block.lines, line_origins):
        draw.text((ox, oy), line, font=face, fill=(*text_rgb, 255), stroke_width=block.stroke,
                  stroke_fill=(*outline_colour, 255))

    # subtext on an accent tag
    sub_boxes: list[Rect] = []
    sub_report = None
    if sub_lines:
        tag_y = bar_y + bar_h + gap
        tag_x = x_for(sub_w)
        tag = (tag_x, tag_y, tag_x + sub_w, tag_y + sub_h)
        _rounded_panel(canvas, tag, accent, radius=max(3, sub_size // 4))
        sub_rgb = wcag.best_text_colour(accent)
        draw = ImageDraw.Draw(canvas)
        sub_report = {"contrast_ratio": round(wcag.contrast_rgb(sub_rgb, accent), 2), "fix": "accent tag",
                      "colour": _hex(sub_rgb), "panel": _hex(accent), "size": sub_size, "lines": sub_lines}
        for index, line in enumerate(sub_lines):
            lw = round(sub_face.getlength(line))
            lx = tag_x + (sub_w - lw) // 2 if align == "center" else tag_x + sub_pad_x
            draw.text((lx, tag_y + sub_pad_y + index * sub_pitch), line, font=sub_face, fill=(*sub_rgb, 255))
        sub_boxes = [tag]

    image = canvas.convert("RGB")
    zones = zones_px(platform, width, height)
    frame = margin_rect(platform, width, height)
    boxes = [("headline", b) for b in head_boxes] + [("subtext", b) for b in sub_boxes]
    ratios = [headline_contrast["contrast_ratio"]] + ([sub_report["contrast_ratio"]] if sub_report else [])
    report = {
        "variant": variant,
        "size": [width, height],
        "contrast_ratio": min(ratios),
        "contrast_target": CONTRAST_TARGET,
        "headline": {"lines": block.lines, "font": head_path.name, "font_size": block.size,
                     "outline_px": block.stroke, "shadow_px": shadow_offset, "colour": _hex(text_rgb),
                     "outline_colour": _hex(outline_colour), **headline_contrast},
        "subtext": sub_report,
        "headline_height_share": round(block.height / height, 3),
        **legibility(head_path, block.size, upper=upper, width=width, height=height),
        "safe_zone_violations": safe_zone_violations(boxes, zones, frame),
        "text_boxes": [{"text": role, "box": list(box)} for role, box in boxes],
        "text_area": list(area),
        "layout": arrangement.as_dict(),
        "accent": _hex(accent),
        "backdrop": backdrop_kind,
        "subject": subject,
        "seed": f"{seed:016x}",
    }
    return Rendered(image=image, report=report)
