"""Local HTTP servers that answer as the remote image providers document their APIs: Gemini
(generateContent), BytePlus Seedream (images/generations), fal (the queue API) and OpenRouter
(chat completions with image output).

Each server checks what a request must carry (the URL, the key header, the body fields and the
images in it) and answers a malformed one as the provider does (400/401/403 in its error shape).
Every request is logged in `server.requests` as {method, path, headers, json, problems}; the
answer of the next generation request is chosen by `server.script(*modes)` (default "ok"), e.g.
`fake_gemini.script("unavailable", "ok")` answers one 503, then an image. Output files (Seedream
and fal URLs) are served under `server.files_url`, on `localhost` rather than the API's
`127.0.0.1`, so they are another origin, as a provider's storage is: `server.file_requests` shows
whether our key went there.

Fixtures (import them into a test module, or list this module in `pytest_plugins`):
`fake_gemini`, `fake_seedream`, `fake_fal`, `fake_openrouter` start a server and point the
settings at it (keys set, fal polled every 0.05 s).
"""

from __future__ import annotations

import abc
import base64
import binascii
import io
import itertools
import json
import re
import subprocess
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

from .servers import json_reply

GEMINI_KEY = "gemini-test-key"
SEEDREAM_KEY = "seedream-test-key"
FAL_KEY = "fal-test-key:secret"
OPENROUTER_KEY = "sk-or-test-key"
# What the fakes draw: a colour no vibe palette uses, so a test can find it in a rendered result.
IMAGE_COLOR = (24, 168, 96)
_DATA_URL = re.compile(r"^data:image/(png|jpeg|jpg|webp);base64,(.+)$", re.DOTALL)
_ids = itertools.count(1)


def png_of(width: int, height: int, color=IMAGE_COLOR) -> bytes:
    """A PNG of one colour with a lighter band across its middle (so it is not featureless)."""
    image = Image.new("RGB", (max(1, width), max(1, height)), color)
    band = tuple(min(255, c + 40) for c in color)
    image.paste(band, (0, height * 2 // 5, width, height * 3 // 5))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def decode_image(data: str | bytes) -> Image.Image:
    """Decode base64 image data (raises ValueError when it is not a whole image)."""
    try:
        raw = base64.b64decode(data, validate=True)
        image = Image.open(io.BytesIO(raw))
        image.load()
        return image
    except (binascii.Error, OSError, ValueError, SyntaxError) as exc:
        raise ValueError(f"not a base64 image ({type(exc).__name__})") from exc


def decode_data_url(url: object) -> Image.Image:
    match = _DATA_URL.match(url) if isinstance(url, str) else None
    if not match:
        raise ValueError("not a data:image/…;base64 URL")
    return decode_image(match.group(2))


class FakeProvider(abc.ABC):
    """A threaded local server; subclasses answer in `handle(request)`."""

    name = "provider"

    def __init__(self, key: str):
        self.key = key
        self.requests: list[dict] = []
        self.file_requests: list[dict] = []
        self.files: dict[str, bytes] = {}
        self._modes: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}"
        self.files_url = f"http://localhost:{port}/files"
        # A short poll interval: `close()` (shutdown) waits for the serving loop to notice.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True,
                                        name=f"fake-{self.name}")
        self._thread.start()

    # --- control ---------------------------------------------------------------------------
    def script(self, *modes: str) -> None:
        """The answers of the next generation requests, in order (then "ok")."""
        with self._lock:
            self._modes.extend(modes)

    def next_mode(self) -> str:
        with self._lock:
            return self._modes.pop(0) if self._modes else "ok"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def add_file(self, name: str, data: bytes) -> str:
        self.files[name] = data
        return f"{self.files_url}/{name}"

    def calls(self, method: str | None = None, path_prefix: str = "") -> list[dict]:
        return [r for r in self.requests if (method is None or r["method"] == method) and r["path"].startswith(path_prefix)]

    # --- serving ---------------------------------------------------------------------------
    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                headers = {k.lower(): v for k, v in self.headers.items()}
                if path.startswith("/files/"):
                    fake.file_requests.append({"path": path, "headers": headers})
                    data = fake.files.get(path.removeprefix("/files/"))
                    if data is None:  # an expired signed URL
                        return json_reply(self, 403, {"error": "AccessDenied", "message": "Request has expired"})
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png" if path.endswith(".png") else "video/mp4")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = ValueError("not JSON")
                request = {"method": self.command, "path": path, "query": urlsplit(self.path).query,
                           "headers": headers, "json": body, "problems": [], "at": time.monotonic()}
                fake.requests.append(request)
                fake.handle(self, request)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, *args):
                pass

        return Handler

    @abc.abstractmethod
    def handle(self, handler: BaseHTTPRequestHandler, request: dict) -> None:
        """Answer one request as the provider documents it."""

    @staticmethod
    def raw_reply(handler: BaseHTTPRequestHandler, status: int, data: bytes) -> None:
        json_reply(handler, status, data)


# --- Gemini --------------------------------------------------------------------------------

GEMINI_RATIOS = {"1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184),
                 "4:3": (1184, 864), "4:5": (896, 1152), "5:4": (1152, 896), "9:16": (768, 1344),
                 "16:9": (1344, 768), "21:9": (1536, 672)}


def _google_error(code: int, status: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "status": status}}


class FakeGemini(FakeProvider):
    """`POST /v1beta/models/{model}:generateContent` (https://ai.google.dev/api/generate-content).

    Modes: ok, no_image (text only), safety (finishReason IMAGE_SAFETY), prohibited
    (PROHIBITED_CONTENT), blocked (promptFeedback.blockReason), unavailable (503), rate_limited
    (429), malformed (a 200 that is not JSON), snake_case (an image as `inline_data`).
    Images are drawn at 1/8 of the size Gemini gives the asked aspect ratio.
    """

    name = "gemini"

    def __init__(self, key: str = GEMINI_KEY, model: str = "gemini-2.5-flash-image"):
        self.model = model
        super().__init__(key)

    def _problems(self, request: dict) -> list[str]:
        body = request["json"]
        if not isinstance(body, dict):
            return ["body is not a JSON object"]
        problems = []
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            return ["contents must be a non-empty list"]
        parts = contents[0].get("parts") if isinstance(contents[0], dict) else None
        if not isinstance(parts, list) or not parts:
            return ["contents[0].parts must be a non-empty list"]
        if not any(isinstance(p, dict) and isinstance(p.get("text"), str) and p["text"].strip() for p in parts):
            problems.append("no text part")
        for part in parts:
            inline = part.get("inline_data") or part.get("inlineData") if isinstance(part, dict) else None
            if inline is None:
                continue
            mime = inline.get("mime_type") or inline.get("mimeType")
            if mime not in ("image/png", "image/jpeg", "image/webp"):
                problems.append(f"inline_data mime_type {mime!r} not supported")
            try:
                decode_image(inline.get("data") or "")
            except ValueError as exc:
                problems.append(f"inline_data.data: {exc}")
        config = body.get("generationConfig") or {}
        if sorted(config.get("responseModalities") or []) != ["IMAGE", "TEXT"]:
            problems.append("generationConfig.responseModalities must be TEXT and IMAGE")
        ratio = (config.get("imageConfig") or {}).get("aspectRatio")
        if ratio not in GEMINI_RATIOS:
            problems.append(f"imageConfig.aspectRatio {ratio!r} is not supported")
        return problems

    def handle(self, handler, request):
        if request["method"] != "POST" or request["path"] != f"/v1beta/models/{self.model}:generateContent":
            return json_reply(handler, 404, _google_error(404, "NOT_FOUND", f"{request['path']} is not found."))
        key = request["headers"].get("x-goog-api-key")
        if not key:
            return json_reply(handler, 403, _google_error(403, "PERMISSION_DENIED",
                                                          "Method doesn't allow unregistered callers."))
        if key != self.key:
            return json_reply(handler, 400, _google_error(400, "INVALID_ARGUMENT",
                                                          "API key not valid. Please pass a valid API key."))
        request["problems"] = self._problems(request)
        if request["problems"]:
            return json_reply(handler, 400, _google_error(400, "INVALID_ARGUMENT", "; ".join(request["problems"])))
        mode = self.next_mode()
        if mode == "unavailable":
            return json_reply(handler, 503, _google_error(503, "UNAVAILABLE",
                                                          "The model is overloaded. Please try again later."))
        if mode == "rate_limited":
            return json_reply(handler, 429, _google_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted."))
        if mode == "malformed":
            return self.raw_reply(handler, 200, b'{"candidates": [{"content": ')
        if mode == "blocked":
            return json_reply(handler, 200, {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                                             "modelVersion": self.model})
        usage = {"promptTokenCount": 300, "candidatesTokenCount": 1290, "totalTokenCount": 1590}
        if mode in ("safety", "prohibited"):
            reason = "IMAGE_SAFETY" if mode == "safety" else "PROHIBITED_CONTENT"
            return json_reply(handler, 200, {"candidates": [{"finishReason": reason, "index": 0}],
                                             "usageMetadata": usage, "modelVersion": self.model})
        parts: list[dict] = [{"text": "Here is the image you asked for."}]
        if mode != "no_image":
            ratio = request["json"]["generationConfig"]["imageConfig"]["aspectRatio"]
            width, height = GEMINI_RATIOS[ratio]
            data = base64.b64encode(png_of(width // 8, height // 8)).decode()
            key_name, fields = ("inline_data", {"mime_type": "image/png", "data": data}) if mode == "snake_case" \
                else ("inlineData", {"mimeType": "image/png", "data": data})
            parts.append({key_name: fields})
        json_reply(handler, 200, {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP",
                                                  "index": 0}], "usageMetadata": usage, "modelVersion": self.model})


# --- Seedream ------------------------------------------------------------------------------

SEEDREAM_PIXELS = (("seedream-4-5", 2560 * 1440, 4096 * 4096), ("seedream-4-0", 1024 * 1024, 4096 * 4096),
                   ("seedream-3-0", 512 * 512, 2048 * 2048))


def _ark_error(code: str, message: str, kind: str = "BadRequest") -> dict:
    return {"error": {"code": code, "message": message, "param": "", "type": kind}}


class FakeSeedream(FakeProvider):
    """`POST /api/v3/images/generations` (BytePlus ModelArk, Seedream).

    Modes: ok, sensitive_input (400 InputTextSensitiveContentDetected), sensitive_output (400
    OutputImageSensitiveContentDetected), item_error (a 200 whose data item carries the error),
    unavailable (503), malformed, expired (the returned URL answers 403).
    The image is drawn at 1/8 of the asked size (the URL is what matters).
    """

    name = "seedream"

    def __init__(self, key: str = SEEDREAM_KEY, model: str = "seedream-4-0-250828"):
        self.model = model
        super().__init__(key)

    def _problems(self, body) -> list[str]:
        if not isinstance(body, dict):
            return ["body is not a JSON object"]
        problems = []
        if body.get("model") != self.model:
            problems.append(f"model {body.get('model')!r} is not {self.model!r}")
        if not isinstance(body.get("prompt"), str) or not body["prompt"].strip():
            problems.append("prompt is required")
        if body.get("response_format") != "url":
            problems.append("response_format must be url")
        if body.get("watermark") is not False:
            problems.append("watermark must be false")
        size = body.get("size")
        match = re.fullmatch(r"(\d+)x(\d+)", size or "") if isinstance(size, str) else None
        if not match:
            problems.append(f"size {size!r} is not WxH")
        else:
            width, height = int(match.group(1)), int(match.group(2))
            least, most = next(((lo, hi) for prefix, lo, hi in SEEDREAM_PIXELS if self.model.startswith(prefix)),
                               (1024 * 1024, 4096 * 4096))
            if not least <= width * height <= most:
                problems.append(f"size {size} has {width * height} pixels, outside [{least}, {most}]")
            if not 1 / 16 <= width / height <= 16:
                problems.append(f"size {size} has an aspect ratio outside [1/16, 16]")
        images = body.get("image", [])
        if isinstance(images, str):
            images = [images]
        if not isinstance(images, list) or len(images) > 10:
            problems.append("image must be a list of at most 10 images")
            images = []
        for index, url in enumerate(images):
            try:
                image = decode_data_url(url)
            except ValueError as exc:
                problems.append(f"image[{index}]: {exc}")
                continue
            if image.format not in ("PNG", "JPEG") or not 1 / 3 <= image.width / image.height <= 3:
                problems.append(f"image[{index}]: must be PNG or JPEG with an aspect within [1/3, 3]")
            if len(url) * 3 / 4 > 10 * 1024 * 1024:
                problems.append(f"image[{index}]: larger than 10 MB")
        return problems

    def handle(self, handler, request):
        if request["method"] != "POST" or request["path"] != "/api/v3/images/generations":
            return json_reply(handler, 404, _ark_error("NotFound", "The requested resource was not found.", "NotFound"))
        if request["headers"].get("authorization") != f"Bearer {self.key}":
            return json_reply(handler, 401, _ark_error(
                "AuthenticationError", "The API key or AK/SK in the request is missing or invalid.", "Unauthorized"))
        request["problems"] = self._problems(request["json"])
        if request["problems"]:
            return json_reply(handler, 400, _ark_error("InvalidParameter", "; ".join(request["problems"])))
        mode = self.next_mode()
        if mode == "sensitive_input":
            return json_reply(handler, 400, _ark_error(
                "InputTextSensitiveContentDetected",
                "The request failed because the input text may contain sensitive information. Request id: 0217"))
        if mode == "sensitive_output":
            return json_reply(handler, 400, _ark_error(
                "OutputImageSensitiveContentDetected",
                "The request failed because the output image may contain sensitive information. Request id: 0217"))
        if mode == "unavailable":
            return json_reply(handler, 503, _ark_error("ServiceUnavailable", "Service temporarily unavailable.",
                                                       "ServiceUnavailable"))
        if mode == "malformed":
            return self.raw_reply(handler, 200, b"<html>gateway</html>")
        size = request["json"]["size"]
        width, height = (int(v) for v in size.split("x"))
        name = f"seedream-{next(_ids)}.png"
        url = f"{self.files_url}/{name}"
        if mode != "expired":
            self.add_file(name, png_of(width // 8, height // 8))
        item = {"url": url, "size": size}
        if mode == "item_error":
            item = {"error": {"code": "OutputImageSensitiveContentDetected",
                              "message": "The output image may contain sensitive information."}}
        json_reply(handler, 200, {"model": self.model, "created": int(time.time()), "data": [item],
                                  "usage": {"generated_images": 1, "output_tokens": 4096, "total_tokens": 4096}})


# --- fal -----------------------------------------------------------------------------------

def mp4_of(width: int = 320, height: int = 180, seconds: float = 1.0) -> bytes:
    """A real H.264 MP4 of one colour (ffmpeg), for video models' outputs."""
    key = (width, height, seconds)
    if key not in _VIDEOS:
        from django.conf import settings

        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.mp4"
            subprocess.run(
                [getattr(settings, "FFMPEG_BINARY", "ffmpeg"), "-v", "error", "-f", "lavfi", "-i",
                 f"color=c=0x18a860:s={width}x{height}:d={seconds}:r=24", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                 "-movflags", "+faststart", str(out)],
                check=True, timeout=60,
            )
            _VIDEOS[key] = out.read_bytes()
    return _VIDEOS[key]


_VIDEOS: dict[tuple, bytes] = {}
_FAL_RATIOS = {"16:9": (320, 180), "9:16": (180, 320), "1:1": (240, 240)}


class FakeFal(FakeProvider):
    """fal's queue (https://docs.fal.ai/model-apis/model-endpoints/queue).

    `POST /{model}` (Authorization: Key …) → {request_id, status_url, response_url, cancel_url};
    `GET /{app}/requests/{id}/status` walks `status_script` (default IN_QUEUE, IN_PROGRESS,
    COMPLETED; the last entry repeats); `GET /{app}/requests/{id}` → the output; `PUT
    /{app}/requests/{id}/cancel`. `self.queue[request_id]` holds each request (model, arguments,
    polls (every status request), cancelled).

    Modes (chosen at submit): ok, never (stays IN_PROGRESS), nsfw (has_nsfw_concepts true),
    content_policy (COMPLETED with an error; the result is a 422 content_policy_violation),
    failed (COMPLETED with an error; the result is a 500), submit_unavailable (503 on submit),
    status_unavailable (one 503 on the first status poll), malformed (the result is not JSON).
    Image models answer `images` (num_images of them, at image_size, or the input image's size
    for image-to-image); models with "video" in their id answer `video` (a real MP4).
    """

    name = "fal"

    def __init__(self, key: str = FAL_KEY):
        self.queue: dict[str, dict] = {}
        self.status_script = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
        super().__init__(key)

    def app_of(self, model: str) -> str:
        return "/".join(model.split("/")[:2])

    def _submit(self, handler, request):
        model = request["path"].strip("/")
        arguments = request["json"]
        if not isinstance(arguments, dict):
            request["problems"] = ["body is not a JSON object"]
            return json_reply(handler, 422, {"detail": [{"loc": ["body"], "msg": "Input should be an object",
                                                         "type": "model_attributes_type"}]})
        problems = []
        if not isinstance(arguments.get("prompt"), str) or not arguments["prompt"].strip():
            problems.append(("prompt", "Field required"))
        if "image-to" in model and not isinstance(arguments.get("image_url"), str):
            problems.append(("image_url", "Field required"))
        if isinstance(arguments.get("image_url"), str) and arguments["image_url"].startswith("data:"):
            try:
                decode_data_url(arguments["image_url"])
            except ValueError as exc:
                problems.append(("image_url", str(exc)))
        request["problems"] = [f"{field}: {msg}" for field, msg in problems]
        if problems:
            return json_reply(handler, 422, {"detail": [{"loc": ["body", field], "msg": msg, "type": "value_error"}
                                                        for field, msg in problems]})
        mode = self.next_mode()
        if mode == "submit_unavailable":
            return json_reply(handler, 503, {"detail": "Service Unavailable"})
        request_id = str(uuid.uuid4())
        self.queue[request_id] = {"model": model, "app": self.app_of(model), "arguments": arguments, "mode": mode,
                                  "polls": 0, "answered": 0, "cancelled": False,
                                  "status": "IN_QUEUE"}
        base = f"{self.base_url}/{self.app_of(model)}/requests/{request_id}"
        json_reply(handler, 200, {"request_id": request_id, "response_url": base, "status_url": f"{base}/status",
                                  "cancel_url": f"{base}/cancel", "queue_position": 0})

    def _status_of(self, entry: dict) -> str:
        if entry["cancelled"]:
            return "COMPLETED"
        if entry["mode"] == "never":
            return "IN_PROGRESS"
        index = min(entry["answered"] - 1, len(self.status_script) - 1)
        return self.status_script[max(0, index)]

    def _output(self, entry: dict) -> dict:
        arguments = entry["arguments"]
        if "video" in entry["model"]:
            width, height = _FAL_RATIOS.get(str(arguments.get("aspect_ratio")), (320, 180))
            seconds = min(10.0, float(arguments.get("duration") or 5))
            name = f"fal-{next(_ids)}.mp4"
            data = mp4_of(width, height, seconds)
            return {"video": {"url": self.add_file(name, data), "content_type": "video/mp4", "file_name": "output.mp4",
                              "file_size": len(data)}}
        size = arguments.get("image_size")
        if isinstance(arguments.get("image_url"), str) and arguments["image_url"].startswith("data:"):
            width, height = decode_data_url(arguments["image_url"]).size
        elif isinstance(size, dict):
            width, height = int(size.get("width") or 512), int(size.get("height") or 512)
        else:
            width, height = 1024, 768
        count = int(arguments.get("num_images") or 1)
        images = []
        for _ in range(count):
            name = f"fal-{next(_ids)}.png"
            url = self.add_file(name, png_of(max(8, width // 8), max(8, height // 8)))
            images.append({"url": url, "width": width, "height": height, "content_type": "image/png"})
        return {"images": images, "timings": {"inference": 1.2}, "seed": arguments.get("seed", 42),
                "has_nsfw_concepts": [entry["mode"] == "nsfw"] * count, "prompt": arguments.get("prompt")}

    def handle(self, handler, request):
        if request["headers"].get("authorization") != f"Key {self.key}":
            return json_reply(handler, 401, {"detail": "Unauthorized: missing or invalid key"})
        match = re.fullmatch(r"/(?P<app>[^/]+/[^/]+)/requests/(?P<id>[^/]+)(?P<tail>/status|/cancel)?", request["path"])
        if request["method"] == "POST" and not match:
            return self._submit(handler, request)
        entry = self.queue.get(match.group("id")) if match else None
        if entry is None or entry["app"] != match.group("app"):
            return json_reply(handler, 404, {"detail": "Request not found"})
        tail = match.group("tail")
        if tail == "/status" and request["method"] == "GET":
            entry["polls"] += 1
            if entry["mode"] == "status_unavailable" and entry["polls"] == 1:
                return json_reply(handler, 503, {"detail": "Service Unavailable"})
            entry["answered"] += 1
            status = self._status_of(entry)
            entry["status"] = status
            base = f"{self.base_url}/{entry['app']}/requests/{match.group('id')}"
            body = {"status": status, "request_id": match.group("id"), "response_url": base,
                    "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}
            if status == "IN_QUEUE":
                body["queue_position"] = 0
            if status == "COMPLETED" and entry["cancelled"]:
                body.update(error="Request was cancelled", error_type="request_cancelled")
            elif status == "COMPLETED" and entry["mode"] in ("content_policy", "failed"):
                body.update(error="The content could not be processed" if entry["mode"] == "content_policy"
                            else "Runner crashed", error_type="content_policy_violation"
                            if entry["mode"] == "content_policy" else "runner_server_error")
            return json_reply(handler, 200, body)
        if tail == "/cancel" and request["method"] == "PUT":
            if entry["status"] == "COMPLETED" and not entry["cancelled"]:
                return json_reply(handler, 400, {"status": "ALREADY_COMPLETED"})
            entry["cancelled"] = True
            return json_reply(handler, 202, {"status": "CANCELLATION_REQUESTED"})
        if tail is None and request["method"] == "GET":
            if entry["status"] != "COMPLETED":
                return json_reply(handler, 400, {"detail": "Request is still in progress"})
            if entry["mode"] == "content_policy":
                return json_reply(handler, 422, {"detail": [{"loc": ["body", "prompt"], "msg": "Content policy violation",
                                                             "type": "content_policy_violation"}]})
            if entry["mode"] == "failed":
                return json_reply(handler, 500, {"detail": "Internal Server Error"})
            if entry["mode"] == "malformed":
                return self.raw_reply(handler, 200, b"{'images': oops")
            return json_reply(handler, 200, self._output(entry))
        json_reply(handler, 405, {"detail": "Method Not Allowed"})


# --- OpenRouter ----------------------------------------------------------------------------

class FakeOpenRouter(FakeProvider):
    """`POST /api/v1/chat/completions` with `modalities` including image
    (https://openrouter.ai/docs/features/multimodal/image-generation).

    Modes: ok (the input photo, tinted, as a PNG data URL in message.images), error_in_body (a 200
    carrying `error`), no_image (a text-only reply), content_filter (finish_reason content_filter),
    flagged (403: input flagged by moderation), unavailable (503), malformed.
    """

    name = "openrouter"

    def __init__(self, key: str = OPENROUTER_KEY, model: str = "google/gemini-3-pro-image-preview"):
        self.model = model
        super().__init__(key)

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v1"

    def _problems(self, body) -> tuple[list[str], Image.Image | None]:
        if not isinstance(body, dict):
            return ["body is not a JSON object"], None
        problems, photo = [], None
        if body.get("model") != self.model:
            problems.append(f"model {body.get('model')!r} is not {self.model!r}")
        if "image" not in (body.get("modalities") or []):
            problems.append("modalities must include image")
        messages = body.get("messages")
        content = messages[0].get("content") if isinstance(messages, list) and messages and isinstance(
            messages[0], dict) and messages[0].get("role") == "user" else None
        if not isinstance(content, list):
            return problems + ["messages[0] must be a user message with a list of content parts"], None
        if not any(isinstance(p, dict) and p.get("type") == "text" and str(p.get("text") or "").strip() for p in content):
            problems.append("no text part")
        urls = [(p.get("image_url") or {}).get("url") for p in content
                if isinstance(p, dict) and p.get("type") == "image_url"]
        if not urls:
            problems.append("no image_url part")
        for url in urls:
            try:
                photo = decode_data_url(url)
            except ValueError as exc:
                problems.append(f"image_url: {exc}")
        return problems, photo

    def _reply(self, message: dict, finish: str = "stop", native: str = "STOP") -> dict:
        return {"id": f"gen-{next(_ids)}", "provider": "Google", "model": self.model, "object": "chat.completion",
                "created": int(time.time()),
                "choices": [{"logprobs": None, "finish_reason": finish, "native_finish_reason": native, "index": 0,
                             "message": {"role": "assistant", "refusal": None, "reasoning": None, **message}}],
                "usage": {"prompt_tokens": 1290, "completion_tokens": 1300, "total_tokens": 2590}}

    def handle(self, handler, request):
        if request["method"] != "POST" or request["path"] != "/api/v1/chat/completions":
            return json_reply(handler, 404, {"error": {"code": 404, "message": "Not Found"}})
        if request["headers"].get("authorization") != f"Bearer {self.key}":
            return json_reply(handler, 401, {"error": {"code": 401, "message": "No auth credentials found"}})
        request["problems"], photo = self._problems(request["json"])
        if request["problems"]:
            return json_reply(handler, 400, {"error": {"code": 400, "message": "; ".join(request["problems"])}})
        mode = self.next_mode()
        if mode == "unavailable":
            return json_reply(handler, 503, {"error": {"code": 503, "message": "No instances available"}})
        if mode == "malformed":
            return self.raw_reply(handler, 200, b'{"choices": [{"message": ')
        if mode == "flagged":
            return json_reply(handler, 403, {"error": {"code": 403, "message": "Input flagged by moderation",
                                                       "metadata": {"reasons": ["violence/graphic"], "flagged_input": "…",
                                                                    "provider_name": "Google", "model_slug": self.model}}})
        if mode == "error_in_body":
            return json_reply(handler, 200, {"error": {"code": 502, "message": "Provider returned error",
                                                       "metadata": {"provider_name": "Google", "raw": "upstream 500"}}})
        if mode == "no_image":
            return json_reply(handler, 200, self._reply({"content": "I can't edit this photo, but here is a description."}))
        if mode == "content_filter":
            return json_reply(handler, 200, self._reply({"content": ""}, "content_filter", "IMAGE_SAFETY"))
        tinted = Image.blend(photo.convert("RGB"), Image.new("RGB", photo.size, IMAGE_COLOR), 0.5)
        buffer = io.BytesIO()
        tinted.save(buffer, format="PNG")
        url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
        json_reply(handler, 200, self._reply({"content": "Here is your restyled photo.",
                                              "images": [{"type": "image_url", "image_url": {"url": url}, "index": 0}]}))


# --- fixtures ------------------------------------------------------------------------------

@pytest.fixture
def fake_gemini(settings):
    with FakeGemini(model=settings.GEMINI_IMAGE_MODEL) as server:
        settings.GEMINI_API_KEY = server.key
        settings.GEMINI_BASE_URL = server.base_url
        yield server


@pytest.fixture
def fake_seedream(settings):
    with FakeSeedream(model=settings.SEEDREAM_MODEL) as server:
        settings.SEEDREAM_API_KEY = server.key
        settings.SEEDREAM_BASE_URL = server.base_url
        yield server


@pytest.fixture
def fake_fal(settings):
    with FakeFal() as server:
        settings.FAL_KEY = server.key
        settings.FAL_QUEUE_URL = server.base_url
        settings.FAL_POLL_SECONDS = 0.05
        yield server


@pytest.fixture
def fake_openrouter(settings):
    with FakeOpenRouter(model=settings.OPENROUTER_MODEL) as server:
        settings.OPENROUTER_API_KEY = server.key
        settings.OPENROUTER_BASE_URL = server.api_url
        yield server


__all__ = ["FakeFal", "FakeGemini", "FakeOpenRouter", "FakeProvider", "FakeSeedream", "IMAGE_COLOR", "decode_data_url",
           "decode_image", "fake_fal", "fake_gemini", "fake_openrouter", "fake_seedream", "mp4_of", "png_of"]
