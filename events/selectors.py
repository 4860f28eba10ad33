"""Reads for campaigns and events, with the permission checks that go with them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AnonymousUser, User
from django.core import signing
from django.db.models import Case, QuerySet, When
from django.http import Http404
from django.utils import timezone

from events.models import (
    Campaign,
    Event,
    EventStatus,
    Membership,
    Registration,
    Role,
    ViewerSample,
    Visibility,
)


def public_events() -> QuerySet[Event]:
    """Listed on the home page: public events that are live, or scheduled (backstage
    included: the public sees it as upcoming) and not over; live ones first."""
    now = timezone.now()
    upcoming = [EventStatus.LIVE, EventStatus.BACKSTAGE, EventStatus.SCHEDULED]
    return (
        Event.objects.filter(visibility=Visibility.PUBLIC)
        .filter(status__in=upcoming, ends_at__gt=now)
        .select_related("campaign")
        .annotate(live_first=Case(When(status=EventStatus.LIVE, then=0), default=1))
        .order_by("live_first", "starts_at")
    )


def public_status(status: str) -> str:
    """The event's status as the public sees it: backstage is the staff's secret, the public
    page still counts down."""
    return EventStatus.SCHEDULED.value if status == EventStatus.BACKSTAGE else status


def access_public_event(*, slug: str) -> Event:
    """The event behind a public URL. Drafts do not exist for the public: Http404."""
    try:
        return Event.objects.select_related("campaign", "capacity_tier").get(
            slug=slug, status__in=[s for s in EventStatus if s != EventStatus.DRAFT]
        )
    except Event.DoesNotExist:
        raise Http404("No such event.") from None


def staff_campaigns(*, user: User | AnonymousUser) -> QuerySet[Campaign]:
    """Campaigns a staff user may see: all for superusers, their memberships otherwise."""
    if not user.is_authenticated or not user.is_active:
        return Campaign.objects.none()
    if user.is_superuser:
        return Campaign.objects.all()
    return Campaign.objects.filter(memberships__user=user)


def staff_campaign_ids(*, user: User | AnonymousUser, write: bool = False) -> set[int]:
    """Ids of the campaigns the user may see, or with write=True may change."""
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return set(Campaign.objects.values_list("id", flat=True))
    memberships = Membership.objects.filter(user_id=user.pk)
    if write:
        memberships = memberships.exclude(role=Role.VIEWER)
    return set(memberships.values_list("campaign_id", flat=True))


def is_campaign_owner(*, user: User | AnonymousUser, campaign_id: int) -> bool:
    """Whether the user is an owner of the campaign (or a superuser)."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return Membership.objects.filter(
        user_id=user.pk, campaign_id=campaign_id, role=Role.OWNER
    ).exists()


def access_staff_event(*, user: User | AnonymousUser, event_id: int) -> Event:
    """An event of a campaign the staff user may see (superusers: any), with its campaign, for
    staff pages outside the admin (the live dashboard). Anything else, an inactive or
    non-staff user included, is Http404: staff of one campaign cannot tell another's ids."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        raise Http404("No such event.")
    events = Event.objects.select_related("campaign").filter(pk=event_id)
    if not user.is_superuser:
        events = events.filter(campaign_id__in=staff_campaign_ids(user=user))
    event = events.first()
    if event is None:
        raise Http404("No such event.")
    return event


@dataclass(frozen=True, slots=True)
class LiveRoomEvent:
    """What the live room keeps in memory per event to admit sockets without the database."""

    event_id: int
    slug: str
    status: str
    capacity: int
    registration_required: bool = False


def live_room_event(*, slug: str) -> LiveRoomEvent | None:
    """The event behind a live-room URL, or None for an unknown slug or a draft (one query)."""
    row = (
        Event.objects.filter(slug=slug)
        .exclude(status=EventStatus.DRAFT)
        .values_list("pk", "status", "capacity_tier__max_attendees", "registration_required")
        .first()
    )
    if row is None:
        return None
    return LiveRoomEvent(
        event_id=row[0], slug=slug, status=row[1], capacity=row[2], registration_required=row[3]
    )


@dataclass(frozen=True)
class EventSummary:
    status: str
    currency: str
    goal_minor: int
    capacity: int = 0  # its capacity tier's attendees at once


def event_summary(*, event_id: int) -> EventSummary:
    """The event's status, currency, goal and capacity (one query). Raises
    Event.DoesNotExist."""
    status, currency, goal_minor, capacity = Event.objects.values_list(
        "status", "campaign__currency", "goal_minor", "capacity_tier__max_attendees"
    ).get(pk=event_id)
    return EventSummary(status=status, currency=currency, goal_minor=goal_minor, capacity=capacity)


@dataclass(frozen=True)
class ViewerPoint:
    at: datetime
    viewers: int


def viewer_series(*, event_id: int, since: datetime) -> list[ViewerPoint]:
    """The event's viewer samples from `since` on, oldest first (one indexed query). The live
    room records one per LIVE_VIEWER_SAMPLE_SECONDS while anybody watches: no sample for a
    while means nobody was connected."""
    rows = ViewerSample.objects.filter(event_id=event_id, at__gte=since).order_by("at")
    return [ViewerPoint(at=at, viewers=n) for at, n in rows.values_list("at", "viewers")]


# --- Registration ------------------------------------------------------------------------------
# The attendee's cookie is signed with Django's cookie signer, salted by its name and this.
REGISTRATION_COOKIE_SALT = "events.registration"


def registration_cookie_name(*, event: Event) -> str:
    """One cookie per event, so registering for one event says nothing about another."""
    return _registration_cookie_name(event.pk)


def _registration_cookie_name(event_id: int) -> str:
    return f"pc_registration_{event_id}"


def registration_cookie_signer(*, event: Event) -> signing.Signer:
    """Signs and checks the cookie's value; salted per event, so one event's cookie is
    worthless for another."""
    return _registration_cookie_signer(event.pk)


def _registration_cookie_signer(event_id: int) -> signing.Signer:
    return signing.get_cookie_signer(
        salt=_registration_cookie_name(event_id) + REGISTRATION_COOKIE_SALT
    )


def registration_token_in_cookies(*, event_id: int, cookies: dict[str, str]) -> str | None:
    """The registration token that the visitor's signed cookie for the event carries, or None
    (no cookie, a bad signature). No query: for the live room, which already admitted the
    socket; whether the registration still exists is not checked."""
    value = cookies.get(_registration_cookie_name(event_id))
    if not value or len(value) > 200:
        return None
    try:
        return _registration_cookie_signer(event_id).unsign(value)
    except signing.BadSignature:
        return None


def registration_for(*, event: Event, request_cookie_value: str | None) -> Registration | None:
    """The registration that the visitor's cookie for `event` names, or None: no cookie, a
    bad signature (forged, or signed for another event), or a token of no registration of
    this event. One query when the signature holds, none otherwise."""
    if not request_cookie_value:
        return None
    try:
        token = registration_cookie_signer(event=event).unsign(request_cookie_value)
    except signing.BadSignature:
        return None
    return registration_by_token(event=event, token=token)


def registration_by_token(*, event: Event, token: str) -> Registration | None:
    """The registration of `event` with this token (the email's link carries it), or None."""
    if not token:
        return None
    return Registration.objects.filter(event=event, token=token).select_related("event").first()
