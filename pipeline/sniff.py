"""Which parser an upload claims to need, from its first bytes (never from its name or declared type).

This only picks the candidate: `pipeline.uploads` then proves the claim by parsing the whole file
with the library that reads that format, and stores what the parser wrote back, not the upload.
"""

import re
import struct


class Rejected(ValueError):
    """The upload is not what it claims to be (or not a format we accept); a 400 naming `file`."""


MESH_TYPES = ("glb", "stl", "ply", "obj")
ACCEPTED = "PNG, JPEG, WebP, GLB, STL, PLY, OBJ, MP4, WAV"

# A Wavefront OBJ is plain text whose statements start lines: a vertex line is enough to try it.
_OBJ_VERTEX = re.compile(rb"(?m)^[ \t]*v[ \t]+[-+.\d]")
_TEXT = re.compile(rb"[\t\n\r\x20-\x7e]*")


def _binary_stl(head: bytes, size: int) -> bool:
    if len(head) < 84:
        return False
    (triangles,) = struct.unpack("<I", head[80:84])
    return triangles > 0 and size == 84 + 50 * triangles


def _plain_text(head: bytes) -> bool:
    return _TEXT.fullmatch(head) is not None


def sniff_type(head: bytes, size: int) -> str:
    """The candidate type of a file from its first 512 bytes: an asset type, or "image" for Pillow."""
    if head.startswith(b"glTF") and len(head) >= 12:
        return "glb"
    if head.startswith((b"ply\n", b"ply\r\n")):
        return "ply"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if _binary_stl(head, size) or head.lstrip().startswith(b"solid"):
        return "stl"
    if _plain_text(head) and _OBJ_VERTEX.search(head):
        return "obj"
    return "image"
