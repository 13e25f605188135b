from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.core.exceptions import PermissionDenied

from mozukai_hub.client_ip import client_ip


@dataclass(frozen=True)
class PublicSite:
    """What e-mails call the site: `SITE_NAME` at `SITE_URL` (django.contrib.sites' row is example.com)."""

    name: str
    domain: str
    url: str


def public_site(request=None) -> PublicSite:
    url = settings.SITE_URL.rstrip("/")
    if not url and request is not None:  # SITE_URL is required in production; a bare dev set-up uses the request
        url = request.build_absolute_uri("/").rstrip("/")
    return PublicSite(name=settings.SITE_NAME, domain=urlsplit(url).netloc, url=url)


def public_url(url: str) -> str:
    """`url` on the public address: links in e-mails point at `SITE_URL`, never at whatever Host a request named."""
    if not settings.SITE_URL:
        return url
    site, bits = urlsplit(settings.SITE_URL), urlsplit(url)
    return urlunsplit((site.scheme, site.netloc, bits.path, bits.query, bits.fragment))


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request):
        # allauth's rate limits use the same trusted client address as everything else.
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # allauth's templates sign with `current_site` (templates/account/email/base_message.txt adds `site_url`).
        site = public_site(context.get("request") or self.request)
        super().send_mail(template_prefix, email, {**context, "current_site": site, "site_url": site.url})

    def format_email_subject(self, subject: str) -> str:
        if account_settings.EMAIL_SUBJECT_PREFIX is not None:
            return super().format_email_subject(subject)
        return f"[{settings.SITE_NAME}] {subject}"

    def get_email_confirmation_url(self, request, emailconfirmation) -> str:
        return public_url(super().get_email_confirmation_url(request, emailconfirmation))

    def get_reset_password_from_key_url(self, key: str) -> str:
        return public_url(super().get_reset_password_from_key_url(key))
