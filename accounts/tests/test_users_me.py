import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import User
from mozukai_hub.testing.fixtures import bearer_client
from mozukai_hub.testing.images import png_bytes

pytestmark = pytest.mark.django_db


def test_get_put_patch_profile(auth_client, user):
    assert auth_client.get("/api/v1/users/me").json()["email"] == user.email
    put = auth_client.put("/api/v1/users/me", {"username": "Bonsai_Fan", "full_name": "Ada M.", "dob": "1985-05-05"}, format="json")
    assert put.status_code == 200
    assert put.json()["username"] == "bonsai_fan" and put.json()["dob"] == "1985-05-05"
    patch = auth_client.patch("/api/v1/users/me", {"display_name": "Ada Moss"}, format="json")
    assert patch.status_code == 200 and patch.json()["full_name"] == "Ada Moss"
    user.refresh_from_db()
    assert (user.username, user.full_name) == ("bonsai_fan", "Ada Moss")


def test_put_needs_every_editable_field(auth_client, user):
    response = auth_client.put("/api/v1/users/me", {"full_name": "Only this"}, format="json")
    assert response.status_code == 400 and {"username", "dob"} <= set(response.json()["error"]["fields"])
    user.refresh_from_db()
    assert user.full_name == "Ada Moss"


def test_the_email_is_not_changed_by_a_profile_update_and_says_where_it_is(auth_client, user):
    """Seed 004's user has `email`: sent back as it is, a PUT works; a new address needs confirming."""
    original = user.email
    same = auth_client.put("/api/v1/users/me", {"username": "moss", "email": user.email.upper(), "full_name": "Ada",
                                                "dob": None}, format="json")
    assert same.status_code == 200 and same.json()["email"] == user.email
    other = auth_client.put("/api/v1/users/me", {"username": "moss2", "email": "new@example.com", "full_name": "Ada",
                                                 "dob": None}, format="json")
    assert other.status_code == 400 and "/accounts/email/" in other.json()["error"]["fields"]["email"][0]
    user.refresh_from_db()
    assert (user.username, user.email) == ("moss", original)


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"dob": "2999-01-01"}, "dob"),
        ({"username": "x"}, "username"),
        ({"email": "change@example.com"}, "email"),
        ({"is_staff": True}, "is_staff"),
        ({"full_name": "y" * 151}, "full_name"),
    ],
)
def test_bad_profile_changes_change_nothing(auth_client, user, payload, field):
    before = User.objects.values().get(pk=user.pk)
    response = auth_client.patch("/api/v1/users/me", payload, format="json")
    assert response.status_code == 400 and field in response.json()["error"]["fields"]
    assert User.objects.values().get(pk=user.pk) == before


def test_taking_another_users_username_in_another_case_is_refused(auth_client, user, other_user):
    response = auth_client.patch("/api/v1/users/me", {"username": other_user.username.upper()}, format="json")
    assert response.status_code == 400
    user.refresh_from_db()
    assert user.username != other_user.username


def test_avatar_upload_is_reencoded_and_served(auth_client, api_client, user):
    upload = SimpleUploadedFile("me.jpg", png_bytes((64, 48)), content_type="image/jpeg")
    response = auth_client.patch("/api/v1/users/me", {"avatar": upload}, format="multipart")
    assert response.status_code == 200
    url = response.json()["avatar_url"]
    image = api_client.get(url)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(b"".join(image.streaming_content))).size == (64, 48)


def test_a_fake_image_is_refused_and_nothing_is_stored(auth_client, user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    fake = SimpleUploadedFile("evil.png", b"<?php echo 'hi'; ?>" * 10, content_type="image/png")
    response = auth_client.patch("/api/v1/users/me", {"avatar": fake}, format="multipart")
    assert response.status_code == 400 and "avatar" in response.json()["error"]["fields"]
    user.refresh_from_db()
    assert not user.avatar
    assert not any(tmp_path.rglob("*.*"))


def test_delete_account_revokes_its_tokens(user):
    client = bearer_client(user)
    assert client.delete("/api/v1/users/me").status_code == 204
    assert not User.objects.filter(pk=user.pk).exists()
    assert client.get("/api/v1/users/me").status_code == 401


def test_anonymous_profile_requests_are_401_and_change_nothing(api_client, user):
    for method in ("get", "put", "patch", "delete"):
        assert getattr(api_client, method)("/api/v1/users/me").status_code == 401
    assert User.objects.filter(pk=user.pk).exists()
