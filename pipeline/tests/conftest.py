import io
import uuid

import pytest
from PIL import Image

from billing.services import credit_account_for, credits_grant


def grant(user, amount: int = 10) -> None:
    credits_grant(user=user, amount=amount, reason="test", idempotency_key=f"test-{uuid.uuid4()}")


def balance(user) -> int:
    return credit_account_for(user=user).balance


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def funded_user(user):
    grant(user, 10)
    return user


def png_bytes(size=(8, 6), color=(30, 120, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()
