"""The /c/ pages: signed-in only, your own chats only, messages rendered with their parts."""

import pytest

from chat import services
from chat.models import Chat, Session

pytestmark = pytest.mark.django_db


def test_pages_need_sign_in_and_show_only_your_chats(client, user, other_user):
    theirs = Chat.objects.create(session=Session.objects.create(owner=other_user, name="s"), title="Secret plans")
    assert client.get("/c/").status_code == 302
    assert client.get(f"/c/{theirs.id}").status_code == 302
    client.force_login(user)
    assert "Secret plans" not in client.get("/c/").content.decode()
    assert client.get(f"/c/{theirs.id}").status_code == 404


def test_new_chat_and_its_page(client, user):
    client.force_login(user)
    response = client.post("/c/new", {"title": "Quad frame"})
    chat = Chat.objects.get(title="Quad frame")
    assert response.status_code == 302 and response["Location"] == f"/c/{chat.id}"
    services.message_create(chat=chat, role="user", content="Design a <b>frame</b>")
    services.message_create(chat=chat, role="assistant", content="Here it is.", parts={
        "requirements": {"model_type": "drone", "dimensions": [{"name": "arm_thickness", "value": 3, "unit": "mm", "value_mm": 3}]},
        "scad": "cube([10, 10, 3]);"})
    page = client.get(f"/c/{chat.id}")
    html = page.content.decode()
    assert page.status_code == 200 and "Design a &lt;b&gt;frame&lt;/b&gt;" in html
    assert 'class="req-card-slot" data-requirements="{' in html and "&quot;model_type&quot;: &quot;drone&quot;" in html
    assert "cube([10, 10, 3]);" in html and 'data-after="2"' in html
    assert "<script>" not in html  # no inline script (CSP)
    assert "Quad frame" in client.get("/c/").content.decode()
