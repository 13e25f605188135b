from django.urls import reverse
from rest_framework import serializers

from mozukai_hub.api.serializers import StrictSerializer

from ..models import User
from ..services import email_is_verified


class UserSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(source="id", read_only=True)
    display_name = serializers.CharField(source="get_full_name", read_only=True)
    email_verified = serializers.SerializerMethodField()
    avatar_url = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id", "user_id", "email", "username", "full_name", "display_name", "dob",
            "avatar_url", "email_verified", "is_staff", "date_joined",
        ]
        read_only_fields = fields

    def get_email_verified(self, user) -> bool:
        return email_is_verified(user)

    def get_avatar_url(self, user) -> str | None:
        if not user.avatar:
            return None
        request = self.context.get("request")
        path = f"/api/v1/users/{user.pk}/avatar"
        return request.build_absolute_uri(path) if request else path


class EmailSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)


class SignupSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    confirm_password = serializers.CharField(max_length=128, trim_whitespace=False)
    username = serializers.CharField(max_length=30)
    full_name = serializers.CharField(max_length=150)
    dob = serializers.DateField()

    def validate(self, attrs):
        if attrs["password"] != attrs["confirm_password"]:
            raise serializers.ValidationError({"confirm_password": ["The passwords do not match."]})
        return attrs


class RegisterSerializer(StrictSerializer):
    """Seeds 001/003/004's registration (a display name instead of username and date of birth)
    and seed 002's (`name` and `surname`). The full name is `full_name`, else `display_name`,
    else name and surname joined."""

    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    display_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    surname = serializers.CharField(max_length=150, required=False, allow_blank=True)
    username = serializers.CharField(max_length=30, required=False)
    confirm_password = serializers.CharField(max_length=128, required=False, trim_whitespace=False)

    def validate(self, attrs):
        if "confirm_password" in attrs and attrs["password"] != attrs["confirm_password"]:
            raise serializers.ValidationError({"confirm_password": ["The passwords do not match."]})
        given = " ".join(part for part in (attrs.pop("name", ""), attrs.pop("surname", "")) if part)
        full_name = attrs.get("full_name") or attrs.pop("display_name", "") or given
        if len(full_name) > 150:
            raise serializers.ValidationError({"surname": ["The name and surname together must fit in 150 characters."]})
        attrs["full_name"] = full_name
        return attrs


class LoginSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    remember_me = serializers.BooleanField(required=False, default=False)


class ConfirmSerializer(StrictSerializer):
    token = serializers.CharField(max_length=512)


class RefreshSerializer(StrictSerializer):
    refresh_token = serializers.CharField(required=False, max_length=4096)
    refresh = serializers.CharField(required=False, max_length=4096)

    def validate(self, attrs):
        raw = attrs.get("refresh_token") or attrs.get("refresh")
        if not raw:
            raise serializers.ValidationError({"refresh_token": ["This field is required."]})
        return {"raw_refresh": raw}


class LogoutSerializer(StrictSerializer):
    refresh_token = serializers.CharField(required=False, max_length=4096)
    refresh = serializers.CharField(required=False, max_length=4096)


class GoogleSerializer(StrictSerializer):
    id_token = serializers.CharField(max_length=8192)
    remember_me = serializers.BooleanField(required=False, default=False)


class ProfileUpdateSerializer(StrictSerializer):
    username = serializers.CharField(max_length=30)
    full_name = serializers.CharField(max_length=150, allow_blank=True)
    display_name = serializers.CharField(max_length=150, allow_blank=True, required=False)
    dob = serializers.DateField(allow_null=True)
    avatar = serializers.FileField(required=False)
    # Seed 004's user has an e-mail field; sent back unchanged it is accepted and ignored.
    email = serializers.EmailField(required=False, help_text="Your current address only (a new one is added and "
                                                            "confirmed on the account's e-mail page).")

    def validate_email(self, value):
        if value.lower() != self.context["user"].email.lower():
            raise serializers.ValidationError(
                "The e-mail address is not changed here: a new address must be confirmed first "
                f"(add and confirm it at {reverse('account_email')}).")
        return value

    def validate(self, attrs):
        attrs.pop("email", None)
        if "display_name" in attrs:  # seed 001's name for the same thing
            attrs.setdefault("full_name", attrs.pop("display_name"))
        return attrs


class PasswordChangeSerializer(StrictSerializer):
    current_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)
    remember_me = serializers.BooleanField(required=False, default=False)
