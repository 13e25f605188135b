"""Limits on what API input may contain, checked in one place for every endpoint.

* JSON text (`json_loads_checked`): at most API_JSON_MAX_DEPTH levels of nesting, no lone UTF-16
  surrogate and no NUL character in any string or key. The API's JSON parser (`parsers.JSONParser`)
  and the JSON fields of form posts both go through it, so neither a RecursionError, a string that
  cannot be encoded (a lone surrogate: stored on SQLite, then unreadable for ever) nor a NUL
  (PostgreSQL refuses it in `text` and `jsonb`) reaches a view. Numbers must be finite: `1e999`
  is valid JSON text but parses to `inf`, which Django writes as `Infinity` (not JSON: PostgreSQL
  refuses it, a 500), and a row that holds `1e999` reads back as inf, which DRF's strict JSON
  rendering cannot write (every later read a 500).
  Errors name the path of the value (`params.prompt`, `metadata_json.tags.0`), never echo it.
* JSON fields (`JSONField`): each value at most API_JSON_FIELD_MAX_BYTES encoded,
  API_JSON_FIELD_MAX_DEPTH deep and API_JSON_FIELD_MAX_ITEMS keys and array items in all.
* Integers (`BoundedIntegerField`, `query_int`): within [-API_INTEGER_MAX, API_INTEGER_MAX] unless
  the field sets its own bounds; query parameters use the same field as bodies.

`StrictSerializer` maps every plain `serializers.JSONField` / `serializers.IntegerField` it declares
onto these fields, so a serializer written tomorrow is covered without knowing this module.
"""

from __future__ import annotations

import json
import math
import re

from django.conf import settings
from rest_framework import serializers
from rest_framework.exceptions import ParseError, ValidationError

_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
# In JSON text a lone surrogate or a NUL can only arrive as a \u escape (the body is decoded as
# strict UTF-8, which has no surrogates; a raw NUL is invalid JSON inside a string).
_BAD_ESCAPE = re.compile(rb"\\u(?:[dD][89a-fA-F]|0000)")
_PATH_PART_CHARS = 64
_NOT_FINITE = "This number is not finite (1e999 overflows to infinity); JSON numbers must be finite."


class JSONInputError(Exception):
    """A JSON value breaks a limit; `path` names where (dotted keys and indices, "" for the top)."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


def _setting(name: str) -> int:
    return getattr(settings, name)


def _join(path: str, part) -> str:
    part = str(part)
    if len(part) > _PATH_PART_CHARS:
        part = part[:_PATH_PART_CHARS] + "…"
    return f"{path}.{part}" if path else part


def _bad_text_message(text: str) -> str:
    match = _BAD_CHARACTER.search(text)
    if match.group() == "\x00":
        return "contains a NUL character (\\u0000), which is not accepted."
    return "contains a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape), which is not valid Unicode."


def check_json_value(value, *, max_depth: int, max_items: int | None = None, check_text: bool = True,
                     path: str = "") -> int:
    """Walk a parsed JSON value without recursion; raise JSONInputError at the first value that
    is nested deeper than `max_depth` (containers count: `[]` is depth 1), has more than
    `max_items` keys and items in all, is a number that is not finite (inf, -inf, nan: JSON
    has no such number), or (with `check_text`) holds a NUL or a lone surrogate in a string or
    key. Returns the number of keys and items seen."""
    items = 0
    stack = [(value, path, 0)]
    while stack:
        node, where, depth = stack.pop()
        if isinstance(node, float):
            if not math.isfinite(node):
                raise JSONInputError(where, _NOT_FINITE)
            continue
        if isinstance(node, str):
            if check_text and _BAD_CHARACTER.search(node):
                raise JSONInputError(where, f"This value {_bad_text_message(node)}")
            continue
        if isinstance(node, dict):
            children = node.items()
        elif isinstance(node, list):
            children = enumerate(node)
        else:
            continue
        depth += 1
        if depth > max_depth:
            raise JSONInputError(where, f"Nested deeper than {max_depth} levels.")
        items += len(node)
        if max_items is not None and items > max_items:
            raise JSONInputError(where, f"More than {max_items} keys and array items in all.")
        for key, child in children:
            if isinstance(key, str) and check_text and _BAD_CHARACTER.search(key):
                raise JSONInputError(where, f"A key {_bad_text_message(key)}")
            stack.append((child, _join(where, key), depth))
    return items


def json_loads_checked(raw: bytes | str, *, max_depth: int | None = None):
    """Parse JSON text that is bounded in depth and holds only encodable, NUL-free text.

    ParseError for text that is not JSON; JSONInputError for JSON that breaks a limit."""
    max_depth = _setting("API_JSON_MAX_DEPTH") if max_depth is None else max_depth
    if isinstance(raw, str):
        encoded = raw.encode("utf-8", "surrogatepass")
    else:
        encoded = raw
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - the body is not UTF-8 ({exc.reason}).") from None
    not_finite = []

    def parse_float(text: str) -> float:
        # `1e999` and `-1e999` are valid JSON numbers that overflow to ±inf; they are refused by
        # the walk below, which names their path.
        number = float(text)
        if not math.isfinite(number):
            not_finite.append(text)
        return number

    try:
        value = json.loads(raw, parse_constant=_refuse_constant, parse_float=parse_float)
    except RecursionError:
        # The decoder's own guard (it stops at the interpreter's recursion limit, long before
        # the stack is at risk); the limit below is the one the API promises.
        raise JSONInputError("", f"Nested deeper than {max_depth} levels.") from None
    except ValueError as exc:
        raise ParseError(f"JSON parse error - {exc}") from None
    # Depth can only pass the limit with more opening brackets than the limit; text can only hold
    # a NUL or a lone surrogate as a \u escape (or, from a form field, as the character itself).
    deep = encoded.count(b"[") + encoded.count(b"{") > max_depth
    text = bool(_BAD_ESCAPE.search(encoded)) or b"\x00" in encoded or bool(_BAD_CHARACTER.search(raw))
    if deep or text or not_finite:
        check_json_value(value, max_depth=max_depth, check_text=text)
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class JSONField(serializers.JSONField):
    """A JSON value with documented limits (see the module doc); sizes may be set per field."""

    def __init__(self, *, max_bytes: int | None = None, max_depth: int | None = None, max_items: int | None = None,
                 **kwargs):
        self.max_bytes, self.max_depth, self.max_items = max_bytes, max_depth, max_items
        super().__init__(**kwargs)

    def _limits(self) -> tuple[int, int, int]:
        return (self.max_bytes or _setting("API_JSON_FIELD_MAX_BYTES"),
                self.max_depth or _setting("API_JSON_FIELD_MAX_DEPTH"),
                self.max_items or _setting("API_JSON_FIELD_MAX_ITEMS"))

    def to_internal_value(self, data):
        max_bytes, max_depth, max_items = self._limits()
        if isinstance(data, (str, bytes)) and (self.binary or getattr(data, "is_json_string", False)):
            # JSON text (a form field, or a binary field): parsed with the same checks as a JSON body.
            if len(data) > max_bytes:
                self.fail_limit(f"Larger than {max_bytes} bytes.")
            try:
                data = json_loads_checked(data, max_depth=max_depth)
            except ParseError:
                self.fail("invalid")
            except JSONInputError as exc:
                self.fail_limit(exc.message, exc.path)
        try:
            check_json_value(data, max_depth=max_depth, max_items=max_items)
        except JSONInputError as exc:
            self.fail_limit(exc.message, exc.path)
        try:
            size = len(json.dumps(data, cls=self.encoder, ensure_ascii=False, separators=(",", ":")).encode())
        except (TypeError, ValueError):
            self.fail("invalid")
        if size > max_bytes:
            self.fail_limit(f"Larger than {max_bytes} bytes as compact JSON ({size}).")
        return data

    def fail_limit(self, message: str, path: str = ""):
        raise ValidationError(f"{path}: {message}" if path else message, code="limit")


class BoundedIntegerField(serializers.IntegerField):
    """An integer with real bounds: [-API_INTEGER_MAX, API_INTEGER_MAX] unless given its own."""

    def __init__(self, **kwargs):
        limit = _setting("API_INTEGER_MAX")
        if kwargs.get("max_value") is None:
            kwargs["max_value"] = limit
        if kwargs.get("min_value") is None:
            kwargs["min_value"] = -limit
        super().__init__(**kwargs)


def query_int(request, name: str, *, default: int, min_value: int | None = None, max_value: int | None = None) -> int:
    """An integer query parameter, checked by the same field as bodies; 400 naming it otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    field = BoundedIntegerField(min_value=min_value, max_value=max_value)
    try:
        return field.run_validation(raw)
    except ValidationError as exc:
        raise ValidationError({name: exc.detail}) from None
