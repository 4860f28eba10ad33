from django.apps import AppConfig


class LiveroomConfig(AppConfig):
    name = "liveroom"
    verbose_name = "Live room"

    def ready(self) -> None:
        # The donations app records the tag of the ask a gift answered; only the engagement
        # app knows the asks, and only this app may read both (docs/architecture.md).
        from donations.asks import use_ask_check
        from engagement.selectors import ask_tag_current

        use_ask_check(ask_tag_current)
