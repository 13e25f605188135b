"""Query counts of the assets and asset-meta lists are pinned: more rows, no more queries."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mozukai_hub.testing.images import png_bytes
from mozukai_hub.testing.queries import list_queries_pinned
from pipeline.models import Asset, AssetMeta

pytestmark = pytest.mark.django_db


def upload(client) -> str:
    response = client.post("/api/v1/assets/upload", {"file": SimpleUploadedFile("part.png", png_bytes())}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_assets_list_costs_the_same_queries_for_2_or_6_assets(auth_client, user):
    def add_assets(n):
        for _ in range(n):
            upload(auth_client)

    assets = list_queries_pinned(auth_client, "/api/v1/assets", add_rows=add_assets, pin=4)
    assert len(assets) == 6 and all(asset["stored"] for asset in assets)


def test_asset_meta_list_costs_the_same_queries_for_2_or_6_parts(auth_client, user):
    whole = Asset.objects.get(pk=upload(auth_client))

    def add_metas(n):
        for _ in range(n):
            part = Asset.objects.get(pk=upload(auth_client))
            AssetMeta.objects.create(asset=part, component_of=whole, part_name="leg", material_json={"name": "oak"})

    metas = list_queries_pinned(auth_client, "/api/v1/asset-meta", add_rows=add_metas, pin=4)
    assert len(metas) == 6 and {meta["component_of"] for meta in metas} == {str(whole.pk)}
