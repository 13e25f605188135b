"""Security headers on every page and how stored files are served (issue 15, "Headers and serving").

test_csp_browser.py loads the shop, account, admin, docs and payment pages in Chromium; here the
same watch covers the studio, film, photo generator, design chat and photogrammetry pages (and
their per-object editors), every page's headers are checked without a browser, HSTS is checked
under production settings, and files we serve are checked for their type and disposition.
"""

import datetime
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from catalog.models import Order
from chat.models import Chat, Session
from mozukai_hub.testing.fixtures import bearer_client, make_user
from mozukai_hub.testing.images import png_bytes
from mozukai_hub.tests.test_access_control import PROJECT_FIELDS
from mozukai_hub.tests.test_csp_browser import glb_bytes, sign_in, unintended, visit, watched  # noqa: F401
from mozukai_hub.tests.test_production_settings import manage, production_env
from pipeline.models import Job
from pipeline.services import asset_output_store
from studio.models import Project

# README "Pages", plus the pages of issues 11-14.
PAGES = ["/", "/shop/products/", "/shop/cart/", "/shop/checkout/", "/shop/orders/", "/jobs/", "/credits/",
         "/accounts/signup/", "/accounts/login/", "/accounts/logout/", "/accounts/password/reset/", "/accounts/email/",
         "/accounts/profile/", "/admin/", "/docs", "/redoc",
         "/studio/", "/studio/films/", "/generate/", "/c/", "/pipeline/"]


def _objects(owner):
    """One object of each kind with a page of its own; {page path: object}."""
    job = Job.objects.create(owner=owner, kind="text_to_3d", engine="local", params={})
    order = Order.objects.create(user=owner, currency="eur", total_amount="10.00",
                                 expires_at=timezone.now() + datetime.timedelta(hours=1))
    thumbnail = Project.objects.create(owner=owner, title="Thumb", kind="thumbnail", **PROJECT_FIELDS["thumbnail"])
    film = Project.objects.create(owner=owner, title="Film", kind="film", **PROJECT_FIELDS["film"])
    chat = Chat.objects.create(session=Session.objects.create(owner=owner, name="Pot"))
    return [f"/jobs/{job.pk}/", f"/shop/orders/{order.pk}/", f"/studio/thumbnails/{thumbnail.pk}/",
            f"/studio/films/{film.pk}/", f"/c/{chat.pk}"]


def assert_security_headers(response, path):
    assert response["X-Content-Type-Options"] == "nosniff", path
    assert response["Referrer-Policy"] == "same-origin", path
    assert response["X-Frame-Options"] == "DENY", path
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy, path
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    script = directives["script-src"]  # no inline script without a nonce, no eval
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, path
    assert any(source.startswith("'nonce-") for source in script), path


@pytest.mark.django_db
def test_every_page_sends_the_security_headers_signed_in_and_anonymous():
    owner = make_user(is_staff=True, is_superuser=True)
    signed_in = Client()
    signed_in.force_login(owner)
    paths = PAGES + _objects(owner)
    for client in (signed_in, Client()):
        for path in paths:
            response = client.get(path)
            assert response.status_code in {200, 302}, (path, response.status_code)
            assert_security_headers(response, path)
    for path in ("/api/v1/health", "/api/v1/no-such-route", "/no-such-page/"):
        assert_security_headers(Client().get(path), path)


@pytest.mark.django_db
def test_production_sends_hsts_and_redirects_plain_http():
    script = (
        "from django.test import Client\n"
        "import json\n"
        "c = Client(HTTP_HOST='shop.example.com')\n"
        "s = c.get('/api/v1/health', secure=True)\n"
        "p = c.get('/shop/products/', secure=False)\n"
        "print(json.dumps({'hsts': s.get('Strict-Transport-Security'), 'nosniff': s.get('X-Content-Type-Options'),"
        " 'referrer': s.get('Referrer-Policy'), 'frame': s.get('X-Frame-Options'),"
        " 'plain': p.status_code, 'location': p.get('Location')}))\n"
    )
    result = manage("shell", "-c", script, **production_env())
    assert result.returncode == 0, result.stderr[-2000:]
    headers = json.loads(result.stdout.strip().splitlines()[-1])
    assert headers["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["nosniff"] == "nosniff" and headers["referrer"] == "same-origin" and headers["frame"] == "DENY"
    assert headers["plain"] == 301 and headers["location"] == "https://shop.example.com/shop/products/"


@pytest.mark.django_db
def test_files_are_served_with_their_sniffed_type_and_runnable_ones_as_attachments(settings, tmp_path, user):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    client = bearer_client(user)
    # A PNG named and typed as HTML is stored as what it is, and served as that.
    upload = client.post("/api/v1/assets/upload", {"file": SimpleUploadedFile("page.html", png_bytes(),
                                                                               content_type="text/html")},
                         format="multipart")
    assert upload.status_code == 201, upload.content
    assert upload.json()["asset_type"] == "png" and upload.json()["content_type"] == "image/png"
    job = Job.objects.create(owner=user, kind="text_to_3d", engine="local", params={}, status="completed")
    model = Path(tmp_path) / "pot.glb"
    model.write_bytes(glb_bytes())
    glb = asset_output_store(job=job, path=model, asset_type="glb", primary=True, content_type="text/html")
    for asset_id, content_type in ((upload.json()["id"], "image/png"), (glb.pk, "model/gltf-binary")):
        link = client.get(f"/api/v1/assets/{asset_id}/download-url")
        assert link.status_code == 200, link.content
        url = link.json()["url"]
        served = Client().get(url[url.index("/api/"):])
        assert served.status_code == 200
        assert served["Content-Type"] == content_type
        assert served["Content-Disposition"].startswith("attachment")
        assert served["X-Content-Type-Options"] == "nosniff"
    # Avatars are shown inline, so they are only ever PNG re-encodings.
    me = client.patch("/api/v1/users/me", {"avatar": SimpleUploadedFile("me.svg", png_bytes((20, 20)),
                                                                         content_type="image/svg+xml")},
                      format="multipart")
    assert me.status_code == 200, me.content
    avatar = Client().get(f"/api/v1/users/{user.pk}/avatar")
    assert avatar["Content-Type"] == "image/png" and avatar["X-Content-Type-Options"] == "nosniff"
    assert b"".join(avatar.streaming_content).startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_studio_generator_chat_and_photogrammetry_pages_load_without_a_csp_violation(watched, caplog):  # noqa: F811
    page = watched
    owner = make_user(full_name="Ada Moss")
    objects = _objects(owner)
    for path in ("/studio/", "/studio/films/", "/generate/", "/pipeline/"):
        visit(page, path)  # what an anonymous visitor sees
    sign_in(page, owner)
    for path in ("/studio/", "/studio/films/", "/generate/", "/c/", "/pipeline/", *objects[2:]):
        visit(page, path)
    page.wait_for_timeout(300)  # reports are posted asynchronously
    reported = [r.getMessage() for r in caplog.records if r.name == "mozukai_hub.csp"]
    assert not unintended(page.complaints), "\n".join(page.complaints)
    assert unintended(reported) == []
