"""WebSocket routes: the live room of each event (events/consumers.py)."""

from __future__ import annotations

from django.urls import URLPattern, path

from events.consumers import LiveRoomConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/events/<slug:slug>/", LiveRoomConsumer.as_asgi(), name="live-room"),
]
