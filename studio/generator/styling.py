"""Local photo styling for the photo generator (seed 002): `style_photo(image, category)`.

A pure function of the pixels (the same photo and category give the same output, byte for
byte once encoded): the film grain is seeded from a hash of the photo, and OpenCV's random
generator is seeded the same way before GrabCut.

Every category shares the first steps:
1. EXIF orientation applied, transparency flattened on white, RGB; the working size keeps the
   photo's aspect with at most MAX_SIDE px on the long side. Nothing of the input's metadata
   (EXIF, ICC, comments) survives: the output is built from bare pixels.
2. The face: OpenCV's bundled Haar cascade on a small grey proxy; the largest face wins.
   When one is found and it is small in the frame, the frame is cropped around it (same aspect,
   at most MAX_ZOOM, the face a little above the middle, as a photographer reframes), taking the
   crop from the full-resolution photo; and the light is set on the face: an exposure correction
   from the face's brightness and a soft key light centred on it.
3. The category's look:
   * documentary: black and white (a panchromatic channel mix), a film curve (contrast with
     lifted blacks), film grain strongest in the midtones, a light vignette;
   * editorial: a strong colour grade (teal shadows, warm highlights), an S-curve for contrast,
     more saturation and local contrast ("clarity");
   * portraits: a warm white balance, soft skin (an edge-preserving filter on the skin of the
     face), the background defocused through a GrabCut mask seeded by the face (GrabCut on a
     proxy of at most GRABCUT_SIDE px, the mask feathered and scaled up), and a vignette.
     Without a face the defocus follows a soft centre ellipse instead of a cut-out.

Fast by construction: everything heavy runs at the working size or on a proxy (face detection
on at most ~DETECT_SIDE px, GrabCut on GRABCUT_SIDE px, blurs at a quarter size, the vignette at
an eighth); bench/studio.py measures a 12 MP photo in each category against bare Pillow.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

CATEGORIES = ("portraits", "editorial", "documentary")
MAX_SIDE = 2048
DETECT_SIDE = 512
GRABCUT_SIDE = 224
MAX_ZOOM = 1.4
# How much of the frame's height a face should take before a category reframes around it.
FACE_SHARE = {"portraits": 0.30, "editorial": 0.24, "documentary": 0.20}
CASCADE = "haarcascade_frontalface_default.xml"

_local = threading.local()


@dataclass(frozen=True)
class FaceBox:
    """A face in pixels of the image it was found in."""

    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def mapped(self, *, scale: float, dx: float = 0.0, dy: float = 0.0) -> FaceBox:
        """The same face after cropping at (dx, dy) and scaling by `scale`."""
        return FaceBox((self.x - dx) * scale, (self.y - dy) * scale, self.w * scale, self.h * scale)


def _cascade() -> cv2.CascadeClassifier:
    """One classifier per thread (OpenCV's detector keeps per-call state on the object)."""
    cascade = getattr(_local, "cascade", None)
    if cascade is None:
        path = Path(cv2.data.haarcascades) / CASCADE
        cascade = cv2.CascadeClassifier(str(path))
        if cascade.empty():
            raise RuntimeError(f"OpenCV's face cascade is missing at {path} (opencv-python-headless < 5 ships it).")
        _local.cascade = cascade
    return cascade


def face_find(image: Image.Image) -> FaceBox | None:
    """The largest frontal face in an RGB image, in its pixels; None when there is none."""
    width, height = image.size
    factor = max(1, max(width, height) // DETECT_SIDE)
    proxy = image.reduce(factor) if factor > 1 else image  # a box filter: the cheapest way down
    scale = proxy.width / width
    grey = cv2.equalizeHist(np.asarray(proxy.convert("L")))
    smallest = max(24, int(0.06 * min(grey.shape)))
    faces = _cascade().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest))
    if len(faces) == 0:
        return None
    x, y, w, h = max((tuple(int(v) for v in face) for face in faces), key=lambda f: (f[2] * f[3], f))
    return FaceBox(x / scale, y / scale, w / scale, h / scale)


def _working_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, MAX_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _flattened(image: Image.Image) -> Image.Image:
    """Orientation applied, transparency on white, RGB (the input itself is never changed)."""
    if image.getexif().get(0x0112, 1) != 1:  # EXIF Orientation: else no copy is needed
        image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return image if image.mode == "RGB" else image.convert("RGB")


def _crop_box(size: tuple[int, int], face: FaceBox | None, category: str) -> tuple[float, float, float, float] | None:
    """A crop of the same aspect that gives a small face its share of the frame (None: keep all)."""
    if face is None:
        return None
    width, height = size
    share = face.h / height
    if share >= FACE_SHARE[category]:
        return None
    zoom = min(FACE_SHARE[category] / share, MAX_ZOOM)
    if zoom < 1.05:
        return None
    crop_w, crop_h = width / zoom, height / zoom
    left = min(max(face.cx - crop_w / 2, 0.0), width - crop_w)
    top = min(max(face.cy - 0.42 * crop_h, 0.0), height - crop_h)
    return left, top, left + crop_w, top + crop_h


def _seed(pixels: np.ndarray, category: str) -> int:
    digest = hashlib.blake2b(pixels.tobytes(), digest_size=8, person=category.encode()[:16]).digest()
    return int.from_bytes(digest, "big") >> 1


# --- Tone helpers (float32 RGB in 0..1) ------------------------------------------------------


LUMA = np.array([[0.2126, 0.7152, 0.0722]], np.float32)
# Editorial's grade: what the shadows and the highlights get added, per channel (teal, warm).
SHADOW_TINT, HIGHLIGHT_TINT = (-0.07, 0.015, 0.075), (0.08, 0.02, -0.07)


def _luma(f: np.ndarray) -> np.ndarray:
    """Rec. 709 luma of a float RGB image, one pass (OpenCV)."""
    return cv2.transform(f, LUMA)


def _curve(values: np.ndarray, function) -> np.ndarray:
    """Apply a tone curve through a 256-step table (OpenCV's LUT: fast on millions of pixels)."""
    table = function(np.linspace(0.0, 1.0, 256, dtype=np.float32)).astype(np.float32)
    steps = cv2.convertScaleAbs(np.clip(values, 0.0, 1.0), alpha=255.0)  # rounds and saturates to 0..255
    return cv2.LUT(steps, table)


def _s_curve(strength: float):
    """A logistic contrast curve through (0, 0), (0.5, 0.5), (1, 1); larger `strength` is stronger."""
    def curve(x):
        low, high = 1 / (1 + math.exp(strength / 2)), 1 / (1 + math.exp(-strength / 2))
        return (1 / (1 + np.exp(-strength * (x - 0.5))) - low) / (high - low)
    return curve


def _separable_gauss(shape: tuple[int, int], cx: float, cy: float, sigma_x: float, sigma_y: float) -> np.ndarray:
    height, width = shape
    gx = np.exp(-((np.arange(width, dtype=np.float32) - cx) ** 2) / (2 * sigma_x ** 2))
    gy = np.exp(-((np.arange(height, dtype=np.float32) - cy) ** 2) / (2 * sigma_y ** 2))
    return np.outer(gy, gx).astype(np.float32)


def _vignette(shape: tuple[int, int], strength: float, cx: float | None = None, cy: float | None = None) -> np.ndarray:
    """1 at the centre, 1 - strength in the farthest corner, smooth in between (computed at 1/8
    size and scaled up: it has no detail to lose)."""
    height, width = shape
    cx = width / 2 if cx is None else cx
    cy = height / 2 if cy is None else cy
    step = 8
    xs = np.arange(0, width + step, step, dtype=np.float32)
    ys = np.arange(0, height + step, step, dtype=np.float32)
    far = max(cx, width - cx) ** 2 + max(cy, height - cy) ** 2
    r2 = ((ys[:, None] - cy) ** 2 + (xs[None, :] - cx) ** 2) / far
    small = (1.0 - strength * r2 * np.sqrt(r2)).astype(np.float32)
    # Scaled so that small sample i lands on pixel i * step.
    big = cv2.resize(small, (small.shape[1] * step, small.shape[0] * step), interpolation=cv2.INTER_LINEAR)
    offset = step // 2  # INTER_LINEAR centres each source sample in its block
    return np.ascontiguousarray(big[offset:offset + height, offset:offset + width])


def _blur_small(f: np.ndarray, sigma: float, factor: int = 4) -> np.ndarray:
    """A wide Gaussian blur, computed at 1/factor size and scaled back (same look, a fraction of the work)."""
    height, width = f.shape[:2]
    small = cv2.resize(f, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), max(0.5, sigma / factor))
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _face_light(f: np.ndarray, face: FaceBox | None, target: float) -> np.ndarray:
    """Exposure set from the face's brightness (else the whole frame's, gently), plus a soft key
    light on the face."""
    luma = _luma(f)
    if face is None:
        mean = float(luma.mean())
        gain = float(np.clip((0.46 / max(mean, 1e-3)) ** 0.35, 0.85, 1.2))
        return f * gain
    height, width = luma.shape
    x0, x1 = int(max(face.x + face.w * 0.2, 0)), int(min(face.x + face.w * 0.8, width))
    y0, y1 = int(max(face.y + face.h * 0.2, 0)), int(min(face.y + face.h * 0.8, height))
    inner = luma[y0:y1, x0:x1]
    mean = float(inner.mean()) if inner.size else float(luma.mean())
    gain = float(np.clip((target / max(mean, 1e-3)) ** 0.6, 0.8, 1.35))
    key = _separable_gauss(luma.shape, face.cx, face.cy, face.w * 1.3, face.h * 1.4)
    light = (gain ** 0.5) * (1.0 + (gain ** 0.5 - 1.0) * key + 0.10 * key)
    return f * light[..., None]


# --- The three looks -------------------------------------------------------------------------


def _documentary(f: np.ndarray, face: FaceBox | None, seed: int) -> np.ndarray:
    grey = f[..., 0] * 0.36 + f[..., 1] * 0.52 + f[..., 2] * 0.12  # panchromatic film, skin a touch lighter
    grey = np.clip(grey, 0.0, 1.0)
    film = _s_curve(5.5)
    grey = _curve(grey, lambda x: 0.035 + 0.935 * film(x))  # contrast, blacks lifted like a print
    height, width = grey.shape
    rng = np.random.default_rng(seed)
    grain = rng.standard_normal((height // 2 + 1, width // 2 + 1), dtype=np.float32)
    grain = cv2.resize(grain, (width, height), interpolation=cv2.INTER_LINEAR)
    grey = grey + grain * (0.018 + 0.11 * grey * (1.0 - grey))  # strongest in the midtones
    grey = grey * _vignette(grey.shape, 0.18)
    return np.repeat(np.clip(grey, 0.0, 1.0)[..., None], 3, axis=2)


def _editorial(f: np.ndarray, face: FaceBox | None, seed: int) -> np.ndarray:
    np.clip(f, 0.0, 1.0, out=f)
    f = cv2.addWeighted(f, 1.35, _blur_small(f, sigma=max(f.shape[:2]) / 90), -0.35, 0.0)  # clarity: local contrast
    f = _curve(f, _s_curve(6.5))
    luma = _luma(f)
    tones = cv2.merge([(1.0 - luma) ** 2, luma ** 2])  # how much of a shadow, of a highlight
    f += cv2.transform(tones, np.array([SHADOW_TINT, HIGHLIGHT_TINT], np.float32).T)  # split toning
    luma = _luma(f)
    boost = 1.0 + 1.2 * luma * (1.0 - luma)  # more saturation in the midtones
    luma, boost = luma[..., None], boost[..., None]
    f -= luma
    f *= boost
    f += luma
    return f


def _subject_mask(pixels: np.ndarray, face: FaceBox, seed: int) -> np.ndarray:
    """The subject (face, hair, body) as a soft 0..1 mask at full size: GrabCut on a proxy,
    seeded by the face box."""
    height, width = pixels.shape[:2]
    scale = min(1.0, GRABCUT_SIDE / max(width, height))
    pw, ph = max(8, round(width * scale)), max(8, round(height * scale))
    proxy = cv2.resize(pixels, (pw, ph), interpolation=cv2.INTER_AREA)
    small = face.mapped(scale=pw / width)
    mask = np.full((ph, pw), cv2.GC_BGD, np.uint8)
    # Probably the subject: a column from above the hair down to the bottom, shoulders wide.
    x0, x1 = int(max(small.cx - 1.7 * small.w, 0)), int(min(small.cx + 1.7 * small.w, pw))
    y0 = int(max(small.y - 0.7 * small.h, 0))
    mask[y0:, x0:x1] = cv2.GC_PR_FGD
    # Surely the subject: the middle of the face and the neck under it.
    fx0, fx1 = int(small.x + 0.2 * small.w), int(small.x + 0.8 * small.w)
    fy0, fy1 = int(small.y + 0.15 * small.h), int(min(small.y + 1.25 * small.h, ph))
    mask[fy0:fy1, fx0:fx1] = cv2.GC_FGD
    # Surely background: a thin border where the column does not reach.
    border = max(1, pw // 40)
    mask[:, :border][mask[:, :border] != cv2.GC_FGD] = cv2.GC_BGD
    mask[:, -border:][mask[:, -border:] != cv2.GC_FGD] = cv2.GC_BGD
    mask[:border, :][mask[:border, :] != cv2.GC_FGD] = cv2.GC_BGD
    cv2.setRNGSeed(seed & 0x7FFFFFFF)
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(proxy, mask, None, background, foreground, 3, cv2.GC_INIT_WITH_MASK)
        subject = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    except cv2.error:
        subject = (mask != cv2.GC_BGD).astype(np.uint8)  # GrabCut needs both classes; keep the seed
    # Keep the part connected to the face, fill small holes.
    subject = cv2.morphologyEx(subject, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    count, labels = cv2.connectedComponents(subject)
    if count > 2:
        label = labels[int(min(max(small.cy, 0), ph - 1)), int(min(max(small.cx, 0), pw - 1))]
        if label:
            subject = (labels == label).astype(np.uint8)
    soft = cv2.GaussianBlur(subject.astype(np.float32), (0, 0), 1.2)
    return np.clip(cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)


def _soft_skin(f: np.ndarray, face: FaceBox, subject: np.ndarray) -> np.ndarray:
    """An edge-preserving smoothing on the skin of the face (eyes, brows and lips keep their edges)."""
    height, width = f.shape[:2]
    x0, x1 = int(max(face.x - 0.3 * face.w, 0)), int(min(face.x + 1.3 * face.w, width))
    y0, y1 = int(max(face.y - 0.3 * face.h, 0)), int(min(face.y + 1.4 * face.h, height))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return f
    region = np.clip(f[y0:y1, x0:x1], 0.0, 1.0)
    sigma_space = max(2.0, face.w / 60)
    # The bilateral filter at half size on 8-bit pixels (a table lookup per weight), scaled back:
    # the lost fine texture is the softening itself, and only skin receives it.
    half = cv2.resize(cv2.convertScaleAbs(region, alpha=255.0), ((x1 - x0 + 1) // 2, (y1 - y0 + 1) // 2),
                      interpolation=cv2.INTER_AREA)
    half = cv2.bilateralFilter(half, d=7, sigmaColor=24, sigmaSpace=max(1.5, sigma_space / 2))
    smooth = cv2.resize(half, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR).astype(np.float32) * (1.0 / 255.0)
    ycrcb = cv2.cvtColor(region, cv2.COLOR_RGB2YCrCb)
    cr, cb = ycrcb[..., 1] * 255, ycrcb[..., 2] * 255
    skin = ((cr > 133) & (cr < 180) & (cb > 77) & (cb < 135)).astype(np.float32)
    skin = cv2.GaussianBlur(skin, (0, 0), sigma_space * 1.5)
    near_face = _separable_gauss(region.shape[:2], face.cx - x0, face.cy - y0, face.w * 0.75, face.h * 0.85)
    amount = (0.7 * skin * near_face * subject[y0:y1, x0:x1])[..., None]
    f[y0:y1, x0:x1] = region * (1.0 - amount) + smooth * amount  # in place: the caller's working copy
    return f


def _defocused(f: np.ndarray, subject: np.ndarray, sigma: float, factor: int = 4) -> np.ndarray:
    """The background blurred without the subject bleeding into it: a blur normalised by the
    blurred background mask, computed at 1/factor size and scaled back once."""
    height, width = subject.shape
    size = (max(1, width // factor), max(1, height // factor))
    background = cv2.resize(1.0 - subject, size, interpolation=cv2.INTER_AREA)
    colours = cv2.resize(f, size, interpolation=cv2.INTER_AREA)
    sigma = max(0.5, sigma / factor)
    weights = cv2.GaussianBlur(background, (0, 0), sigma)
    plain = cv2.GaussianBlur(colours, (0, 0), sigma)
    normalised = cv2.GaussianBlur(colours * background[..., None], (0, 0), sigma) / np.maximum(weights, 1e-3)[..., None]
    small = np.where(weights[..., None] > 0.02, normalised, plain)  # deep inside the subject: a plain blur
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _portraits(f: np.ndarray, face: FaceBox | None, seed: int) -> np.ndarray:
    f *= np.array([1.07, 1.015, 0.89], np.float32)  # warm white balance
    f += np.array([0.012, 0.004, 0.0], np.float32)
    np.clip(f, 0.0, 1.0, out=f)
    height, width = f.shape[:2]
    if face is not None:
        subject = _subject_mask(cv2.convertScaleAbs(f, alpha=255.0), face, seed)
        f = _soft_skin(f, face, subject)
        centre = (face.cx * 0.6 + width / 2 * 0.4, face.cy * 0.6 + height / 2 * 0.4)
    else:
        subject = np.clip(_separable_gauss((height, width), width / 2, height * 0.45, width * 0.3, height * 0.35) * 1.6, 0, 1)
        centre = (width / 2, height / 2)
    blurred = _defocused(f, subject, sigma=max(width, height) / 110)
    # f·subject + blurred·(1 - subject), in place: blurred + (f - blurred)·subject
    f -= blurred
    f *= subject[..., None]
    f += blurred
    f = _curve(f, _s_curve(3.2))  # a gentle contrast
    f *= _vignette((height, width), 0.32, *centre)[..., None]
    return f


LOOKS = {"documentary": _documentary, "editorial": _editorial, "portraits": _portraits}
FACE_TARGET = {"documentary": 0.5, "editorial": 0.55, "portraits": 0.6}


def style_photo(image: Image.Image, category: str) -> Image.Image:
    """The photo in the category's look: an RGB image of the photo's aspect (EXIF orientation
    applied), at most MAX_SIDE px on its long side, with no metadata. Unknown category: ValueError."""
    if category not in LOOKS:
        raise ValueError(f"Unknown category {category!r}; one of: {', '.join(CATEGORIES)}.")
    source = _flattened(image)
    size = _working_size(*source.size)
    face = face_find(source)  # in the source's pixels
    box = _crop_box(source.size, face, category)
    working = source.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
    if face is not None:
        left, top, right, _ = box or (0.0, 0.0, float(source.width), 0.0)
        face = face.mapped(scale=size[0] / (right - left), dx=left, dy=top)
    pixels = np.asarray(working)
    seed = _seed(pixels, category)
    f = pixels.astype(np.float32) * (1.0 / 255.0)
    f = _face_light(f, face, FACE_TARGET[category])
    f = LOOKS[category](f, face, seed)
    out = cv2.convertScaleAbs(np.clip(f, 0.0, 1.0), alpha=255.0)  # rounded, 0..255
    return Image.fromarray(np.ascontiguousarray(out), "RGB")
