"""Site-wide page details: the icon, what the site says is there and what is coming."""

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


def test_footer_says_what_is_there_and_what_is_coming(client, db):
    footer = client.get("/").content.decode().split('<footer class="site-footer">')[1]
    assert ("Open today: the bonsai shop, credits, text-to-3D jobs, and the design sessions and studio projects APIs."
            in footer)
    assert ("Coming later: studio rendering (thumbnails and films), the photo generator, the design chat and "
            "photogrammetry." in footer)


def test_openapi_description_says_what_is_there_and_what_is_coming(client):
    info = client.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()["info"]
    available, coming = info["description"].split("\n\n")
    assert available.startswith("Available now:") and "text-to-3D" in available and "design sessions" in available
    assert "studio thumbnail projects" in available
    assert coming.startswith("Not available yet:")
    for later in ("studio rendering", "film projects", "photo generator", "design chat", "photogrammetry"):
        assert later in coming and later not in available
