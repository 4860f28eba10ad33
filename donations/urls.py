from django.urls import path

from donations import infoviews, returningviews, scheduleviews, views
from donations.selfservice import views as manage

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
    path(
        "campaigns/<int:campaign_id>/schedule-a.csv",
        scheduleviews.schedule_a_csv,
        name="schedule_a_csv",
    ),
    path(
        "campaigns/<int:campaign_id>/schedule-a.fec",
        scheduleviews.schedule_a_fec,
        name="schedule_a_fec",
    ),
    # the donor's self-service: an emailed link, their gifts, their monthly gifts' changes
    path("manage/", manage.ask, name="manage"),
    path("manage/link/<str:token>/", manage.open_link, name="manage_link"),
    path("manage/sign-out/", manage.sign_out, name="manage_sign_out"),
    path("manage/gifts/", manage.gifts, name="manage_gifts"),
    path("manage/receipts/<str:reference>/", manage.receipt, name="manage_receipt"),
    path("manage/monthly/<int:gift_id>/amount/", manage.change_amount, name="manage_amount"),
    path("manage/monthly/<int:gift_id>/pause/", manage.pause, name="manage_pause"),
    path("manage/monthly/<int:gift_id>/resume/", manage.resume, name="manage_resume"),
    path("manage/monthly/<int:gift_id>/cancel/", manage.cancel, name="manage_cancel"),
    path("details/<str:token>/", infoviews.info_request, name="info_request"),
]
