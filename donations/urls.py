from django.urls import path

from donations import infoviews, views

app_name = "donations"

urlpatterns = [
    path("events/<slug:slug>/start/", views.start_donation, name="start"),
    path("monthly-upsell/", views.start_monthly_upsell, name="monthly_upsell"),
    path("simulated/confirm/", views.confirm_simulated, name="confirm_simulated"),
    path("webhooks/stripe/", views.stripe_webhook, name="stripe_webhook"),
    path("campaigns/<int:campaign_id>/export.csv", views.export_donations, name="export"),
    path("details/<str:token>/", infoviews.info_request, name="info_request"),
]
