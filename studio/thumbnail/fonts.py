"""The faces the thumbnail engine draws with, per vibe.

Fjalla One (Sorkin Type, SIL Open Font License 1.1, `fonts/OFL.txt`) is vendored in
`fonts/`: a heavy condensed display face, the hero of the bold and playful vibes and the face
every other one falls back to. The DejaVu faces the vibes name come from Debian's
fonts-dejavu-core (installed by `.ci/run`, licence: Bitstream Vera / public domain); a DejaVu
face that is not installed (the Condensed and ExtraLight ones live in fonts-dejavu-extra) is
replaced by the nearest one that is, and failing all, by the vendored face. A text with a
letter the chosen face lacks is set in DejaVu Sans Bold instead (`face_for_text`).

A headline is always set in a heavy weight (the issue's "heavy type"): a vibe whose preset
names a regular headline face (minimal) gets its bold cut here. The presets stay as written;
this module is the engine's reading of them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

VENDORED_DIR = Path(__file__).resolve().parent / "fonts"
DISPLAY_FACE = VENDORED_DIR / "FjallaOne-Regular.ttf"
SYSTEM_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/TTF"), Path("/usr/local/share/fonts"))

# Preset face name → file names to try, in order.
FACE_FILES: dict[str, tuple[str, ...]] = {
    "DejaVu Sans": ("DejaVuSans.ttf",),
    "DejaVu Sans Bold": ("DejaVuSans-Bold.ttf",),
    "DejaVu Sans ExtraLight": ("DejaVuSans-ExtraLight.ttf", "DejaVuSans.ttf"),
    "DejaVu Sans Condensed Bold": ("DejaVuSansCondensed-Bold.ttf", "DejaVuSans-Bold.ttf"),
    "DejaVu Serif Bold": ("DejaVuSerif-Bold.ttf", "DejaVuSans-Bold.ttf"),
    "DejaVu Sans Mono": ("DejaVuSansMono.ttf", "DejaVuSans.ttf"),
    "DejaVu Sans Mono Bold": ("DejaVuSansMono-Bold.ttf", "DejaVuSans-Bold.ttf"),
}

# vibe key → (headline face, subtext face). "Fjalla One" is the vendored display face.
VIBE_FACES: dict[str, tuple[str, str]] = {
    "professional": ("DejaVu Sans Bold", "DejaVu Sans Bold"),
    "bold": ("Fjalla One", "DejaVu Sans Bold"),
    "playful": ("Fjalla One", "DejaVu Sans Bold"),
    "dramatic": ("DejaVu Serif Bold", "DejaVu Sans Bold"),
    "minimal": ("DejaVu Sans Bold", "DejaVu Sans"),
    "tech": ("DejaVu Sans Mono Bold", "DejaVu Sans Mono"),
}


def face_path(name: str) -> Path:
    """The file of a face by its preset name; the vendored display face when none is found."""
    if name == "Fjalla One":
        return DISPLAY_FACE
    for file_name in FACE_FILES.get(name, ()):
        for folder in SYSTEM_DIRS:
            candidate = folder / file_name
            if candidate.is_file():
                return candidate
    return DISPLAY_FACE


def vibe_faces(vibe_key: str) -> tuple[Path, Path]:
    headline, subtext = VIBE_FACES.get(vibe_key, ("Fjalla One", "DejaVu Sans Bold"))
    return face_path(headline), face_path(subtext)


@lru_cache(maxsize=512)
def font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), max(1, int(size)))


@lru_cache(maxsize=4096)
def _has_glyph(path: Path, char: str) -> bool:
    face = font(path, 32)
    return bytes(face.getmask(char)) != bytes(face.getmask("\U0010FFFD"))  # not the "missing" box


def face_for_text(path: Path, text: str) -> Path:
    """`path`, or DejaVu Sans Bold when `path` lacks a glyph the text needs (Fjalla One covers
    Latin but not, e.g., Polish, Czech, Greek or Cyrillic letters)."""
    if all(char.isspace() or _has_glyph(path, char) for char in set(text)):
        return path
    return face_path("DejaVu Sans Bold")
