from django.urls import path

from liveroom import (
    capacityviews,
    dashboard,
    engagementviews,
    greenroom,
    reportviews,
    tickerviews,
    views,
)

app_name = "liveroom"

urlpatterns = [
    path("events/<slug:slug>/", views.event_detail, name="event"),
    path("events/<slug:slug>/tally.json", views.event_tally, name="tally"),
    path("events/<slug:slug>/stream.json", views.event_stream, name="stream"),
    # Staff only (campaign-scoped); the event's admin page links here by this name.
    path("staff/events/<int:event_id>/dashboard/", dashboard.dashboard_view, name="dashboard"),
    path("staff/events/<int:event_id>/preview.json", greenroom.preview, name="preview"),
    path("staff/events/<int:event_id>/capacity/", capacityviews.upgrade, name="capacity"),
    path(
        "staff/events/<int:event_id>/show/<slug:action>/",
        greenroom.show_action,
        name="show-action",
    ),
    path(
        "staff/events/<int:event_id>/ticker/<int:donation_id>/<slug:action>/",
        tickerviews.ticker_line,
        name="ticker-line",
    ),
    path(
        "staff/events/<int:event_id>/questions/settings/",
        engagementviews.question_settings,
        name="question-settings",
    ),
    path(
        "staff/events/<int:event_id>/questions/<int:question_id>/<slug:action>/",
        engagementviews.question_action,
        name="question-action",
    ),
    path("staff/events/<int:event_id>/polls/", engagementviews.poll_create, name="poll-create"),
    path(
        "staff/events/<int:event_id>/polls/<int:poll_id>/<slug:action>/",
        engagementviews.poll_action,
        name="poll-action",
    ),
    path("staff/events/<int:event_id>/asks/", engagementviews.ask_create, name="ask-create"),
    path(
        "staff/events/<int:event_id>/asks/<int:ask_id>/<slug:action>/",
        engagementviews.ask_action,
        name="ask-action",
    ),
    path(
        "staff/events/<int:event_id>/moments/", engagementviews.moment_create, name="moment-create"
    ),
    path("staff/events/<int:event_id>/report/", reportviews.report_view, name="report"),
    path("staff/events/<int:event_id>/report.csv", reportviews.report_csv, name="report-csv"),
    path(
        "staff/events/<int:event_id>/report-moments.csv",
        reportviews.moments_csv,
        name="report-moments-csv",
    ),
]
