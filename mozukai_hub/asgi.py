"""ASGI entry point: HTTP through Django, websockets through Channels.

Apps add their websocket routes to `websocket_urlpatterns` in `mozukai_hub/routing.py`.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mozukai_hub.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (needs apps loaded)

from accounts.websocket import WebsocketAuthMiddleware  # noqa: E402
from mozukai_hub.request_limits import answer_oversized_request_heads, limit_request_body  # noqa: E402
from mozukai_hub.routing import websocket_urlpatterns  # noqa: E402

# Under daphne, an oversized request head gets a 414/431 answer instead of a dropped connection.
answer_oversized_request_heads()

application = ProtocolTypeRouter(
    {
        # 413 over MAX_REQUEST_BYTES before Django spools the body (daphne itself has received it
        # already; the reverse proxy's body size limit is what keeps it off this server).
        "http": limit_request_body(django_asgi_app),
        "websocket": WebsocketAuthMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
