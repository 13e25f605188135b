"""The API's JSON parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).

DRF's own parser hands the body to `json.loads` as it is: 10,000 nested `[` end in a
RecursionError (a 500), and a `"\\ud800"` or `"\\u0000"` escape becomes a string that SQLite
stores and then cannot give back as UTF-8, or that PostgreSQL refuses (a 500 either way). This
one reads at most API_JSON_MAX_BODY_BYTES (413 past that) and parses through
`fields.json_loads_checked`: nesting deeper than API_JSON_MAX_DEPTH, a lone surrogate or a NUL
anywhere is a 400 in the one error shape, naming the path (`params.prompt`), before any view runs.
"""

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import APIException, ValidationError

from .fields import JSONInputError, json_loads_checked


class RequestTooLarge(APIException):
    # (An APIException, not an ApplicationError: DRF imports this module while `errors` is
    # still importing DRF's views.)
    status_code = 413
    default_code = "request_too_large"


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_JSON_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(f"A JSON body may be at most {limit} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        if encoding.lower().replace("_", "-") not in {"utf-8", "utf8"}:
            raw = raw.decode(encoding, "replace").encode()
        try:
            return json_loads_checked(raw)
        except JSONInputError as exc:
            raise ValidationError({exc.path or "non_field_errors": [exc.message]}) from None
