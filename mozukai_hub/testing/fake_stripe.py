"""A local HTTP server that answers the Stripe API calls billing makes, as Stripe documents
them (https://docs.stripe.com/api): form-encoded requests with bracketed keys, Bearer secret
key, `Idempotency-Key` replays, JSON objects and `{"error": {...}}` failures. The real
`stripe` library talks to it through `STRIPE_API_BASE`.

Also: signing webhook payloads with Stripe's scheme (`t=…,v1=HMAC-SHA256(secret, "t.payload")`)
and delivering them to our webhook (`deliver`). The `stripe_server` fixture (in
`mozukai_hub.testing.payments`) starts one and points the settings at it.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from django.test import Client

SECRET_KEY = "sk_test_mozukai_51Hxyz"
WEBHOOK_SECRET = "whsec_test_mozukai"
API_VERSION = "2026-10-28.endive"
_ids = itertools.count(1)


def stripe_id(prefix: str) -> str:
    return f"{prefix}_test_{next(_ids):06d}{int(time.time() * 1000) % 10**8:08d}"


def decode_form(body: str) -> dict:
    """`a[b][0][c]=x` → {"a": {"b": [{"c": "x"}]}} (Stripe's encoding)."""
    root: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def listify(node):
        if isinstance(node, dict):
            node = {k: listify(v) for k, v in node.items()}
            if node and all(k.isdigit() for k in node):
                return [node[k] for k in sorted(node, key=int)]
        return node

    return listify(root)


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


def event(event_type: str, obj: dict, *, event_id: str | None = None) -> dict:
    return {
        "id": event_id or stripe_id("evt"), "object": "event", "api_version": API_VERSION, "created": int(time.time()),
        "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None}, "type": event_type,
    }


class FakeStripe:
    def __init__(self, secret_key: str):
        self.secret_key = secret_key
        self.sessions: dict[str, dict] = {}
        self.intents: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.requests: list[dict] = []
        self._replays: dict[tuple, tuple[int, dict]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    # --- What a customer does on Stripe's side --------------------------------------------

    def pay_session(self, session_id: str) -> dict:
        """The customer pays on the hosted page: session complete, a succeeded PaymentIntent."""
        with self._lock:
            session = self.sessions[session_id]
            intent = self._intent({"amount": session["amount_total"], "currency": session["currency"],
                                   "metadata": (session.get("_payment_intent_data") or {}).get("metadata", {})})
            intent["status"] = "succeeded"
            session.update(status="complete", payment_status="paid", payment_intent=intent["id"])
            return self.public(session)

    def confirm_intent(self, intent_id: str) -> dict:
        """The customer confirms a PaymentIntent in the browser (Stripe.js) and it succeeds."""
        with self._lock:
            intent = self.intents[intent_id]
            intent.update(status="succeeded", amount_received=intent["amount"])
            return dict(intent)

    def charge_for(self, intent_id: str, *, refunded: bool = True) -> dict:
        intent = self.intents[intent_id]
        amount = intent["amount"]
        return {"id": stripe_id("ch"), "object": "charge", "amount": amount, "amount_captured": amount,
                "amount_refunded": amount if refunded else 0, "captured": True, "currency": intent["currency"],
                "paid": True, "payment_intent": intent_id, "refunded": refunded, "status": "succeeded",
                "metadata": intent.get("metadata", {})}

    @staticmethod
    def public(obj: dict) -> dict:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    # --- The API -------------------------------------------------------------------------

    def _intent(self, params: dict) -> dict:
        intent_id = stripe_id("pi")
        intent = {
            "id": intent_id, "object": "payment_intent", "amount": int(params["amount"]), "amount_received": 0,
            "currency": params["currency"], "client_secret": f"{intent_id}_secret_{next(_ids):06d}",
            "created": int(time.time()), "description": params.get("description"), "livemode": False,
            "metadata": params.get("metadata") or {}, "status": "requires_payment_method",
            "automatic_payment_methods": {"enabled": True} if params.get("automatic_payment_methods") else None,
        }
        self.intents[intent_id] = intent
        return intent

    def route(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        if method == "POST" and path == "/v1/checkout/sessions":
            line = params["line_items"][0]
            amount = int(line["price_data"]["unit_amount"]) * int(line.get("quantity", 1))
            session_id = stripe_id("cs")
            session = {
                "id": session_id, "object": "checkout.session", "amount_subtotal": amount, "amount_total": amount,
                "cancel_url": params.get("cancel_url"), "client_reference_id": params.get("client_reference_id"),
                "created": int(time.time()), "currency": line["price_data"]["currency"],
                "customer_email": params.get("customer_email"), "expires_at": int(time.time()) + 86400,
                "livemode": False, "metadata": params.get("metadata") or {}, "mode": params["mode"],
                "payment_intent": None, "payment_status": "unpaid", "status": "open",
                "success_url": params["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id),
                "url": f"https://checkout.stripe.com/c/pay/{session_id}",
                "_payment_intent_data": params.get("payment_intent_data") or {},
            }
            self.sessions[session_id] = session
            return 200, self.public(session)
        if method == "GET" and path.startswith("/v1/checkout/sessions/"):
            session = self.sessions.get(path.rsplit("/", 1)[1])
            return (200, self.public(session)) if session else _missing("checkout.session", path)
        if method == "POST" and path == "/v1/payment_intents":
            return 200, self._intent(params)
        if method == "GET" and path.startswith("/v1/payment_intents/"):
            intent = self.intents.get(path.rsplit("/", 1)[1])
            return (200, intent) if intent else _missing("payment_intent", path)
        if method == "POST" and path == "/v1/refunds":
            intent = self.intents.get(params.get("payment_intent", ""))
            if intent is None:
                return _missing("payment_intent", params.get("payment_intent", ""))
            if intent["status"] != "succeeded":
                return 400, {"error": {"type": "invalid_request_error", "code": "charge_not_refundable",
                                       "message": "This PaymentIntent has no successful charge to refund."}}
            refund = {"id": stripe_id("re"), "object": "refund", "amount": intent["amount"], "currency": intent["currency"],
                      "payment_intent": intent["id"], "status": "succeeded", "metadata": params.get("metadata") or {},
                      "created": int(time.time())}
            self.refunds[refund["id"]] = refund
            return 200, refund
        return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL ({method}: {path})."}}

    def _handler(fake):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: dict, replayed: bool = False):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", f"req_{next(_ids)}")
                if replayed:
                    self.send_header("Idempotent-Replayed", "true")
                self.end_headers()
                self.wfile.write(data)

            def _serve(self, method: str):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                url = urlsplit(self.path)
                params = decode_form(raw if method == "POST" else url.query)
                key = self.headers.get("Idempotency-Key")
                fake.requests.append({"method": method, "path": url.path, "params": params, "idempotency_key": key,
                                      "stripe_version": self.headers.get("Stripe-Version")})
                if self.headers.get("Authorization") != f"Bearer {fake.secret_key}":
                    return self._answer(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided."}})
                with fake._lock:
                    if method == "POST" and key and (url.path, key) in fake._replays:
                        status, body = fake._replays[(url.path, key)]
                        return self._answer(status, body, replayed=True)
                    status, body = fake.route(method, url.path, params)
                    if method == "POST" and key:
                        fake._replays[(url.path, key)] = (status, body)
                return self._answer(status, body)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

        return Handler

    def calls(self, method: str, path: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method and r["path"] == path]


def _missing(kind: str, what: str) -> tuple[int, dict]:
    return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing", "message": f"No such {kind}: '{what}'"}}


def deliver(event: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None, client: Client | None = None,
            signature: str | None = None):
    """POST `event` to our Stripe webhook, signed as Stripe signs it (or with `signature`)."""
    payload = json.dumps(event)
    headers = {}
    sig = signature if signature is not None else sign(payload, secret, timestamp)
    if sig:
        headers["HTTP_STRIPE_SIGNATURE"] = sig
    return (client or Client()).post("/api/v1/stripe/webhook", data=payload, content_type="application/json", **headers)
