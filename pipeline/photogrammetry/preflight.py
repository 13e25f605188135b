"""Pre-flight: which photos of a set are worth reconstructing, said before any credit moves.

Per photo (pixels decoded in full, within PIPELINE_UPLOAD_MAX_PIXELS, EXIF orientation applied):
- it decodes as JPEG, PNG or WebP (HEIC is refused by name: no maintained decoder is installed),
  is not empty and at most PHOTOGRAMMETRY_PHOTO_MAX_BYTES;
- its short side is at least MIN_SHORT_SIDE px;
- it is not a duplicate of an earlier photo: a 256-bit difference hash (dHash on a 17×16
  greyscale) within DUPLICATE_BITS of one already accepted;
- sharpness: the variance of the Laplacian of the greyscale resized to a 640 px long side (so the
  figure does not depend on the resolution). A photo is "blurred" below SHARPNESS_RELATIVE × the
  set's median (a photo much softer than its siblings), or below SHARPNESS_FLOOR whatever the set
  (a wholly blurred set has a low median too);
- exposure: the share of clipped pixels (greyscale ≤ 3 or ≥ 252) above CLIPPED_MAX;
- EXIF focal length (mm, and the 35 mm equivalent) and orientation, read when present.

For the set: at least PHOTOGRAMMETRY_MIN_PHOTOS and at most PHOTOGRAMMETRY_MAX_PHOTOS files. The
photos are grouped into cameras by (width × height after orientation, EXIF focal length): one
group → COLMAP shares one camera (its focal length is then estimated from every photo together);
several → one camera per photo.
"""

import hashlib
import io
from dataclasses import asdict, dataclass, field

import numpy as np
from django.conf import settings
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

MIN_SHORT_SIDE = 480
DUPLICATE_BITS = 8  # of 256
SHARPNESS_RELATIVE = 0.35
SHARPNESS_FLOOR = 20.0
CLIPPED_MAX = 0.25
NORMALISED_LONG_SIDE = 640
FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}


@dataclass
class PhotoCheck:
    name: str
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    width: int | None = None
    height: int | None = None
    sharpness: float | None = None
    clipped_share: float | None = None
    focal_length_mm: float | None = None
    focal_length_35mm: float | None = None
    orientation: int | None = None
    camera_group: int | None = None
    duplicate_of: str | None = None
    sha256: str = ""

    def refuse(self, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("sha256")
        return data


@dataclass
class Preflight:
    photos: list[PhotoCheck]
    camera_groups: list[dict]
    minimum: int

    @property
    def good(self) -> list[PhotoCheck]:
        return [p for p in self.photos if p.ok]

    @property
    def dropped(self) -> list[PhotoCheck]:
        return [p for p in self.photos if not p.ok]

    @property
    def passes(self) -> bool:
        return len(self.good) >= self.minimum

    @property
    def single_camera(self) -> bool:
        return len({p.camera_group for p in self.good}) <= 1

    def messages(self) -> list[str]:
        return [f"{p.name} {' and '.join(p.problems)}" for p in self.dropped]

    def summary(self) -> str:
        good, total = len(self.good), len(self.photos)
        if not self.dropped:
            return f"All {total} photos passed the checks."
        text = f"{good} of {total} photos passed: " + "; ".join(self.messages()) + "."
        if not self.passes:
            text += f" At least {self.minimum} good photos are needed."
        return text

    def as_dict(self) -> dict:
        return {
            "ok": self.passes, "total": len(self.photos), "accepted": len(self.good), "minimum": self.minimum,
            "single_camera": self.single_camera, "camera_groups": self.camera_groups,
            "dropped": [{"name": p.name, "reasons": p.problems} for p in self.dropped],
            "summary": self.summary(), "photos": [p.as_dict() for p in self.photos],
        }


_EXIF_IFD = 0x8769
_TAGS = {name: tag for tag, name in ExifTags.TAGS.items()}


def _exif(image: Image.Image, check: PhotoCheck) -> None:
    exif = image.getexif()
    orientation = exif.get(_TAGS["Orientation"])
    check.orientation = int(orientation) if isinstance(orientation, int) else None
    details = exif.get_ifd(_EXIF_IFD)
    for tag, attribute in (("FocalLength", "focal_length_mm"), ("FocalLengthIn35mmFilm", "focal_length_35mm")):
        value = details.get(_TAGS[tag])
        try:
            number = float(value) if value is not None else None
        except (TypeError, ValueError, ZeroDivisionError):
            number = None
        if number is not None and 0 < number < 10_000:
            setattr(check, attribute, round(number, 2))


def laplacian_variance(grey: np.ndarray) -> float:
    g = grey.astype(np.float32)
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1]
    return float(lap.var())


def difference_hash(grey: Image.Image) -> int:
    small = np.asarray(grey.resize((17, 16), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def _measure(data: bytes, check: PhotoCheck) -> int | None:
    """Decode and measure one photo; returns its hash, or None when it cannot be used at all."""
    max_pixels = settings.PIPELINE_UPLOAD_MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.format not in FORMATS:
                check.refuse(f"is a {opened.format} image; JPEG, PNG or WebP photos are accepted")
                return None
            if opened.width * opened.height > max_pixels:
                check.refuse(f"has {opened.width * opened.height} pixels; the limit is {max_pixels}")
                return None
            _exif(opened, check)
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except Image.DecompressionBombError:
        check.refuse(f"has too many pixels (the limit is {max_pixels})")
        return None
    except UnidentifiedImageError:
        check.refuse("is not an image (JPEG, PNG or WebP)")
        return None
    except (OSError, SyntaxError, ValueError, EOFError):
        check.refuse("is damaged: its image data could not be decoded")
        return None
    check.width, check.height = image.size
    if min(image.size) < MIN_SHORT_SIDE:
        check.refuse(f"is too small ({image.width}×{image.height}; the short side must be at least {MIN_SHORT_SIDE} px)")
    grey = image.convert("L")
    scale = NORMALISED_LONG_SIDE / max(grey.size)
    normalised = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
                             Image.Resampling.BILINEAR)
    pixels = np.asarray(normalised)
    check.sharpness = round(laplacian_variance(pixels), 2)
    check.clipped_share = round(float(((pixels <= 3) | (pixels >= 252)).mean()), 4)
    if check.clipped_share > CLIPPED_MAX:
        bright = float((pixels >= 252).mean()) >= float((pixels <= 3).mean())
        check.refuse(f"is {'over' if bright else 'under'}-exposed ({check.clipped_share:.0%} of its pixels are clipped)")
    return difference_hash(normalised)


def preflight_run(files: list[tuple[str, bytes | None, int]]) -> Preflight:
    """Check every (name, content, size) of a set (content None: too large to read); nothing is stored."""
    limit = settings.PHOTOGRAMMETRY_PHOTO_MAX_BYTES
    checks, hashes = [], {}
    for name, data, size in files:
        check = PhotoCheck(name=name, sha256=hashlib.sha256(data or b"").hexdigest())
        checks.append(check)
        if size == 0:
            check.refuse("is empty (0 bytes)")
        elif data is None or size > limit:
            check.refuse(f"is larger than {limit // (1024 * 1024)} MB")
        elif name.lower().endswith((".heic", ".heif")):
            check.refuse("is HEIC; this server reads JPEG, PNG or WebP (export the photos as JPEG)")
        else:
            hashed = _measure(data, check)
            if hashed is not None:
                hashes[id(check)] = hashed
    measured = [c for c in checks if c.sharpness is not None]
    median = float(np.median([c.sharpness for c in measured])) if measured else 0.0
    threshold = max(SHARPNESS_FLOOR, SHARPNESS_RELATIVE * median)
    for check in measured:
        if check.sharpness < threshold:
            check.refuse("is blurred")
    kept: list[PhotoCheck] = []
    for check in checks:
        if id(check) not in hashes or not check.ok:
            continue
        twin = next((k for k in kept if k.sha256 == check.sha256
                     or bin(hashes[id(k)] ^ hashes[id(check)]).count("1") <= DUPLICATE_BITS), None)
        if twin is not None:
            check.duplicate_of = twin.name
            check.refuse(f"is a duplicate of {twin.name}")
        else:
            kept.append(check)
    groups: dict[tuple, int] = {}
    for check in checks:
        if check.ok:
            key = (check.width, check.height, check.focal_length_35mm or check.focal_length_mm)
            check.camera_group = groups.setdefault(key, len(groups) + 1)
    camera_groups = [
        {"group": number, "width": key[0], "height": key[1], "focal_length_mm": key[2],
         "photos": sum(1 for c in checks if c.ok and c.camera_group == number)}
        for key, number in groups.items()
    ]
    return Preflight(checks, camera_groups, settings.PHOTOGRAMMETRY_MIN_PHOTOS)
