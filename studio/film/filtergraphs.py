"""The ffmpeg and espeak-ng command lines of a film, as argv lists run in the job's work directory.

The engine runs them through the sandbox; `bench/film.py` writes the same lists into a shell
script to time the bare commands. Every file name is relative to the work directory.

- scene clip: the still upscaled ×2 (so the slow zoom moves by sub-pixels, not in jumps), then
  `zoompan` (in on even scenes, out on odd ones, with a gentle sideways drift) to the frame size
  at FPS; one call per scene, encoded lossless-fast (an intermediate).
- join: the clips chained with `xfade` at each scene's start.
- narration: espeak-ng per scene (voice, speed, pitch) to a WAV.
- audio: each WAV delayed to its scene (`adelay`), mixed (`amix`, no level division), padded to
  the film's length, loudness-normalised (`loudnorm`, EBU R128 −16 LUFS), AAC.
- compose: video + audio muxed with `+faststart`; with burned subtitles the WebVTT is rendered by
  libass (`subtitles`) in a readable style and the video re-encoded, else the video is copied.
"""

from django.conf import settings

from .plan import FPS, FilmPlan

ZOOM = 0.12  # how far a Ken Burns move zooms over a scene
DRIFT = 0.6  # how much of the zoom's spare width the frame drifts sideways
INTERMEDIATE = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", "-pix_fmt", "yuv420p"]
FINAL = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "21", "-pix_fmt", "yuv420p", "-profile:v", "high"]
AUDIO_RATE = 48000
LOUDNESS = "loudnorm=I=-16:TP=-1.5:LRA=11"


def ffmpeg() -> list[str]:
    return [settings.FFMPEG_BINARY, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y"]


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def narration_argv(*, text_file: str, wav: str, voice: str, speed: int, pitch: int) -> list[str]:
    return [settings.ESPEAK_BINARY, "-v", voice, "-s", str(int(speed)), "-p", str(int(pitch)), "-w", wav, "-f", text_file]


def scene_clip_argv(*, plan: FilmPlan, index: int, frame: str, out: str) -> list[str]:
    width, height, frames = plan.width, plan.height, plan.clip_frames(index)
    last = max(frames - 1, 1)
    if index % 2 == 0:
        zoom = f"1+{ZOOM}*on/{last}"
    else:
        zoom = f"{1 + ZOOM}-{ZOOM}*on/{last}"
    direction = 1 if index % 4 < 2 else -1
    x = f"(iw-iw/zoom)*(0.5+{direction * DRIFT / 2}*(on/{last}-0.5))"
    y = "(ih-ih/zoom)/2"
    graph = (f"scale={2 * width}:{2 * height}:flags=bicubic,"
             f"zoompan=z='{zoom}':x='{x}':y='{y}':d={frames}:s={width}x{height}:fps={FPS},setsar=1,format=yuv420p")
    return [*ffmpeg(), "-i", frame, "-vf", graph, "-frames:v", str(frames), "-r", str(FPS), *INTERMEDIATE, out]


def fitted_clip_argv(*, plan: FilmPlan, index: int, video: str, out: str) -> list[str]:
    """A remote engine's video as scene `index`'s clip: scaled to cover the frame, centre-cropped,
    at FPS, its last frame held when it is shorter than the clip, exactly clip_frames long."""
    width, height, frames = plan.width, plan.height, plan.clip_frames(index)
    graph = (f"scale={width}:{height}:force_original_aspect_ratio=increase:flags=bicubic,crop={width}:{height},"
             f"fps={FPS},tpad=stop_mode=clone:stop_duration={_seconds(plan.clip_seconds(index))},setsar=1,format=yuv420p")
    return [*ffmpeg(), "-i", video, "-an", "-vf", graph, "-frames:v", str(frames), "-r", str(FPS), *INTERMEDIATE, out]


def join_argv(*, plan: FilmPlan, clips: list[str], out: str, final: bool) -> list[str]:
    inputs = [arg for clip in clips for arg in ("-i", clip)]
    if len(clips) == 1:
        graph, label = "[0:v]null[v0]", "v0"
    else:
        parts, previous = [], "0:v"
        for k in range(1, len(clips)):
            label = f"v{k}"
            parts.append(f"[{previous}][{k}:v]xfade=transition=fade:duration={_seconds(plan.fade)}"
                         f":offset={_seconds(plan.scenes[k].start)}[{label}]")
            previous = label
        graph = ";".join(parts)
    codec = FINAL if final else INTERMEDIATE
    return [*ffmpeg(), *inputs, "-filter_complex", graph, "-map", f"[{label}]", "-r", str(FPS), *codec,
            "-t", _seconds(plan.total), out]


def audio_argv(*, plan: FilmPlan, narrations: list[tuple[str, float]], out: str) -> list[str]:
    """`narrations`: (wav file, seconds into the film it starts)."""
    total = _seconds(plan.total)
    aac = ["-c:a", "aac", "-b:a", "128k", "-ar", str(AUDIO_RATE), "-ac", "2"]
    if not narrations:
        return [*ffmpeg(), "-f", "lavfi", "-i", f"anullsrc=r={AUDIO_RATE}:cl=stereo", "-t", total, *aac, out]
    inputs = [arg for wav, _ in narrations for arg in ("-i", wav)]
    parts = []
    for i, (_, at) in enumerate(narrations):
        parts.append(f"[{i}:a]aresample={AUDIO_RATE},adelay=delays={round(at * 1000)}:all=1[a{i}]")
    labels = "".join(f"[a{i}]" for i in range(len(narrations)))
    mixed = (f"{labels}amix=inputs={len(narrations)}:duration=longest:normalize=0" if len(narrations) > 1
             else f"{labels}anull")
    parts.append(f"{mixed},apad=whole_dur={total},atrim=0:{total},{LOUDNESS},aresample={AUDIO_RATE}[mix]")
    return [*ffmpeg(), *inputs, "-filter_complex", ";".join(parts), "-map", "[mix]", *aac, out]


def subtitle_style(width: int, height: int) -> str:
    """libass style for burned subtitles: white bold sans on a dark outline and shadow, bottom
    centre. Sizes are in libass's script units (288 per frame height for a WebVTT source), so a
    tall frame gets a smaller number for the same share of its width."""
    ratio = width / height
    size = 18 if ratio >= 1.5 else (15 if ratio >= 0.9 else 10)
    margin = 18 if ratio >= 0.9 else 40
    return (f"FontName=DejaVu Sans,FontSize={size},Bold=1,PrimaryColour=&H00FFFFFF,OutlineColour=&H00000000,"
            f"BackColour=&H99000000,BorderStyle=1,Outline=2,Shadow=1,Alignment=2,MarginV={margin},MarginL=12,MarginR=12")


def compose_argv(*, plan: FilmPlan, video: str, audio: str, out: str, burn_vtt: str | None) -> list[str]:
    maps = ["-map", "0:v:0", "-map", "1:a:0"]
    if burn_vtt:
        style = subtitle_style(plan.width, plan.height)
        video_args = ["-vf", f"subtitles=filename={burn_vtt}:force_style='{style}'", *FINAL]
    else:
        video_args = ["-c:v", "copy"]
    return [*ffmpeg(), "-i", video, "-i", audio, *maps, *video_args, "-c:a", "copy", "-t", _seconds(plan.total),
            "-movflags", "+faststart", out]
