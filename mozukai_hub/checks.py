"""System checks of the project's own settings (registered in MozukaiHubConfig.ready)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, register


@register()
def allowed_origins_check(app_configs, **kwargs):
    """Production trusts, for credentialed CORS and CSRF, exactly the origins it was given:
    ALLOWED_ORIGINS must be set (empty for none), and each one must be an https origin that is
    not a local development server."""
    if not settings.PRODUCTION:
        return []
    if not settings.ALLOWED_ORIGINS_SET:
        return [Error(
            "ALLOWED_ORIGINS is not set: production has no default (development trusts http://localhost:5173).",
            hint="Set ALLOWED_ORIGINS to the SPA origins that may call the API with cookies "
                 "(comma-separated, e.g. https://app.example.com), or to an empty value for none.",
            id="mozukai_hub.E001",
        )]
    errors = []
    for origin in settings.ALLOWED_ORIGINS:
        parts = urlsplit(origin)
        if parts.scheme != "https" or parts.hostname in {None, "localhost", "127.0.0.1", "::1"}:
            errors.append(Error(
                f"ALLOWED_ORIGINS contains {origin!r}: production trusts only https origins of real hosts.",
                hint="Remove development origins (http://, localhost) from ALLOWED_ORIGINS in production.",
                id="mozukai_hub.E002",
            ))
    return errors
