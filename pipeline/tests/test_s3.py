"""Media on S3 (django-storages) against a local moto server: private objects, presigned URLs."""

import boto3
import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from moto.server import ThreadedMotoServer

from mozukai_hub.testing.images import png_bytes
from pipeline.models import Asset

BUCKET = "mozukai-media-test"


@pytest.fixture
def s3(settings, monkeypatch):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
            "bucket_name": BUCKET, "endpoint_url": endpoint, "region_name": "us-east-1", "access_key": "test",
            "secret_key": "test", "default_acl": "private", "querystring_auth": True, "querystring_expire": 900,
            "signature_version": "s3v4", "file_overwrite": False,
        }},
    }
    yield client
    server.stop()


@pytest.mark.django_db
def test_upload_lands_in_private_bucket_and_downloads_by_presigned_url(s3, auth_client, user, django_capture_on_commit_callbacks):
    response = auth_client.post("/api/v1/assets/upload", {"file": SimpleUploadedFile("a.png", png_bytes())}, format="multipart")
    assert response.status_code == 201, response.content
    asset = Asset.objects.get()
    keys = [obj["Key"] for obj in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == [asset.file.name]
    grants = s3.get_object_acl(Bucket=BUCKET, Key=asset.file.name)["Grants"]
    assert all(g["Grantee"].get("URI") is None for g in grants)  # no public grant

    link = auth_client.get(f"/api/v1/assets/{asset.id}/download-url").json()
    assert "X-Amz-Signature=" in link["url"] and "X-Amz-Expires=900" in link["url"]
    assert httpx.get(link["url"]).content == png_bytes()
    assert httpx.get(link["url"].split("?")[0]).status_code == 403  # unsigned: refused

    with django_capture_on_commit_callbacks(execute=True):  # the object goes once the row is gone
        assert auth_client.delete(f"/api/v1/assets/{asset.id}").status_code == 204
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
