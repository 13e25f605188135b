"""The local film engine (issue 12): a film project's scenes to a narrated, subtitled MP4.

The job walks all nine states; `pending → validating → queued` happen when it is submitted
(`validating` is moderation of the title, every narration and visual, and every scene image,
through the hooks below), the rest here:
- processing: each narration spoken by espeak-ng to a WAV, whose length fixes the scene's
  (`plan.film_plan`); the film's length is known now and shown on the job;
- generating_images: one still per scene at the film's size (`frames`);
- generating_video: one Ken Burns clip per scene (`zoompan`), joined with cross-fades (`xfade`);
- generating_audio: the narrations placed at their scenes (`adelay` + `amix`), `loudnorm`, AAC;
- composing: WebVTT from the narration timings, H.264 + AAC muxed with `+faststart` (subtitles
  burned in when asked), a poster PNG.
Every program runs through `ctx.run_program` (the sandbox): a cancel kills ffmpeg within a
tick, and a failure names the scene and what the program said.

`FalFilmEngine` ("fal", configured by FAL_KEY) is the same film with each scene's clip made by a
fal image-to-video model from the scene's still (`scene_clip` is the one step it overrides).
"""

import base64
import io
import time
import uuid
import wave
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from PIL import Image, UnidentifiedImageError

from mozukai_hub.sandbox import ProgramMissing, ProgramTimeout
from pipeline.engines import BaseEngine, EngineError, register
from studio import presets
from studio.providers.fal import FalClient, fal_queue_run, fal_video_url

from . import filtergraphs
from .frames import scene_frame
from .plan import FilmPlan, film_plan, plan_as_dict, webvtt
from .voices import DEFAULT_PITCH, DEFAULT_SPEED, DEFAULT_VOICE, PITCH_RANGE, SPEED_RANGE, voice_codes

PARAM_KEYS = ("project_id", "title", "vibe", "aspect_ratio", "resolution", "voice", "voice_speed", "voice_pitch",
              "subtitles", "scenes")
TITLE_MAX = 200
# Sandbox limits. ffmpeg is multi-threaded and the sandbox's CPU limit counts all threads, so
# ffmpeg gets the wall clock only; espeak-ng is single-threaded and gets a CPU limit too.
FFMPEG_MEMORY_BYTES = 6 * 1024**3  # address space: x264's threads reserve much more than they use
FFMPEG_FILE_BYTES = 2 * 1024**3
ESPEAK_MEMORY_BYTES = 1024**3
# Not only the WAV: espeak-ng's audio library sizes a 64 MiB shared-memory file even with -w.
ESPEAK_FILE_BYTES = 200 * 1024**2
ESPEAK_CPU_SECONDS = 60


def wav_seconds(path: Path) -> float:
    """Length of a WAV file as its header says (espeak-ng writes 16-bit mono PCM)."""
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        return wav.getnframes() / rate if rate else 0.0


def _tail(text: str, limit: int = 400) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return " | ".join(lines[-3:])[-limit:] or "no output"


class FilmEngine(BaseEngine):
    kind, name = "film", "local"
    moderated_params = ("title",)
    moderates_input_images = True

    # --- submit time --------------------------------------------------------------------

    def validate_params(self, params: dict, *, owner) -> dict:
        from studio.models import FILM_ASPECTS, FILM_RESOLUTIONS, SUBTITLE_MODES, scenes_clean

        if not isinstance(params, dict):
            raise ValidationError({"params": ["An object."]})
        errors: dict[str, list[str]] = {}
        for key in sorted(set(params) - set(PARAM_KEYS)):
            errors[key] = ["Unknown parameter."]
        title = params.get("title", "")
        if not isinstance(title, str) or len(title) > TITLE_MAX:
            errors["title"] = [f"A text of at most {TITLE_MAX} characters."]
        choices = {
            "aspect_ratio": (params.get("aspect_ratio") or "16:9", FILM_ASPECTS),
            "resolution": (params.get("resolution") or "720p", FILM_RESOLUTIONS),
            "subtitles": (params.get("subtitles") or "both", SUBTITLE_MODES),
            "vibe": (params.get("vibe") or "professional", tuple(presets.VIBES)),
        }
        for key, (value, allowed) in choices.items():
            if value not in allowed:
                errors[key] = [f"One of: {', '.join(allowed)}."]
        voice = params.get("voice") or DEFAULT_VOICE
        if voice not in voice_codes():
            errors["voice"] = [f"Unknown voice {voice!r}; the voices are listed at GET /api/v1/projects/presets."]
        numbers = {}
        for key, default, (low, high) in (("voice_speed", DEFAULT_SPEED, SPEED_RANGE), ("voice_pitch", DEFAULT_PITCH, PITCH_RANGE)):
            value = params.get(key, default)
            value = default if value is None else value
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                errors[key] = [f"A whole number from {low} to {high}."]
            numbers[key] = value
        scenes = params.get("scenes")
        if owner.is_visitor and isinstance(scenes, list) and any(isinstance(s, dict) and s.get("image_asset_id") for s in scenes):
            errors["scenes"] = ["Scene images need an account."]
        else:
            try:
                scenes = scenes_clean(scenes, owner=owner.user)
            except ValidationError as exc:
                errors.update(exc.message_dict)
        if errors:
            raise ValidationError(errors)
        project_id = params.get("project_id")
        return {
            **({"project_id": str(project_id)} if project_id else {}),
            "title": title.strip(), **{key: value for key, (value, _) in choices.items()},
            "voice": voice, **numbers, "scenes": scenes,
        }

    def input_asset_ids(self, params: dict) -> list[uuid.UUID]:
        return [uuid.UUID(i) for i in self.moderation_image_ids(params)]

    def moderation_texts(self, params: dict) -> list[str]:
        """What moderation reads: the title and every scene's narration and visual."""
        texts = [params.get("title") or ""]
        for scene in params.get("scenes") or []:
            texts += [scene.get("narration") or "", scene.get("visual") or ""]
        return [text for text in texts if text.strip()]

    def moderation_image_ids(self, params: dict) -> list[str]:
        """Every scene image, once each, in scene order."""
        ids = [scene.get("image_asset_id") for scene in params.get("scenes") or []]
        return list(dict.fromkeys(str(i) for i in ids if i))

    # --- the run ------------------------------------------------------------------------

    def _run(self, ctx, argv: list[str], *, what: str, timeout: float, espeak: bool = False):
        """One program in the sandbox; a failure is an EngineError naming `what` and why."""
        try:
            result = ctx.run_program(
                argv, timeout_seconds=timeout,
                memory_bytes=ESPEAK_MEMORY_BYTES if espeak else FFMPEG_MEMORY_BYTES,
                file_bytes=ESPEAK_FILE_BYTES if espeak else FFMPEG_FILE_BYTES,
                cpu_seconds=ESPEAK_CPU_SECONDS if espeak else None,
            )
        except ProgramMissing as exc:
            raise EngineError(f"{what}: {exc}", error_type="program_missing")
        except ProgramTimeout as exc:
            raise EngineError(f"{what}: took longer than {timeout:.0f} s ({_tail(exc.output_tail)}).", error_type="timeout")
        if result.returncode != 0:
            raise EngineError(f"{what} failed: {_tail(result.output_tail)}", error_type="render_failed")
        return result

    def run(self, ctx) -> dict:
        params = ctx.params
        started = time.monotonic()
        timings: dict[str, float] = {}
        scenes = params["scenes"]
        workdir: Path = ctx.workdir

        # processing: the narrations and the plan
        ctx.stage("processing")
        ctx.progress(3, "plan", f"Planning {len(scenes)} scene{'s' if len(scenes) != 1 else ''}")
        mark = time.monotonic()
        spoken = []
        for i, scene in enumerate(scenes):
            text = (scene.get("narration") or "").strip()
            if not text:
                spoken.append(0.0)
                continue
            (workdir / f"narration-{i}.txt").write_text(text + "\n")
            argv = filtergraphs.narration_argv(text_file=f"narration-{i}.txt", wav=f"narration-{i}.wav", voice=params["voice"],
                                               speed=params["voice_speed"], pitch=params["voice_pitch"])
            self._run(ctx, argv, what=f"Scene {i + 1}: speaking its narration", timeout=60, espeak=True)
            try:
                spoken.append(wav_seconds(workdir / f"narration-{i}.wav"))
            except (OSError, EOFError, wave.Error) as exc:
                raise EngineError(f"Scene {i + 1}: espeak-ng wrote no readable WAV ({exc}).", error_type="render_failed")
        plan = film_plan(scenes=scenes, spoken=spoken, aspect=params["aspect_ratio"], resolution=params["resolution"])
        timings["plan"] = time.monotonic() - mark
        ctx.progress(12, "plan", f"Planned {len(scenes)} scenes: {plan.total:.1f} s at {plan.width}×{plan.height}")

        # generating_images: one still per scene
        ctx.stage("generating_images")
        mark = time.monotonic()
        frames = self._frames(ctx, plan, params)
        timings["images"] = time.monotonic() - mark

        # generating_video: a clip per scene, then the cross-faded film
        ctx.stage("generating_video")
        mark = time.monotonic()
        clips = []
        for i in range(len(plan.scenes)):
            clip = f"clip-{i}.mp4"
            self.scene_clip(ctx, plan, params, index=i, frame=frames[i], out=clip)
            clips.append(clip)
            ctx.progress(30 + round(35 * (i + 1) / len(plan.scenes)), "video", f"Scene {i + 1} of {len(plan.scenes)} rendered")
        burn = params["subtitles"] in ("burned", "both") and bool(plan.cues)
        self._run(ctx, filtergraphs.join_argv(plan=plan, clips=clips, out="video.mp4", final=not burn),
                  what="Joining the scenes with cross-fades", timeout=60 + 10 * plan.total)
        timings["video"] = time.monotonic() - mark
        ctx.progress(68, "video", "Scenes joined with cross-fades")

        # generating_audio: narrations at their scenes, mixed and normalised
        ctx.stage("generating_audio")
        mark = time.monotonic()
        narrations = [(f"narration-{s.index}.wav", s.narration_at) for s in plan.scenes if s.spoken]
        self._run(ctx, filtergraphs.audio_argv(plan=plan, narrations=narrations, out="audio.m4a"),
                  what="Mixing the narration", timeout=60 + 5 * plan.total)
        timings["audio"] = time.monotonic() - mark
        ctx.progress(80, "audio", f"Narration of {len(narrations)} scene{'s' if len(narrations) != 1 else ''} mixed")

        # composing: subtitles, the MP4, the poster
        ctx.stage("composing")
        mark = time.monotonic()
        (workdir / "film.vtt").write_text(webvtt(plan), encoding="utf-8")
        self._run(ctx, filtergraphs.compose_argv(plan=plan, video="video.mp4", audio="audio.m4a", out="film.mp4",
                                                 burn_vtt="film.vtt" if burn else None),
                  what="Composing the film" + (" with burned subtitles" if burn else ""), timeout=60 + 10 * plan.total)
        poster = workdir / "poster.png"
        with Image.open(workdir / frames[0]) as first:
            first.save(poster, optimize=False)
        timings["compose"] = time.monotonic() - mark
        ctx.progress(95, "outputs", "Storing the film")
        outputs = [
            ctx.output(path=workdir / "film.mp4", asset_type="mp4", primary=True, content_type="video/mp4"),
            ctx.output(path=workdir / "film.vtt", asset_type="vtt", content_type="text/vtt"),
            ctx.output(path=poster, asset_type="png", content_type="image/png"),
        ]
        timings["total"] = time.monotonic() - started
        return {
            "duration_s": plan.total, "width": plan.width, "height": plan.height,
            "subtitles": {"mode": params["subtitles"], "burned": burn, "cues": len(plan.cues)},
            "plan": plan_as_dict(plan), "outputs": outputs,
            "timings_s": {k: round(v, 3) for k, v in timings.items()},
        }

    def scene_clip(self, ctx, plan: FilmPlan, params: dict, *, index: int, frame: str, out: str) -> None:
        """Scene `index`'s clip (plan.clip_frames(index) frames at the film's size and FPS) into
        `out` in the work directory: a Ken Burns move over its still. Remote engines override it."""
        self._run(ctx, filtergraphs.scene_clip_argv(plan=plan, index=index, frame=frame, out=out),
                  what=f"Scene {index + 1}: rendering its clip", timeout=60 + 10 * plan.clip_seconds(index))

    def _frames(self, ctx, plan: FilmPlan, params: dict) -> list[str]:
        from pipeline.models import Asset

        names = []
        size = (plan.width, plan.height)
        for scene in plan.scenes:
            image_path = None
            if scene.image_asset_id:
                asset = Asset.objects.filter(pk=scene.image_asset_id).first()
                if asset is None or not asset.file:
                    raise EngineError(f"Scene {scene.index + 1}: its image {scene.image_asset_id} is gone.",
                                      error_type="input_unavailable")
                image_path = ctx.workdir / f"input-{scene.index}"
                try:
                    with asset.file.open("rb") as source, open(image_path, "wb") as target:
                        while chunk := source.read(1 << 20):
                            target.write(chunk)
                except OSError as exc:
                    raise EngineError(f"Scene {scene.index + 1}: its image could not be read ({exc}).",
                                      error_type="input_unavailable")
            try:
                frame = scene_frame(size, image_path=image_path, visual=scene.visual, vibe=params["vibe"],
                                    title=params.get("title") or "", index=scene.index)
            except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
                raise EngineError(f"Scene {scene.index + 1}: its image could not be used ({exc}).", error_type="bad_input")
            name = f"frame-{scene.index}.png"
            frame.save(ctx.workdir / name, compress_level=1)
            names.append(name)
            ctx.progress(12 + round(16 * (scene.index + 1) / len(plan.scenes)), "images",
                         f"Scene {scene.index + 1} of {len(plan.scenes)}: {'image' if image_path else 'title card'}")
        return names


class FalFilmEngine(FilmEngine):
    """Scenes animated by a fal image-to-video model (FAL_VIDEO_MODEL, configured by FAL_KEY)
    instead of the local Ken Burns move; everything else (plan, stills, narration, cross-fades,
    subtitles, mux) is the local engine's. Each scene's still is sent as a data URL with its
    visual (or narration) as the prompt; the video fal returns is fitted to the scene: scaled to
    cover the frame, centre-cropped, at FPS, its last frame held if it is shorter."""

    name = "fal"
    VIDEO_SECONDS = (5, 10)  # the durations fal's image-to-video models take
    MAX_VIDEO_BYTES = 200 * 1024**2

    def is_configured(self) -> bool:
        return bool(settings.FAL_KEY)

    def scene_clip(self, ctx, plan: FilmPlan, params: dict, *, index: int, frame: str, out: str) -> None:
        scene = plan.scenes[index]
        seconds = plan.clip_seconds(index)
        with Image.open(ctx.workdir / frame) as still:
            buffer = io.BytesIO()
            still.convert("RGB").save(buffer, "JPEG", quality=90)
        prompt = (scene.visual or scene.narration or params.get("title") or "a calm cinematic shot").strip()
        arguments = {
            "prompt": f"{prompt}. Slow, steady cinematic camera move.",
            "image_url": "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode(),
            "duration": str(next((d for d in self.VIDEO_SECONDS if d >= seconds), self.VIDEO_SECONDS[-1])),
            "aspect_ratio": params["aspect_ratio"],
        }
        ctx.progress(30 + round(35 * index / len(plan.scenes)), "video", f"Scene {index + 1}: animating with fal")
        download = ctx.workdir / f"fal-{index}.mp4"
        try:
            result = fal_queue_run(ctx, model=settings.FAL_VIDEO_MODEL, arguments=arguments)
            with FalClient() as client:
                client.download(fal_video_url(result), download, max_bytes=self.MAX_VIDEO_BYTES)
        except EngineError as exc:  # ProviderError, or fal's own verdict on the request
            raise EngineError(f"Scene {index + 1}: fal could not animate it ({exc}).", error_type=exc.error_type)
        ctx.checkpoint()
        self._run(ctx, filtergraphs.fitted_clip_argv(plan=plan, index=index, video=download.name, out=out),
                  what=f"Scene {index + 1}: fitting fal's video", timeout=60 + 10 * seconds)


register(FilmEngine())
register(FalFilmEngine())
