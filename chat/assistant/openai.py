"""Any OpenAI-compatible chat-completions server (OpenAI, OpenRouter, vLLM, Ollama) by
`CHAT_OPENAI_BASE_URL`, `CHAT_OPENAI_API_KEY` and `CHAT_OPENAI_MODEL`.

Every call streams (`stream: true`, with `stream_options.include_usage`): the server sends
server-sent events `data: {chunk}` whose `choices[].delta.content` pieces are the answer, lines
starting with `:` are comments (keep-alives), a last chunk with empty `choices` carries `usage`,
and `data: [DONE]` ends it. Text meant for the person goes out as `message.delta` events as it
arrives; usage is recorded as the message's tokens.

- process_requirements: the requirements as structured output (`response_format: json_schema`),
  validated with `requirements_clean` like a person's edits; then a short reply, streamed.
- generate_scad: OpenSCAD in a fenced block, streamed; accepted only after the same render with
  `--hardwarnings` and mesh check as the local backend's, with one repair round that feeds the
  OpenSCAD error (or the failed check) back (`chat.runs`).

Failures are classified as the provider client does: 429 and 5xx before the stream starts are
retried (`Retry-After` honoured, bounded); an error chunk after the stream started, a stream
that ends without `[DONE]`, and an answer that is not JSON fail the run with what was streamed kept.
"""

import json
import random
import time

import httpx
from django.conf import settings

from pipeline.providers import RETRYABLE_STATUS, retry_after_seconds

from .backends import assistant_error, local_design, requirements_checked
from .text import scad_from_text

ATTEMPTS = 3
MAX_RETRY_AFTER = 30.0
CANCEL_CHECK_SECONDS = 0.5

REQUIREMENTS_SCHEMA = {
    "name": "design_requirements",
    "strict": True,
    "schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["model_type", "primary_function", "description_natural_language", "standard_components",
                     "custom_description", "dimensions", "open_questions", "assumptions"],
        "properties": {
            "model_type": {"type": "string"},
            "primary_function": {"type": "string"},
            "description_natural_language": {"type": "string"},
            "standard_components": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["name", "search_term"],
                "properties": {"name": {"type": "string"}, "search_term": {"type": "string"}}}},
            "custom_description": {"type": "string"},
            "dimensions": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["name", "value", "unit", "value_mm"],
                "properties": {"name": {"type": "string"}, "value": {"type": "number"}, "unit": {"type": "string"},
                               "value_mm": {"type": "number"}}}},
            "open_questions": {"type": "array", "items": {"type": "string"}},
            "assumptions": {"type": "array", "items": {"type": "string"}},
        },
    },
}

REQUIREMENTS_PROMPT = (
    "You are a mechanical designer taking a brief for a 3D-printable part. Read the conversation and answer "
    "only with the requirements as JSON in the given schema: model_type (one or two words, e.g. drone, "
    "bracket, enclosure), primary_function, description_natural_language, standard_components with a "
    "search_term a buyer would type, custom_description, every size the person gave in dimensions (value, "
    "unit and value_mm), the questions a designer would still ask (sizes, material, mounting) and what you assumed."
)
REPLY_PROMPT = (
    "You are a friendly mechanical designer. In three or four plain sentences, tell the person what you "
    "understood from these requirements, what you assumed, and ask the open questions. No JSON, no lists."
)
SCAD_PROMPT = (
    "You write parametric OpenSCAD for 3D printing, in millimetres, Z up, the part resting on z = 0. Start with "
    "one or two sentences on the design, then give the whole model in one ```openscad block. Top-level "
    "parameters as plain numbers; no include, use, import or surface; $fn at most 64. Every requirement with a "
    "size must be honoured exactly."
)


class OpenAIBackend:
    name = "openai"
    repair_rounds = 1
    streams = True
    needs = "CHAT_OPENAI_BASE_URL and CHAT_OPENAI_MODEL"

    def __init__(self):
        self.base_url = settings.CHAT_OPENAI_BASE_URL.rstrip("/")
        self.model = settings.CHAT_OPENAI_MODEL

    def is_configured(self) -> bool:
        return bool(self.base_url and self.model)

    def _headers(self) -> dict:
        key = settings.CHAT_OPENAI_API_KEY
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _client(self) -> httpx.Client:
        timeout = settings.CHAT_OPENAI_TIMEOUT_SECONDS
        return httpx.Client(timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)), follow_redirects=False)

    def health(self) -> dict:
        try:
            with self._client() as http:
                response = http.get(f"{self.base_url}/models", headers=self._headers())
        except httpx.HTTPError as exc:
            return {"status": "unavailable", "backend": self.name, "error": type(exc).__name__}
        if response.status_code != 200:
            return {"status": "unavailable", "backend": self.name, "error": f"HTTP {response.status_code}"}
        try:
            models = [m.get("id") for m in response.json().get("data", []) if isinstance(m, dict)]
        except (ValueError, AttributeError):
            return {"status": "unavailable", "backend": self.name, "error": "the model list is not JSON"}
        return {"status": "ready", "backend": self.name, "model": self.model, "model_listed": self.model in models}

    # --- one streamed completion ----------------------------------------------------------

    def complete(self, ctx, messages: list[dict], *, response_format: dict | None = None, on_delta=None) -> tuple[str, int]:
        """Stream one completion; (the whole text, total tokens). `on_delta(text)` gets each piece."""
        body = {"model": self.model, "messages": messages, "stream": True, "stream_options": {"include_usage": True}}
        if response_format:
            body["response_format"] = response_format
        last = ""
        with self._client() as http:
            for attempt in range(ATTEMPTS):
                try:
                    with http.stream("POST", f"{self.base_url}/chat/completions", json=body, headers=self._headers()) as response:
                        if response.status_code == 200:
                            return self._read(ctx, response, on_delta)
                        response.read()
                        status, detail = response.status_code, " ".join(response.text.split())[:300]
                        if status in (401, 403):
                            raise assistant_error(f"The model server refused our key (HTTP {status}).", "provider_auth")
                        if status not in RETRYABLE_STATUS:
                            raise assistant_error(f"The model server rejected the request (HTTP {status}): {detail}",
                                                  "provider_rejected")
                        last = f"HTTP {status}"
                        wait = retry_after_seconds(response.headers.get("Retry-After"))
                except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                    last, wait = type(exc).__name__, None
                except httpx.TimeoutException as exc:
                    raise assistant_error("The model server stopped answering.", "provider_timeout") from exc
                except httpx.TransportError as exc:
                    raise assistant_error(f"The model server dropped the answer ({type(exc).__name__}).",
                                          "provider_unavailable") from exc
                if attempt + 1 < ATTEMPTS:
                    if wait is not None and wait > MAX_RETRY_AFTER:
                        break
                    delay = wait if wait is not None else 0.5 * 2**attempt * random.uniform(0.8, 1.2)
                    if delay > ctx.seconds_left:
                        break
                    time.sleep(delay)
                    ctx.check()
        raise assistant_error(f"The model server is unavailable ({last}).", "provider_unavailable")

    def _read(self, ctx, response: httpx.Response, on_delta) -> tuple[str, int]:
        text, tokens, done = [], 0, False
        checked = time.monotonic()
        for line in response.iter_lines():
            if not line or line.startswith(":"):
                continue  # event boundary or an SSE comment (keep-alive)
            if not line.startswith("data:"):
                continue  # `event:`, `id:`, `retry:` fields carry nothing we use
            payload = line[5:].strip()
            if payload == "[DONE]":
                done = True
                break
            try:
                chunk = json.loads(payload)
            except ValueError:
                raise assistant_error("The model server sent a chunk that is not JSON.", "provider_output")
            if not isinstance(chunk, dict):
                raise assistant_error("The model server sent a chunk we cannot read.", "provider_output")
            if chunk.get("error"):
                error = chunk["error"]
                detail = error.get("message") if isinstance(error, dict) else str(error)
                raise assistant_error(f"The model server failed while answering: {str(detail)[:300]}", "provider_failed")
            usage = chunk.get("usage")
            if isinstance(usage, dict) and isinstance(usage.get("total_tokens"), int):
                tokens = usage["total_tokens"]
            for choice in chunk.get("choices") or []:
                piece = ((choice or {}).get("delta") or {}).get("content") if isinstance(choice, dict) else None
                if isinstance(piece, str) and piece:
                    text.append(piece)
                    if on_delta is not None:
                        on_delta(piece)  # stops us (RunCancelled) when the person pressed stop
            if on_delta is None and time.monotonic() - checked > CANCEL_CHECK_SECONDS:
                ctx.check()
                checked = time.monotonic()
        if not done:
            raise assistant_error("The model server's stream ended before it finished.", "provider_unavailable")
        return "".join(text), tokens

    # --- the actions ----------------------------------------------------------------------

    def _conversation(self, ctx) -> list[dict]:
        messages = [{"role": m["role"] if m["role"] in ("user", "assistant", "system") else "user", "content": m["content"]}
                    for m in ctx.history]
        if ctx.content:
            messages.append({"role": "user", "content": ctx.content})
        return messages

    def requirements(self, ctx, quiet: bool = False) -> tuple[dict, int]:
        messages = [{"role": "system", "content": REQUIREMENTS_PROMPT}, *self._conversation(ctx)]
        if ctx.requirements_json:
            messages.append({"role": "user", "content": "Start from these requirements: " + json.dumps(ctx.requirements_json)})
        answer, tokens = self.complete(ctx, messages, response_format={"type": "json_schema", "json_schema": REQUIREMENTS_SCHEMA})
        try:
            found = json.loads(answer)
        except ValueError:
            raise assistant_error("The model answered requirements that are not JSON.", "provider_output")
        requirements = requirements_checked(found)
        if not quiet:
            _, more = self.complete(ctx, [{"role": "system", "content": REPLY_PROMPT},
                                          {"role": "user", "content": json.dumps(requirements)}], on_delta=ctx.delta)
            tokens += more
        return requirements, tokens

    def design(self, ctx, requirements: dict, feedback: str | None = None) -> tuple[dict, int]:
        design = local_design(requirements)  # what the model's part must measure, for the check
        ask = "Requirements:\n" + json.dumps(requirements)
        if design.get("expected_bbox_mm"):
            size = " × ".join(f"{v:g}" for v in design["expected_bbox_mm"])
            ask += f"\nThe finished part must measure {size} mm (x × y × z)."
        if feedback:
            ask += f"\n\n{feedback}\nAnswer with the corrected model."
        answer, tokens = self.complete(ctx, [{"role": "system", "content": SCAD_PROMPT}, {"role": "user", "content": ask}],
                                       on_delta=ctx.delta)
        source = scad_from_text(answer)
        if not source or "```" not in answer:
            raise assistant_error("The model answered without an OpenSCAD block.", "provider_output")
        design["source"] = source
        return design, tokens
