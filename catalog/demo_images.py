"""Product photos drawn in code for the demo shop (no downloads): a soft studio backdrop and a
simple illustration per kind of product."""

import io
import random

from PIL import Image, ImageDraw, ImageFilter, ImageFont

SIZE = 800


def _backdrop(rng: random.Random, tint: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), tint)
    draw = ImageDraw.Draw(image)
    for y in range(SIZE):  # a gentle vertical gradient, lighter at the top
        shade = int(24 * y / SIZE)
        draw.line([(0, y), (SIZE, y)], fill=tuple(max(0, c - shade) for c in tint))
    draw.rectangle([0, int(SIZE * 0.72), SIZE, SIZE], fill=tuple(max(0, c - 38) for c in tint))  # the table
    return image


def _shadow(image: Image.Image, box: tuple[int, int, int, int]) -> None:
    layer = Image.new("L", image.size, 0)
    ImageDraw.Draw(layer).ellipse(box, fill=110)
    layer = layer.filter(ImageFilter.GaussianBlur(18))
    image.paste((40, 40, 35), mask=layer)


def _pot(draw, cx: int, top: int, width: int, height: int, colour, rim=None) -> None:
    inset = width // 8
    draw.polygon([(cx - width // 2, top), (cx + width // 2, top), (cx + width // 2 - inset, top + height),
                  (cx - width // 2 + inset, top + height)], fill=colour)
    draw.rectangle([cx - width // 2 - 6, top - 14, cx + width // 2 + 6, top + 4], fill=rim or colour)
    for foot in (-1, 1):
        x = cx + foot * (width // 2 - inset - 18)
        draw.rectangle([x - 14, top + height, x + 14, top + height + 12], fill=rim or colour)


def _tree(draw, rng: random.Random, cx: int, base: int, height: int, foliage, style: str) -> None:
    trunk = (92, 64, 44)
    x, y = cx, base
    points = [(x, y)]
    for step in range(6):  # an informal upright trunk with movement
        x += rng.randint(-30, 30)
        y -= height // 7
        points.append((x, y))
    for i in range(len(points) - 1):
        draw.line([points[i], points[i + 1]], fill=trunk, width=max(6, 34 - i * 5))
    pads = 7 if style == "dense" else 5
    for i in range(pads):
        px, py = points[min(len(points) - 1, 2 + i % 5)]
        radius = rng.randint(55, 95) if style != "flowering" else rng.randint(45, 80)
        ox = rng.randint(-140, 140)
        colour = foliage if style != "flowering" else rng.choice([(232, 150, 175), (245, 190, 205), foliage])
        draw.line([(px, py), (px + ox, py - 20)], fill=trunk, width=8)
        draw.ellipse([px + ox - radius, py - 20 - radius * 0.6, px + ox + radius, py - 20 + radius * 0.6], fill=colour)
        draw.ellipse([px + ox - radius * 0.6, py - 20 - radius * 0.8, px + ox + radius * 0.5, py - 20], fill=tuple(min(255, c + 25) for c in colour))


def _shears(draw, cx: int, cy: int, colour) -> None:
    draw.polygon([(cx - 10, cy), (cx + 230, cy - 60), (cx + 240, cy - 40), (cx + 10, cy + 20)], fill=(150, 155, 160))
    draw.polygon([(cx - 10, cy + 20), (cx + 230, cy + 80), (cx + 220, cy + 100), (cx + 10, cy)], fill=(130, 135, 140))
    for dy in (-70, 90):
        draw.ellipse([cx - 200, cy + dy - 60, cx - 60, cy + dy + 40], outline=colour, width=22)
    draw.ellipse([cx - 14, cy - 4, cx + 14, cy + 24], fill=(60, 60, 60))


def _bag(draw, cx: int, top: int, colour, label: str) -> None:
    draw.rounded_rectangle([cx - 150, top, cx + 150, top + 330], radius=26, fill=colour)
    draw.rectangle([cx - 150, top, cx + 150, top + 40], fill=tuple(max(0, c - 30) for c in colour))
    draw.rounded_rectangle([cx - 100, top + 110, cx + 100, top + 220], radius=12, fill=(245, 240, 228))
    font = ImageFont.load_default(size=30)
    words = label.split()
    lines = [" ".join(words[: (len(words) + 1) // 2]), " ".join(words[(len(words) + 1) // 2 :])]
    for i, line in enumerate(filter(None, lines)):
        draw.text((cx, top + 145 + i * 36), line, fill=(60, 50, 40), font=font, anchor="mm")


def _coil(draw, cx: int, cy: int, colour) -> None:
    for i in range(9):
        draw.ellipse([cx - 160 + i * 6, cy - 110 + i * 4, cx + 160 - i * 6, cy + 110 - i * 4], outline=colour, width=7)


def product_photo(*, kind: str, seed: str, colour: tuple[int, int, int], label: str = "") -> bytes:
    rng = random.Random(seed)
    image = _backdrop(rng, (236, 232, 222))
    draw = ImageDraw.Draw(image)
    cx, table = SIZE // 2, int(SIZE * 0.72)
    _shadow(image, (cx - 230, table - 10, cx + 230, table + 60))
    draw = ImageDraw.Draw(image)
    if kind in ("tree", "flowering", "dense"):
        _pot(draw, cx, table - 110, 360, 100, (120, 88, 70), rim=(104, 74, 58))
        _tree(draw, rng, cx, table - 110, 330, colour, kind)
    elif kind == "pot":
        _pot(draw, cx, table - 230, 420 + rng.randint(-60, 60), 210 + rng.randint(-40, 30), colour)
    elif kind == "tool":
        _shears(draw, cx - 40, table - 170, colour)
    elif kind == "soil":
        _bag(draw, cx, table - 330, colour, label)
    else:
        _coil(draw, cx, table - 150, colour)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
