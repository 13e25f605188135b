"""Photos for the photo generator's tests: a drawn portrait that OpenCV's Haar cascade finds as a
face (no photo of a real person is shipped), photos with EXIF, and hostile files."""

import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def portrait(width: int = 600, height: int = 800, *, face_width: int | None = None, seed: int = 7) -> Image.Image:
    """A head and shoulders on a textured background (fine detail the defocus must soften)."""
    fw = face_width or width // 3
    fh = int(fw * 1.3)
    cx, cy = width // 2, int(height * 0.4)
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 70, (height // 4 + 1, width // 4 + 1), dtype=np.uint8)
    texture = np.kron(texture, np.ones((4, 4), np.uint8))[:height, :width]
    background = np.stack([60 + texture, 100 + texture, 140 + texture // 2], axis=2).astype(np.uint8)
    image = Image.fromarray(background, "RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse([cx - fw * 1.3, cy + fw * 0.9, cx + fw * 1.3, cy + fw * 3.2], fill=(60, 60, 80))  # shoulders
    draw.rectangle([cx - fw * 0.22, cy + fh * 0.35, cx + fw * 0.22, cy + fh * 0.8], fill=(190, 140, 115))  # neck
    draw.ellipse([cx - fw * 0.56, cy - fh * 0.62, cx + fw * 0.56, cy + fh * 0.2], fill=(50, 35, 25))  # hair
    draw.ellipse([cx - fw / 2, cy - fh / 2, cx + fw / 2, cy + fh / 2], fill=(215, 165, 135))  # face
    eye_y = cy - fh * 0.08
    for side in (-1, 1):
        x = cx + side * fw * 0.2
        draw.ellipse([x - fw * 0.12, eye_y - fw * 0.05, x + fw * 0.12, eye_y + fw * 0.05], fill=(245, 245, 245))
        draw.ellipse([x - fw * 0.05, eye_y - fw * 0.05, x + fw * 0.05, eye_y + fw * 0.05], fill=(40, 30, 25))
        draw.rectangle([x - fw * 0.14, eye_y - fw * 0.14, x + fw * 0.14, eye_y - fw * 0.1], fill=(60, 40, 30))
    draw.polygon([(cx, eye_y + fw * 0.02), (cx - fw * 0.07, cy + fh * 0.12), (cx + fw * 0.07, cy + fh * 0.12)],
                 fill=(180, 125, 100))
    draw.ellipse([cx - fw * 0.16, cy + fh * 0.2, cx + fw * 0.16, cy + fh * 0.27], fill=(150, 60, 60))
    return image.filter(ImageFilter.GaussianBlur(max(1, fw / 120)))


def landscape(width: int = 900, height: int = 600, seed: int = 3) -> Image.Image:
    """No face: a gradient sky over textured ground."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    sky = np.stack([120 + 80 * y, 160 + 60 * y, 230 - 40 * y], axis=2) * np.ones((1, width, 1), np.float32)
    ground = rng.integers(40, 120, (height, width, 1)).astype(np.float32) * np.array([0.8, 1.0, 0.5], np.float32)
    pixels = np.where(np.arange(height)[:, None, None] > height * 0.6, ground, sky)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def encoded(image: Image.Image, format: str = "JPEG", **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format=format, **params)
    return out.getvalue()


def jpeg_with_exif(image: Image.Image, *, orientation: int = 1) -> bytes:
    """A JPEG carrying an orientation, a camera model and a GPS position in its EXIF."""
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x0110] = "Mozukai Test Camera"  # Model
    exif[0x8825] = {1: "N", 2: (35.0, 39.0, 0.0), 3: "E", 4: (139.0, 44.0, 0.0)}  # GPSInfo
    return encoded(image, "JPEG", quality=90, exif=exif)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width × height pixels (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _chunk(b"IEND", b""))
