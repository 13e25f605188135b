import pytest

from mozukai_hub.testing.fixtures import bearer_client, make_user


@pytest.fixture
def staff_user(db):
    return make_user(is_staff=True, full_name="Shop Staff")


@pytest.fixture
def staff_client(staff_user):
    return bearer_client(staff_user)


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Files the tests write land in a throwaway directory, never in var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"
