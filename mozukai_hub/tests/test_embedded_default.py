"""`make run` end to end, on the embedded default: SQLite, the ORM task broker, no Redis, DEBUG
on, dev payment mode (no Stripe keys).

The rest of the suite runs on PostgreSQL + Redis, so nothing else exercises what a new user
gets. This module does what that user does, in subprocesses with a clean environment:
migrate, seed the demo data (twice: it is idempotent), start `manage.py run_stack` (daphne +
the django-q2 cluster) on a free port, then use the shop, credits, jobs and admin over real
HTTP, and finally stop the stack with SIGINT (and, separately, kill its worker) and check
nothing is left running.

The tests share one seeded database and running stack (module scope) and run in file order,
but each one sets up what it needs itself, so any one of them can also be run alone (or under
pytest-xdist). The first run of seed_demo renders the demo pots with OpenSCAD (~10 s); the
module takes under a minute on a 2-core machine.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import trimesh

from mozukai_hub.testing.polling import wait_until
from mozukai_hub.testing.services import free_port
from pipeline.transitions import TERMINAL

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Moss-and-Granite-42"
STAFF = ("staff@mozukai.local", "mozukai-staff-demo")  # accounts/demo.py
DEMO_CUSTOMER = ("customer@mozukai.local", "mozukai-customer-demo")
POT_PROMPT = "a bonsai pot 120 mm wide, 40 mm tall, with a drainage hole"

# Rows seed_demo creates; a second run must leave every count as it was.
COUNT_ROWS = """
from django.apps import apps
for label in ["accounts.User", "account.EmailAddress", "catalog.Category", "catalog.Product", "pipeline.Asset",
              "billing.CreditAccount", "billing.CreditEntry"]:
    print("count", label, apps.get_model(label).objects.count())
"""


def embedded_env(tmp: Path, port: int) -> dict[str, str]:
    """What a new user's shell gives `make run`: nothing of ours, in particular not the
    DATABASE_URL / REDIS_URL that the test-services wrapper exports.

    The service variables are set to "" rather than only left out: the settings treat "" as
    unset, and a developer's `.env` (read without overwriting) cannot fill them back in.
    """
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if name in os.environ}
    env.update(
        DJANGO_ENV="development",
        DEBUG="true",
        DATABASE_URL="",
        REDIS_URL="",
        STRIPE_SECRET_KEY="",
        STRIPE_PUBLISHABLE_KEY="",
        STRIPE_WEBHOOK_SECRET="",
        AWS_STORAGE_BUCKET_NAME="",
        SQLITE_PATH=str(tmp / "db.sqlite3"),
        MEDIA_ROOT=str(tmp / "media"),
        SITE_URL=f"http://127.0.0.1:{port}",
        PYTHONUNBUFFERED="1",  # the log is read while the stack runs (e-mails, tracebacks)
    )
    return env


def _session_pids(session_id: int) -> list[int]:
    """Every live process whose session is `session_id` (run_stack, its children and theirs)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp session
        if fields[0] != "Z" and int(fields[3]) == session_id:
            pids.append(int(entry.name))
    return pids


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@dataclass
class Stack:
    tmp: Path
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    seed_outputs: list[str] = field(default_factory=list)
    counts: list[dict[str, int]] = field(default_factory=list)
    seed_seconds: list[float] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def counts_now(self) -> dict[str, int]:
        out = self.manage("shell", "-c", COUNT_ROWS)
        rows = [line.split() for line in out.splitlines() if line.startswith("count ")]
        return {label: int(n) for _, label, n in rows}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self) -> None:
        self._log_file = self.log_path.open("a")
        # Its own session: every process it starts (daphne, qcluster and qcluster's forks) is
        # found again by session id, and cleaned up even if the test fails half way.
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "run_stack", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env=self.env, stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )

        def healthy() -> bool:
            assert self.process.poll() is None, f"run_stack exited with {self.process.returncode}:\n{self.log()}"
            try:
                return httpx.get(f"{self.base_url}/health", timeout=2, trust_env=False).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, 90, interval=0.3, message=lambda: f"run_stack did not answer /health:\n{self.log()}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        return self.process.poll()

    def kill_everything(self) -> None:
        if self.process is not None:
            for pid in _session_pids(self.process.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if getattr(self, "_log_file", None):
            self._log_file.close()


@pytest.fixture(scope="module")
def seeded_stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("embedded")
    port = free_port()
    stack = Stack(tmp=tmp, port=port, env=embedded_env(tmp, port), log_path=tmp / "run_stack.log")
    stack.manage("migrate", "--noinput")
    for _ in range(2):
        started = time.monotonic()
        stack.seed_outputs.append(stack.manage("seed_demo"))
        stack.seed_seconds.append(time.monotonic() - started)
        stack.counts.append(stack.counts_now())
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        stack.kill_everything()


@pytest.fixture
def stack(seeded_stack) -> Stack:
    """The running stack; started again on the same data if a test stopped it (the Ctrl-C
    tests do; under pytest-xdist another test of this module may come after them)."""
    if seeded_stack.process is None or seeded_stack.process.poll() is not None:
        seeded_stack.kill_everything()
        seeded_stack.start()
    return seeded_stack


class Browser:
    """An HTTP client with a cookie jar (the web pages) and, optionally, a bearer token (the API)."""

    def __init__(self, base_url: str, token: str | None = None):
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=30, follow_redirects=True, trust_env=False)

    def __getattr__(self, name):
        return getattr(self.http, name)

    def form_token(self, path: str) -> tuple[httpx.Response, str]:
        page = self.http.get(path)
        assert page.status_code == 200, (path, page.status_code, page.text[:2000])
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert match, f"no CSRF token in the form at {path}"
        return page, match.group(1)

    def submit(self, path: str, data: dict, *, form_path: str | None = None) -> httpx.Response:
        """GET the page with the form (as a browser would), then POST it with its CSRF token."""
        _, token = self.form_token(form_path or path)
        return self.http.post(path, data={**data, "csrfmiddlewaretoken": token}, headers={"Referer": f"{self.http.base_url}{path}"})

    def web_login(self, email: str, password: str) -> None:
        done = self.submit("/accounts/login/", {"login": email, "password": password})
        assert done.status_code == 200 and "/accounts/login/" not in str(done.url), done.text[:2000]
        assert self.http.cookies.get("sessionid"), "no session after the web login"


def _ok(response: httpx.Response, status: int = 200) -> dict | list:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.status_code} {response.text[:3000]}"
    return response.json()


def api_signin(stack: Stack, email: str, password: str) -> str:
    body = _ok(httpx.post(f"{stack.base_url}/api/v1/auth/signin", json={"email": email, "password": password}, trust_env=False))
    assert body["token_type"].lower() == "bearer" and body["user"]["email"] == email
    return body["access_token"]


def websocket_messages(url: str, *, until, timeout: float = 90, headers: dict | None = None) -> list[dict]:
    """A minimal websocket client (RFC 6455; no library for it is in requirements.txt): JSON
    text frames from `url` until `until(messages)` is true or the server closes."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    messages: list[dict] = []
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      + "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items()) + "\r\n").encode())
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(4096)
            assert chunk, f"the websocket handshake was cut off: {buffer!r}"
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

        def read(n: int) -> bytes:
            nonlocal buffer
            while len(buffer) < n:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the websocket closed mid-frame")
                buffer += chunk
            data, buffer = buffer[:n], buffer[n:]
            return data

        deadline = time.monotonic() + timeout
        while not until(messages):
            assert time.monotonic() < deadline, f"websocket: timed out after {messages}"
            first, second = read(2)
            opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                length = int.from_bytes(read(2), "big")
            elif length == 127:
                length = int.from_bytes(read(8), "big")
            payload = read(length)
            if opcode == 0x8:  # close
                code = int.from_bytes(payload[:2], "big") if payload else None
                raise AssertionError(f"the server closed the websocket ({code}) after {messages}")
            if opcode == 0x1:
                messages.append(json.loads(payload))
    finally:
        sock.close()
    return messages


def admin_action(staff: Browser, changelist: str, *, search: str, action: str, extra: dict | None = None) -> httpx.Response:
    """Select the one row `search` finds on an admin changelist and run `action` on it."""
    listing = staff.get(changelist, params={"q": search})
    assert listing.status_code == 200, listing.text[:2000]
    selected = re.findall(r'name="_selected_action" value="([^"]+)"', listing.text)
    assert len(selected) == 1, f"{changelist}?q={search} lists {selected}"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', listing.text).group(1)
    return staff.post(f"{changelist}?q={search}", headers={"Referer": f"{staff.http.base_url}{changelist}"}, data={
        "csrfmiddlewaretoken": token, "action": action, "_selected_action": selected, "index": "0", **(extra or {})})


@pytest.fixture(scope="module")
def staff(seeded_stack) -> Browser:
    """The demo staff account, signed in to the admin as staff do (its own login page)."""
    browser = Browser(seeded_stack.base_url)
    logged_in = browser.submit("/admin/login/?next=/admin/", {"username": STAFF[0], "password": STAFF[1], "next": "/admin/"})
    assert logged_in.status_code == 200 and str(logged_in.url).endswith("/admin/"), logged_in.text[:2000]
    assert "Site administration" in logged_in.text
    yield browser
    browser.close()


@dataclass
class Customer:
    email: str
    api: Browser  # bearer token
    web: Browser  # session cookie


@pytest.fixture(scope="module")
def customer(seeded_stack) -> Customer:
    """A visitor who signs up through the API, signs in there, and signs in on the web pages."""
    stack = seeded_stack
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    signup = _ok(httpx.post(f"{stack.base_url}/api/v1/auth/signup", trust_env=False, json={
        "email": email, "password": PASSWORD, "confirm_password": PASSWORD, "username": f"moss{uuid.uuid4().hex[:8]}",
        "full_name": "Ada Moss", "dob": "1990-01-01"}), 201)
    assert signup["next"] == "confirm_email"
    api = Browser(stack.base_url, api_signin(stack, email, PASSWORD))
    me = _ok(api.get("/api/v1/auth/me"))
    assert me["email"] == email
    web = Browser(stack.base_url)
    web.web_login(email, PASSWORD)
    yield Customer(email=email, api=api, web=web)
    api.close()
    web.close()


# --- 1. migrate + seed_demo --------------------------------------------------------------


def test_seed_demo_is_idempotent_and_prints_the_demo_logins(stack):
    first, second = stack.counts
    assert first == second, f"seed_demo changed the data when run again: {first} → {second}"
    assert first["catalog.Product"] >= 30 and first["catalog.Category"] == 5
    assert first["pipeline.Asset"] >= 5, "the demo pots should have OpenSCAD models"
    for output in stack.seed_outputs:
        assert f"{STAFF[0]} / {STAFF[1]}" in output and f"{DEMO_CUSTOMER[0]} / {DEMO_CUSTOMER[1]}" in output
    assert "5 pot models rendered with OpenSCAD" in stack.seed_outputs[0], stack.seed_outputs[0]
    assert "(0 new)" in stack.seed_outputs[1], stack.seed_outputs[1]


# --- 2. the stack answers ----------------------------------------------------------------


def test_health_reports_the_embedded_services(stack):
    body = _ok(httpx.get(f"{stack.base_url}/api/v1/health", trust_env=False))
    assert body["status"] == "ok"
    assert body["checks"]["database"]["vendor"] == "sqlite"
    assert body["checks"]["cache"]["backend"] == "LocMemCache"
    assert body["checks"]["task_broker"]["broker"].startswith("ORM")
    # DEBUG is on here, and an unknown API path still answers the API's JSON error.
    for method in ("GET", "POST"):
        missing = httpx.request(method, f"{stack.base_url}/api/v1/no-such-thing", trust_env=False)
        assert missing.status_code == 404 and missing.json() == {"error": {"code": "not_found", "message": "Not found."}}


# --- 3. as a new user ----------------------------------------------------------------------


def test_the_shop_shows_the_demo_catalog(stack):
    visitor = Browser(stack.base_url)
    products = _ok(visitor.get("/api/v1/products", params={"page_size": 100}))
    assert len(products) >= 30
    assert int(visitor.get("/api/v1/products").headers["X-Total-Count"]) == len(products)
    assert {p["category"] for p in products} == {"trees", "pots", "tools", "soil", "accessories"}
    assert {c["slug"] for c in _ok(visitor.get("/api/v1/categories"))} >= {"trees", "pots"}

    home = visitor.get("/")
    assert home.status_code == 200 and "text/html" in home.headers["content-type"]
    shown = [p for p in products if p["name"] in home.text or p["slug"] in home.text]
    assert shown, "the front page shows none of the demo products"
    listing = visitor.get("/shop/products/")
    assert listing.status_code == 200
    assert sum(p["name"] in listing.text for p in products) >= 10, "the product list page shows few products"
    stylesheet = re.search(r'href="(/static/[^"]+\.css)"', home.text)
    assert stylesheet and visitor.get(stylesheet.group(1)).status_code == 200, "the page's stylesheet is not served"

    # Product photos (drawn by the code) and the pots' 3D models are served.
    first = products[0]
    image = visitor.get(first["image_url"])
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG"), first["image_url"]
    pot = next(p for p in products if p["model_url"])
    model = visitor.get(pot["model_url"])
    assert model.status_code == 200 and model.content[:4] == b"glTF", pot["model_url"]
    page = visitor.get(f"/shop/p/{pot['slug']}/")
    assert page.status_code == 200 and pot["name"] in page.text and "model-viewer" in page.text
    # Everything the page loads from us is there (the vendored @google/model-viewer included).
    for src in re.findall(r'(?:src|href)="(/(?:static|shop/models|shop/images)/[^"]+)"', page.text):
        assert visitor.get(src).status_code == 200, src
    visitor.close()


def test_an_anonymous_visitor_gets_three_free_credits_and_spends_one(stack):
    visitor = Browser(stack.base_url)
    start = _ok(visitor.get("/api/v1/credits"))
    assert start["authenticated"] is False and start["dev_payments"] is True
    assert start["free_credits"] == start["balance"] == 3
    spent = _ok(visitor.post("/api/v1/credits/consume", json={"amount": 1, "reason": "one photo"}))
    assert spent["consumed"] == 1 and spent["balance"] == 2
    after = _ok(visitor.get("/api/v1/credits"))
    assert after["balance"] == 2
    assert [(e["kind"], e["amount"]) for e in after["recent"]][:2] == [("consume", -1), ("grant", 3)]
    # A second visit does not grant again.
    assert _ok(Browser(stack.base_url).get("/api/v1/credits"))["balance"] == 2
    visitor.close()


def test_a_new_customer_buys_a_credit_pack_in_dev_payment_mode(stack, customer):
    # A new account has no credits of its own; it can spend what is left of its address's free
    # credits (shared by everyone on 127.0.0.1, so earlier tests of this module may have spent some).
    start = _ok(customer.api.get("/api/v1/credits"))
    assert start["balance"] == 0 and start["credits"] == start["free_credits"]
    checkout = _ok(customer.api.post("/api/v1/credits/checkout", json={"pack": 10}), 201)
    assert checkout["dev_mode"] is True and checkout["pack"] == 10 and checkout["status"] == "pending"
    assert checkout["checkout_url"].startswith(f"{stack.base_url}/credits/dev-checkout/")

    # The dev payment page, as the browser sees it: open the checkout URL, press the button.
    page, _ = customer.web.form_token(checkout["checkout_url"])
    assert "DEV PAYMENT MODE" in page.text and "10 credits" in page.text
    done = customer.web.submit(checkout["checkout_url"], {})
    assert done.status_code == 200 and str(done.url).startswith(f"{stack.base_url}/credits/success/"), done.url
    assert "Thank you!" in done.text and "10 credits were added" in done.text
    # A double click and a reload of the success page credit nothing more.
    again = customer.web.post(checkout["checkout_url"], data={"csrfmiddlewaretoken": customer.web.cookies["csrftoken"]},
                              headers={"Referer": checkout["checkout_url"]})
    assert again.status_code == 200 and "Thank you!" in again.text
    assert "Thank you!" in customer.web.get(str(done.url)).text

    status = _ok(customer.api.get(f"/api/v1/credits/checkout/{checkout['session_id']}"))
    assert status["status"] == "succeeded"
    credits = _ok(customer.api.get("/api/v1/credits"))
    assert credits["balance"] == 10 and credits["authenticated"] is True
    assert credits["free_credits"] == start["free_credits"] and credits["credits"] == 10 + start["free_credits"]
    history = _ok(customer.api.get("/api/v1/credits/history"))
    purchases = [e for e in history if e["kind"] == "purchase"]
    assert len(purchases) == 1 and purchases[0]["amount"] == 10, history
    assert sum(e["amount"] for e in history) == 10
    page = customer.web.get("/credits/").text  # the same figures: what can be spent, and the own 10
    assert f'<p class="credit-figure" data-testid="credits">{10 + start["free_credits"]}</p>' in page
    assert '<span data-testid="balance">10</span>' in page


def test_a_customer_orders_two_products_and_pays_in_dev_payment_mode(stack, customer):
    products = _ok(customer.api.get("/api/v1/products", params={"in_stock": "true", "page_size": 100}))
    first, second = [p for p in products if p["available_quantity"] >= 3][:2]
    order = _ok(customer.api.post("/api/v1/orders", json={
        "items": [{"product_id": first["id"], "quantity": 1},
                  {"product_id": second["id"], "quantity": 2, "price": "0.01"}],  # a client price is ignored
        "shipping_name": "Ada Moss", "shipping_address": "1 Moss Lane, Kyoto"}), 201)
    assert order["status"] == "pending"
    expected_total = Decimal(first["price"]) + 2 * Decimal(second["price"])
    assert Decimal(order["total_amount"]) == expected_total
    assert {(i["product_id"], i["quantity"]) for i in order["items"]} == {(first["id"], 1), (second["id"], 2)}

    def stock(product) -> tuple[int, int]:
        detail = _ok(customer.api.get(f"/api/v1/products/{product['id']}"))["available_quantity"]
        listed = {p["id"]: p["available_quantity"] for p in _ok(customer.api.get("/api/v1/products", params={"page_size": 100}))}
        return detail, listed[product["id"]]

    # Stock is reserved when the order is placed; the cached product list shows it too.
    assert stock(first) == (first["available_quantity"] - 1,) * 2
    assert stock(second) == (second["available_quantity"] - 2,) * 2

    # Pay through the checkout page's dev-mode button (the order's pay page).
    short_id = order["id"].split("-")[0].upper()
    pay_page, _ = customer.web.form_token(f"/shop/orders/{order['id']}/pay/")
    assert "Dev payment mode" in pay_page.text and f"{expected_total}" in pay_page.text
    paid = customer.web.submit(f"/shop/orders/{order['id']}/pay/", {})
    assert paid.status_code == 200 and f"/shop/orders/{order['id']}/" in str(paid.url), paid.url
    assert f"order {short_id} is confirmed" in paid.text

    confirmed = _ok(customer.api.get(f"/api/v1/orders/{order['id']}"))
    assert confirmed["status"] == "confirmed"
    payment = _ok(customer.api.get(f"/api/v1/payments/{confirmed['stripe_payment_intent_id']}"))
    assert payment["status"] == "succeeded" and payment["dev_mode"] is True
    assert payment["amount"] == int(expected_total * 100)
    assert stock(first) == (first["available_quantity"] - 1,) * 2  # paying does not take stock twice
    assert stock(second) == (second["available_quantity"] - 2,) * 2
    assert [o["id"] for o in _ok(customer.api.get("/api/v1/orders"))][0] == order["id"]
    assert short_id in customer.web.get("/shop/orders/").text

    # The confirmation e-mail is sent by a task on the django-q2 worker (console backend).
    wait_until(lambda: f"Thank you for your order {short_id}" in stack.log(), 30, interval=0.3,
               message="no order confirmation e-mail from the worker")


def test_the_last_tree_in_stock_is_sold_once(stack, customer):
    """Concurrent buyers of the last unit: one order, stock 0, never below; the rest a clear
    409, never a 5xx (SQLite serialises the writers)."""
    products = _ok(customer.api.get("/api/v1/products", params={"category": "trees", "page_size": 100}))
    last = next(p for p in products if p["available_quantity"] == 1)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: customer.api.post(
            "/api/v1/orders", json={"items": [{"product_id": last["id"], "quantity": 1}]}), range(6)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * 5, [(a.status_code, a.text[:300]) for a in answers]
    assert _ok(customer.api.get(f"/api/v1/products/{last['id']}"))["available_quantity"] == 0
    won = next(a.json() for a in answers if a.status_code == 201)
    # The buyer changes their mind: the unit goes back on sale.
    assert _ok(customer.api.post(f"/api/v1/orders/{won['id']}/cancel"))["status"] == "cancelled"
    assert _ok(customer.api.get(f"/api/v1/products/{last['id']}"))["available_quantity"] == 1


def test_the_web_shop_cart_checkout_pay_and_staff_ship_it(stack, customer, staff):
    """Issue 5's "done when": browse, add two products, check out in dev payment mode, see the
    order confirmed and the stock lower; staff ship it in the admin."""
    tools = _ok(customer.api.get("/api/v1/products", params={"category": "tools", "in_stock": "true"}))
    first, second = [p for p in tools if p["available_quantity"] >= 2][:2]
    for product, quantity in ((first, 1), (second, 2)):
        page, token = customer.web.form_token(f"/shop/p/{product['slug']}/")
        assert product["name"] in page.text and f'value="{product["id"]}"' in page.text
        added = customer.web.post("/shop/cart/add/", headers={"Referer": str(page.url)}, data={
            "csrfmiddlewaretoken": token, "product_id": product["id"], "quantity": quantity})
        assert added.status_code == 200 and str(added.url).endswith("/shop/cart/"), added.url
        assert f"{product['name']} is in your cart" in added.text
    cart = customer.web.get("/shop/cart/")
    assert first["name"] in cart.text and second["name"] in cart.text

    placed = customer.web.submit("/shop/checkout/", {"shipping_name": "Ada Moss", "shipping_address": "1 Moss Lane, Kyoto"})
    match = re.search(r"/shop/orders/([0-9a-f-]{36})/pay/$", str(placed.url))
    assert placed.status_code == 200 and match, (placed.url, placed.text[:2000])
    order_id = match.group(1)
    assert "Dev payment mode" in placed.text
    paid = customer.web.submit(f"/shop/orders/{order_id}/pay/", {})
    assert paid.status_code == 200 and str(paid.url).endswith(f"/shop/orders/{order_id}/?paid=1"), paid.url
    assert "Your payment was received and order" in paid.text and "is confirmed" in paid.text
    order = _ok(customer.api.get(f"/api/v1/orders/{order_id}"))
    assert order["status"] == "confirmed" and order["shipping_address"] == "1 Moss Lane, Kyoto"
    assert Decimal(order["total_amount"]) == Decimal(first["price"]) + 2 * Decimal(second["price"])
    assert _ok(customer.api.get(f"/api/v1/products/{first['id']}"))["available_quantity"] == first["available_quantity"] - 1
    assert _ok(customer.api.get(f"/api/v1/products/{second['id']}"))["available_quantity"] == second["available_quantity"] - 2
    assert "Your cart is empty" in customer.web.get("/shop/cart/").text

    shipped = admin_action(staff, "/admin/catalog/order/", search=order_id, action="ship")
    assert shipped.status_code == 200 and "1 order shipped." in shipped.text, shipped.text[:5000]
    assert _ok(customer.api.get(f"/api/v1/orders/{order_id}"))["status"] == "shipped"


def test_a_pot_job_runs_on_the_worker_and_its_stl_downloads(stack):
    # The demo customer's 20 credits are there for this (pipeline/demo.py). The hold takes the
    # address's free credits first (what earlier tests of this module left of them), then the
    # customer's own: both pools are checked. `held` counts the open holds on both pools.
    api = Browser(stack.base_url, api_signin(stack, *DEMO_CUSTOMER))
    before = _ok(api.get("/api/v1/credits"))
    assert before["balance"] >= 1 and before["credits"] == before["free_credits"] + before["balance"]
    from_free = min(before["free_credits"], 1)
    expected = {"credits": before["credits"] - 1, "free_credits": before["free_credits"] - from_free,
                "balance": before["balance"] - (1 - from_free)}
    job = _ok(api.post("/api/v1/jobs", json={"prompt": POT_PROMPT, "output_format": "stl"}), 201)
    assert job["kind"] == "text_to_3d" and job["credit_cost"] == 1
    held = _ok(api.get("/api/v1/credits"))
    # Held until the worker finishes (a pot takes about a second: it may be charged already).
    assert {name: held[name] for name in expected} == expected and held["held"] in (0, 1)

    # Live progress as the /jobs/ page gets it: the websocket (no channel layer here: the
    # consumer polls the database for the events the worker process writes).
    ws_url = f"ws://127.0.0.1:{stack.port}/api/v1/jobs-socket/{job['id']}?token={api.token}&after=0"
    live = websocket_messages(ws_url, until=lambda got: any(
        m["data"].get("status") in TERMINAL for m in got))
    assert [m["seq"] for m in live] == list(range(1, len(live) + 1)), live
    assert live[-1]["data"]["status"] == "completed", f"{live}\n{stack.log()[-5000:]}"
    job = _ok(api.get(f"/api/v1/jobs/{job['id']}"))
    assert job["status"] == "completed", job
    # The /jobs/ page itself: same-origin socket on the session cookie (static/pipeline/job.js).
    web = Browser(stack.base_url)
    web.web_login(*DEMO_CUSTOMER)
    page = web.get(f"/jobs/{job['id']}/")
    assert page.status_code == 200 and job["id"] in page.text
    replayed = websocket_messages(
        f"ws://127.0.0.1:{stack.port}/api/v1/jobs-socket/{job['id']}?after=0",
        headers={"Origin": stack.base_url, "Cookie": f"sessionid={web.cookies['sessionid']}"},
        until=lambda got: got and got[-1]["seq"] == live[-1]["seq"])
    assert replayed == live
    web.close()
    assert {"stl", "glb"} <= {a["asset_type"] for a in job["assets"]}, job["assets"]
    events = [e["data"].get("status") for e in _ok(api.get(f"/api/v1/jobs/{job['id']}/events"))]
    assert events[0] == "pending" and events[-1] == "completed" and "processing" in events, events

    credits = _ok(api.get("/api/v1/credits"))  # held, then charged once (from the same pool)
    assert {name: credits[name] for name in expected} == expected and credits["held"] == 0

    link = _ok(api.get(f"/api/v1/jobs/{job['id']}/download-url", params={"asset_type": "stl"}))
    assert link["url"].startswith(f"{stack.base_url}/api/v1/downloads/")
    stranger = Browser(stack.base_url)  # the signed link needs no credentials
    download = stranger.get(link["url"])
    assert download.status_code == 200, download.text[:1000]
    mesh = trimesh.load(io.BytesIO(download.content), file_type="stl")  # a real STL: parsed, closed, to size
    width, depth, height = sorted(mesh.extents, reverse=True)
    assert len(mesh.faces) > 100 and mesh.is_watertight
    assert abs(width - 120) < 2 and abs(depth - 120) < 2 and abs(height - 40) < 2, mesh.extents
    tampered = link["url"][:-3] + ("abc" if not link["url"].endswith("abc") else "xyz")
    assert stranger.get(tampered).status_code == 403
    stranger.close()
    api.close()


def test_a_thumbnail_project_shows_the_jobs_made_from_it(stack, customer):
    """Seed 000's project calls on SQLite: a project's latest jobs are read by a JSON key of the
    jobs' params, which SQLite and PostgreSQL compare differently (this was a 500 on SQLite)."""
    api = customer.api
    project = _ok(api.post("/api/v1/projects/", json={
        "mode": "design", "platform": "youtube", "width": 1920, "height": 1080, "headline": "Title",
        "subtext": "Subtitle", "vibe": "professional", "model_pref": "nano_banana"}), 201)
    assert project["jobs"] == []
    # Not started: nothing is charged, and the project lists it all the same.
    job = _ok(api.post("/api/v1/jobs/", json={"project_id": project["id"], "quality": "std", "variants": 2,
                                              "model": "local", "start": False}), 201)
    other = _ok(api.post("/api/v1/jobs", json={"prompt": "a bonsai pot", "start": False}), 201)  # not the project's
    shown = _ok(api.get(f"/api/v1/projects/{project['id']}"))
    assert [j["id"] for j in shown["jobs"]] == [job["id"]] and other["id"] != job["id"]
    listed = {p["id"]: p for p in _ok(api.get("/api/v1/projects"))}
    assert [j["id"] for j in listed[project["id"]]["jobs"]] == [job["id"]]
    patched = _ok(api.patch(f"/api/v1/projects/{project['id']}", json={"headline": "Updated Title"}))
    assert patched["headline"] == "Updated Title" and [j["id"] for j in patched["jobs"]] == [job["id"]]


def test_staff_adjust_a_customers_credits_in_the_admin(stack, customer, staff):
    before = _ok(customer.api.get("/api/v1/credits"))["balance"]
    changelist = "/admin/billing/creditaccount/"
    form = admin_action(staff, changelist, search=customer.email, action="adjust_credits")
    assert form.status_code == 200 and "Adjust credits" in form.text and 'name="reason"' in form.text, form.text[:3000]
    assert customer.email in form.text
    # The action's own form (amount and reason), as the page posts it.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    selected = re.findall(r'name="_selected_action" value="([^"]+)"', form.text)
    applied = staff.post(f"{changelist}?q={customer.email}", headers={"Referer": str(form.url)}, data={
        "csrfmiddlewaretoken": token, "action": "adjust_credits", "_selected_action": selected, "apply": "1",
        "amount": "7", "reason": "Goodwill after a failed render"})
    assert applied.status_code == 200, applied.text[:3000]
    assert "Adjusted 1 account(s) by +7." in applied.text, applied.text[:5000]

    credits = _ok(customer.api.get("/api/v1/credits"))
    assert credits["balance"] == before + 7
    adjustments = [e for e in _ok(customer.api.get("/api/v1/credits/history")) if e["kind"] == "adjustment"]
    assert [(e["amount"], e["reason"]) for e in adjustments] == [(7, "Goodwill after a failed render")]
    ledger = staff.get("/admin/billing/creditentry/", params={"q": customer.email})
    assert ledger.status_code == 200 and "Goodwill after a failed render" in ledger.text


def test_concurrent_consumes_never_overspend_and_never_fail(stack, customer):
    """SQLite serialises writers (IMMEDIATE transactions, busy timeout): parallel spends get
    exactly what the caller can spend (its address's free credits, then its own balance), a
    clear 402 for the rest, never a 5xx, and neither pool goes below zero."""
    before = _ok(customer.api.get("/api/v1/credits"))
    spendable = before["credits"]
    assert spendable == before["free_credits"] + before["balance"]
    attempts = spendable + 6
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(
            lambda n: customer.api.post("/api/v1/credits/consume", json={"amount": 1, "reason": f"photo {n}"}),
            range(attempts)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * spendable + [402] * 6, [(a.status_code, a.text[:300]) for a in answers if a.status_code >= 500]
    assert all(a.json()["error"]["code"] == "insufficient_credits" for a in answers if a.status_code == 402)
    after = _ok(customer.api.get("/api/v1/credits"))
    assert (after["credits"], after["free_credits"], after["balance"]) == (0, 0, 0)
    assert sum(e["amount"] for e in _ok(customer.api.get("/api/v1/credits/history", params={"page_size": 500}))) == 0
    visitor = Browser(stack.base_url)  # the free pool is the address's: an anonymous caller finds it empty too
    assert _ok(visitor.get("/api/v1/credits"))["free_credits"] == 0
    visitor.close()

    # The same Idempotency-Key and body replays the first answer; nothing more is spent.
    checkout = _ok(customer.api.post("/api/v1/credits/checkout", json={"pack": 5}), 201)
    customer.web.submit(checkout["checkout_url"], {})
    headers = {"Idempotency-Key": f"photo-{uuid.uuid4()}"}
    first = _ok(customer.api.post("/api/v1/credits/consume", json={"amount": 2, "reason": "x"}, headers=headers))
    again = _ok(customer.api.post("/api/v1/credits/consume", json={"amount": 2, "reason": "x"}, headers=headers))
    assert again == first and first["balance"] == 3
    assert _ok(customer.api.get("/api/v1/credits"))["balance"] == 3
    other = customer.api.post("/api/v1/credits/consume", json={"amount": 1, "reason": "x"}, headers=headers)
    assert other.status_code in (409, 422), other.text


# --- 4. Ctrl-C -------------------------------------------------------------------------------


def test_sigint_stops_web_and_worker_and_leaves_nothing_running(stack):
    assert stack.process is not None and stack.process.poll() is None
    children = _children(stack.process.pid)
    assert len(children) == 2, f"run_stack should have two children (daphne, qcluster): {children}"
    everything = _session_pids(stack.process.pid)
    assert len(everything) > 3, everything  # run_stack, daphne, qcluster and qcluster's own processes

    started = time.monotonic()
    code = stack.stop(signal.SIGINT, timeout=30)
    assert code == 0, f"run_stack exited with {code} after SIGINT:\n{stack.log()[-5000:]}"
    # The children may take a moment longer than their parent to be reaped by init.
    wait_until(lambda: not _session_pids(stack.process.pid), 10, interval=0.2,
               message=lambda: f"processes left running after Ctrl-C: {_session_pids(stack.process.pid)}")
    assert time.monotonic() - started < 20, "stopping took too long"
    log = stack.log()
    assert "Traceback" not in log, log[-8000:]


def test_when_the_worker_dies_the_web_stops_too_and_no_worker_is_orphaned(stack):
    """run_stack's promise: if either child exits, the other is stopped. The cluster's own
    forks (sentinel, workers) must go with it, or they keep taking tasks from the ORM broker."""
    stack.stop(signal.SIGINT)  # after the test above; harmless when run alone
    stack.kill_everything()
    crashed = Stack(tmp=stack.tmp, port=free_port(), env=stack.env, log_path=stack.tmp / "run_stack_crash.log")
    crashed.env = {**stack.env, "SITE_URL": crashed.base_url}
    crashed.start()
    try:
        # The cluster forks its sentinel and workers after starting.
        wait_until(lambda: len(_session_pids(crashed.process.pid)) >= 5, 30, interval=0.2,
                   message=lambda: f"the cluster did not fork: {_session_pids(crashed.process.pid)}")
        worker = next(pid for pid in _children(crashed.process.pid)
                      if b"qcluster" in Path(f"/proc/{pid}/cmdline").read_bytes())
        os.kill(worker, signal.SIGKILL)  # as the out-of-memory killer would
        crashed.process.wait(timeout=30)
        assert crashed.process.returncode == 1 and "worker exited unexpectedly" in crashed.log(), crashed.log()[-3000:]
        wait_until(lambda: not _session_pids(crashed.process.pid), 10, interval=0.2,
                   message=lambda: f"left running after the worker died: {_session_pids(crashed.process.pid)}")
    finally:
        crashed.stop(signal.SIGTERM)
        crashed.kill_everything()
