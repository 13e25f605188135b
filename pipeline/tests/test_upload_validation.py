"""Uploads whose content lies (issue 16, item 9).

Every accepted format is parsed in full by the library that reads it, and what is stored is the
parser's re-encoding: hostile variants are refused with a 400 naming `file` (nothing stored), and
payloads hidden inside files that do parse never reach storage.
"""

import io
import json
import shutil
import struct
import subprocess
import time
import wave
import zlib
from pathlib import Path

import pytest
import trimesh
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import given, settings as hypothesis_settings, strategies as st
from PIL import ExifTags, Image

from mozukai_hub.testing.images import png_bytes
from pipeline.models import Asset, Job
from pipeline.services import asset_output_store
from pipeline.sniff import Rejected
from pipeline.uploads import upload_clean

HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


def upload(client, data: bytes, name: str = "upload.bin", **fields):
    return client.post("/api/v1/assets/upload", {"file": SimpleUploadedFile(name, data), **fields}, format="multipart")


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def stored_bytes(asset_id) -> bytes:
    asset = Asset.objects.get(pk=asset_id)
    with asset.file.open("rb") as handle:
        return handle.read()


def assert_refused(response, settings):
    assert response.status_code == 400, response.content
    assert "file" in response.json()["error"]["fields"], response.content
    assert Asset.objects.count() == 0 and stored_files(settings) == []


# --- inputs, built here ---------------------------------------------------------------------------


def box() -> trimesh.Trimesh:
    return trimesh.creation.box(extents=(10, 20, 30))


def mesh_bytes(file_type: str, **kwargs) -> bytes:
    data = box().export(file_type=file_type, **kwargs)
    return data.encode() if isinstance(data, str) else data


def glb_with_json(edit) -> bytes:
    """A real GLB whose JSON chunk `edit` changes (names, extras)."""
    glb = mesh_bytes("glb")
    (json_length,) = struct.unpack("<I", glb[12:16])
    tree = json.loads(glb[20:20 + json_length])
    edit(tree)
    chunk = json.dumps(tree).encode()
    chunk += b" " * (-len(chunk) % 4)
    body = struct.pack("<I", len(chunk)) + b"JSON" + chunk + glb[20 + json_length:]
    return b"glTF" + struct.pack("<II", 2, 12 + len(body)) + body


def jpeg_bytes(size=(16, 12), exif: Image.Exif | None = None, **save) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, (200, 40, 40))
    image.paste((20, 40, 200), (0, 0, size[0] // 2, size[1]))  # left half blue: shows the orientation
    image.save(buffer, format="JPEG", exif=exif or Image.Exif(), **save)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def wav_bytes() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x10" * 800)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is missing: apt-get install -y ffmpeg")
    directory = tmp_path_factory.mktemp("media-inputs")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-f", "lavfi",
         "-i", "sine=frequency=440:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-metadata", "title=<script>alert(1)</script>", "-y", str(directory / "real.mp4")],
        check=True, timeout=60,
    )
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac",
         "-f", "mp4", "-y", str(directory / "audio_only.mp4")],
        check=True, timeout=60,
    )
    return directory


def ffprobe_streams(data: bytes, tmp_path: Path) -> dict:
    path = tmp_path / "probe.mp4"
    path.write_bytes(data)
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
                         capture_output=True, check=True, timeout=30)
    return json.loads(out.stdout)


# --- meshes -----------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("file_type, export, asset_type", [
    ("stl", {}, "stl"), ("stl_ascii", {}, "stl"), ("ply", {}, "ply"), ("ply", {"encoding": "ascii"}, "ply"),
    ("glb", {}, "glb"), ("obj", {}, "obj"),
])
def test_real_meshes_are_stored_as_trimesh_re_exports(auth_client, user, file_type, export, asset_type):
    response = upload(auth_client, mesh_bytes(file_type, **export), name=f"model.{asset_type}")
    assert response.status_code == 201, response.content
    assert response.json()["asset_type"] == asset_type
    stored = stored_bytes(response.json()["id"])
    loaded = trimesh.load(io.BytesIO(stored), file_type=asset_type, force="mesh")
    assert len(loaded.faces) == 12 and loaded.extents.tolist() == pytest.approx([10, 20, 30])
    if asset_type in {"stl", "ply"}:  # ascii uploads come back binary: the parser wrote the file
        assert not stored.lstrip().startswith(b"solid") and b"format ascii" not in stored[:200]


@pytest.mark.django_db
@pytest.mark.parametrize("data, name", [
    (b"ply\n" + HTML, "evil.ply"),
    (b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nend_header\n" + HTML, "evil.ply"),
    (b"glTF\x02\x00\x00\x00\x40\x00\x00\x00" + HTML, "evil.glb"),
    (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + HTML, "evil.mp4"),
    (b"\x00\x00\x00\x18ftyp" + HTML, "evil.mp4"),
    (b"solid x\n facet " + HTML + b"\nendsolid x\n", "evil.stl"),
    (b"solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\n" + HTML + b"\nendsolid x\n", "evil.stl"),
    (b"v 0 0 0\nv 1 0 0\n" + HTML + b"\nf 1 2 3\n", "evil.obj"),
    (b"RIFF\x24\x00\x00\x00WAVE" + HTML, "evil.wav"),
    (b"\xff\xd8\xff\xe0" + HTML, "evil.jpg"),
    (HTML, "page.png"),
])
def test_content_that_only_starts_like_a_format_is_refused(auth_client, user, settings, data, name):
    assert_refused(upload(auth_client, data, name=name), settings)


@pytest.mark.django_db
def test_html_inside_meshes_that_parse_never_reaches_storage(auth_client, user):
    binary_stl = bytearray(mesh_bytes("stl"))
    binary_stl[:80] = HTML[:80].ljust(80, b" ")  # the 80-byte header is free text
    ascii_ply = mesh_bytes("ply", encoding="ascii").replace(b"comment https://github.com/mikedh/trimesh", b"comment " + HTML)
    assert HTML in ascii_ply

    def poison(tree):
        tree["asset"]["extras"] = HTML.decode()
        tree["extras"] = {"page": HTML.decode()}
        tree["nodes"][0]["name"] = HTML.decode()
        tree["meshes"][0]["name"] = HTML.decode()

    obj = b"# " + HTML + b"\no " + HTML + b"\n" + mesh_bytes("obj")
    for data, asset_type in ((bytes(binary_stl), "stl"), (ascii_ply, "ply"), (glb_with_json(poison), "glb"), (obj, "obj")):
        response = upload(auth_client, data, name=f"model.{asset_type}")
        assert response.status_code == 201, (asset_type, response.content)
        stored = stored_bytes(response.json()["id"])
        assert b"<script" not in stored and b"<html" not in stored, asset_type
        assert len(trimesh.load(io.BytesIO(stored), file_type=asset_type, force="mesh").faces) == 12


@pytest.mark.django_db
def test_a_mesh_with_no_faces_or_nan_vertices_is_refused(auth_client, user, settings):
    empty_stl = b"solid empty\nendsolid empty\n"
    nan_obj = b"v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
    for data, name in ((empty_stl, "empty.stl"), (nan_obj, "nan.obj")):
        assert_refused(upload(auth_client, data, name=name), settings)


def glb_with_accessor_count(count: int) -> bytes:
    def edit(tree):
        tree["accessors"][0]["count"] = count
    return glb_with_json(edit)


@pytest.mark.django_db
@pytest.mark.parametrize("data, name, reason", [
    # A few bytes declaring 2**40 vertices: refused from the header, before trimesh allocates.
    (b"ply\nformat binary_little_endian 1.0\nelement vertex 1099511627776\nproperty float x\nproperty float y\n"
     b"property float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n" + b"\0" * 64, "big.ply",
     "declares elements taking at least 13194139533313 bytes"),
    (b"ply\nformat ascii 1.0\nelement vertex 1099511627776\nproperty float x\nproperty float y\nproperty float z\n"
     b"element face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", "big.ply",
     "declares 1099511627777 elements; the file has 5 lines"),
    (b"ply\nformat binary_little_endian 1.0\nelement vertex -3\nproperty float x\nend_header\n", "neg.ply", "not a number"),
    (b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\n", "noend.ply", "no end_header"),
    # GLB: a length, a chunk or an accessor past the end of the file.
    (b"glTF" + struct.pack("<II", 2, 2**31) + struct.pack("<I", 8) + b"JSON{}      ", "long.glb", "header declares 2147483648 bytes"),
    (b"glTF" + struct.pack("<II", 2, 40) + struct.pack("<I", 2**31) + b"JSON" + b"{}" + b" " * 18, "chunk.glb", "chunk declares 2147483648 bytes"),
    (glb_with_accessor_count(2**40), "accessor.glb", "accessor 0 declares more data"),
])
def test_mesh_headers_declaring_more_than_the_file_holds_are_refused_quickly(auth_client, user, settings, data, name,
                                                                             reason):
    """Refused by the size check on the declared counts (the reason says so), before trimesh,
    which has no memory or CPU limit in the web process, parses anything."""
    started = time.monotonic()
    response = upload(auth_client, data, name=name)
    assert_refused(response, settings)
    assert reason in str(response.json()["error"]["fields"]["file"]), response.content
    assert time.monotonic() - started < 5


def test_a_binary_stl_whose_triangle_count_disagrees_with_its_size_is_refused():
    from pipeline.uploads import _mesh_declared_sizes_check

    good = mesh_bytes("stl")
    _mesh_declared_sizes_check(good, "stl")  # a real export passes
    for bad in (good[:-50], good + b"\0" * 50, good[:80] + struct.pack("<I", 2**31) + good[84:]):
        with pytest.raises(Rejected, match="triangle count"):
            _mesh_declared_sizes_check(bad, "stl")


# --- images ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_jpeg_with_html_appended_or_inside_is_re_encoded(auth_client, user):
    for data in (jpeg_bytes() + HTML, jpeg_bytes(comment=HTML)):
        assert HTML in data
        response = upload(auth_client, data, name="photo.jpg")
        assert response.status_code == 201, response.content
        stored = stored_bytes(response.json()["id"])
        assert HTML not in stored and b"<script" not in stored
        with Image.open(io.BytesIO(stored)) as image:
            image.load()
            assert image.format == "JPEG" and image.size == (16, 12) and "comment" not in image.info


@pytest.mark.django_db
def test_a_multi_picture_jpeg_from_a_phone_is_stored_as_a_plain_jpeg_of_its_first_frame(auth_client, user):
    """Pillow reads many phone and camera photos as "MPO" (a JPEG with preview or depth frames
    after the photo); they are ordinary photos."""
    buffer = io.BytesIO()
    photo = Image.new("RGB", (16, 12), (200, 40, 40))
    preview = Image.new("RGB", (8, 6), (20, 200, 40))
    photo.save(buffer, "MPO", save_all=True, append_images=[preview])
    data = buffer.getvalue()
    assert data[:3] == b"\xff\xd8\xff"
    with Image.open(io.BytesIO(data)) as opened:
        assert opened.format == "MPO" and opened.n_frames == 2

    response = upload(auth_client, data, name="IMG_0001.JPG")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["asset_type"] == "jpg" and (body["width"], body["height"]) == (16, 12)
    stored = stored_bytes(body["id"])
    assert stored.count(b"\xff\xd8\xff") == 1 and b"MPF" not in stored  # one picture, no MP index
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and image.size == (16, 12) and getattr(image, "n_frames", 1) == 1
        red, green, _ = image.convert("RGB").getpixel((8, 6))
    assert red > 150 and green < 100  # the photo, not the preview
    assert Asset.objects.get(pk=body["id"]).content_type == "image/jpeg"


@pytest.mark.django_db
def test_exif_gps_is_stripped_and_orientation_applied(auth_client, user):
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # stored sideways: viewers rotate 90° clockwise
    exif[ExifTags.Base.Make] = "Spy Camera"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update({
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (35.0, 39.0, 29.0),
        ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (139.0, 44.0, 28.0),
    })
    data = jpeg_bytes(size=(16, 12), exif=exif)
    with Image.open(io.BytesIO(data)) as original:
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input really carries a position

    response = upload(auth_client, data, name="holiday.jpg")
    assert response.status_code == 201, response.content
    assert (response.json()["width"], response.json()["height"]) == (12, 16)
    stored = stored_bytes(response.json()["id"])
    assert b"Exif" not in stored and b"Spy Camera" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (12, 16) and not image.getexif()
        top_pixel = image.convert("RGB").getpixel((6, 1))
    assert top_pixel[2] > 150 and top_pixel[0] < 100  # the blue left half is now on top


@pytest.mark.django_db
@pytest.mark.parametrize("fmt, asset_type", [("PNG", "png"), ("WEBP", "webp")])
def test_png_and_webp_are_re_encoded_without_text_chunks(auth_client, user, fmt, asset_type):
    from PIL import PngImagePlugin

    buffer = io.BytesIO()
    image = Image.new("RGBA", (10, 10), (1, 2, 3, 128))
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", HTML.decode())
        image.save(buffer, format="PNG", pnginfo=info)
    else:
        image.save(buffer, format="WEBP", xmp=HTML)
    data = buffer.getvalue() + HTML
    assert data.count(HTML) >= 1
    response = upload(auth_client, data, name=f"image.{asset_type}")
    assert response.status_code == 201, response.content
    assert response.json()["asset_type"] == asset_type
    stored = stored_bytes(response.json()["id"])
    assert b"<script" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == fmt and image.size == (10, 10) and image.convert("RGBA").getpixel((0, 0))[3] == 128


@pytest.mark.django_db
def test_decompression_bomb_header_is_refused_before_decoding(auth_client, user, settings):
    assert_refused(upload(auth_client, png_header_only(50_000, 50_000), name="bomb.png"), settings)
    settings.PIPELINE_UPLOAD_MAX_PIXELS = 10_000
    assert_refused(upload(auth_client, png_header_only(200, 200), name="under-pillow-limit.png"), settings)


@pytest.mark.django_db
def test_empty_file_is_refused(auth_client, user, settings):
    assert_refused(upload(auth_client, b"", name="empty.png"), settings)


@pytest.mark.django_db
def test_the_file_name_and_extension_are_never_trusted(auth_client, user, settings, tmp_path):
    as_png = upload(auth_client, mesh_bytes("stl"), name="photo.png")
    assert as_png.status_code == 201 and as_png.json()["asset_type"] == "stl"
    as_stl = upload(auth_client, png_bytes(), name="model.stl")
    assert as_stl.status_code == 201 and as_stl.json()["asset_type"] == "png"
    assert_html = upload(auth_client, HTML, name="harmless.jpg")
    assert assert_html.status_code == 400 and "file" in assert_html.json()["error"]["fields"]

    escape = upload(auth_client, png_bytes(), name="../../../../escaped.html")
    assert escape.status_code == 201, escape.content
    media = Path(settings.MEDIA_ROOT).resolve()
    names = [Asset.objects.get(pk=body.json()["id"]).file.name for body in (as_png, as_stl, escape)]
    for name in names:
        path = (media / name).resolve()
        assert path.is_file() and path.parent == media / "assets" / str(user.pk)
        assert "escaped" not in name and "photo" not in name and "model" not in name
    assert not list(Path(settings.MEDIA_ROOT).parent.rglob("escaped*"))
    assert sorted(p.name for p in stored_files(settings)) == sorted(Path(n).name for n in names)


@pytest.mark.django_db
@pytest.mark.parametrize("data, name", [
    (b"cube([10, 10, 10]);\n", "model.scad"),
    (b'{"part_name": "propeller"}', "meta.json"),
    (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "anim.gif"),
])
def test_formats_that_are_not_uploads_are_refused(auth_client, user, settings, data, name):
    assert_refused(upload(auth_client, data, name=name), settings)


# --- video and audio ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_real_mp4_is_stored_remuxed_without_metadata_or_trailer(auth_client, user, media_dir, tmp_path):
    original = (media_dir / "real.mp4").read_bytes()
    assert b"<script>" in original  # the title tag
    response = upload(auth_client, original + HTML, name="clip.mp4")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["asset_type"] == "mp4" and (body["width"], body["height"]) == (64, 48)
    stored = stored_bytes(body["id"])
    assert b"<script" not in stored
    probed = ffprobe_streams(stored, tmp_path)
    assert {s["codec_type"] for s in probed["streams"]} == {"video", "audio"}
    assert "title" not in probed["format"].get("tags", {})


@pytest.mark.django_db
def test_mp4_without_a_video_stream_is_refused(auth_client, user, settings, media_dir):
    audio_only = (media_dir / "audio_only.mp4").read_bytes()
    assert audio_only[4:8] == b"ftyp"
    assert_refused(upload(auth_client, audio_only, name="song.mp4"), settings)
    assert_refused(upload(auth_client, (media_dir / "real.mp4").read_bytes()[:600], name="cut.mp4"), settings)


@pytest.mark.django_db
def test_wav_is_rewritten_from_its_frames(auth_client, user, settings):
    data = wav_bytes()
    response = upload(auth_client, data + HTML, name="voice.wav")
    assert response.status_code == 201, response.content
    stored = stored_bytes(response.json()["id"])
    assert HTML not in stored
    with wave.open(io.BytesIO(stored)) as clip:
        assert (clip.getnchannels(), clip.getframerate(), clip.getnframes()) == (1, 8000, 800)


# --- downloads --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_download_is_an_attachment_with_the_asset_types_fixed_type(auth_client, user, api_client, tmp_path):
    job = Job.objects.create(owner=user, kind="scad_render", engine="local", params={"scad": "cube(1);"})
    page = tmp_path / "page.html"
    page.write_bytes(HTML)
    # An engine (or a provider's answer) that declared a dangerous type does not decide what is served.
    asset = asset_output_store(job=job, path=page, asset_type="png", content_type="text/html")
    url = auth_client.get(f"/api/v1/assets/{asset.pk}/download-url").json()["url"]
    served = api_client.get(url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served["Content-Disposition"].startswith("attachment;")
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Security-Policy"] == "default-src 'none'; sandbox"


# --- fuzz: the validators never fail with anything but a refusal --------------------------------------------


PREFIXES = [b"", b"ply\n", b"ply\nformat ascii 1.0\n", b"glTF\x02\x00\x00\x00", b"solid ", b"v 0 0 0\n",
            b"RIFF\x24\x00\x00\x00WAVE", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\x00\x00\x00\x00WEBPVP8 "]


@hypothesis_settings(max_examples=150, deadline=None)
@given(prefix=st.sampled_from(PREFIXES), body=st.binary(max_size=400))
def test_fuzz_upload_validators_refuse_or_accept_never_crash(prefix, body):
    data = prefix + body
    try:
        with upload_clean(io.BytesIO(data), size=len(data)) as clean:
            assert clean.path.stat().st_size > 0
    except Rejected:
        pass
