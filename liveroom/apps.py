from django.apps import AppConfig


class LiveroomConfig(AppConfig):
    name = "liveroom"
    verbose_name = "Live room"

    def ready(self) -> None:
        # The donations app records the tag of the ask a gift answered; only the engagement
        # app knows the asks, and only this app may read both (docs/architecture.md).
        from donations.asks import use_ask_check
        from engagement.selectors import ask_tag_current
        from liveroom import moments
        from streaming.dateranges import add_source

        use_ask_check(ask_tag_current)
        # The replay's moments (EXT-X-DATERANGE): streaming reads neither the ledger nor the
        # asks, so this app hands it what to write.
        add_source(moments.tally_entries)
        add_source(moments.ask_entries)
        add_source(moments.milestone_entries)
