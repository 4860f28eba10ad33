"""ASGI entry point: HTTP (pages, API, admin, webhooks, ingest) and WebSockets (the live room).

Run with `uvicorn config.asgi:application`.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from config.websocket import WebSocketGate  # noqa: E402

# /static/ (SERVE_STATIC) is served by the first middleware (config/staticfiles.py).
http_app = django_asgi_app

from streaming.blocking import BlockingReloadApp  # noqa: E402
from streaming.ingest import IngestApp  # noqa: E402

application = ProtocolTypeRouter(
    {
        # HLS ingest streams request bodies itself (Django reads whole bodies first).
        # LL-HLS blocking playlist reloads wait on the event loop (streaming/blocking.py).
        "http": IngestApp(BlockingReloadApp(http_app)),
        # The Origin checked exactly, unknown paths closed with 4404 (config/websocket.py).
        "websocket": WebSocketGate(URLRouter(websocket_urlpatterns), websocket_urlpatterns),
    }
)

# Stripe's webhooks are answered before Django's middleware stack (donations/asgi.py says why).
from donations.asgi import StripeWebhookApp  # noqa: E402

application = StripeWebhookApp(application)
