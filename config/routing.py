"""WebSocket routes. The live room's consumer is added here by the events app."""

from __future__ import annotations

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
