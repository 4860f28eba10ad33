"""WebSocket routes: the live room of each event (liveroom/consumers.py)."""

from __future__ import annotations

from django.urls import URLPattern, path

from liveroom.consumers import LiveRoomConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/events/<slug:slug>/", LiveRoomConsumer.as_asgi(), name="live-room"),
]
