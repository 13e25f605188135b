"""Small real images for upload tests."""

import io

from PIL import Image


def png_bytes(size: tuple[int, int] = (8, 6), color=(30, 120, 60)) -> bytes:
    """A PNG of one colour (`color`: an RGB tuple or a colour name)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()
