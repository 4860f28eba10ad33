from django.contrib import admin
from django.urls import include, path

from config.health import healthz
from events.views import campaign_logo

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # campaigns' logos (uploads checked by events/brand.py), served with their verified type
    path("media/logos/<str:name>", campaign_logo, name="campaign_logo"),
    # the event page, its JSON and the staff's live dashboard
    path("", include("liveroom.urls")),
    # the home page, registration and .ics
    path("", include("events.urls")),
    # /donations/… (start a donation, Stripe's webhook, exports)
    path("donations/", include("donations.urls")),
    # /streaming/ingest/… (encoders) and /live/… (the HLS origin)
    path("", include("streaming.urls")),
]

# A database that gave no connection is a 503 wherever the request met it (config/errors.py).
handler400 = "config.errors.bad_request"
handler500 = "config.errors.server_error"
