"""Uploads are proven by parsing, and what we store is what the parser wrote back.

A file's first bytes only choose the parser (`pipeline.sniff`). Each format is then read in full
by the library that reads it, and a fresh file is written from what was read:

* images (PNG, JPEG incl. multi-frame MPO: its first frame, WebP): Pillow decodes every pixel (within PIPELINE_UPLOAD_MAX_PIXELS), applies
  the EXIF orientation, converts to sRGB, and saves a new file in the same format with no EXIF
  (GPS included), comments, XMP or ICC chunks;
* meshes (STL ascii/binary, PLY, GLB, OBJ): trimesh loads them and exports binary STL, binary PLY,
  GLB (a rebuilt scene: generated names, no extras, textures re-encoded) or OBJ;
* video (MP4/MOV): ffprobe must find a real video stream and ffmpeg must decode its first frame;
  the stored file is a stream-copy remux (video + first audio, no metadata, nothing appended).
  Both run in the program sandbox (`mozukai_hub.sandbox.run_program`: own process group under
  prlimit, wall-clock limit, the whole group killed when it is hit);
* WAV: Python's `wave` reads the PCM frames and writes a new file around them.

So HTML or script appended to, or hidden inside, an upload never reaches storage.
"""

import io
import json
import shutil
import struct
import tempfile
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from mozukai_hub.api.errors import ApplicationError
from mozukai_hub.sandbox import ProgramMissing, ProgramResult, ProgramTimeout, run_program

from .sniff import ACCEPTED, MESH_TYPES, Rejected, sniff_type

# Pillow names a JPEG that carries more than one frame (Multi-Picture Format: what many phones and
# cameras write, the extra frames being previews or depth maps) "MPO". It is a JPEG: its first
# frame, the photo, is what is read and stored, re-encoded as a plain JPEG.
IMAGE_FORMATS = {"PNG": ("png", "image/png"), "JPEG": ("jpg", "image/jpeg"), "MPO": ("jpg", "image/jpeg"),
                 "WEBP": ("webp", "image/webp")}
# The one type each asset type is served with (downloads never echo a stored or declared type).
CONTENT_TYPES = {
    "png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "glb": "model/gltf-binary", "stl": "model/stl",
    "ply": "application/octet-stream", "obj": "model/obj", "mp4": "video/mp4", "wav": "audio/wav",
    "scad": "text/plain; charset=utf-8", "json": "application/json", "vtt": "text/vtt; charset=utf-8",
}
PBR_TEXTURES = ("baseColorTexture", "metallicRoughnessTexture", "normalTexture", "occlusionTexture", "emissiveTexture")
# ffprobe/ffmpeg read hostile bytes: they run sandboxed (address space, CPU seconds, file size).
TOOL_MEMORY_BYTES = 2 * 1024 * 1024 * 1024
VIDEO_FORMATS = {"mov", "mp4", "m4a", "3gp", "3g2", "mj2"}


@dataclass
class CleanUpload:
    asset_type: str
    content_type: str
    path: Path
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        return self.path.stat().st_size


@contextmanager
def _parsing(what: str) -> Iterator[None]:
    """Any failure of a third-party parser on hostile bytes is a refusal, never a 500.

    Pillow, trimesh and numpy raise a wide, undocumented range of exceptions on malformed input
    (ValueError, IndexError, KeyError, struct.error, json errors, MemoryError, ...), so here, and
    only here, every Exception is turned into a 400.
    """
    try:
        yield
    except (Rejected, ApplicationError):
        raise
    except Exception as exc:
        raise Rejected(f"The file could not be read as {what}: {type(exc).__name__}.") from exc


def _pixels_check(width: int, height: int) -> None:
    if width * height > settings.PIPELINE_UPLOAD_MAX_PIXELS:
        raise Rejected(f"Image has {width * height} pixels; the limit is {settings.PIPELINE_UPLOAD_MAX_PIXELS}.")


def _fresh_pixels(image: Image.Image) -> Image.Image:
    """The decoded pixels in a mode every target format writes, in sRGB, with no metadata left."""
    icc = image.info.get("icc_profile")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode not in {"L", "LA", "RGB", "RGBA", "CMYK"}:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    if icc and image.mode in {"RGB", "RGBA", "CMYK"}:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            image = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"),
                                              outputMode="RGBA" if image.mode == "RGBA" else "RGB")
        except (ImageCms.PyCMSError, OSError):
            pass  # an unreadable profile is dropped with the rest of the metadata; the pixels stay
    if image.mode == "CMYK":
        image = image.convert("RGB")
    image.info = {}  # Pillow writes some info keys back (a JPEG comment); nothing of them may survive
    return image


def _image(fileobj, tmp: Path) -> CleanUpload:
    fileobj.seek(0)
    try:
        with Image.open(fileobj) as opened:
            if opened.format not in IMAGE_FORMATS:
                raise Rejected(f"Image format {opened.format} is not accepted (PNG, JPEG or WebP).")
            _pixels_check(*opened.size)
            asset_type, content_type = IMAGE_FORMATS[opened.format]
            with _parsing("an image"):
                opened.load()  # every pixel: truncated or corrupt data fails here
                image = _fresh_pixels(ImageOps.exif_transpose(opened))
    except Rejected:
        raise
    except Image.DecompressionBombError as exc:
        raise Rejected(f"Image has too many pixels; the limit is {settings.PIPELINE_UPLOAD_MAX_PIXELS}.") from exc
    except UnidentifiedImageError as exc:
        raise Rejected(f"Unrecognised file content (accepted: {ACCEPTED}).") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # a corrupt header Pillow recognised
        raise Rejected(f"Image data is corrupt: {exc}") from exc
    path = tmp / f"clean.{asset_type}"
    if asset_type == "jpg":
        image.convert("RGB" if image.mode in {"RGBA", "LA"} else image.mode).save(path, format="JPEG", quality=92)
    elif asset_type == "webp":
        image.convert("RGBA" if "A" in image.getbands() else "RGB").save(path, format="WEBP", quality=92)
    else:
        image.save(path, format="PNG")
    return CleanUpload(asset_type, content_type, path, image.width, image.height)


def _clean_texture(image: Image.Image) -> Image.Image:
    """A mesh texture gets the image treatment: pixel limit, full decode, no metadata, PNG."""
    _pixels_check(*image.size)
    image.load()
    image = image.convert("RGBA" if "A" in image.getbands() or image.mode == "P" else "RGB")
    image.info = {}
    image.format = None  # trimesh keeps a JPEG as JPEG (with its comment); a format-less image goes out as PNG
    return image


def _mesh_clean_visual(geometry, index: int) -> None:
    material = getattr(getattr(geometry, "visual", None), "material", None)
    if material is None:
        return
    material.name = f"material_{index}"
    for attribute in ("image", *PBR_TEXTURES):
        texture = getattr(material, attribute, None)
        if isinstance(texture, Image.Image):
            setattr(material, attribute, _clean_texture(texture))


def _mesh_check(geometry) -> None:
    import numpy as np
    import trimesh

    if isinstance(geometry, trimesh.Trimesh):
        if len(geometry.faces) == 0:
            raise Rejected("The mesh has no faces.")
    elif isinstance(geometry, trimesh.PointCloud):
        if len(geometry.vertices) == 0:
            raise Rejected("The point cloud has no points.")
    else:
        raise Rejected("The file holds no mesh or point cloud.")
    if not np.isfinite(geometry.vertices).all():
        raise Rejected("The mesh has vertices that are not finite numbers.")


def _glb_rebuilt(scene):
    """A new scene from the loaded one: geometry, transforms and materials; generated names, no extras."""
    import trimesh

    clean = trimesh.Scene()
    for index, node in enumerate(scene.graph.nodes_geometry):
        transform, geometry_name = scene.graph[node]
        geometry = scene.geometry[geometry_name].copy()
        _mesh_check(geometry)
        geometry.metadata = {}
        _mesh_clean_visual(geometry, index)
        clean.add_geometry(geometry, node_name=f"node_{index}", geom_name=f"mesh_{index}", transform=transform)
    if not clean.geometry:
        raise Rejected("The file holds no mesh.")
    return clean


# Bytes one value of each PLY scalar type takes in a binary file (a list costs at least its count).
_PLY_TYPE_BYTES = {
    "char": 1, "uchar": 1, "int8": 1, "uint8": 1, "short": 2, "ushort": 2, "int16": 2, "uint16": 2,
    "int": 4, "uint": 4, "int32": 4, "uint32": 4, "float": 4, "float32": 4, "double": 8, "float64": 8,
}
_GLB_COMPONENT_BYTES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
_GLB_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}


def _ply_declared_counts_check(raw: bytes) -> None:
    """Every element a PLY header declares must fit in the bytes (binary) or lines (ASCII) after it."""
    end = raw.find(b"end_header")
    if end < 0:
        raise Rejected("The PLY header has no end_header line.")
    newline = raw.find(b"\n", end)
    body = raw[newline + 1:] if newline >= 0 else b""
    lines = raw[:end].decode("latin-1").splitlines()
    is_ascii = len(lines) > 1 and "ascii" in lines[1].lower()
    elements: list[list[int]] = []  # per element: [declared count, minimum bytes of one]
    for line in lines[2:]:
        words = line.split()
        if len(words) == 3 and words[0] == "element":
            if not words[2].isdigit():
                raise Rejected("The PLY header declares an element count that is not a number.")
            elements.append([int(words[2]), 0])
        elif words[:1] == ["property"] and elements:
            # `property float x`, or `property list uchar int vertex_indices` (at least the count)
            type_name = words[2] if len(words) >= 5 and words[1] == "list" else words[1] if len(words) >= 2 else ""
            elements[-1][1] += _PLY_TYPE_BYTES.get(type_name, 1)
    declared = sum(count for count, _ in elements)
    if is_ascii:
        # One element per line.
        available = max(body.count(b"\n"), body.count(b"\r")) + 1
        if declared > available:
            raise Rejected(f"The PLY header declares {declared} elements; the file has {available} lines.")
    else:
        needed = sum(count * max(1, width) for count, width in elements)
        if needed > len(body):
            raise Rejected(f"The PLY header declares elements taking at least {needed} bytes; "
                           f"the file has {len(body)} after its header.")


def _glb_declared_sizes_check(raw: bytes) -> None:
    """The GLB header's length, every chunk and every accessor must fit in the file."""
    if len(raw) < 20:
        raise Rejected("The GLB file is shorter than its header.")
    _, length = struct.unpack_from("<II", raw, 4)
    if not 20 <= length <= len(raw):
        raise Rejected(f"The GLB header declares {length} bytes; the file has {len(raw)}.")
    offset, chunks = 12, []
    while offset < length:
        if offset + 8 > length:
            raise Rejected("A GLB chunk header runs past the end of the file.")
        chunk_length, chunk_type = struct.unpack_from("<II", raw, offset)
        if offset + 8 + chunk_length > length:
            raise Rejected(f"A GLB chunk declares {chunk_length} bytes, past the end of the file.")
        chunks.append((chunk_type, raw[offset + 8:offset + 8 + chunk_length]))
        offset += 8 + chunk_length
    if not chunks or chunks[0][0] != 0x4E4F534A:  # "JSON"
        raise Rejected("The GLB file does not start with its JSON chunk.")
    tree = json.loads(chunks[0][1])
    accessors = tree.get("accessors", []) if isinstance(tree, dict) else []
    for index, accessor in enumerate(accessors if isinstance(accessors, list) else []):
        if not isinstance(accessor, dict):
            continue
        count = accessor.get("count", 0)
        width = _GLB_COMPONENT_BYTES.get(accessor.get("componentType"), 1) * _GLB_COMPONENTS.get(accessor.get("type"), 1)
        if not isinstance(count, int) or count < 0 or count * width > len(raw):
            raise Rejected(f"GLB accessor {index} declares more data than the file holds.")


def _mesh_declared_sizes_check(raw: bytes, asset_type: str) -> None:
    """Counts a mesh file declares must fit in its size, checked before any parser allocates for them.

    trimesh runs in the web process without a memory or CPU limit of its own, so a header that
    declares billions of elements in a few bytes is refused here. OBJ declares no counts: what it
    holds is bounded by its size."""
    if asset_type == "ply":
        _ply_declared_counts_check(raw)
    elif asset_type == "glb":
        _glb_declared_sizes_check(raw)
    elif asset_type == "stl" and not raw.lstrip().startswith(b"solid"):
        # Binary (an ASCII STL starts with `solid`; a binary header may too, then either form must hold).
        triangles = int.from_bytes(raw[80:84], "little") if len(raw) >= 84 else -1
        if 84 + 50 * triangles != len(raw):
            raise Rejected("The binary STL's triangle count does not match its size (84 + 50 bytes a triangle).")


def _mesh(fileobj, asset_type: str, tmp: Path) -> CleanUpload:
    import trimesh

    fileobj.seek(0)
    raw = fileobj.read()
    data = io.BytesIO(raw)
    with _parsing(f"a {asset_type.upper()} mesh"):
        _mesh_declared_sizes_check(raw, asset_type)
        # A file object, never a path: trimesh then has no resolver and reads no other file
        # (OBJ `mtllib`, glTF buffer URIs) and nothing from the network.
        if asset_type == "glb":
            loaded = trimesh.load(data, file_type="glb", force="scene")
            exported = _glb_rebuilt(loaded).export(file_type="glb")
        else:
            loaded = trimesh.load(data, file_type=asset_type, force=None if asset_type == "ply" else "mesh")
            _mesh_check(loaded)
            loaded.metadata = {}
            _mesh_clean_visual(loaded, 0)
            if asset_type == "obj":
                exported = loaded.export(file_type="obj", include_texture=False).encode()
            else:
                exported = loaded.export(file_type=asset_type)  # binary STL / binary PLY
    path = tmp / f"clean.{asset_type}"
    path.write_bytes(exported)
    return CleanUpload(asset_type, CONTENT_TYPES[asset_type], path)


def _tool(argv: list[str], *, cwd: Path) -> ProgramResult:
    """ffprobe/ffmpeg in the program sandbox, with the upload check's wall-clock and CPU limit
    (on timeout the whole process group is killed). A missing tool (or prlimit) is a 503, not a
    pass; stdout and stderr come back merged, so callers that need a tool's output have it write
    a file in `cwd`."""
    seconds = settings.PIPELINE_UPLOAD_PROBE_SECONDS
    try:
        return run_program(argv, cwd=cwd, timeout_seconds=seconds, memory_bytes=TOOL_MEMORY_BYTES,
                           file_bytes=settings.PIPELINE_UPLOAD_MAX_BYTES * 2, cpu_seconds=seconds)
    except ProgramMissing as exc:
        raise ApplicationError(f"Video uploads cannot be checked here: {exc}",
                               code="upload_check_unavailable", status_code=503) from exc
    except ProgramTimeout as exc:
        raise Rejected(f"The video could not be read within {seconds} seconds.") from exc


def _video(fileobj, tmp: Path) -> CleanUpload:
    source, target, report = tmp / "upload.mp4", tmp / "clean.mp4", tmp / "probe.json"
    fileobj.seek(0)
    with source.open("wb") as handle:
        shutil.copyfileobj(fileobj, handle)
    # `-f mov` and a file-only protocol whitelist: no probing into playlists or other demuxers,
    # and no reference (dref, URL) is ever followed.
    read = ["-protocol_whitelist", "file", "-f", "mov"]
    # The report goes to a file (`-o`): the sandbox merges stderr into stdout.
    probe = _tool(["ffprobe", "-v", "error", *read, "-print_format", "json", "-show_format", "-show_streams",
                   "-o", f"file:{report}", f"file:{source}"], cwd=tmp)
    try:
        info = json.loads(report.read_bytes() or b"{}")
        if not isinstance(info, dict):
            info = {}
    except (OSError, ValueError):
        info = {}
    formats = set(str(info.get("format", {}).get("format_name", "")).split(","))
    videos = [s for s in info.get("streams", []) if s.get("codec_type") == "video"
              and not s.get("disposition", {}).get("attached_pic") and s.get("width") and s.get("height")]
    if probe.returncode != 0 or not formats & VIDEO_FORMATS or not videos:
        raise Rejected("The file is not a video (an MP4/MOV container with a video stream).")
    width, height = int(videos[0]["width"]), int(videos[0]["height"])
    _pixels_check(width, height)
    decoded = _tool(["ffmpeg", "-v", "error", "-nostdin", "-threads", "1", *read, "-i", f"file:{source}",
                     "-map", "0:V:0", "-frames:v", "1", "-f", "null", "-"], cwd=tmp)
    if decoded.returncode != 0:
        raise Rejected("The video's first frame could not be decoded.")
    remuxed = _tool(["ffmpeg", "-v", "error", "-nostdin", *read, "-i", f"file:{source}", "-map", "0:V:0",
                     "-map", "0:a:0?", "-c", "copy", "-map_metadata", "-1", "-map_chapters", "-1",
                     "-movflags", "+faststart", "-f", "mp4", "-y", f"file:{target}"], cwd=tmp)
    if remuxed.returncode != 0 or not target.exists():
        raise Rejected("The video's streams cannot be stored as MP4.")
    return CleanUpload("mp4", "video/mp4", target, width, height)


def _wav(fileobj, tmp: Path) -> CleanUpload:
    path = tmp / "clean.wav"
    fileobj.seek(0)
    with _parsing("a WAV file (PCM)"):
        with wave.open(fileobj, "rb") as source:
            params = source.getparams()
            frames = source.readframes(params.nframes)
        if params.nframes == 0 or len(frames) != params.nframes * params.nchannels * params.sampwidth:
            raise Rejected("The WAV file has no complete audio frames.")
        with wave.open(str(path), "wb") as target:
            target.setparams(params)
            target.writeframes(frames)
    return CleanUpload("wav", "audio/wav", path)


@contextmanager
def upload_clean(fileobj, *, size: int) -> Iterator[CleanUpload]:
    """Parse an upload in full and yield a freshly written file of it (removed on exit).

    Raises Rejected when the content is not a complete file of an accepted format.
    """
    if size == 0:
        raise Rejected("The file is empty.")
    fileobj.seek(0)
    head = fileobj.read(512)
    kind = sniff_type(head, size)
    with tempfile.TemporaryDirectory(prefix="mozukai-upload-") as directory:
        tmp = Path(directory)
        if kind in MESH_TYPES:
            yield _mesh(fileobj, kind, tmp)
        elif kind == "mp4":
            yield _video(fileobj, tmp)
        elif kind == "wav":
            yield _wav(fileobj, tmp)
        else:
            yield _image(fileobj, tmp)
