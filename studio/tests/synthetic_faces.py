"""A drawn head-and-shoulders selfie that OpenCV's frontal-face Haar cascade detects (eyes
darker than the cheeks below them, a lighter nose bridge between, brows, a mouth), on a flat
backdrop: tests and the benchmark need a selfie and the machine ships no photographs."""

from PIL import Image, ImageDraw, ImageFilter

SKIN = (224, 182, 150)
SHIRT = (40, 40, 60)


def synthetic_selfie(width: int = 640, height: int = 800, backdrop=(70, 110, 160)) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """The image and the face's drawn box (x, y, w, h)."""
    img = Image.new("RGB", (width, height), backdrop)
    d = ImageDraw.Draw(img)
    cx = width // 2
    fw = int(width * 0.36)
    fh = int(fw * 1.3)
    fy = int(height * 0.18)
    d.ellipse((cx - int(fw * 1.5), fy + int(fh * 1.05), cx + int(fw * 1.5), height + int(fh * 1.2)), fill=SHIRT)
    d.rectangle((cx - fw // 5, fy + int(fh * 0.8), cx + fw // 5, fy + int(fh * 1.15)), fill=(200, 160, 130))
    d.ellipse((cx - fw // 2 - 12, fy - 20, cx + fw // 2 + 12, fy + int(fh * 0.6)), fill=(45, 30, 20))  # hair
    d.ellipse((cx - fw // 2, fy, cx + fw // 2, fy + fh), fill=SKIN)
    ex, ey, er = int(fw * 0.2), fy + int(fh * 0.42), int(fw * 0.085)
    for side in (-1, 1):
        x = cx + side * ex
        d.ellipse((x - int(er * 1.6), ey - int(er * 0.7), x + int(er * 1.6), ey + int(er * 0.7)), fill=(250, 250, 250))
        d.ellipse((x - er, ey - er, x + er, ey + er), fill=(40, 30, 25))
        d.rectangle((x - int(er * 1.9), ey - int(er * 2.4), x + int(er * 1.9), ey - int(er * 1.7)), fill=(50, 35, 25))
    d.polygon([(cx, ey + er), (cx - int(er * 0.9), fy + int(fh * 0.66)), (cx + int(er * 0.9), fy + int(fh * 0.66))],
              fill=(205, 160, 130))
    my = fy + int(fh * 0.78)
    d.ellipse((cx - int(fw * 0.17), my - int(er * 0.55), cx + int(fw * 0.17), my + int(er * 0.55)), fill=(150, 60, 60))
    return img.filter(ImageFilter.GaussianBlur(2)), (cx - fw // 2, fy, fw, fh)
