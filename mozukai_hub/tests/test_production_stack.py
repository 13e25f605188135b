"""The production topology of README "Production", run locally and used only through nginx.

nginx (the site rendered from deploy/nginx/) → gunicorn and daphne, two qcluster workers, the
suite's PostgreSQL (a database of its own), a Redis of its own, S3 (moto server) and the fake
Stripe server; `DJANGO_ENV=production`, `TRUSTED_PROXY_COUNT=1` (see
`mozukai_hub/testing/production.py` for every setting). Each client below connects from an
address of its own in 127.0.0.0/8, so free credits and throttles, which go by the real client
address, do not mix between tests.
"""

import io
import json
import math
import re
import socket
import time

import httpx
import pytest
import trimesh
from django.conf import settings
from websockets.sync.client import connect as ws_connect

from chat.tests.conftest import SEED_REQUIREMENTS  # seed 001's requirements card, as the seed writes it
from mozukai_hub.testing.fake_stripe import WEBHOOK_SECRET, event, sign
from mozukai_hub.testing.production import STAFF_EMAIL, STAFF_PASSWORD, production_stack
from pipeline.tests.photogrammetry_scene import centres_error, scene, scene_files  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow

TERMINAL = {"completed", "failed", "cancelled"}
PASSWORD = "Moss-and-Granite-42"
DEFAULT_FREE_CREDITS = 3  # the setting's default, which the stack keeps
# The chat's render job (scad_render) is free by default; the stack prices it so that the design
# chat's journey shows its credits moving once, as an operator who charges for renders sees them
# (only that journey renders SCAD: the customer's text-to-3D job has its own price).
SCAD_RENDER_PRICE = 2
PHOTOGRAMMETRY_PRICE = 3  # the setting's default, which the stack keeps


@pytest.fixture(scope="module")
def stack():
    with production_stack(extra_env={"CREDIT_PRICE_SCAD_RENDER": str(SCAD_RENDER_PRICE)}) as running:
        yield running


def client(stack, address: str, **headers) -> httpx.Client:
    """An HTTP client of nginx connecting from `address` (any 127.x.y.z is this machine)."""
    return httpx.Client(base_url=stack.url, transport=httpx.HTTPTransport(local_address=address), headers=headers,
                        timeout=30)


def sign_up(http: httpx.Client, name: str) -> str:
    email = f"{name}@example.com"
    registered = http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": name})
    assert registered.status_code == 201, registered.text
    login = http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    return token


def deliver(stack, http: httpx.Client, stripe_event: dict) -> httpx.Response:
    """Stripe's webhook delivery, signed as Stripe signs it, through nginx."""
    payload = json.dumps(stripe_event)
    return http.post("/api/v1/stripe/webhook", content=payload,
                     headers={"Content-Type": "application/json", "Stripe-Signature": sign(payload, WEBHOOK_SECRET)})


def buy_pack(stack, http: httpx.Client, pack: int) -> None:
    before = http.get("/api/v1/credits").json()["balance"]
    checkout = http.post("/api/v1/credits/checkout", json={"pack": pack})
    assert checkout.status_code == 201, checkout.text
    assert checkout.json()["dev_mode"] is False  # production: a real Checkout Session, no dev payments
    session = stack.stripe.pay_session(checkout.json()["session_id"])
    completed = event("checkout.session.completed", session)
    for _ in range(2):  # Stripe redelivers; credited once
        answer = deliver(stack, http, completed)
        assert answer.status_code == 200, answer.text
    assert http.get("/api/v1/credits").json()["balance"] == before + pack


def follow(stack, token: str, job_id: str, timeout: float = 60) -> list[dict]:
    """Every event of a job from the websocket, through nginx to daphne, until it ends."""
    messages = []
    with ws_connect(f"{stack.ws_url}/api/v1/jobs-socket/{job_id}?token={token}&after=0", open_timeout=10) as ws:
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            messages.append(message)
            if message["type"] == "status" and message["data"]["status"] in TERMINAL:
                return messages


def download(stack, http: httpx.Client, job_id: str) -> bytes:
    """A job's output, fetched from S3 by the presigned URL the API hands out."""
    link = http.get(f"/api/v1/jobs/{job_id}/download-url")
    assert link.status_code == 200, link.text
    url = link.json()["url"]
    assert url.startswith(f"{stack.s3_endpoint}/") and "X-Amz-Signature=" in url, url
    data = httpx.get(url, timeout=30)
    assert data.status_code == 200, data.text[:300]
    assert httpx.get(url.split("?")[0], timeout=30).status_code == 403  # the bucket is private
    return data.content


def run_job(stack, http: httpx.Client, token: str, body: dict, timeout: float = 60) -> tuple[dict, list[dict]]:
    created = http.post("/api/v1/jobs", json=body)
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    messages = follow(stack, token, job_id, timeout)
    job = http.get(f"/api/v1/jobs/{job_id}").json()
    assert job["status"] == "completed", (job, stack.logs())
    seqs = [m["seq"] for m in messages]
    assert seqs == list(range(1, len(seqs) + 1))  # every event, in order, none missed
    return job, messages


def test_customer_journey_through_nginx(stack):
    with client(stack, "127.0.0.10") as http, client(stack, "127.0.0.11") as staff:
        assert http.get("/api/v1/health").status_code == 200
        token = sign_up(http, "journey")

        # A credit pack, paid on (fake) Stripe, credited by the signed webhook.
        buy_pack(stack, http, 5)

        # Staff puts a bonsai on sale; the customer orders it and pays with a PaymentIntent.
        login = staff.post("/api/v1/auth/login", json={"email": STAFF_EMAIL, "password": STAFF_PASSWORD})
        staff.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        product = staff.post("/api/v1/products", json={
            "name": "Stack Shimpaku", "description": "Grown behind nginx.", "price": 45.0,
            "category": "Outdoor Bonsai", "stock_quantity": 2, "is_active": True})
        assert product.status_code == 201, product.text
        order = http.post("/api/v1/orders", json={"items": [{"product_id": product.json()["id"], "quantity": 1}]})
        assert order.status_code == 201, order.text
        intent = http.post("/api/v1/payments/create-intent", json={"order_id": order.json()["id"]})
        assert intent.status_code == 200, intent.text
        assert intent.json()["amount"] == 4500 and not intent.json().get("dev_mode")
        paid = stack.stripe.confirm_intent(intent.json()["payment_intent_id"])
        assert deliver(stack, http, event("payment_intent.succeeded", paid)).status_code == 200
        assert http.get(f"/api/v1/orders/{order.json()['id']}").json()["status"] == "confirmed"
        assert http.get(f"/api/v1/payments/{intent.json()['id']}").json()["status"] == "succeeded"

        # A text-to-3D job run by a worker, followed on the websocket, its GLB fetched from S3.
        spendable = http.get("/api/v1/credits").json()["credits"]
        job, messages = run_job(stack, http, token,
                                {"prompt": "a bonsai pot 120 mm wide, 40 mm tall, with a drainage hole",
                                 "output_format": "glb"})
        statuses = [m["data"]["status"] for m in messages if m["type"] == "status"]
        assert statuses[0] == "pending" and "processing" in statuses and statuses[-1] == "completed"
        assert download(stack, http, job["id"])[:4] == b"glTF"
        credits = http.get("/api/v1/credits").json()
        assert credits["credits"] == spendable - job["cost_credits"] and job["cost_credits"] >= 1
        # The address's free credits are spent before the pack: the pack is untouched.
        assert credits["balance"] == 5 and credits["free_credits"] == DEFAULT_FREE_CREDITS - job["cost_credits"]


def test_free_credits_go_by_the_real_client_address_not_a_forged_header(stack):
    forged_a, forged_b = "203.0.113.7", "198.51.100.9"
    with client(stack, "127.0.0.20") as http, client(stack, "127.0.0.21") as neighbour:
        first = http.get("/api/v1/credits", headers={"X-Forwarded-For": forged_a}).json()
        assert first["free_credits"] == DEFAULT_FREE_CREDITS
        spent = http.post("/api/v1/credits/consume", json={"amount": DEFAULT_FREE_CREDITS, "reason": "probe"},
                          headers={"X-Forwarded-For": forged_a})
        assert spent.status_code == 200, spent.text
        # Another forged address from the same client: nothing new is granted.
        again = http.get("/api/v1/credits", headers={"X-Forwarded-For": forged_b}).json()
        assert again["free_credits"] == 0
        refused = http.post("/api/v1/credits/consume", json={"amount": 1, "reason": "probe"},
                            headers={"X-Forwarded-For": f"{forged_b}, {forged_a}"})
        assert refused.status_code == 402, refused.text
        # A really different client gets its own free credits.
        assert neighbour.get("/api/v1/credits").json()["free_credits"] == DEFAULT_FREE_CREDITS
    addresses = {row[0] for row in stack.sql("SELECT host(client_ip) FROM billing_creditaccount WHERE client_ip IS NOT NULL")}
    assert {"127.0.0.20", "127.0.0.21"} <= addresses
    assert not addresses & {forged_a, forged_b}


def test_throttles_count_per_real_client(stack):
    rate = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["auth"].split("/")[0])
    wrong = {"email": "nobody@example.com", "password": "not-the-password-42"}
    with client(stack, "127.0.0.30") as http, client(stack, "127.0.0.31") as other:
        answers = [http.post("/api/v1/auth/login", json=wrong, headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code
                   for n in range(rate)]
        assert 429 not in answers, answers
        throttled = http.post("/api/v1/auth/login", json=wrong, headers={"X-Forwarded-For": "192.0.2.200"})
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
        assert other.post("/api/v1/auth/login", json=wrong).status_code != 429


def test_pages_and_their_static_files_are_served_as_deployed(stack):
    # The shop's pages under the production static storage (hashed names from the manifest that
    # collectstatic wrote), and every stylesheet and script they name, served by nginx.
    for path in ("/", "/shop/products/"):
        page = httpx.get(f"{stack.url}{path}", follow_redirects=True)
        assert page.status_code == 200, (path, page.text[:500], stack.logs())
        assets = set(re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text))
        assert assets, path
        for asset in assets:
            served = httpx.get(f"{stack.url}{asset}")
            assert served.status_code == 200, asset
            assert served.content == (stack.static_root / asset.removeprefix("/static/")).read_bytes()
            assert served.headers["Cache-Control"].startswith("max-age=")
    hashed = [a for a in assets if re.search(r"\.[0-9a-f]{12}\.(css|js|svg|ico)$", a)]
    assert hashed, assets  # the manifest's names, not the source names


def test_nginx_refuses_oversized_bodies_and_forged_https(stack):
    # A body over MAX_REQUEST_BYTES is refused by nginx from its Content-Length, unread.
    host, port = stack.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall((f"POST /api/v1/assets/upload HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\n"
                      f"Content-Length: {settings.MAX_REQUEST_BYTES + 1}\r\n\r\n").encode())
        assert sock.recv(200).split(b"\r\n")[0] == b"HTTP/1.1 413 Request Entity Too Large"
    # nginx replaces the client's X-Forwarded-Proto with the scheme it really served: a client
    # cannot pass plain HTTP off as HTTPS (the app would answer with HSTS on a secure request).
    health = httpx.get(f"{stack.url}/api/v1/health", headers={"X-Forwarded-Proto": "https"})
    assert health.status_code == 200 and "Strict-Transport-Security" not in health.headers


def test_thumbnail_journey(stack):
    with client(stack, "127.0.0.40") as http:
        token = sign_up(http, "thumbs")
        buy_pack(stack, http, 5)
        project = http.post("/api/v1/projects", json={
            "mode": "design", "platform": "youtube", "headline": "Bonsai in a day", "subtext": "behind nginx",
            "vibe": "bold", "model_pref": "local"})
        assert project.status_code == 201, project.text
        job, _ = run_job(stack, http, token, {"project_id": project.json()["id"], "variants": 1}, timeout=90)
        assert job["kind"] == "thumbnail" and job["cost_credits"] == 1
        image = download(stack, http, job["id"])
        assert image[:8] == b"\x89PNG\r\n\x1a\n" or image[:3] == b"\xff\xd8\xff" or image[8:12] == b"WEBP"


def test_film_journey(stack):
    with client(stack, "127.0.0.50") as http:
        token = sign_up(http, "films")
        buy_pack(stack, http, 10)
        project = http.post("/api/v1/projects", json={
            "kind": "film", "title": "One second of moss",
            "scenes": [{"narration": "Moss.", "visual": "A title card", "duration_s": 1}]})
        assert project.status_code == 201, project.text
        job, _ = run_job(stack, http, token, {"project_id": project.json()["id"]}, timeout=120)
        assert job["kind"] == "film"
        film = download(stack, http, job["id"])
        assert film[4:8] == b"ftyp"


def presigned_get(stack, url: str) -> bytes:
    """An object fetched from S3 by a presigned URL the API handed out (the bucket itself is private)."""
    assert url.startswith(f"{stack.s3_endpoint}/") and "X-Amz-Signature=" in url, url
    data = httpx.get(url, timeout=30)
    assert data.status_code == 200, data.text[:300]
    assert httpx.get(url.split("?")[0], timeout=30).status_code == 403
    return data.content


def ledger(stack, job_id: str) -> tuple[str, list[tuple[str, int]]]:
    """A job's credits state and every ledger entry of its hold, read from the stack's database."""
    [(state, reference)] = stack.sql("SELECT credits_state, credit_reference FROM pipeline_job WHERE id::text = %s",
                                     (job_id,))
    entries = stack.sql("SELECT kind, amount FROM billing_creditentry WHERE reference = %s ORDER BY id", (reference,))
    return state, sorted(entries)


def settled_once(stack, job_id: str, price: int) -> None:
    state, entries = ledger(stack, job_id)
    kinds = [kind for kind, _ in entries]
    # One hold (in parts when it took free credits and the user's own), each part settled once.
    assert state == "settled" and "release" not in kinds, (state, entries)
    assert kinds.count("settle") == kinds.count("hold") >= 1, entries
    assert sum(amount for _, amount in entries) == -price, entries


def chat_until(ws, stack, done: set[str], received: list[dict], timeout: float) -> dict:
    """Chat events from the socket (appended to `received`) until one of the types in `done`."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, ([e["type"] for e in received], stack.logs())
        event = json.loads(ws.recv(timeout=remaining))
        if event["type"] in ("error", "runpod.failed"):
            pytest.fail(f"{json.dumps(event)}\n{stack.logs()}")
        received.append(event)
        if event["type"] in done:
            return event


def test_design_chat_journey(stack):
    with client(stack, "127.0.0.60") as http:
        token = sign_up(http, "designer")
        # No pack: the render, asked for on the socket through nginx, spends the free credits of
        # the address it was asked from (the run records it), as /credits shows them.
        before = http.get("/api/v1/credits").json()
        assert (before["credits"], before["free_credits"], before["balance"]) == (DEFAULT_FREE_CREDITS, DEFAULT_FREE_CREDITS, 0)
        created = http.post("/api/v1/chat/new", json={"session_name": "Quad frame"})
        assert created.status_code == 201, created.text
        chat_id, session_id = created.json()["chat_id"], created.json()["session_id"]
        assert created.json()["url"].endswith(f"/c/{chat_id}")

        received: list[dict] = []
        # The socket connects from the same address as the HTTP client: one client.
        with ws_connect(f"{stack.ws_url}/api/v1/chat-socket/{chat_id}?token={token}&after=0", open_timeout=10,
                        source_address=("127.0.0.60", 0)) as ws:
            # The requirements: read from what was said, answered on the socket by a worker.
            ws.send(json.dumps({"type": "runpod.request", "payload": {
                "action": "process_requirements", "content": "Design a small quadcopter frame"}}))
            queued = chat_until(ws, stack, {"runpod.queued"}, received, 30)
            assert queued["status"] == "queued" and queued["chat_id"] == chat_id
            answered = chat_until(ws, stack, {"runpod.completed"}, received, 60)
            assert answered["runpod_id"] == queued["runpod_id"] and answered["message"]["role"] == "assistant"
            requirements = answered["output"]["requirements_json"]
            assert requirements["model_type"] and requirements["primary_function"]
            assert {"description_natural_language", "standard_components", "custom_description"} <= set(requirements)

            # The SCAD for seed 001's card, rendered by a worker's OpenSCAD job, checked, answered.
            ws.send(json.dumps({"type": "runpod.request", "payload": {
                "action": "generate_scad", "content": "Generate SCAD", "requirements_json": SEED_REQUIREMENTS}}))
            queued = chat_until(ws, stack, {"runpod.queued"}, received, 30)
            designed = chat_until(ws, stack, {"runpod.completed"}, received, 90)
        assert designed["runpod_id"] == queued["runpod_id"] and queued["action"] == "generate_scad"
        seqs = [e["seq"] for e in received]
        assert seqs == list(range(1, len(seqs) + 1))  # the chat's sequence: nothing missed, nothing twice

        output = designed["output"]
        report, job_id = output["report"], output["job_id"]
        assert report["ok"] and report["watertight"] and report["bbox_within_2pct"], report
        spacing = report["checks"]["motor_spacing_mm"]
        assert spacing["ok"] and spacing["measured"] == pytest.approx(160, rel=0.02)
        assert report["checks"]["arm_thickness_mm"]["measured"] == pytest.approx(3, abs=0.1)

        # The render job is the chat session's, listed by the seed's filter.
        listed = http.get(f"/api/v1/jobs?session_id={session_id}")
        assert listed.status_code == 200, listed.text
        assert [(j["id"], j["kind"]) for j in listed.json()] == [(job_id, "scad_render")]
        job = http.get(f"/api/v1/jobs/{job_id}").json()
        assert job["status"] == "completed" and job["cost_credits"] == SCAD_RENDER_PRICE
        assert job["params"]["scad"] == output["scad"] and job["params"]["hardwarnings"] is True  # what was rendered

        # The STL from S3, by the presigned URL of the answer and by the job's download-url route.
        links = {a["asset_type"]: a for a in output["assets"]}
        assert {"stl", "glb"} <= set(links)
        stl = presigned_get(stack, links["stl"]["url"])
        routed = http.get(f"/api/v1/jobs/{job_id}/download-url", params={"asset_type": "stl"})
        assert routed.status_code == 200, routed.text
        assert presigned_get(stack, routed.json()["url"]) == stl and len(stl) == links["stl"]["size"]
        assert presigned_get(stack, links["glb"]["url"])[:4] == b"glTF"

        # Measured from outside with trimesh: watertight, the report's box, motor centres 160 mm apart.
        mesh = trimesh.load(io.BytesIO(stl), file_type="stl", force="mesh")
        assert mesh.is_watertight and mesh.volume > 0
        extents = mesh.extents
        assert list(extents) == pytest.approx(report["bbox_mm"], abs=0.01)
        answer = http.get(f"/api/v1/messages/{designed['message']['id']}").json()
        assert answer["job_id"] == job_id and answer["parts"]["scad"] == output["scad"]
        motor_d = answer["parts"]["design"]["parameters"]["motor_d"]
        # Motor pads at the corners of the footprint: their centres sit one pad inside each side.
        for side in extents[:2]:
            assert (side - motor_d) * math.sqrt(2) == pytest.approx(160, rel=0.02)
        assert extents[2] == pytest.approx(3, abs=0.01)

        # Credits moved once, by the render's price (the requirements cost nothing).
        after = http.get("/api/v1/credits").json()
        assert after["credits"] == after["free_credits"] == DEFAULT_FREE_CREDITS - SCAD_RENDER_PRICE
        assert after["balance"] == 0
        # The hold was on the free credits of the address the socket came from (nginx's X-Forwarded-For).
        payers = stack.sql("SELECT DISTINCT host(a.client_ip) FROM billing_creditentry e JOIN billing_creditaccount a "
                           "ON a.id = e.account_id JOIN pipeline_job j ON j.credit_reference = e.reference "
                           "WHERE j.id::text = %s", (job_id,))
        assert payers == [("127.0.0.60",)], payers
        settled_once(stack, job_id, SCAD_RENDER_PRICE)


def test_photogrammetry_journey(stack, scene):  # noqa: F811
    directory, truth = scene
    views = len(truth.names)
    with client(stack, "127.0.0.70") as http:
        token = sign_up(http, "scanner")
        buy_pack(stack, http, 5)
        before = http.get("/api/v1/credits").json()["credits"]
        photos = [("files", (path.name, path.read_bytes(), "image/jpeg")) for path in scene_files(directory, truth)]
        uploaded = http.post("/api/v1/pipeline/upload", files=photos, data={"quality": "fast", "name": "Stack bonsai"},
                             timeout=60)
        assert uploaded.status_code == 202, uploaded.text
        assert uploaded.json()["photos"] == views
        job_id = uploaded.json()["job_id"]

        messages = follow(stack, token, job_id, timeout=240)
        seqs = [m["seq"] for m in messages]
        assert seqs == list(range(1, len(seqs) + 1))
        stages = {m["data"].get("stage") for m in messages if m["type"] == "progress"}
        assert {"features", "matching", "mapping", "meshing"} <= stages, stages

        status = http.get(f"/api/v1/pipeline/status/{job_id}").json()
        assert status["status"] == "completed", (status, stack.logs())
        quality = status["quality"]
        assert quality["registered_images"] == quality["total_images"] == views
        assert abs(quality["focal_px"] - truth.focal_px) / truth.focal_px < 0.02
        job = http.get(f"/api/v1/jobs/{job_id}").json()
        assert len(job["result"]["cameras"]) == views and centres_error(job["result"]["cameras"], truth) < 0.02

        # The model from S3: the download route redirects to a presigned URL.
        redirect = http.get(f"/api/v1/pipeline/download/{job_id}")
        assert redirect.status_code == 302, redirect.text
        glb = presigned_get(stack, redirect.headers["Location"])
        mesh = trimesh.load(io.BytesIO(glb), file_type="glb", force="mesh")
        assert len(mesh.faces) > 500 and len(mesh.vertices) > 0
        redirect = http.get(f"/api/v1/pipeline/download/{job_id}", params={"format": "ply"})
        assert redirect.status_code == 302, redirect.text
        ply = presigned_get(stack, redirect.headers["Location"])
        assert ply.startswith(b"ply")
        assert len(trimesh.load(io.BytesIO(ply), file_type="ply").vertices) == len(mesh.vertices)

        assert http.get("/api/v1/credits").json()["credits"] == before - PHOTOGRAMMETRY_PRICE
        settled_once(stack, job_id, PHOTOGRAMMETRY_PRICE)
