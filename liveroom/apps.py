from django.apps import AppConfig


class LiveroomConfig(AppConfig):
    name = "liveroom"
    verbose_name = "Live room"
