"""drf-spectacular hooks."""


def drop_trailing_slash_duplicates(endpoints):
    """Every route is served with and without a trailing slash (see api_path); document one. And
    only under /api/v1/: seeds 002 and 004's own paths reach the same views (api/seed_paths.py)."""
    endpoints = [e for e in endpoints if e[0].startswith("/api/v1/")]
    paths = {path for path, *_ in endpoints}
    return [e for e in endpoints if not (e[0].endswith("/") and e[0].rstrip("/") in paths)]


# The one error shape (see mozukai_hub/api/errors.py), documented for every operation.
ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": "The one error shape every API failure answers with.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Machine-readable, e.g. `validation_error`, `not_found`."},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "description": "Validation errors only: the messages for each invalid field (by path).",
                    "additionalProperties": True,
                },
                "retry_after": {"type": "integer", "description": "429 only: seconds to wait (also `Retry-After`)."},
            },
            "required": ["code", "message"],
        },
    },
    "required": ["error"],
}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input (`validation_error` with `fields`) or a malformed request (`bad_request`).",
    "401": "No valid credential (`not_authenticated`, `token_not_valid`, …).",
    "402": "Not enough credits, or a payment is needed (`payment_required`).",
    "403": "Not allowed (`permission_denied`; a session cookie without its CSRF token).",
    "404": "No such object, or it belongs to someone else (`not_found`).",
    "409": "The object's state does not allow it (`conflict`).",
    "413": "The request body is larger than this endpoint accepts (`request_too_large`).",
    "415": "A body in a media type this endpoint does not read (`unsupported_media_type`).",
    "429": "Too many requests (`throttled`, with `retry_after` and a `Retry-After` header).",
}
_UNSAFE = {"post", "put", "patch", "delete"}


def _error_statuses(method: str, operation: dict) -> list[str]:
    """The errors an operation can answer: every one can refuse input (the shared parsers check
    query strings and bodies), a credential, a permission (CSRF) and throttle; objects named in the
    request may not exist; changes can meet a state conflict or
    a price; bodies can be too large or of a type the endpoint does not read."""
    statuses = ["400", "401", "403", "429"]
    # An object named in the path, a filter or the body may not exist (or be another user's);
    # a page past the last one is a 404 too.
    names_objects = any(p.get("in") in {"path", "query"} for p in operation.get("parameters", []))
    if names_objects or method in _UNSAFE:
        statuses.append("404")
    if method in _UNSAFE:
        statuses += ["402", "409"]
    if "requestBody" in operation:
        statuses += ["413", "415"]
    return sorted(statuses)


def document_error_responses(result, generator, request, public):
    """Add the error responses in the one error shape to every operation that does not say
    otherwise, so that clients generated from the schema can handle them."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "put", "patch", "delete", "post", "head", "options"}:
                continue
            responses = operation.setdefault("responses", {})
            for status in _error_statuses(method, operation):
                responses.setdefault(status, {
                    "description": ERROR_DESCRIPTIONS[status],
                    "content": {"application/json": {"schema": ref}},
                })
    return result
