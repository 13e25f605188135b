"""Site-wide page details: the icon, what the site says is there."""

from django.contrib.staticfiles import finders
from PIL import Image


def test_favicon_ico_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == "/static/favicon.ico"
    with Image.open(finders.find("favicon.ico")) as icon:
        assert icon.format == "ICO" and (32, 32) in icon.info["sizes"]
    assert client.head("/favicon.ico").status_code == 302
    assert client.post("/favicon.ico").status_code == 405


def test_pages_link_the_icon(client, db):
    html = client.get("/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    assert '<link rel="icon" href="/static/favicon.ico" sizes="any">' in html
    assert finders.find("favicon.svg")


def test_footer_says_what_is_there(client, db):
    footer = client.get("/").content.decode().split('<footer class="site-footer">')[1]
    for feature in ("bonsai shop", "credits", "thumbnails and narrated films", "photo generator", "design chat",
                    "text-to-3D", "photo-to-3D"):
        assert feature in footer
    assert "Coming later" not in footer


def test_openapi_description_says_what_is_there(client):
    info = client.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()["info"]
    available = info["description"].split("\n\n")[0]
    assert available.startswith("Available now:")
    for feature in ("text-to-3D", "design sessions", "design chat", "thumbnails and films", "photo generator",
                    "photogrammetry"):
        assert feature in available
    assert "not available" not in info["description"].lower()
