"""drf-spectacular hooks."""


def drop_trailing_slash_duplicates(endpoints):
    """Every route is served with and without a trailing slash (see api_path); document one."""
    paths = {path for path, *_ in endpoints}
    return [e for e in endpoints if not (e[0].endswith("/") and e[0].rstrip("/") in paths)]
