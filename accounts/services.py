"""Account writes: sign-up, profile changes, password changes, deletion.

Every function validates fully before it writes and raises `django.core.exceptions.
ValidationError` naming the fields, so the API and the web forms show the same messages.
"""

import datetime
import io
import uuid

from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from .deletion import user_deletion_steps
from .models import User, normalize_email, username_validator
from .tokens import tokens_revoke_all

AVATAR_SIZE = 512
AVATAR_MAX_PIXELS = 40_000_000


def validate_dob(dob: datetime.date | None) -> None:
    if dob and dob > timezone.localdate():
        raise ValidationError({"dob": ["The date of birth cannot be in the future."]})


def validate_new_identity(*, email: str | None = None, username: str | None = None, exclude_user: User | None = None) -> None:
    """E-mail and username are unique whatever their case."""
    errors = {}
    others = User.objects.exclude(pk=exclude_user.pk) if exclude_user else User.objects.all()
    if email is not None and others.filter(email__iexact=normalize_email(email)).exists():
        errors["email"] = ["An account with this e-mail already exists."]
    if username is not None:
        try:
            username_validator(username)
        except ValidationError as exc:
            errors["username"] = exc.messages
        else:
            if others.filter(username__iexact=username).exists():
                errors["username"] = ["This username is taken."]
    if errors:
        raise ValidationError(errors)


def username_from(seed: str) -> str:
    """A free username derived from a name or e-mail (for flows that do not ask for one)."""
    base = "".join(ch for ch in seed.split("@")[0].lower() if ch.isalnum() or ch in "._-")[:24] or "user"
    base = base.ljust(3, "0")
    candidate = base
    while User.objects.filter(username__iexact=candidate).exists():
        candidate = f"{base}-{uuid.uuid4().hex[:5]}"
    return candidate


def _password_errors(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc


@transaction.atomic
def user_signup(
    *,
    email: str,
    password: str,
    username: str | None = None,
    full_name: str = "",
    dob: datetime.date | None = None,
    request=None,
    send_confirmation: bool = True,
) -> User:
    """Create an account with its (unverified) e-mail address and send the confirmation."""
    email = normalize_email(email)
    username = (username or username_from(email)).lower()
    validate_new_identity(email=email, username=username)
    validate_dob(dob)
    user = User(email=email, username=username, full_name=full_name, dob=dob)
    _password_errors(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # a concurrent sign-up took the e-mail or username first
        raise ValidationError({"email": ["An account with this e-mail or username already exists."]}) from exc
    address = EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
    if send_confirmation and settings.ACCOUNT_EMAIL_VERIFICATION != "none":
        # The e-mail goes out only once the account is really there.
        transaction.on_commit(lambda: address.send_confirmation(request, signup=True))
    return user


def email_confirm(*, key: str, request=None) -> User:
    confirmation = EmailConfirmationHMAC.from_key(key)
    if confirmation is None:
        raise ValidationError({"token": ["This confirmation link is invalid or has expired."]})
    address = confirmation.confirm(request)
    if address is None:
        raise ValidationError({"token": ["This e-mail address cannot be confirmed."]})
    return address.user


def email_is_verified(user: User) -> bool:
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


@transaction.atomic
def user_update(*, user: User, data: dict) -> User:
    """Apply profile changes (username, full_name, dob). Idempotent for the same data."""
    changed = [name for name in ("username", "full_name", "dob") if name in data and getattr(user, name) != data[name]]
    if "username" in changed:
        data = {**data, "username": data["username"].lower()}
        validate_new_identity(username=data["username"], exclude_user=user)
    if "dob" in changed:
        validate_dob(data["dob"])
    for name in changed:
        setattr(user, name, data[name])
    if changed:
        try:
            with transaction.atomic():
                user.save(update_fields=[*changed, "updated_at"])
        except IntegrityError as exc:
            raise ValidationError({"username": ["This username is taken."]}) from exc
    return user


def user_set_avatar(*, user: User, upload) -> User:
    """Store a profile photo. The bytes are decoded and re-encoded: nothing but pixels is kept."""
    if upload.size > settings.AVATAR_MAX_BYTES:
        raise ValidationError({"avatar": [f"The image is larger than {settings.AVATAR_MAX_BYTES // (1024 * 1024)} MB."]})
    try:
        with Image.open(upload) as probe:
            if probe.width * probe.height > AVATAR_MAX_PIXELS:
                raise ValidationError({"avatar": ["The image has too many pixels."]})
            probe.verify()
        upload.seek(0)
        with Image.open(upload) as image:
            image = image.convert("RGBA")
            image.thumbnail((AVATAR_SIZE, AVATAR_SIZE))
            out = io.BytesIO()
            image.save(out, format="PNG")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValidationError({"avatar": ["Upload a valid image (PNG, JPEG, GIF or WebP)."]}) from exc
    old = user.avatar.name if user.avatar else None
    user.avatar.save("avatar.png", ContentFile(out.getvalue()), save=False)
    user.save(update_fields=["avatar", "updated_at"])
    if old:
        user.avatar.storage.delete(old)
    return user


@transaction.atomic
def user_change_password(*, user: User, current_password: str, new_password: str) -> User:
    """Change the password. Every token issued before stops working (its hash claim no longer matches)."""
    if not user.has_usable_password() or not user.check_password(current_password):
        raise ValidationError({"current_password": ["The current password is not correct."]})
    try:
        validate_password(new_password, user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from exc
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    return user


def user_delete(*, user: User) -> None:
    """Delete the account and what belongs to the person; keep the books. All or nothing.

    * Orders and their payments stay for bookkeeping, detached from the person: unshipped
      orders are cancelled (paid ones refunded after commit), name and address are erased
      (catalog), payments lose their user (billing's SET_NULL).
    * The credit account is closed: no owner, ledger kept (billing). Unfinished jobs are
      cancelled first, so their held credits go back to it instead of staying held.
    * Uploads and job outputs are deleted, their files after commit (pipeline); jobs, design
      sessions and chats go with the user.
    * Every refresh token is blacklisted; access tokens and sessions of a deleted user are
      refused anyway.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        for step in user_deletion_steps():
            step.run(user=user)
        tokens_revoke_all(user=user)
        avatar = user.avatar.name if user.avatar else None
        storage = user.avatar.storage
        user.delete()
        if avatar:
            transaction.on_commit(lambda: storage.delete(avatar))
