"""The API documentation pages work fully offline: nothing is fetched from another host."""

import re
from urllib.parse import urlsplit

import pytest

DOC_PAGES = ["/redoc", "/api/v1/redoc", "/docs", "/api/v1/docs"]


@pytest.mark.parametrize("path", DOC_PAGES)
def test_docs_html_names_no_other_host(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.IGNORECASE), html
    assert "<script>" not in html and "<style>" not in html  # scripts and styles come from static files


def test_swagger_setup_script_is_served_from_this_host(client):
    response = client.get("/docs?script=")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in response.content.decode() and '"/api/v1/schema"' in response.content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path, rendered", [
    ("/redoc", "h1:has-text('Mozukai Hub API')"),
    ("/api/v1/redoc", "h1:has-text('Mozukai Hub API')"),
    ("/docs", ".swagger-ui .info .title"),
])
def test_docs_pages_render_without_leaving_this_host(page, live_server, path, rendered):
    requested, refused = [], set()
    page.on("request", lambda request: requested.append(request.url))
    # ReDoc's bundle always asks for its CDN logo; the page's policy refuses it in the browser.
    page.on("requestfailed", lambda request: request.failure == "csp" and refused.add(request.url))
    page.goto(path)
    page.wait_for_selector(rendered)
    page.wait_for_load_state("networkidle")
    own = urlsplit(live_server.url).netloc
    elsewhere = [url for url in requested if urlsplit(url).scheme in {"http", "https"} and urlsplit(url).netloc != own]
    assert [url for url in elsewhere if url not in refused] == []
    assert any("/api/v1/schema" in url for url in requested)
