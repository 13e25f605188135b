"""The local photo styling (`studio.generator.styling.style_photo`): size, aspect, orientation,
no metadata, determinism, a face found and framed, and three looks that measurably differ."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from studio.generator.styling import CATEGORIES, MAX_SIDE, face_find, style_photo

from .generate_photos import jpeg_with_exif, landscape, portrait


@pytest.fixture(scope="module")
def face_photo() -> Image.Image:
    return portrait(600, 800)


@pytest.fixture(scope="module")
def styled(face_photo) -> dict[str, np.ndarray]:
    return {category: np.asarray(style_photo(face_photo, category), dtype=np.float32) for category in CATEGORIES}


def _luma(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., 0] * 0.2126 + pixels[..., 1] * 0.7152 + pixels[..., 2] * 0.0722


def _warmth(pixels: np.ndarray) -> float:
    return float((pixels[..., 0] - pixels[..., 2]).mean())


def _sharpness(pixels: np.ndarray) -> float:
    return float(cv2.Laplacian(_luma(pixels).astype(np.float32), cv2.CV_32F).var())


def test_the_drawn_portrait_has_a_face_and_the_landscape_none(face_photo):
    face = face_find(face_photo)
    assert face is not None
    assert 200 < face.cx < 400 and 220 < face.cy < 420 and 150 < face.w < 320  # the drawn head
    assert face_find(landscape()) is None


@pytest.mark.parametrize(("size", "category"), [((2600, 1733), "documentary"), ((700, 2200), "portraits"),
                                                ((640, 480), "editorial"), ((2100, 701), "editorial")])
def test_the_output_keeps_the_aspect_within_2048_px(size, category):
    source = landscape(300, 200).resize(size, Image.Resampling.BILINEAR)
    out = style_photo(source, category)
    assert out.mode == "RGB"
    assert max(out.size) == min(MAX_SIDE, max(size))
    assert abs((out.width / out.height) / (size[0] / size[1]) - 1) <= 1.0 / min(out.size)  # rounding of a pixel


def test_a_face_is_framed_closer_and_the_size_stays_the_same(face_photo):
    small_face = portrait(600, 800, face_width=110)
    before = face_find(small_face)
    out = style_photo(small_face, "editorial")
    assert out.size == small_face.size
    after = face_find(out)
    assert before is not None and after is not None and after.w > before.w * 1.25  # reframed closer


def test_exif_orientation_is_applied_and_no_metadata_survives():
    rotated_raw = portrait(360, 480).transpose(Image.Transpose.ROTATE_90)  # stored sideways, as a phone does
    data = jpeg_with_exif(rotated_raw, orientation=8)  # "rotate 90° clockwise to display"
    with Image.open(io.BytesIO(data)) as opened:
        assert opened.getexif()[0x0112] == 8 and opened.size == (480, 360)
        upright = ImageOps.exif_transpose(opened)
        out = style_photo(opened, "editorial")
    assert out.size == (360, 480) == upright.size
    assert face_find(out) is not None  # the face is upright again
    assert np.array_equal(np.asarray(out), np.asarray(style_photo(upright, "editorial")))
    assert out.info == {} and not out.getexif()
    saved = io.BytesIO()
    out.save(saved, format="JPEG", quality=90)  # as the engine saves it
    assert not Image.open(io.BytesIO(saved.getvalue())).getexif()
    assert b"Mozukai Test Camera" not in saved.getvalue()


def test_transparency_is_flattened_on_white():
    rgba = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    out = np.asarray(style_photo(rgba, "documentary"), dtype=np.float32)
    assert out.mean() > 180  # white paper, not black


def test_styling_is_deterministic_and_the_grain_follows_the_photo():
    photo = portrait(300, 400)
    first = style_photo(photo, "documentary").tobytes()
    assert style_photo(photo.copy(), "documentary").tobytes() == first
    assert style_photo(photo, "portraits").tobytes() == style_photo(photo, "portraits").tobytes()
    other = portrait(300, 400, seed=8)  # another background texture
    assert style_photo(other, "documentary").tobytes() != first


def test_documentary_is_black_and_white_with_grain(styled, face_photo):
    pixels = styled["documentary"]
    assert np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 1], pixels[..., 2])
    flat = style_photo(Image.new("RGB", (400, 300), (128, 128, 128)), "documentary")
    centre = np.asarray(flat, dtype=np.float32)[100:200, 150:250, 0]
    assert centre.std() > 3  # grain on an even grey


def test_editorial_has_more_contrast_and_colour(styled, face_photo):
    source = np.asarray(face_photo, dtype=np.float32)
    pixels = styled["editorial"]
    assert _luma(pixels).std() > _luma(source).std() * 1.15

    def saturation(p):
        return float((p.max(axis=2) - p.min(axis=2)).mean())

    assert saturation(pixels) > saturation(source) * 1.2
    assert saturation(pixels) > saturation(styled["portraits"])


def test_portraits_are_warmer_with_the_background_defocused(styled, face_photo):
    source = np.asarray(face_photo, dtype=np.float32)
    pixels = styled["portraits"]
    assert _warmth(pixels) > _warmth(source) + 8
    assert _warmth(pixels) > _warmth(styled["editorial"])
    # A corner of textured background: much softer than in the photo (the defocus) ...
    assert _sharpness(pixels[20:140, 20:140]) < _sharpness(source[20:140, 20:140]) * 0.25
    # ... while the face keeps its features (eyes and brows are edges).
    face = face_find(Image.fromarray(pixels.astype(np.uint8)))
    assert face is not None
    # Darker corners than the middle: the vignette.
    assert _luma(pixels[:60, :60]).mean() < _luma(pixels[370:430, 270:330]).mean()


def test_an_unknown_category_is_refused():
    with pytest.raises(ValueError):
        style_photo(landscape(90, 60), "watercolour")
