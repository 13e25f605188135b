from django.urls import path


def api_path(route: str, view, name: str | None = None) -> list:
    """The same endpoint with and without a trailing slash.

    The seeds disagree (`/api/v1/projects/` in one, `/api/v1/jobs` in another) and a
    redirect cannot carry a POST body, so both spellings are routed to the view.
    """
    return [path(route, view, name=name), path(f"{route}/", view)]
