from django.urls import path

from donations import returningviews, views

app_name = "donations"

urlpatterns = [
    path("events/<slug:slug>/start/", views.start_donation, name="start"),
    path("monthly-upsell/", views.start_monthly_upsell, name="monthly_upsell"),
    path("saved/", returningviews.saved_card, name="saved_card"),
    path("saved/forget/", returningviews.forget_device, name="forget_device"),
    path("saved/code/", returningviews.request_code, name="request_code"),
    path("saved/code/check/", returningviews.check_code, name="check_code"),
    path("one-tap/<slug:slug>/", returningviews.give_one_tap, name="one_tap"),
    path("simulated/confirm/", views.confirm_simulated, name="confirm_simulated"),
    path("webhooks/stripe/", views.stripe_webhook, name="stripe_webhook"),
    path("campaigns/<int:campaign_id>/export.csv", views.export_donations, name="export"),
]
