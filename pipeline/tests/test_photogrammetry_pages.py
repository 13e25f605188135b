"""The /pipeline/ page (server side) and the admin action that puts a model on a product."""

import pytest
from django.core.files.base import ContentFile

from catalog.models import Category, Product
from mozukai_hub.testing.fixtures import make_user
from pipeline.models import Asset, Job


@pytest.mark.django_db
def test_page_needs_sign_in_and_has_no_inline_script(client, user):
    assert client.get("/pipeline/").status_code == 302
    client.force_login(user)
    page = client.get("/pipeline/").content.decode()
    assert 'id="pg-files"' in page and "photogrammetry.js" in page
    assert "<script>" not in page and "onclick=" not in page


def _completed_job(owner, *, with_glb=True) -> Job:
    job = Job.objects.create(owner=owner, kind="photogrammetry", engine="local", status="completed",
                             params={"name": "Scan", "photos": []}, result={"quality": {"registered_images": 9}})
    if with_glb:
        asset = Asset(owner=owner, job=job, asset_type="glb", role="output", is_primary=True, size=4)
        asset.file.save("m.glb", ContentFile(b"glTF"), save=True)
    return job


@pytest.mark.django_db
def test_reopening_a_job_shows_its_report(client, user):
    job = _completed_job(user)
    client.force_login(user)
    page = client.get(f"/pipeline/?job={job.pk}").content.decode()
    assert str(job.pk) in page and "registered_images" in page and "Scan" in page


@pytest.mark.django_db
def test_admin_action_attaches_the_model_to_a_product(client):
    staff = make_user(is_staff=True, is_superuser=True)
    job = _completed_job(staff)
    unfinished = Job.objects.create(owner=staff, kind="photogrammetry", engine="local", status="processing")
    product = Product.objects.create(category=Category.objects.create(name="Trees", slug="trees"), name="Juniper",
                                     slug="juniper", price="30.00")
    client.force_login(staff)
    url = "/admin/pipeline/job/"
    reply = client.post(url, {"action": "attach_model_to_product", "_selected_action": [job.pk, unfinished.pk],
                              "product_id": product.pk, "apply": "1"}, follow=True)
    assert reply.status_code == 200
    product.refresh_from_db()
    assert product.model_asset.job_id == job.pk
    text = reply.content.decode()
    assert "Juniper" in text and "not a completed photogrammetry job" in text
