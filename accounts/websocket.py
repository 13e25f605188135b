"""Websocket authentication for every consumer.

A socket authenticates with an access token in `?token=` (seed 001) or with the session
cookie of the web login. A cookie travels with any page's request, so cookie-authenticated
sockets must come from an allowed origin (cross-site websocket hijacking); a token is only
sent deliberately, so token-authenticated sockets may come without an Origin header (native
and server clients send none). A missing, bad or revoked credential is answered by accepting
and closing with code 4401, which browsers can read, unlike a refusal before the handshake.

An anonymous socket with a `?visitor_token=` (an anonymous visitor's job token, see
`pipeline.owners`) is let through with `scope["auth"] == "visitor"` and an anonymous user: the
consumer must then close it (4404) unless the token fits the object asked for. A consumer that
serves signed-in users only must treat an anonymous `scope["user"]` as "not found".
"""

from urllib.parse import parse_qs, urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.conf import settings
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import TokenError

from .authentication import JWTAuthentication

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
# The query parameter of `mozukai_hub.streams.VISITOR_TOKEN_PARAM`.
VISITOR_TOKEN_PARAM = "visitor_token"


@database_sync_to_async
def _user_for_token(raw: str):
    auth = JWTAuthentication()
    try:
        token = auth.get_validated_token(raw.encode())
        return auth.get_user(token)
    except (TokenError, AuthenticationFailed):
        return None


def _origin_allowed(scope) -> bool:
    origin = dict(scope.get("headers") or []).get(b"origin", b"").decode("latin-1")
    if not origin:
        return False
    if origin in settings.ALLOWED_ORIGINS:
        return True
    host = urlsplit(origin).hostname or ""
    return any(host == allowed or (allowed.startswith(".") and host.endswith(allowed)) for allowed in settings.ALLOWED_HOSTS)


async def _reject(send, receive, code: int):
    message = await receive()  # websocket.connect
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": code})


class _TokenOrCookieAuth:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        query = parse_qs(scope.get("query_string", b"").decode())
        token = (query.get("token") or [None])[0]
        if token:
            user = await _user_for_token(token)
            if user is None:
                return await _reject(send, receive, CLOSE_UNAUTHORIZED)
            scope = {**scope, "user": user, "auth": "token"}
            return await self.inner(scope, receive, send)
        user = scope.get("user")  # from the session cookie (AuthMiddlewareStack below)
        if user is None or not user.is_authenticated:
            if (query.get(VISITOR_TOKEN_PARAM) or [""])[0]:
                # Checked by the consumer against the object asked for; sent only deliberately,
                # so no origin check (like `?token=`).
                return await self.inner({**scope, "auth": "visitor"}, receive, send)
            return await _reject(send, receive, CLOSE_UNAUTHORIZED)
        if not _origin_allowed(scope):
            return await _reject(send, receive, CLOSE_FORBIDDEN_ORIGIN)
        return await self.inner({**scope, "auth": "session"}, receive, send)


def WebsocketAuthMiddleware(inner):
    """Session cookie support from Channels, then token or cookie authentication."""
    return AuthMiddlewareStack(_TokenOrCookieAuth(inner))

