"""Create the demo campaign, its staff login and an event that is live now. Idempotent. A demo
event that has since ended (or was cancelled) keeps its history under the slug
`demo-live-<id>`, and a new one is made live, so `make run` on a kept database always has a
show to watch. The demo event never ends by itself (`auto_end_minutes` 0): stopping `make run`
for an hour leaves it live for the next run."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from events import services
from events.models import Attestation, Campaign, CapacityTier, Event, EventStatus, Membership, Role

DEMO_USERNAME = "demo"
CAMPAIGN_SLUG = "demo-campaign"
EVENT_SLUG = "demo-live"


class Command(BaseCommand):
    help = "Seed a demo campaign, a staff user (password printed once) and a live event."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, base_url: str, **options: Any) -> None:
        base_url = base_url.rstrip("/")
        with transaction.atomic():
            campaign, _ = Campaign.objects.get_or_create(
                slug=CAMPAIGN_SLUG,
                defaults={
                    "name": "Demo for Tomorrow",
                    "legal_name": "Demo for Tomorrow Committee",
                    "currency": "usd",
                    "per_donor_limit_minor": 330_000,
                    "require_address": True,
                    "require_employer": True,
                    "require_occupation": True,
                },
            )
            if not campaign.attestations.exists():
                Attestation.objects.create(
                    campaign=campaign,
                    text="I am a U.S. citizen or lawfully admitted permanent resident.",
                )
                Attestation.objects.create(
                    campaign=campaign,
                    text="This contribution is made from my own funds, not those of another.",
                    position=1,
                )

            User = get_user_model()
            password = None
            user = User.objects.filter(username=DEMO_USERNAME).first()
            if user is None:
                password = secrets.token_urlsafe(12)
                user = User.objects.create_user(
                    username=DEMO_USERNAME, password=password, is_staff=True
                )
            Membership.objects.get_or_create(
                user=user, campaign=campaign, defaults={"role": Role.OWNER}
            )

            event = Event.objects.filter(slug=EVENT_SLUG).first()
            if event is not None and event.status in (EventStatus.ENDED, EventStatus.CANCELLED):
                Event.objects.filter(pk=event.pk).update(slug=f"{EVENT_SLUG}-{event.pk}")
                event = None
            if event is None:
                now = timezone.now()
                event = Event.objects.create(
                    campaign=campaign,
                    title="Live: Tomorrow Starts Tonight",
                    slug=EVENT_SLUG,
                    description=(
                        "Join us live for an evening with the campaign. Watch, chip in, and see "
                        "the total climb in real time."
                    ),
                    starts_at=now - timedelta(minutes=5),
                    ends_at=now + timedelta(days=30),
                    capacity_tier=CapacityTier.objects.order_by("max_attendees")[0],
                    goal_minor=5_000_000,
                    suggested_amounts=[1_000, 2_500, 5_000, 10_000, 25_000],
                    auto_end_minutes=0,
                )
        if event.status == EventStatus.DRAFT:
            services.schedule_event(event_id=event.pk)
            event.refresh_from_db()
        if event.status == EventStatus.SCHEDULED:
            services.start_event(event_id=event.pk)

        out = self.stdout
        out.write(f"Event page:  {base_url}{reverse('liveroom:event', args=[event.slug])}")
        out.write(f"Admin:       {base_url}{reverse('admin:index')}")
        if password is not None:
            out.write(f"Admin login: {DEMO_USERNAME} / {password}   (shown once: note it now)")
        else:
            out.write(
                f"Admin login: {DEMO_USERNAME} (password shown when it was created; "
                f"reset with: .venv/bin/python manage.py changepassword {DEMO_USERNAME})"
            )
