"""The ask a gift answered: the tag of the staff's pinned ask ("Give $27 now", the engagement
app's asks) that the donate panel sends with a gift given while the ask is on the page.

The donations app does not read the engagement app (they sit side by side, see
docs/architecture.md): the live room, above both, hands it the check at start-up
(`use_ask_check`, liveroom/apps.py). The check answers whether a tag is the event's pinned
ask's, or was taken down less than ASK_GRACE ago (a donor who chose the ask and then typed
their details). A tag that passes is stored on the donation (`Donation.ask_tag`); one that
does not (unknown, another event's, long gone) is dropped and the gift goes on without it:
the donor did not type it, and losing the gift over a label would cost the campaign money.
A tag that is not even shaped like one is refused (400, the request was tampered with)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from django.utils import timezone

from donations.rules import DonationRefused

log = logging.getLogger(__name__)

ASK_GRACE = timedelta(minutes=5)
ASK_TAG_MAX_CHARS = 40
_TAG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*", re.ASCII)

# (event id, tag, pinned since) -> whether the tag is the event's ask pinned at or after it.
AskCheck = Callable[[int, str, datetime], bool]
_check: AskCheck | None = None


def use_ask_check(check: AskCheck) -> None:
    """Install the check of an ask tag (called once, by the app that knows the asks)."""
    global _check  # one check per process, set at start-up
    _check = check


def check_ask_tag(*, event_id: int, tag: str) -> str:
    """The tag to store on the gift: `tag` when it is the event's pinned ask's (or was within
    ASK_GRACE), else "". Raises DonationRefused (400, field "ask_tag") for a malformed tag."""
    if not tag:
        return ""
    if len(tag) > ASK_TAG_MAX_CHARS or not _TAG.fullmatch(tag):
        raise DonationRefused(
            "The ask you answered was not understood. Reload the page and try again.",
            field="ask_tag",
        )
    if _check is None or not _check(event_id, tag, timezone.now() - ASK_GRACE):
        log.info("ask tag dropped event_id=%s", event_id)
        return ""
    return tag
