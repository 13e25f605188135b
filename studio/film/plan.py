"""A film's plan: frame size, each scene's start and length, and the subtitle cues.

A scene lasts `max(duration_s, spoken + NARRATION_PAD_S)` where `spoken` is the length of its
narration as espeak-ng speaks it (read from the WAV it wrote), rounded up to whole frames. The
narration starts NARRATION_LEAD_S into its scene, so there is a little air before and after it.
Scenes are joined with cross-fades that eat into the clip before: clip k (except the last) is
rendered FADE_S longer than its scene, and scene k starts on the film's timeline at the sum of
the lengths before it. The film's length is the sum of the scene lengths, known before anything
is rendered.
"""

import math
import re
from dataclasses import asdict, dataclass, field

FPS = 25
FADE_S = 0.5
NARRATION_PAD_S = 0.4
NARRATION_LEAD_S = NARRATION_PAD_S / 2
# A cue is at most two lines of this many characters (a readable subtitle).
CUE_LINE_CHARS = 42
CUE_MAX_CHARS = 2 * CUE_LINE_CHARS

SHORT_SIDE = {"720p": 720, "1080p": 1080}


def frame_size(aspect: str, resolution: str) -> tuple[int, int]:
    """(width, height): 720p 16:9 is 1280×720, 9:16 is 720×1280, 1:1 is 720×720."""
    short = SHORT_SIDE[resolution]
    long = short * 16 // 9
    return {"16:9": (long, short), "9:16": (short, long), "1:1": (short, short)}[aspect]


def _frames_up(seconds: float) -> int:
    return math.ceil(round(seconds * FPS, 6))


@dataclass
class Cue:
    start: float
    end: float
    text: str


@dataclass
class ScenePlan:
    index: int  # 0-based
    start: float  # seconds on the film's timeline
    length: float  # seconds the scene is on screen (a whole number of frames)
    spoken: float  # seconds of narration (0 when none)
    narration: str
    visual: str
    image_asset_id: str | None
    cues: list[Cue] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return round(self.length * FPS)

    @property
    def narration_at(self) -> float:
        return self.start + NARRATION_LEAD_S


@dataclass
class FilmPlan:
    width: int
    height: int
    scenes: list[ScenePlan]
    fade: float = FADE_S

    @property
    def total(self) -> float:
        return round(sum(scene.length for scene in self.scenes), 3)

    def clip_seconds(self, index: int) -> float:
        """How long scene `index`'s clip is rendered: its length, plus the fade into the next."""
        scene = self.scenes[index]
        return scene.length + (self.fade if index < len(self.scenes) - 1 else 0.0)

    def clip_frames(self, index: int) -> int:
        return round(self.clip_seconds(index) * FPS)

    @property
    def cues(self) -> list[Cue]:
        return [cue for scene in self.scenes for cue in scene.cues]

    def summary(self) -> dict:
        return {
            "width": self.width, "height": self.height, "fps": FPS, "fade_s": self.fade, "duration_s": self.total,
            "scenes": [{"index": s.index, "start_s": round(s.start, 3), "length_s": round(s.length, 3),
                        "spoken_s": round(s.spoken, 3)} for s in self.scenes],
        }


def cue_chunks(text: str) -> list[str]:
    """The narration cut into subtitle-sized pieces: sentences, long ones split between words."""
    words_only = " ".join(text.split())
    if not words_only:
        return []
    chunks: list[str] = []
    for sentence in re.split(r"(?<=[.!?…;:])\s+", words_only):
        current = ""
        for word in sentence.split(" "):
            candidate = f"{current} {word}".strip()
            if current and len(candidate) > CUE_MAX_CHARS:
                chunks.append(current)
                current = word
            else:
                current = candidate
        if current:
            chunks.append(current)
    return chunks


def _cues(text: str, start: float, spoken: float) -> list[Cue]:
    """Cues over [start, start + spoken], each shown for a share of the time by its length."""
    chunks = cue_chunks(text)
    if not chunks:
        return []
    spoken = max(spoken, 0.5 * len(chunks))
    total_chars = sum(len(c) for c in chunks)
    cues, at = [], start
    for chunk in chunks:
        end = at + spoken * len(chunk) / total_chars
        cues.append(Cue(round(at, 3), round(end, 3), chunk))
        at = end
    return cues


def film_plan(*, scenes: list[dict], spoken: list[float], aspect: str, resolution: str) -> FilmPlan:
    """The plan for `scenes` (the params' scenes) whose narrations speak for `spoken` seconds."""
    width, height = frame_size(aspect, resolution)
    planned, at = [], 0.0
    for index, (scene, seconds) in enumerate(zip(scenes, spoken, strict=True)):
        wanted = max(float(scene["duration_s"]), seconds + NARRATION_PAD_S if seconds else 0.0)
        length = _frames_up(wanted) / FPS
        item = ScenePlan(index=index, start=round(at, 6), length=length, spoken=seconds,
                         narration=scene.get("narration") or "", visual=scene.get("visual") or "",
                         image_asset_id=scene.get("image_asset_id"))
        item.cues = _cues(item.narration, item.narration_at, seconds) if seconds else []
        planned.append(item)
        at += length
    # Shorter scenes than the fade would cross-fade over their whole length: shorten the fade.
    fade = min(FADE_S, min(s.length for s in planned) / 2)
    return FilmPlan(width=width, height=height, scenes=planned, fade=round(_frames_up(fade) / FPS, 6) if fade else 0.0)


def _stamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _vtt_text(text: str) -> str:
    """A cue's text for WebVTT: `&`, `<`, `>` escaped, and wrapped into two lines when long."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if len(text) <= CUE_LINE_CHARS:
        return text
    words, best = text.split(" "), None
    for i in range(1, len(words)):
        first, second = " ".join(words[:i]), " ".join(words[i:])
        score = max(len(first), len(second))
        if best is None or score < best[0]:
            best = (score, f"{first}\n{second}")
    return best[1] if best else text


def webvtt(plan: FilmPlan) -> str:
    """The narration as WebVTT, one cue per chunk, timed to when it is spoken."""
    lines = ["WEBVTT", ""]
    for number, cue in enumerate(plan.cues, start=1):
        lines += [str(number), f"{_stamp(cue.start)} --> {_stamp(cue.end)}", _vtt_text(cue.text), ""]
    return "\n".join(lines)


def plan_as_dict(plan: FilmPlan) -> dict:
    return {**plan.summary(), "cues": [asdict(c) for c in plan.cues]}
