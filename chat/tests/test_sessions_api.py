import pytest

from chat.models import Session
from mozukai_hub.testing.fixtures import bearer_client


@pytest.mark.django_db
def test_sessions_crud_seed_shapes(auth_client, user):
    created = auth_client.post(
        "/api/v1/sessions", {"name": "Design Session 1", "status": "active", "metadata_json": {"source": "web"}}, format="json"
    )
    assert created.status_code == 201, created.content
    session_id = created.json()["id"]
    assert created.json()["metadata_json"] == {"source": "web"} and created.json()["user_id"] == str(user.id)
    assert [s["id"] for s in auth_client.get("/api/v1/sessions").json()] == [session_id]
    assert auth_client.get(f"/api/v1/sessions/{session_id}/").json()["name"] == "Design Session 1"
    patched = auth_client.patch(
        f"/api/v1/sessions/{session_id}",
        {"name": "Design Session 1 - Updated", "status": "inactive", "metadata_json": {"reason": "timeout"}}, format="json",
    )
    assert patched.status_code == 200
    assert patched.json()["status"] == "inactive" and patched.json()["metadata_json"] == {"reason": "timeout"}
    assert auth_client.delete(f"/api/v1/sessions/{session_id}").status_code == 204
    assert Session.objects.count() == 0


@pytest.mark.django_db
def test_sessions_denied_and_bad_input(auth_client, user, other_user, api_client):
    session = Session.objects.create(owner=other_user, name="theirs")
    assert auth_client.get(f"/api/v1/sessions/{session.id}").status_code == 404
    assert auth_client.patch(f"/api/v1/sessions/{session.id}", {"name": "mine"}, format="json").status_code == 404
    assert auth_client.delete(f"/api/v1/sessions/{session.id}").status_code == 404
    assert api_client.get("/api/v1/sessions").status_code == 401
    assert api_client.delete(f"/api/v1/sessions/{session.id}").status_code == 401
    assert auth_client.post("/api/v1/sessions", {"name": "x", "status": "sleeping"}, format="json").status_code == 400
    assert auth_client.post("/api/v1/sessions", {"status": "active"}, format="json").status_code == 400
    assert auth_client.post("/api/v1/sessions", {"name": "x", "metadata_json": [1]}, format="json").status_code == 400
    session.refresh_from_db()
    assert session.name == "theirs" and Session.objects.count() == 1
    assert bearer_client(other_user).get("/api/v1/sessions").json()[0]["id"] == str(session.id)
