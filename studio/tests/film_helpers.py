"""What the film tests share: a film's params (the project snapshot), ffprobe/volumedetect
readings, and a ref image upload."""

import io
import json
import re
import subprocess

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from pipeline import services
from pipeline.models import Asset


def film_params(scenes: list[dict], **fields) -> dict:
    """The params a film job gets from its project (contract section 1), with `fields` changed."""
    params = {"title": "Harbour morning", "vibe": "dramatic", "aspect_ratio": "16:9", "resolution": "720p",
              "voice": "en-us", "voice_speed": 175, "voice_pitch": 50, "subtitles": "both", "scenes": []}
    params.update(fields)
    params["scenes"] = [{"narration": "", "visual": "", "duration_s": 1, "image_asset_id": None, **scene} for scene in scenes]
    return params


def ref_image(user, size=(320, 200), colours=((200, 30, 30), (30, 30, 200))) -> Asset:
    """An uploaded `ref` PNG: its left half the first colour, its right half the second."""
    image = Image.new("RGB", size, colours[0])
    image.paste(colours[1], (size[0] // 2, 0, size[0], size[1]))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    upload = SimpleUploadedFile("scene.png", buffer.getvalue(), content_type="image/png")
    return services.asset_upload(user=user, upload=upload, role=Asset.Role.REF)


def ffprobe(path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def mean_volume_db(path) -> float:
    err = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-map", "0:a:0", "-af", "volumedetect",
                          "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    return float(re.search(r"mean_volume: (-?[\d.]+) dB", err).group(1))


def frame_at(path, seconds: float) -> Image.Image:
    png = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{seconds:.3f}", "-i", str(path), "-frames:v", "1",
                          "-f", "image2pipe", "-c:v", "png", "-"], capture_output=True, check=True).stdout
    return Image.open(io.BytesIO(png)).convert("RGB")
