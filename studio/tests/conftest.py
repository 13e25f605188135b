import pytest

from studio.tests.engines import thumb_test_engine  # noqa: F401  (fixture)


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Uploads and outputs of a test go to its own directory."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
