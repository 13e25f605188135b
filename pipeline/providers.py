"""One HTTP client for every remote provider (RunPod, OpenAI moderation; image and chat APIs next).

What every provider call needs, in one place:
- timeouts on every request;
- bounded retries of 429, 5xx and connection failures, with exponential backoff or the wait
  the provider asks for in `Retry-After` (seconds or an HTTP date); a wait longer than
  `max_retry_after` is not sat through: the call fails as `provider_unavailable` at once;
- `once=True` for a call that starts something that costs money (a create): it is retried only
  when the provider surely did not act on it (the connection was never made, or a 429 refused
  it). A 5xx or a lost answer may have started the remote work, and a second submission would
  start, and bill, a second one;
- failures classified in `ProviderError.error_type`: provider_auth (401/403), provider_rejected
  (other 4xx), provider_unavailable (5xx, 429 and network failures after the retries),
  provider_timeout (no answer in time), provider_output (an answer or a file we cannot use),
  safety (set by an adapter when the provider refused the content);
- `download` copies an output file (provider URLs expire) with a size cap.

The client's headers (API keys) go only to the origin of `base_url`: an output URL on another
host (a signed storage URL) never sees them. Nor is an address taken from a provider's answer a
way into our network: a URL off the provider's own origin (and every redirect) must resolve to
public addresses only, unless the provider itself is configured at a private address (a
self-hosted model server, the tests' local servers).
"""

import email.utils
import ipaddress
import logging
import random
import socket
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from .engines import EngineError

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}
DETAIL_CHARS = 300


class ProviderError(EngineError):
    """A provider call failed; `error_type` says how (see the module docstring)."""

    def __init__(self, message: str, error_type: str = "provider_unavailable", *, status_code: int | None = None,
                 detail: str = ""):
        super().__init__(message, error_type=error_type)
        self.status_code, self.detail = status_code, detail


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds from now: a number of seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _detail(response: httpx.Response) -> str:
    """A short, single-line excerpt of an error body (the provider's own words), for the log."""
    try:
        text = response.text
    except (httpx.HTTPError, UnicodeDecodeError):
        return ""
    return " ".join(text.split())[:DETAIL_CHARS]


MAX_REDIRECTS = 5


def _host_is_public(host: str | None) -> bool:
    """Every address `host` resolves to is a global one (not loopback, private, link-local…)."""
    if not host:
        return False
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_global for info in infos)


class ProviderClient:
    def __init__(self, name: str, base_url: str, headers: dict, timeout: float = 20, attempts: int = 3, *,
                 max_retry_after: float = 30.0, backoff: float = 0.5):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)
        self.attempts = max(1, attempts)
        self.max_retry_after = max_retry_after
        self.backoff = backoff
        self.http = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False)
        self._private_network: bool | None = None  # is the provider itself on a private address?

    def __enter__(self) -> "ProviderClient":
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def close(self) -> None:
        self.http.close()

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def _reachable(self, url: str) -> str:
        """`url`, if we may fetch it: http(s), and on the provider's origin or a public host."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ProviderError(f"{self.name} gave an address we do not fetch.", "provider_output")
        if _origin(url) != _origin(self.base_url) and not _host_is_public(parts.hostname):
            if self._private_network is None:
                self._private_network = not _host_is_public(urlsplit(self.base_url).hostname)
            if not self._private_network:
                raise ProviderError(f"{self.name} gave an address on a private network; not fetched.", "provider_output")
        return url

    def _headers_for(self, url: str, extra: dict | None) -> dict:
        headers = dict(self.headers) if _origin(url) == _origin(self.base_url) else {}
        headers.update(extra or {})
        return headers

    def _wait(self, attempt: int, retry_after: float | None, last: str) -> None:
        """Sleep before the next attempt: what the provider asked for, else exponential backoff."""
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                raise ProviderError(
                    f"{self.name} asks to retry in {retry_after:.0f} s ({last}).", "provider_unavailable",
                )
            delay = retry_after
        else:
            delay = min(self.max_retry_after, self.backoff * 2**attempt) * random.uniform(0.8, 1.2)
        time.sleep(delay)

    def request(self, method: str, path_or_url: str, *, once: bool = False, expect_json: bool = True, **kwargs):
        """One call with bounded retries; the parsed JSON (or the response with expect_json=False).

        Raises ProviderError, classified.
        """
        url = self._reachable(self.url(path_or_url))
        headers = self._headers_for(url, kwargs.pop("headers", None))
        last = ""
        for attempt in range(self.attempts):
            retry_after = None
            try:
                response = self.http.request(method, url, headers=headers, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Nothing reached the provider: safe to try again, even a create.
                last = type(exc).__name__
            except httpx.TimeoutException as exc:
                last = type(exc).__name__
                if once:
                    raise ProviderError(
                        f"{self.name} did not answer in time; not resubmitted, it may have started.", "provider_timeout",
                    ) from exc
            except httpx.TransportError as exc:
                last = type(exc).__name__
                if once:
                    raise ProviderError(
                        f"{self.name}'s answer was lost ({last}); not resubmitted, it may have started.",
                        "provider_unavailable",
                    ) from exc
            else:
                status = response.status_code
                if status < 300:
                    return self._answer(response, expect_json)
                detail = _detail(response)
                if status in (401, 403):
                    raise ProviderError(f"{self.name} refused our credentials (HTTP {status}).", "provider_auth",
                                        status_code=status, detail=detail)
                if status not in RETRYABLE_STATUS:
                    raise ProviderError(f"{self.name} rejected the request (HTTP {status}): {detail}",
                                        "provider_rejected", status_code=status, detail=detail)
                last = f"HTTP {status}"
                if once and status != 429:
                    raise ProviderError(
                        f"{self.name} is unavailable (HTTP {status}); not resubmitted, it may have started.",
                        "provider_unavailable", status_code=status, detail=detail,
                    )
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if attempt + 1 < self.attempts:
                logger.info("%s %s %s: %s; retrying", self.name, method, path_or_url, last)
                self._wait(attempt, retry_after, last)
        raise ProviderError(f"{self.name} is unavailable ({last}).", "provider_unavailable")

    def _answer(self, response: httpx.Response, expect_json: bool):
        if not expect_json:
            return response
        try:
            return response.json()
        except ValueError:
            raise ProviderError(f"{self.name} answered with something other than JSON.", "provider_output",
                                status_code=response.status_code, detail=_detail(response))

    def download(self, url: str, path: Path, *, max_bytes: int) -> int:
        """Copy `url` into `path`; its size. Refuses (and removes) a file larger than `max_bytes`.

        GET is safe to repeat, so connection failures and 429/5xx are retried like `request`.
        """
        start = self._reachable(self.url(url))
        path = Path(path)
        last = ""
        for attempt in range(self.attempts):
            retry_after = None
            url = start
            try:
                for _ in range(MAX_REDIRECTS + 1):  # each hop checked like the first address
                    with self.http.stream("GET", url, headers=self._headers_for(url, None)) as response:
                        status = response.status_code
                        if status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                            url = self._reachable(str(response.url.join(response.headers["Location"])))
                            continue
                        if status == 200:
                            return self._save(response, path, max_bytes)
                        break
                else:
                    raise ProviderError(f"An output of {self.name} redirects too often.", "provider_output")
                last = f"HTTP {status}"
                if status not in RETRYABLE_STATUS:
                    raise ProviderError(f"Could not fetch an output of {self.name} ({last}).", "provider_output",
                                        status_code=status)
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            except httpx.TransportError as exc:
                path.unlink(missing_ok=True)
                last = type(exc).__name__
            if attempt + 1 < self.attempts:
                self._wait(attempt, retry_after, last)
        raise ProviderError(f"Could not fetch an output of {self.name} ({last}).", "provider_output")

    def _save(self, response: httpx.Response, path: Path, max_bytes: int) -> int:
        too_big = ProviderError(f"An output of {self.name} is larger than {max_bytes} bytes.", "provider_output")
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise too_big
        size = 0
        try:
            with path.open("wb") as handle:
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise too_big
                    handle.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return size
