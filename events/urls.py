from django.urls import path

from events import views

app_name = "events"

urlpatterns = [
    path("", views.home, name="home"),
    path("events/<slug:slug>/register", views.register, name="register"),
    path(
        "events/<slug:slug>/registration/<slug:token>",
        views.registration_link,
        name="registration_link",
    ),
    path("events/<slug:slug>/calendar.ics", views.event_calendar, name="calendar"),
]
