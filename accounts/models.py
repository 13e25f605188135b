import uuid

from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

username_validator = RegexValidator(
    r"^[A-Za-z0-9_.-]{3,30}$",
    "Use 3 to 30 letters, digits, dots, dashes or underscores.",
)


class UserManager(DjangoUserManager):
    def get_by_natural_key(self, username):
        # E-mail is the login and is unique whatever its case.
        return self.get(email__iexact=username)

    def _create_user_object(self, username, email, password, **extra_fields):
        user = self.model(username=username.lower(), email=normalize_email(email), **extra_fields)
        user.password = ""
        user.set_password(password)
        return user

    def create_user(self, email, password=None, *, username=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        user = self._create_user_object(username or email.split("@")[0], email, password, **extra_fields)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, *, username=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self.create_user(email, password, username=username, **extra_fields)


def normalize_email(email: str) -> str:
    """E-mail addresses are compared and stored in lower case (one account per mailbox)."""
    return (email or "").strip().lower()


def avatar_upload_to(instance, filename):
    return f"avatars/{instance.pk}/{uuid.uuid4().hex}.png"


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("e-mail", max_length=254, unique=True)
    username = models.CharField(max_length=30, unique=True, validators=[username_validator])
    full_name = models.CharField(max_length=150, blank=True)
    dob = models.DateField("date of birth", null=True, blank=True)
    avatar = models.ImageField(upload_to=avatar_upload_to, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["username"]

    class Meta:
        ordering = ["-date_joined"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
        ]

    def __str__(self):
        return self.email

    def clean(self):
        super().clean()
        self.email = normalize_email(self.email)
        self.username = (self.username or "").lower()

    def get_full_name(self):
        return self.full_name or self.username

    def get_short_name(self):
        return self.username


class RevokedAccessToken(models.Model):
    """Access tokens cut short by logout before they expire on their own.

    Refresh tokens are revoked through simplejwt's blacklist; an access token lives at most
    15 minutes, so this table only ever holds tokens younger than that (the `purge` in
    `accounts.services` removes the rest).
    """

    jti = models.CharField(max_length=255, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.jti
