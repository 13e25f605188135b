"""Access control, route by route (issue 15): every route that names an object is refused to
another user (404: the object does not exist for them) and to an anonymous caller (401 for the API,
the sign-in redirect or 404 for pages, close code 4401/4404 for sockets), and changes nothing.

The meta-test walks the URLconf and the websocket routes: a new route with an object id and no
case in CASES (or a reason in NOT_OWNED) fails it, so every future route gets its case.
"""

import datetime
import re
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from accounts.tokens import token_pair_issue
from accounts.websocket import CLOSE_UNAUTHORIZED, WebsocketAuthMiddleware
from billing.models import Payment
from catalog.models import Order
from chat.models import Chat, ChatRun, Message, Session
from mozukai_hub.routing import websocket_urlpatterns
from mozukai_hub.streams import CLOSE_NOT_FOUND
from mozukai_hub.testing.fixtures import bearer_client, make_user
from mozukai_hub.testing.routes import all_routes
from pipeline.models import Asset, AssetMeta, Job
from studio.models import Project

UNSAFE = ("post", "put", "patch", "delete")


def normalize(route: str) -> str:
    """`api/v1/jobs/<uuid:job_id>/` → `api/v1/jobs/<job_id>` (both slash forms are one route)."""
    return re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", route).rstrip("/")


def object_routes() -> dict[str, object]:
    """Every HTTP route with a parameter (outside the Django admin, staff only by its own checks),
    and every websocket route: {normalized route: URLPattern}."""
    routes = {}
    entries = list(all_routes())
    # Seeds 002 and 004's own paths are the /api/v1/ views themselves (test_seed_paths.py checks
    # it): the /api/v1/ route's case covers them.
    api_v1_views = {pattern.callback for route, pattern in entries if route.startswith("api/v1/")}
    for route, pattern in entries:
        if route.startswith("admin/") or not re.search(r"<|\(\?P<", route):
            continue
        if not route.startswith("api/v1/") and pattern.callback in api_v1_views:
            continue
        routes.setdefault(normalize(route), (route, pattern))
    for pattern in websocket_urlpatterns:
        routes.setdefault("ws:" + normalize(str(pattern.pattern)), (str(pattern.pattern), pattern))
    return routes


# --- objects owned by user A ---------------------------------------------------------------

def _session(owner):
    return Session.objects.create(owner=owner, name="A's session")


def _chat(owner):
    return Chat.objects.create(session=_session(owner))


def _message(owner):
    return Message.objects.create(chat=_chat(owner), seq=1, role=Message.Role.USER, content="A's words")


def _chat_run(owner):
    return ChatRun.objects.create(chat=_chat(owner), action=ChatRun.Action.HEALTH, backend="local",
                                  timeout_seconds=60, deadline_at=timezone.now() + datetime.timedelta(minutes=1))


def _job(kind):
    def make(owner):
        return Job.objects.create(owner=owner, kind=kind, engine="local", params={})
    return make


def _asset(owner):
    return Asset.objects.create(owner=owner, asset_type="png", uri="a.png")


def _asset_meta(owner):
    return AssetMeta.objects.create(asset=_asset(owner))


def _order(owner):
    return Order.objects.create(user=owner, currency="eur", total_amount="10.00",
                                expires_at=timezone.now() + datetime.timedelta(hours=1))


def _payment(owner):
    return Payment.objects.create(user=owner, purpose="credit_pack", reference=str(uuid.uuid4()),
                                  kind="checkout_session", amount_minor=500, currency="eur",
                                  stripe_id=f"cs_test_{uuid.uuid4().hex}", credits=10)


def _dev_payment(owner):
    return Payment.objects.create(user=owner, purpose="credit_pack", reference=str(uuid.uuid4()),
                                  kind="checkout_session", amount_minor=500, currency="eur",
                                  stripe_id=f"dev_{uuid.uuid4().hex}", credits=10, dev_mode=True)


def _order_payment(owner):
    order = _order(owner)
    return Payment.objects.create(user=owner, purpose="order", reference=str(order.pk), kind="payment_intent",
                                  amount_minor=1000, currency="eur", payment_intent_id=f"pi_{uuid.uuid4().hex}")


PROJECT_FIELDS = {
    "thumbnail": {"mode": "design", "platform": "youtube", "width": 1280, "height": 720, "headline": "Title",
                  "vibe": "professional", "model_pref": "local"},
    "film": {"aspect_ratio": "16:9", "resolution": "720p", "subtitles": "burned", "vibe": "professional",
             "voice": "en-us", "voice_speed": 165, "voice_pitch": 50},
}


def _project(kind):
    def make(owner):
        return Project.objects.create(owner=owner, title="A's project", kind=kind, **PROJECT_FIELDS[kind])
    return make


def _row(obj) -> dict:
    return type(obj).objects.filter(pk=obj.pk).values().first()


class Case:
    """How to make the object a route names, and the URL parameters that name it."""

    def __init__(self, make, params, *, snapshot=None, page=False, methods=None, staff_methods=(), owner_reads=True,
                 fixtures=()):
        self.make = make
        self.fixtures = fixtures  # pytest fixtures the route needs (e.g. dev payments on)
        # Methods only staff may call: a user's 403 there says nothing about the object.
        self.staff_methods = set(staff_methods)
        # False where even the owner's GET is a 404 until the object has an output.
        self.owner_reads = owner_reads
        self.params = params  # obj -> {parameter: value}
        self.snapshot = snapshot or (lambda obj: [_row(obj)])
        self.page = page
        self.methods = methods


def _chat_params(chat):
    return {"chat_id": chat.pk}


def _full(obj) -> list:
    """The object's row and the rows it hangs from (a chat's session, a run's chat…)."""
    rows = [_row(obj)]
    for parent in ("chat", "session", "asset"):
        if hasattr(obj, parent + "_id"):
            rows += _full(getattr(obj, parent))
    return rows


CASES: dict[str, Case] = {
    "api/v1/sessions/<session_id>": Case(_session, lambda s: {"session_id": s.pk}),
    "api/v1/chats/<chat_id>": Case(_chat, _chat_params, snapshot=_full),
    "api/v1/chats/<chat_id>/runpod": Case(_chat, _chat_params, snapshot=_full),
    "api/v1/chats/<chat_id>/runpod/<run_id>": Case(_chat_run, lambda r: {"chat_id": r.chat_id, "run_id": r.pk}, snapshot=_full),
    "api/v1/chats/<chat_id>/runpod/<run_id>/cancel": Case(_chat_run, lambda r: {"chat_id": r.chat_id, "run_id": r.pk},
                                                         snapshot=_full),
    "api/v1/chats/<chat_id>/stop": Case(_chat, _chat_params, snapshot=_full),
    "api/v1/messages/<message_id>": Case(_message, lambda m: {"message_id": m.pk}, snapshot=_full),
    "api/v1/chat/<chat_id>": Case(_chat, _chat_params, snapshot=_full),
    "api/v1/chat/<chat_id>/messages": Case(_chat, _chat_params, snapshot=_full),
    **{f"api/v1/jobs/<job_id>{action}": Case(_job("text_to_3d"), lambda j: {"job_id": j.pk})
       for action in ("", "/start", "/complete", "/status", "/cancel", "/valid-transitions", "/events")},
    "api/v1/jobs/<job_id>/download-url": Case(_job("text_to_3d"), lambda j: {"job_id": j.pk}, owner_reads=False),
    "api/v1/assets/<asset_id>": Case(_asset, lambda a: {"asset_id": a.pk}),
    "api/v1/assets/<asset_id>/download-url": Case(_asset, lambda a: {"asset_id": a.pk}),
    "api/v1/asset-meta/<meta_id>": Case(_asset_meta, lambda m: {"meta_id": m.pk}, snapshot=_full),
    "api/v1/credits/checkout/<session_id>": Case(_payment, lambda p: {"session_id": p.stripe_id}),
    "api/v1/orders/<order_id>": Case(_order, lambda o: {"order_id": o.pk}),
    "api/v1/orders/<order_id>/cancel": Case(_order, lambda o: {"order_id": o.pk}),
    "api/v1/orders/<order_id>/status": Case(_order, lambda o: {"order_id": o.pk}, staff_methods={"put", "patch"}),
    "api/v1/payments/<payment_id>": Case(_order_payment, lambda p: {"payment_id": p.pk}),
    "api/v1/projects/<project_id>": Case(_project("thumbnail"), lambda p: {"project_id": p.pk}),
    "api/v1/generate/<job_id>": Case(_job("photo_style"), lambda j: {"job_id": j.pk}),
    "api/v1/pipeline/status/<job_id>": Case(_job("photogrammetry"), lambda j: {"job_id": j.pk}),
    "api/v1/pipeline/download/<job_id>": Case(_job("photogrammetry"), lambda j: {"job_id": j.pk}, owner_reads=False),
    # Pages: GET, and POST for the ones that act.
    "jobs/<job_id>": Case(_job("text_to_3d"), lambda j: {"job_id": j.pk}, page=True, methods=["get"]),
    "jobs/<job_id>/cancel": Case(_job("text_to_3d"), lambda j: {"job_id": j.pk}, page=True, methods=["post"]),
    "credits/dev-checkout/<payment_id>": Case(_dev_payment, lambda p: {"payment_id": p.pk}, page=True,
                                              methods=["get", "post"], fixtures=["dev_payments"]),
    "shop/orders/<order_id>": Case(_order, lambda o: {"order_id": o.pk}, page=True, methods=["get"]),
    "shop/orders/<order_id>/pay": Case(_order, lambda o: {"order_id": o.pk}, page=True, methods=["get", "post"]),
    "shop/orders/<order_id>/cancel": Case(_order, lambda o: {"order_id": o.pk}, page=True, methods=["post"]),
    "studio/films/<project_id>": Case(_project("film"), lambda p: {"project_id": p.pk}, page=True, methods=["get"]),
    "studio/thumbnails/<project_id>": Case(_project("thumbnail"), lambda p: {"project_id": p.pk}, page=True,
                                           methods=["get"]),
    "c/<chat_id>": Case(_chat, _chat_params, snapshot=_full, page=True, methods=["get"]),
    # Sockets.
    "ws:api/v1/jobs-socket/<job_id>": Case(_job("text_to_3d"), lambda j: {"job_id": j.pk}),
    "ws:api/v1/chat-socket/<chat_id>": Case(_chat, _chat_params, snapshot=_full),
}

# Routes with a parameter that names nothing a user owns, and why.
NOT_OWNED = {
    "api/v1/users/<user_id>/avatar": "a public profile picture (GET only; changed through /users/me)",
    "api/v1/products/<key>": "the public catalogue (changes are staff-only, checked in catalog's tests)",
    "shop/c/<slug>": "a public category page",
    "shop/p/<slug>": "a public product page",
    "shop/^images/(?P<name>[0-9a-f]{32}\\.png)$": "public product images",
    "shop/models/<product_id>.glb": "public product models",
    "api/v1/downloads/<token>": "a signed capability link: whoever holds it may download (see test below)",
    "accounts/^confirm-email/(?P<key>[-:\\w]+)/$": "allauth's e-mail key (a capability)",
    "accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": "allauth's reset key (a capability)",
}


def test_every_route_with_an_object_id_has_an_access_control_case():
    routes = set(object_routes())
    missing = sorted(routes - set(CASES) - set(NOT_OWNED))
    assert missing == [], f"Add an access-control case (CASES) for: {missing}"
    assert sorted((set(CASES) | set(NOT_OWNED)) - routes) == []  # no case outlives its route


def _methods(route: str, case: Case) -> list[str]:
    if case.methods:
        return case.methods
    callback = object_routes()[route][1].callback
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    return [m for m in ("get", "put", "patch", "post", "delete") if hasattr(view_class, m)]


def _url(route: str, params: dict) -> str:
    """The URL as the URLconf spells it (a page keeps its trailing slash)."""
    original = normalize(object_routes()[route][0]) + ("/" if object_routes()[route][0].endswith("/") else "")
    return "/" + re.sub(r"<(\w+)>", lambda m: str(params[m.group(1)]), original.removeprefix("ws:"))


HTTP_CASES = sorted(r for r in CASES if not r.startswith("ws:"))


@pytest.mark.django_db
@pytest.mark.parametrize("route", HTTP_CASES)
def test_another_user_and_an_anonymous_caller_cannot_reach_the_object(route, settings, request):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        key: "100000/min" for key in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    case = CASES[route]
    for name in case.fixtures:
        request.getfixturevalue(name)
    owner, intruder = make_user(), make_user()
    obj = case.make(owner)
    url = _url(route, case.params(obj))
    before = case.snapshot(obj)
    if case.page:
        other, anonymous = Client(), Client()
        other.force_login(intruder)
    else:
        other, anonymous = bearer_client(intruder), bearer_client(intruder)
        anonymous.credentials()
    for method in _methods(route, case):
        body = {} if method in UNSAFE else None
        for who, client in (("another user", other), ("anonymous", anonymous)):
            kwargs = {"data": body, "format": "json"} if body is not None and not case.page else {}
            response = getattr(client, method)(url, **kwargs)
            if who == "another user":
                allowed = {403, 404} if method in case.staff_methods else {404}
            elif case.page:
                allowed = {404, 302}
            else:
                allowed = {401, 404}
            assert response.status_code in allowed, (who, method.upper(), url, response.status_code,
                                                     response.content[:300])
            if response.status_code == 302:
                assert response["Location"].startswith(settings.LOGIN_URL), response["Location"]
            assert case.snapshot(obj) == before, (who, method.upper(), url)
    if case.owner_reads and "get" in _methods(route, case):  # the owner reaches it: the refusals above are about ownership
        if case.page:
            mine = Client()
            mine.force_login(owner)
        else:
            mine = bearer_client(owner)
        assert mine.get(url).status_code != 404, url


@async_to_sync
async def _socket(path: str, token: str | None):
    app = WebsocketAuthMiddleware(URLRouter(websocket_urlpatterns))
    communicator = WebsocketCommunicator(app, path + (f"?token={token}" if token else ""))
    connected, _ = await communicator.connect()
    assert connected
    if await communicator.receive_nothing(timeout=1):
        message = None  # open, with nothing to send yet
    else:
        message = await communicator.receive_output(timeout=1)
    await communicator.disconnect()
    return message


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", sorted(r for r in CASES if r.startswith("ws:")))
def test_another_users_or_no_token_cannot_open_a_socket(route):
    case = CASES[route]
    owner, intruder = make_user(), make_user()
    obj = case.make(owner)
    path = _url(route, case.params(obj))
    refused = _socket(path, token_pair_issue(user=intruder).access)
    assert refused == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}
    assert _socket(path, None) == {"type": "websocket.close", "code": CLOSE_UNAUTHORIZED}
    opened = _socket(path, token_pair_issue(user=owner).access)
    assert opened is None or opened["type"] == "websocket.send", opened  # the owner's own stream opens


@pytest.mark.django_db
def test_a_forged_download_link_is_refused_to_everyone(api_client, auth_client):
    for client in (api_client, auth_client):
        response = client.get("/api/v1/downloads/forged.token")
        assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
