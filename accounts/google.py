"""Google sign-in: verify an ID token, then find, link or create the account.

The token's RS256 signature is checked against Google's published keys (fetched over HTTPS
from `GOOGLE_CERTS_URL` and cached by PyJWKClient), then its audience (our client id),
issuer and expiry. Tests serve a locally generated key set from a local HTTP server.
"""

from functools import lru_cache

import jwt
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.db import transaction

from mozukai_hub.api.errors import ApplicationError

from .models import User, normalize_email
from .services import username_from

GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")


class GoogleSignInError(ApplicationError):
    status_code = 401
    code = "google_token_invalid"


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    # Google rotates keys daily and publishes them well before use: an hour's cache is safe.
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=10)


def google_enabled() -> bool:
    return bool(settings.GOOGLE_CLIENT_ID)


def google_id_token_verify(id_token: str) -> dict:
    if not google_enabled():
        raise ApplicationError("Google sign-in is not configured on this server.", code="google_not_configured", status_code=400)
    try:
        signing_key = _jwks_client(settings.GOOGLE_CERTS_URL).get_signing_key_from_jwt(id_token)
        claims = jwt.decode(
            id_token,
            signing_key.key,
            algorithms=["RS256"],
            audience=settings.GOOGLE_CLIENT_ID,
            issuer=GOOGLE_ISSUERS,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            leeway=30,
        )
    except jwt.PyJWKClientConnectionError as exc:
        raise ApplicationError("Google's signing keys could not be fetched; try again.", code="google_unavailable", status_code=503) from exc
    except jwt.PyJWTError as exc:
        raise GoogleSignInError(f"The Google ID token is not valid: {exc}.") from exc
    if not claims.get("email") or not claims.get("email_verified"):
        raise GoogleSignInError("The Google account has no verified e-mail address.")
    return claims


@transaction.atomic
def google_user_for_claims(claims: dict) -> tuple[User, bool]:
    """Return (user, created). Links by Google subject first, then by verified e-mail."""
    from allauth.account.models import EmailAddress

    sub = claims["sub"]
    account = SocialAccount.objects.select_related("user").filter(provider="google", uid=sub).first()
    if account:
        return account.user, False
    email = normalize_email(claims["email"])
    user = User.objects.filter(email__iexact=email).first()
    created = user is None
    if created:
        user = User(email=email, username=username_from(email), full_name=claims.get("name", "")[:150])
        user.set_unusable_password()
        user.save()
    SocialAccount.objects.create(user=user, provider="google", uid=sub, extra_data=claims)
    address, _ = EmailAddress.objects.get_or_create(user=user, email=email, defaults={"primary": True, "verified": True})
    if not address.verified:
        address.verified = True
        address.save(update_fields=["verified"])
    return user, created
