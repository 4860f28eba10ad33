from django.urls import path

from streaming import rtmp, views
from streaming.captions import views as captions

app_name = "streaming"

urlpatterns = [
    path("streaming/ingest/<str:public_id>/<path:name>", views.ingest_object, name="ingest"),
    # A human captioner's lines (CART), with the stream's caption key.
    path("streaming/captions/<str:public_id>", captions.cart, name="captions_cart"),
    # A signed stream's files only under a valid signed prefix (signing.py).
    path("live/<str:public_id>/<path:path>", views.origin, name="origin"),
    path(
        "s/<str:token>/<int:expires>/live/<str:public_id>/<path:path>",
        views.signed_origin,
        name="signed_origin",
    ),
    # Asked by nginx (origin and edges) before serving an unsigned /live/ URL.
    path(
        "streaming/playback-access/<str:public_id>",
        views.playback_access,
        name="playback_access",
    ),
    # nginx-rtmp's hooks (deploy/nginx/rtmp.conf).
    path("streaming/rtmp/<str:hook_token>/on_publish", rtmp.on_publish, name="rtmp_on_publish"),
    path("streaming/rtmp/<str:hook_token>/on_update", rtmp.on_update, name="rtmp_on_update"),
    path(
        "streaming/rtmp/<str:hook_token>/on_publish_done",
        rtmp.on_publish_done,
        name="rtmp_on_publish_done",
    ),
]
