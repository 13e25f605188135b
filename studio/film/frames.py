"""One still per scene at the film's size (Pillow).

A scene with an uploaded image gets it cover-cropped to the frame (scaled to fill, the overflow
cut equally from both sides). A scene without one gets a title card: its `visual` text set over
the vibe's palette (background to surface gradient, an accent rule, the vibe's fonts and case),
with the film's title small above it on the first scene. The bottom fifth of a card stays free
of text: that is where subtitles are burned in.
"""

from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from studio import presets

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {
    "DejaVu Sans": "DejaVuSans.ttf",
    "DejaVu Sans Bold": "DejaVuSans-Bold.ttf",
    "DejaVu Sans ExtraLight": "DejaVuSans-ExtraLight.ttf",
    "DejaVu Sans Condensed Bold": "DejaVuSansCondensed-Bold.ttf",
    "DejaVu Serif Bold": "DejaVuSerif-Bold.ttf",
    "DejaVu Sans Mono": "DejaVuSansMono.ttf",
    "DejaVu Sans Mono Bold": "DejaVuSansMono-Bold.ttf",
}
DEFAULT_VIBE = "professional"


@cache
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    path = FONT_DIR / FONT_FILES.get(name, "DejaVuSans-Bold.ttf")
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        return ImageFont.load_default(size)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return tuple(int(value[i:i + 2], 16) for i in (0, 2, 4))


def cover_crop(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`image` scaled to fill `size` and centre-cropped (EXIF orientation applied), as RGB."""
    image = ImageOps.exif_transpose(image)
    if image.mode not in ("RGB", "L"):
        background = Image.new("RGB", image.size, (0, 0, 0))
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    return ImageOps.fit(image.convert("RGB"), size, Image.Resampling.LANCZOS, centering=(0.5, 0.5))


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, max_width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}".strip()
            if current and draw.textlength(candidate, font=font) > max_width:
                lines.append(current)
                current = word
            else:
                current = candidate
        lines.append(current)
    return [line for line in lines if line] or [""]


def _fit_text(draw, text: str, font_name: str, box_w: int, box_h: int, start_size: int) -> tuple:
    """The largest font size (down from `start_size`) at which `text` wraps into the box."""
    size = start_size
    while True:
        font = _font(font_name, size)
        lines = _wrap(draw, text, font, box_w)
        line_h = int(size * 1.22)
        widest = max(draw.textlength(line, font=font) for line in lines)
        if (len(lines) * line_h <= box_h and widest <= box_w) or size <= 14:
            return font, lines, line_h
        size = int(size * 0.9)


def title_card(size: tuple[int, int], *, visual: str, vibe: str, title: str = "", accent_index: int = 0) -> Image.Image:
    """A designed card for a scene without an image: `visual` over the vibe's palette."""
    width, height = size
    style = presets.VIBES.get(vibe) or presets.VIBES[DEFAULT_VIBE]
    palette = style.palette
    top, bottom = _rgb(palette["background"]), _rgb(palette["surface"])
    text_colour, outline = _rgb(palette["text"]), _rgb(palette["outline"])
    accents = style.accents or (palette["accent"],)
    accent = _rgb(accents[accent_index % len(accents)])
    # Vertical gradient from the background to the surface colour (a 1-px column, stretched).
    column = Image.new("RGB", (1, 256))
    for y in range(256):
        t = y / 255 * 0.6
        column.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom)))
    card = column.resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(card)
    unit = min(width, height)
    margin = round(unit * 0.12)  # the Ken Burns zoom crops up to 6% of each side
    text = (visual or title or " ").strip()
    text = text.upper() if style.headline_case == "upper" else text
    box_w, box_h = width - 2 * margin, round(height * 0.8) - 2 * margin  # the bottom fifth: subtitles
    font, lines, line_h = _fit_text(draw, text, style.headline_font, box_w, round(box_h * 0.7), round(unit * 0.11))
    block_h = len(lines) * line_h
    y = margin + (box_h - block_h) // 2
    if title and title.strip() and title.strip() != text.strip():
        small = _font(style.subtext_font, max(14, round(unit * 0.045)))
        heading = title.strip()[:80]
        draw.text(((width - draw.textlength(heading, font=small)) / 2, max(margin // 2, y - round(unit * 0.12))), heading,
                  font=small, fill=accent)
    rule_y, rule_w = y - round(unit * 0.035), round(unit * 0.16)
    draw.rectangle(((width - rule_w) // 2, rule_y, (width + rule_w) // 2, rule_y + max(3, round(unit * 0.012))), fill=accent)
    stroke = max(1, round(font.size * 0.06)) if style.outline else 0
    for line in lines:
        x = (width - draw.textlength(line, font=font)) / 2
        if style.shadow:
            offset = max(2, round(font.size * 0.05))
            draw.text((x + offset, y + offset), line, font=font, fill=(0, 0, 0))
        draw.text((x, y), line, font=font, fill=text_colour, stroke_width=stroke, stroke_fill=outline)
        y += line_h
    return card


def scene_frame(size: tuple[int, int], *, image_path: Path | None, visual: str, vibe: str, title: str = "",
                index: int = 0) -> Image.Image:
    """The still of one scene: its image cover-cropped, else a title card."""
    if image_path is not None:
        with Image.open(image_path) as image:
            image.load()
            return cover_crop(image, size)
    return title_card(size, visual=visual, vibe=vibe, title=title if index == 0 else "", accent_index=index)
