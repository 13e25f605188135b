"""JWT issuing, rotation and revocation on top of simplejwt.

* Access tokens live 15 minutes; refresh tokens 60 minutes, or 30 days when the client asked
  to be remembered (the `remember` claim carries that choice across rotations).
* Rotation is insert-first: the refresh token's blacklist row is inserted before a new pair
  is issued, and the blacklist's unique constraint lets exactly one of any number of
  concurrent refreshes of the same token through (simplejwt's own get_or_create does not).
* Logout blacklists the refresh token and records the access token's `jti`, so the access
  token stops working at once rather than when it expires.
* Every token carries a hash of the password (simplejwt's CHECK_REVOKE_TOKEN): a password
  change revokes all of a user's tokens; a deleted or inactive user's tokens are refused.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch, get_md5_hash_password

from .models import RevokedAccessToken, User

REMEMBER_CLAIM = "remember"


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    access_expires_in: int
    refresh_expires_in: int

    def as_response(self) -> dict:
        return {
            "access_token": self.access,
            "refresh_token": self.refresh,
            "token_type": "bearer",
            "expires_in": self.access_expires_in,
            "refresh_expires_in": self.refresh_expires_in,
        }


def _refresh_lifetime(remember: bool) -> timedelta:
    return settings.LONG_REFRESH_TOKEN_LIFETIME if remember else jwt_settings.REFRESH_TOKEN_LIFETIME


def token_pair_issue(*, user: User, remember_me: bool = False) -> TokenPair:
    if not user.is_active:
        raise AuthenticationFailed("This account is inactive.", code="user_inactive")
    refresh = RefreshToken()
    refresh[jwt_settings.USER_ID_CLAIM] = str(user.pk)
    refresh[jwt_settings.REVOKE_TOKEN_CLAIM] = get_md5_hash_password(user.password)
    refresh[REMEMBER_CLAIM] = bool(remember_me)
    lifetime = _refresh_lifetime(remember_me)
    refresh.set_exp(lifetime=lifetime)
    OutstandingToken.objects.create(
        user=user,
        jti=refresh[jwt_settings.JTI_CLAIM],
        token=str(refresh),
        created_at=refresh.current_time,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )
    access = refresh.access_token
    return TokenPair(
        access=str(access),
        refresh=str(refresh),
        access_expires_in=int(jwt_settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
        refresh_expires_in=int(lifetime.total_seconds()),
    )


def _parse_refresh(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)  # checks signature, expiry, type and the blacklist
    except TokenError as exc:
        raise AuthenticationFailed("The refresh token is invalid, expired or already used.", code="token_not_valid") from exc


def _user_for(token) -> User:
    user = User.objects.filter(pk=token.get(jwt_settings.USER_ID_CLAIM)).first()
    if user is None or not user.is_active:
        raise AuthenticationFailed("No active account for this token.", code="no_active_account")
    if token.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
        raise AuthenticationFailed("The password has changed since this token was issued.", code="password_changed")
    return user


def _blacklist_once(refresh: RefreshToken, user: User) -> None:
    """Insert the blacklist row; raise if another request already did."""
    jti = refresh[jwt_settings.JTI_CLAIM]
    outstanding, _ = OutstandingToken.objects.get_or_create(
        jti=jti,
        defaults={
            "user": user,
            "token": str(refresh),
            "expires_at": datetime_from_epoch(refresh["exp"]),
        },
    )
    try:
        with transaction.atomic():
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError as exc:
        raise AuthenticationFailed("The refresh token was already used.", code="token_not_valid") from exc


@transaction.atomic
def token_refresh(*, raw_refresh: str) -> TokenPair:
    refresh = _parse_refresh(raw_refresh)
    user = _user_for(refresh)
    _blacklist_once(refresh, user)
    return token_pair_issue(user=user, remember_me=bool(refresh.get(REMEMBER_CLAIM)))


@transaction.atomic
def token_logout(*, user: User, access_token: AccessToken | None, raw_refresh: str | None) -> None:
    """Revoke the presented access token and, if given, the refresh token (of the same user)."""
    if raw_refresh:
        refresh = _parse_refresh(raw_refresh)
        if str(refresh.get(jwt_settings.USER_ID_CLAIM)) != str(user.pk):
            raise AuthenticationFailed("This refresh token belongs to another account.", code="token_not_valid")
        _blacklist_once(refresh, user)
    if access_token is not None:
        RevokedAccessToken.objects.get_or_create(
            jti=access_token[jwt_settings.JTI_CLAIM],
            defaults={"user": user, "expires_at": datetime_from_epoch(access_token["exp"])},
        )


def tokens_revoke_all(*, user: User) -> int:
    """Blacklist every refresh token issued to the user (account deletion). Access tokens need
    no row: a deleted user's are refused, as are any whose password hash no longer matches."""
    outstanding = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    rows = [BlacklistedToken(token_id=pk) for pk in outstanding.values_list("pk", flat=True)]
    BlacklistedToken.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def access_token_is_revoked(jti: str) -> bool:
    return RevokedAccessToken.objects.filter(jti=jti).exists()


def revoked_tokens_purge() -> int:
    """Delete revocation rows whose tokens have expired anyway (scheduled daily)."""
    now = timezone.now()
    deleted, _ = RevokedAccessToken.objects.filter(expires_at__lt=now).delete()
    OutstandingToken.objects.filter(expires_at__lt=now).delete()
    return deleted
