"""Thumbnail presets: the platforms a thumbnail is made for and the vibes it is styled with.

Sizes, aspects and limits are the platforms' published ones; safe zones are where each
platform's own interface covers the image (YouTube's duration badge, the bottom and top bands
and the button rail of 9:16 feeds), as fractions of the frame so they scale with any allowed
size. Text is kept out of them. The thumbnail engine and the studio page read these; the API
lists them at `GET /api/v1/projects/presets`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

MIN_SIDE = 320
MAX_SIDE = 4096
ASPECT_TOLERANCE = 0.01  # a custom size keeps its platform's aspect within 1%
MB = 1024 * 1024
# Credits of a thumbnail job = variants × QUALITY_PRICE_UNITS[quality] × CREDIT_PRICES["thumbnail"]:
# an hd variant is rendered at the project's full size with the remote engines' higher tier.
QUALITY_PRICE_UNITS = {"std": 1, "hd": 2}
VARIANTS_RANGE = (1, 4)
# The pictures a thumbnail project takes (ProjectInput roles): a selfie to cut out, a reference
# for the backdrop, a thumbnail whose layout to copy.
INPUT_ROLES = ("selfie", "ref", "copy_target")


@dataclass(frozen=True)
class Zone:
    """A rectangle, as fractions of the frame's width and height from its top-left corner."""

    name: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Platform:
    key: str
    name: str
    width: int  # the default (recommended) size
    height: int
    aspect: str
    min_width: int = MIN_SIDE
    min_height: int = MIN_SIDE
    max_bytes: int | None = None
    margin: float = 0.05  # text stays this far inside every edge
    keep_out: tuple[Zone, ...] = ()

    @property
    def ratio(self) -> float:
        return self.width / self.height

    def as_dict(self) -> dict:
        data = asdict(self)
        data["keep_out"] = [asdict(zone) for zone in self.keep_out]
        return data


def _vertical(top: float, bottom: float, right_rail: float) -> tuple[Zone, ...]:
    """The overlays of a 9:16 feed: a top band, a caption band at the bottom, a button rail."""
    return (
        Zone("top_band", 0.0, 0.0, 1.0, top),
        Zone("bottom_band", 0.0, 1.0 - bottom, 1.0, bottom),
        Zone("button_rail", 1.0 - right_rail, top, right_rail, 1.0 - top - bottom),
    )


PLATFORMS: dict[str, Platform] = {p.key: p for p in (
    # YouTube: 1280×720 recommended and a 640 px minimum width; we hold to 1280×720 as the issue
    # asks, since smaller looks soft on TVs. Under 2 MB. Lists cover the bottom-right corner
    # with the duration badge; hovering adds the watch-later / queue icons top-right.
    Platform("youtube", "YouTube", 1280, 720, "16:9", min_width=1280, min_height=720, max_bytes=2 * MB,
             keep_out=(Zone("duration_badge", 0.80, 0.84, 0.20, 0.16), Zone("hover_icons", 0.88, 0.0, 0.12, 0.18))),
    Platform("youtube_shorts", "YouTube Shorts", 1080, 1920, "9:16", keep_out=_vertical(0.12, 0.25, 0.15)),
    Platform("tiktok", "TikTok", 1080, 1920, "9:16", keep_out=_vertical(0.08, 0.23, 0.12)),
    Platform("instagram_reels", "Instagram Reels", 1080, 1920, "9:16", keep_out=_vertical(0.14, 0.35, 0.12)),
    Platform("instagram_square", "Instagram post (square)", 1080, 1080, "1:1"),
    Platform("instagram_portrait", "Instagram post (portrait)", 1080, 1350, "4:5"),
    Platform("x", "X (Twitter)", 1600, 900, "16:9"),
    Platform("linkedin", "LinkedIn", 1200, 627, "1.91:1"),
)}


@dataclass(frozen=True)
class Vibe:
    key: str
    name: str
    # Hex colours: background, surface (panels), text, accent, outline (around the headline).
    palette: dict[str, str]
    headline_font: str
    subtext_font: str
    headline_case: str  # "upper" or "title"
    outline: bool
    shadow: bool
    prompt: str  # how remote image engines are asked for this style
    accents: tuple[str, ...] = field(default=())  # alternates that variants rotate through

    def as_dict(self) -> dict:
        return asdict(self)


VIBES: dict[str, Vibe] = {v.key: v for v in (
    Vibe("professional", "Professional",
         {"background": "#0F1E33", "surface": "#1C3454", "text": "#FFFFFF", "accent": "#2F80ED", "outline": "#08111F"},
         "DejaVu Sans Bold", "DejaVu Sans", "title", outline=False, shadow=True,
         prompt="clean corporate look, soft even studio light, navy and white, confident and trustworthy",
         accents=("#2F80ED", "#27AE60", "#F2C94C")),
    Vibe("bold", "Bold",
         {"background": "#111111", "surface": "#FFD400", "text": "#FFFFFF", "accent": "#FFD400", "outline": "#000000"},
         "DejaVu Sans Condensed Bold", "DejaVu Sans Bold", "upper", outline=True, shadow=True,
         prompt="high-contrast, punchy saturated colours, hard light, big expressive subject",
         accents=("#FFD400", "#FF3B30", "#00E5FF")),
    Vibe("playful", "Playful",
         {"background": "#FFF3E0", "surface": "#FF6F91", "text": "#2D1B4E", "accent": "#FF6F91", "outline": "#FFFFFF"},
         "DejaVu Sans Bold", "DejaVu Sans", "title", outline=True, shadow=False,
         prompt="bright candy colours, cheerful and fun, soft rounded shapes, warm daylight",
         accents=("#FF6F91", "#FFC75F", "#00C9A7")),
    Vibe("dramatic", "Dramatic",
         {"background": "#050505", "surface": "#3A0A0A", "text": "#FFFFFF", "accent": "#E50914", "outline": "#000000"},
         "DejaVu Serif Bold", "DejaVu Sans", "upper", outline=True, shadow=True,
         prompt="cinematic, moody low-key lighting, deep shadows, red rim light, film still",
         accents=("#E50914", "#FF9F1C", "#C0C0C0")),
    Vibe("minimal", "Minimal",
         {"background": "#F5F5F2", "surface": "#FFFFFF", "text": "#111111", "accent": "#111111", "outline": "#F5F5F2"},
         "DejaVu Sans", "DejaVu Sans ExtraLight", "title", outline=False, shadow=False,
         prompt="minimalist, lots of negative space, neutral tones, soft diffuse light, editorial",
         accents=("#111111", "#C8553D", "#2E86AB")),
    Vibe("tech", "Tech",
         {"background": "#0A0F1F", "surface": "#111A33", "text": "#E6F1FF", "accent": "#00F0FF", "outline": "#000814"},
         "DejaVu Sans Mono Bold", "DejaVu Sans Mono", "upper", outline=True, shadow=True,
         prompt="futuristic tech aesthetic, neon cyan glow on dark navy, circuit and grid details",
         accents=("#00F0FF", "#7B61FF", "#39FF14")),
)}


def expected_height(platform: Platform, width: int) -> int:
    return round(width / platform.ratio)


def expected_width(platform: Platform, height: int) -> int:
    return round(height * platform.ratio)


def keeps_aspect(platform: Platform, width: int, height: int) -> bool:
    return abs(width / height - platform.ratio) <= ASPECT_TOLERANCE * platform.ratio


def size_errors(platform: Platform, width: int, height: int) -> dict[str, list[str]]:
    """What is wrong with `width`×`height` for `platform`, by field (empty when it fits)."""
    errors: dict[str, list[str]] = {}
    for name, value, least in (("width", width, platform.min_width), ("height", height, platform.min_height)):
        low = max(MIN_SIDE, least)
        if not low <= value <= MAX_SIDE:
            errors[name] = [f"Must be {low}–{MAX_SIDE} px for {platform.name} (got {value})."]
    if not errors and not keeps_aspect(platform, width, height):
        message = (f"{width}×{height} does not keep {platform.name}'s {platform.aspect} aspect within 1% "
                   f"(for width {width}, height {expected_height(platform, width)}).")
        errors = {"width": [message], "height": [message]}
    return errors


def size_resolve(platform: Platform, width: int | None, height: int | None) -> tuple[int, int]:
    """The size a project gets: the platform's when neither side is given, the other side
    derived from the platform's aspect when one is."""
    if width is None and height is None:
        return platform.width, platform.height
    if height is None:
        return width, expected_height(platform, width)
    if width is None:
        return expected_width(platform, height), height
    return width, height


def film_presets() -> dict:
    """What a film project may choose: the installed espeak-ng voices (with the speed and pitch
    ranges), aspects, resolutions, subtitle modes and the scene limits."""
    from .film import voices
    from .models import DURATION_RANGE, FILM_ASPECTS, FILM_RESOLUTIONS, NARRATION_MAX, SCENES_MAX, SUBTITLE_MODES

    return {
        "voices": list(voices.voices_list()),
        "default_voice": voices.DEFAULT_VOICE,
        "voice_speed": {"min": voices.SPEED_RANGE[0], "max": voices.SPEED_RANGE[1], "default": voices.DEFAULT_SPEED},
        "voice_pitch": {"min": voices.PITCH_RANGE[0], "max": voices.PITCH_RANGE[1], "default": voices.DEFAULT_PITCH},
        "aspect_ratios": list(FILM_ASPECTS),
        "resolutions": list(FILM_RESOLUTIONS),
        "subtitle_modes": list(SUBTITLE_MODES),
        "max_scenes": SCENES_MAX,
        "max_narration_chars": NARRATION_MAX,
        "scene_duration_s": {"min": DURATION_RANGE[0], "max": DURATION_RANGE[1]},
    }


def presets_as_dict() -> dict:
    return {
        "platforms": [p.as_dict() for p in PLATFORMS.values()],
        "vibes": [v.as_dict() for v in VIBES.values()],
        "limits": {"min_side": MIN_SIDE, "max_side": MAX_SIDE, "aspect_tolerance": ASPECT_TOLERANCE},
        "quality_price_units": dict(QUALITY_PRICE_UNITS),
        "variants": {"min": VARIANTS_RANGE[0], "max": VARIANTS_RANGE[1]},
        "film": film_presets(),
    }
