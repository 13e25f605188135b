"""What a file really is, from its bytes (never from its name or declared type)."""

import struct
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, UnidentifiedImageError

IMAGE_FORMATS = {"PNG": ("png", "image/png"), "JPEG": ("jpg", "image/jpeg"), "WEBP": ("webp", "image/webp")}


@dataclass
class Sniffed:
    asset_type: str
    content_type: str
    width: int | None = None
    height: int | None = None


class Rejected(ValueError):
    pass


def _image(fileobj) -> Sniffed | None:
    fileobj.seek(0)
    try:
        with Image.open(fileobj) as image:
            if image.format not in IMAGE_FORMATS:
                raise Rejected(f"Image format {image.format} is not accepted (PNG, JPEG or WebP).")
            width, height = image.size
            if width * height > settings.PIPELINE_UPLOAD_MAX_PIXELS:
                raise Rejected(f"Image has {width * height} pixels; the limit is {settings.PIPELINE_UPLOAD_MAX_PIXELS}.")
            image.verify()
            asset_type, content_type = IMAGE_FORMATS[image.format]
    except (UnidentifiedImageError, Image.DecompressionBombError):
        return None
    except (OSError, SyntaxError) as exc:  # truncated or corrupt data behind a valid header
        raise Rejected(f"Image data is corrupt: {exc}")
    fileobj.seek(0)  # verify() leaves the image unusable; reopen to be sure it decodes
    try:
        with Image.open(fileobj) as image:
            image.load()
    except (OSError, SyntaxError) as exc:
        raise Rejected(f"Image data is corrupt: {exc}")
    return Sniffed(asset_type, content_type, width, height)


def _binary_stl(head: bytes, size: int) -> bool:
    if len(head) < 84:
        return False
    (triangles,) = struct.unpack("<I", head[80:84])
    return triangles > 0 and size == 84 + 50 * triangles


def sniff(fileobj, size: int) -> Sniffed:
    fileobj.seek(0)
    head = fileobj.read(512)
    fileobj.seek(0)
    if head.startswith(b"glTF") and len(head) >= 12:
        return Sniffed("glb", "model/gltf-binary")
    if head.startswith(b"ply\n") or head.startswith(b"ply\r\n"):
        return Sniffed("ply", "application/octet-stream")
    if head[4:8] == b"ftyp":
        return Sniffed("mp4", "video/mp4")
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return Sniffed("wav", "audio/wav")
    if _binary_stl(head, size) or (head.lstrip().startswith(b"solid") and b"facet" in head):
        return Sniffed("stl", "model/stl")
    image = _image(fileobj)
    if image:
        return image
    raise Rejected("Unrecognised file content (accepted: PNG, JPEG, WebP, GLB, STL, PLY, MP4, WAV).")
