"""The production topology of README "Production", run locally and used only through nginx.

nginx (the site rendered from deploy/nginx/) → gunicorn and daphne, two qcluster workers, the
suite's PostgreSQL (a database of its own), a Redis of its own, S3 (moto server) and the fake
Stripe server; `DJANGO_ENV=production`, `TRUSTED_PROXY_COUNT=1` (see
`mozukai_hub/testing/production.py` for every setting). Each client below connects from an
address of its own in 127.0.0.0/8, so free credits and throttles, which go by the real client
address, do not mix between tests.
"""

import json
import re
import socket
import time

import httpx
import pytest
from django.conf import settings
from websockets.sync.client import connect as ws_connect

from mozukai_hub.testing.fake_stripe import WEBHOOK_SECRET, event, sign
from mozukai_hub.testing.production import STAFF_EMAIL, STAFF_PASSWORD, production_stack

pytestmark = pytest.mark.slow

TERMINAL = {"completed", "failed", "cancelled"}
PASSWORD = "Moss-and-Granite-42"
DEFAULT_FREE_CREDITS = 3  # the setting's default, which the stack keeps


@pytest.fixture(scope="module")
def stack():
    with production_stack() as running:
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
