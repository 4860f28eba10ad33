"""Rebuild the tally shards from the donation ledger."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from donations import ledger


class Command(BaseCommand):
    help = "Rebuild every tally (or the given events' and their campaigns') from the ledger."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--event", type=int, action="append", dest="events", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        written = ledger.recompute_tallies(event_ids=options["events"])
        self.stdout.write(f"Recomputed {written} tallies from the ledger.")
