"""ASGI entry point: HTTP through Django, websockets through Channels.

Apps add their websocket routes to `websocket_urlpatterns` in `mozukai_hub/routing.py`.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mozukai_hub.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (needs apps loaded)

from accounts.websocket import WebsocketAuthMiddleware  # noqa: E402
from mozukai_hub.request_limits import limit_request_body  # noqa: E402
from mozukai_hub.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": limit_request_body(django_asgi_app),  # before Django reads (and spools) the body
        "websocket": WebsocketAuthMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
