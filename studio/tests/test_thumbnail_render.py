"""The local thumbnail renderer: exact sizes, determinism, variants, contrast measured here
independently, safe zones, the selfie cut-out, reference/copy-target/background inputs."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from studio import presets
from studio.thumbnail.cutout import cutout_make, faces_find
from studio.thumbnail.layout import copy_layout
from studio.thumbnail.render import _cutout, render_variant

from .synthetic_faces import synthetic_selfie

DEJAVU_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


SMALL = {"platform": "x", "width": 800, "height": 450}  # X's 16:9 allows small frames: quick renders


def spec(**changes) -> dict:
    base = {"project_id": None, "title": "Test", "mode": "design", "platform": "youtube", "width": 1280, "height": 720,
            "headline": "Five Tricks Nobody Tells You", "subtext": "Tested for a month", "vibe": "bold",
            "quality": "std", "variants": 4, "inputs": {"selfie": None, "ref": None, "copy_target": None}}
    return {**base, **changes}


@pytest.fixture(scope="module")
def selfie(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "selfie.png"
    synthetic_selfie()[0].save(path)
    return path


@pytest.fixture(scope="module")
def busy_reference(tmp_path_factory) -> Path:
    """Bright stripes and white: the hardest backdrop for white text."""
    path = tmp_path_factory.mktemp("inputs") / "ref.png"
    arr = np.full((360, 640, 3), 245, np.uint8)
    arr[:, ::40] = (255, 230, 0)
    Image.fromarray(arr).save(path)
    return path


# --- an independent WCAG measurement (not the renderer's code) --------------------------

def _lum(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(np.float64) / 255
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * c[..., 0] + 0.7152 * c[..., 1] + 0.0722 * c[..., 2]


def _hex(value: str) -> np.ndarray:
    value = value.lstrip("#")
    return np.array([int(value[i:i + 2], 16) for i in (0, 2, 4)])


def measured_contrast(image: Image.Image, report: dict) -> float:
    """The headline's colour against the pixels around its letters in the final image: inside
    each headline line box (grown sideways by the reach of outline and shadow: above and below
    are the neighbouring lines and the accent bar), everything farther than
    that reach from a pixel of the text or outline colour is backdrop; the worst 5% of it is
    what the text must stand out from."""
    arr = np.asarray(image).astype(np.int32)
    text, outline = _hex(report["headline"]["colour"]), _hex(report["headline"]["outline_colour"])
    reach = report["headline"]["outline_px"] + 2 * report["headline"]["shadow_px"] + 3
    text_l = float(_lum(text.reshape(1, 3))[0])
    backdrop = []
    glyph_pixels = 0
    for item in report["text_boxes"]:
        if item["text"] != "headline":
            continue
        x0, y0, x1, y1 = item["box"]
        region = arr[y0:y1, max(0, x0 - reach):x1 + reach]
        is_text = np.abs(region - text).sum(axis=2) < 30
        glyph_pixels += int(is_text.sum())
        letters = (is_text | (np.abs(region - outline).sum(axis=2) < 30)).astype(np.uint8)
        near = cv2.dilate(letters, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)) > 0
        backdrop.append(region[~near])
    assert glyph_pixels > 200, "the headline's colour is not in its boxes"
    pixels = np.concatenate(backdrop)
    assert len(pixels) > 100
    lum = _lum(pixels)
    worst = np.quantile(lum, 0.95) if text_l > np.median(lum) else np.quantile(lum, 0.05)
    high, low = max(text_l, worst), min(text_l, worst)
    return (high + 0.05) / (low + 0.05)


def zone_rects(platform_key: str, width: int, height: int):
    platform = presets.PLATFORMS[platform_key]
    for zone in platform.keep_out:
        yield zone.name, (zone.x * width, zone.y * height, (zone.x + zone.width) * width, (zone.y + zone.height) * height)


def render_cache_clear() -> None:
    _cutout.cache_clear()


# --- tests ------------------------------------------------------------------------------

def test_same_spec_and_variant_give_the_same_pixels(selfie):
    first = render_variant(spec(**SMALL), 2, selfie=selfie)
    render_cache_clear()  # the cut-out is computed again, not reused
    again = render_variant(spec(**SMALL), 2, selfie=selfie)
    assert first.image.tobytes() == again.image.tobytes()
    assert first.report == again.report
    other = render_variant(spec(**SMALL, headline="Another Headline Here"), 2, selfie=selfie)
    assert other.image.tobytes() != first.image.tobytes()


@pytest.mark.parametrize("platform", list(presets.PLATFORMS))
def test_every_platform_gets_its_exact_size_with_text_clear_of_its_safe_zones(platform):
    preset = presets.PLATFORMS[platform]
    width = max(preset.min_width, 480)
    height = presets.expected_height(preset, width)
    rendered = render_variant(spec(platform=platform, width=width, height=height), 3)
    assert rendered.image.mode == "RGB" and rendered.image.size == (width, height)
    assert rendered.report["safe_zone_violations"] == []
    mx, my = preset.margin * width, preset.margin * height
    for item in rendered.report["text_boxes"]:
        x0, y0, x1, y1 = item["box"]
        assert mx - 1 <= x0 and x1 <= width - mx + 1 and my - 1 <= y0 and y1 <= height - my + 1, item
        for name, (zx0, zy0, zx1, zy1) in zone_rects(platform, width, height):
            assert x1 <= zx0 or x0 >= zx1 or y1 <= zy0 or y0 >= zy1, (item, name)


def test_youtube_text_avoids_the_duration_badge_when_it_sits_at_the_bottom():
    # variant 2 mirrors variant 1: subject left, text bottom right, where the badge is
    rendered = render_variant(spec(), 2)
    assert rendered.report["layout"] == {"subject_side": "left", "text_position": "bottom", "from_copy_target": False}
    badge = dict(zone_rects("youtube", 1280, 720))["duration_badge"]
    boxes = [item["box"] for item in rendered.report["text_boxes"]]
    assert max(b[3] for b in boxes) > 720 / 2  # the text is in the bottom half …
    assert all(b[2] <= badge[0] or b[3] <= badge[1] for b in boxes)  # … and beside or above the badge


def test_variants_differ_in_layout_palette_and_pixels(selfie):
    renders = [render_variant(spec(**SMALL), v, selfie=selfie) for v in (1, 2, 3, 4)]
    layouts = {(r.report["layout"]["subject_side"], r.report["layout"]["text_position"]) for r in renders}
    assert layouts == {("left", "top"), ("left", "bottom"), ("right", "top"), ("right", "bottom")}
    assert len({r.report["accent"] for r in renders}) == len(presets.VIBES["bold"].accents)
    arrays = [np.asarray(r.image).astype(np.int16) for r in renders]
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.abs(arrays[i] - arrays[j]).mean() > 10
    for r in renders:  # the face on the rule-of-thirds line of its side
        third = 800 * (2 / 3 if r.report["layout"]["subject_side"] == "right" else 1 / 3)
        face = r.report["subject"]["face_box"]
        assert abs((face[0] + face[2]) / 2 - third) < 800 * 0.02


@pytest.mark.parametrize("vibe", list(presets.VIBES))
def test_headline_contrast_is_at_least_4_5_measured_on_the_pixels(vibe, busy_reference):
    for reference in (None, busy_reference):
        rendered = render_variant(spec(**SMALL, vibe=vibe), 1, reference=reference)
        assert rendered.report["contrast_ratio"] >= 4.5
        assert measured_contrast(rendered.image, rendered.report) >= 4.5, (vibe, rendered.report["headline"])
        # the subtext: its colour against its tag's colour, both read off the image
        x0, y0, x1, y1 = next(b["box"] for b in rendered.report["text_boxes"] if b["text"] == "subtext")
        pixels = np.asarray(rendered.image)[y0:y1, x0:x1].reshape(-1, 3)
        colours, counts = np.unique(pixels, axis=0, return_counts=True)
        tag = colours[counts.argmax()]
        text = _hex(rendered.report["subtext"]["colour"])
        assert (np.abs(pixels.astype(int) - text).sum(axis=1) == 0).sum() > 50
        lum_text, lum_tag = (float(_lum(c.reshape(1, 3))[0]) for c in (text, tag))
        assert (max(lum_text, lum_tag) + 0.05) / (min(lum_text, lum_tag) + 0.05) >= 4.5


def test_a_bright_backdrop_gets_a_darker_grade_behind_white_text(busy_reference):
    rendered = render_variant(spec(**SMALL, vibe="bold"), 1, reference=busy_reference)
    headline = rendered.report["headline"]
    assert headline["before_fix"] < 4.5 and headline["fix"] and headline["contrast_ratio"] >= 4.5
    assert rendered.report["backdrop"] == "reference"


def test_headline_is_the_hero_sized_to_fill_and_wrapped_at_five_words():
    long = "one two three four five six seven eight nine ten eleven twelve"
    rendered = render_variant(spec(headline=long, vibe="professional"), 1)
    lines = rendered.report["headline"]["lines"]
    assert all(len(line.split()) <= 5 for line in lines) and " ".join(lines).lower() == long
    short = render_variant(spec(headline="Wow"), 1).report
    assert short["headline"]["font_size"] > rendered.report["headline"]["font_size"]
    assert short["headline_height_share"] > 0.1
    # the subtext is smaller than the headline, the outline grows with the type
    assert short["subtext"]["size"] < short["headline"]["font_size"]
    assert short["headline"]["outline_px"] > rendered.report["headline"]["outline_px"]


def test_legibility_at_list_size_is_measured_on_the_headline_type():
    ok = render_variant(spec(headline="Big Win"), 1).report
    assert ok["legible_at_168x94"] is True and ok["x_height_px_at_168x94"] >= ok["thresholds"]["x_height_px"]
    crowded = render_variant(spec(headline=" ".join(["word"] * 24), subtext="", vibe="minimal"), 1).report
    assert crowded["legible_at_168x94"] is False and crowded["x_height_px_at_168x94"] < 6


def test_the_synthetic_selfie_is_detected_and_cut_out(selfie):
    image, (fx, fy, fw, fh) = synthetic_selfie()
    found = faces_find(np.asarray(image))
    assert found, "the Haar cascade finds the drawn face"
    x, y, w, h = found[0]
    assert abs((x + w / 2) - (fx + fw / 2)) < fw * 0.2 and abs((y + h / 2) - (fy + fh / 2)) < fh * 0.3

    cut = cutout_make(selfie, seed=7)
    assert cut.face_found
    alpha = np.asarray(cut.image.getchannel("A"))
    rgb = np.asarray(cut.image.convert("RGB")).astype(int)
    backdrop = np.abs(rgb - np.array([70, 110, 160])).sum(axis=2) < 25
    assert (alpha[backdrop] > 128).mean() < 0.03  # the flat backdrop is cut away
    cx, cy = cut.face[0] + cut.face[2] // 2, cut.face[1] + cut.face[3] // 2
    assert alpha[cy, cx] == 255  # the face is kept
    assert alpha[-5, alpha.shape[1] // 2] == 255  # and the shirt
    assert 0.3 < cut.mask_share < 0.7
    again = cutout_make(selfie, seed=7)
    assert again.image.tobytes() == cut.image.tobytes()


def test_copy_target_sets_the_layout_and_never_its_pixels(tmp_path):
    def copy_target(colour, path):
        img, _ = synthetic_selfie(640, 360, backdrop=colour)
        img = img.resize((360, 360)).crop((0, 0, 360, 360))
        canvas = Image.new("RGB", (1280, 720), colour)
        canvas.paste(img.resize((700, 700)), (980 - 700, 20))  # the person on the right
        draw = ImageDraw.Draw(canvas)
        face = ImageFont.truetype(DEJAVU_BOLD, 70)
        for row in range(3):
            draw.text((40, 40 + row * 90), "BIG TEXT", font=face, fill=(255, 255, 255))  # text top left
        canvas.save(path)
        return path

    first = copy_target((20, 60, 20), tmp_path / "a.png")
    second = copy_target((90, 20, 90), tmp_path / "b.png")
    layout = copy_layout(first)
    assert (layout.subject_side, layout.text_position) == ("right", "top")
    a = render_variant(spec(mode="copy"), 1, copy_target=first)
    b = render_variant(spec(mode="copy"), 1, copy_target=second)
    assert a.report["layout"] == {"subject_side": "right", "text_position": "top", "from_copy_target": True}
    assert a.image.tobytes() == b.image.tobytes()  # only its layout reached the thumbnail
    flipped = render_variant(spec(mode="copy"), 2, copy_target=first)
    assert flipped.report["layout"]["subject_side"] == "left"


def test_a_remote_background_is_cover_cropped_under_the_text(tmp_path):
    path = tmp_path / "remote.png"
    Image.new("RGB", (1000, 1000), (200, 30, 30)).save(path)
    rendered = render_variant(spec(), 1, background=path)
    assert rendered.report["backdrop"] == "remote" and rendered.image.size == (1280, 720)
    assert rendered.image.getpixel((1270, 710)) == (200, 30, 30)
    assert rendered.report["headline"]["lines"]


def test_a_selfie_without_a_face_is_cut_out_from_the_middle(tmp_path):
    path = tmp_path / "blob.png"
    image = Image.new("RGB", (300, 400), (30, 160, 60))
    ImageDraw.Draw(image).ellipse((90, 80, 210, 400), fill=(220, 40, 120))
    image.save(path)
    cut = cutout_make(path, seed=1)
    assert not cut.face_found and cut.face is None
    alpha = np.asarray(cut.image.getchannel("A"))
    assert alpha[alpha.shape[0] // 2, alpha.shape[1] // 2] == 255
    rendered = render_variant(spec(**SMALL), 1, selfie=path)
    assert rendered.report["subject"]["face_found"] is False and rendered.image.size == (800, 450)


def test_a_single_long_word_and_accented_text_fit_their_box():
    rendered = render_variant(spec(**SMALL, headline="Supercalifragilisticexpialidocious", subtext="Crème brûlée à Zürich"), 1)
    x0, _, x1, _ = rendered.report["text_area"]
    assert all(x0 <= b["box"][0] and b["box"][2] <= x1 for b in rendered.report["text_boxes"])
    assert rendered.report["safe_zone_violations"] == []


def test_letters_the_display_face_lacks_are_set_in_dejavu():
    latin = render_variant(spec(**SMALL, headline="Zażółć gęślą jaźń"), 1).report  # Polish: not in Fjalla One
    plain = render_variant(spec(**SMALL, headline="Zazolc gesla jazn"), 1).report
    assert plain["headline"]["font"] == "FjallaOne-Regular.ttf"
    assert latin["headline"]["font"] == "DejaVuSans-Bold.ttf"


def test_a_remote_picture_with_the_person_drawn_in_keeps_the_text_to_the_other_side(tmp_path):
    path = tmp_path / "remote.png"
    Image.new("RGB", (1600, 900), (40, 40, 90)).save(path)
    alone = render_variant(spec(**SMALL), 1, background=path).report
    with_person = render_variant(spec(**SMALL, inputs={"selfie": "an-id", "ref": None, "copy_target": None}), 1,
                                 background=path).report
    assert with_person["layout"]["subject_side"] == "right"
    assert with_person["text_area"][2] <= round(800 * 0.58) < alone["text_area"][2]
