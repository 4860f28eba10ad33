"""What attendees do in the live room besides watching and giving: questions and their
upvotes, polls and their votes. Reactions are never rows (counted per process, flushed to
Redis: engagement/reactions.py).

A participant is a 32-character key (liveroom.attendees.participant: a hash of the attendee
cookie's id, or of the registration's token), so one vote per participant is a unique
constraint, kept across reconnects, tabs and web processes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from events.models import Event

QUESTION_MAX_CHARS = 280
PARTICIPANT_KEY_LENGTH = 32


class RoomSettings(models.Model):
    """An event's rules for its questions (an event without a row has the defaults)."""

    event = models.OneToOneField(
        Event, on_delete=models.CASCADE, primary_key=True, related_name="room_settings"
    )
    questions_open = models.BooleanField(
        "attendees may ask questions",
        default=True,
        help_text="Off: the page's question box says questions are closed.",
    )
    show_questions_at_once = models.BooleanField(
        "show questions without approval",
        default=False,
        help_text="On: a question shows on every page as soon as it is asked. Off (the "
        "default): staff approve each question on the live dashboard first.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "question settings"
        verbose_name_plural = "question settings"

    def __str__(self) -> str:
        return f"question settings of event {self.event_id}"


class QuestionStatus(models.TextChoices):
    PENDING = "pending", "Waiting for staff"
    APPROVED = "approved", "On the page"
    ANSWERED = "answered", "Answered"
    DISMISSED = "dismissed", "Dismissed"


class Question(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="questions")
    # As the attendee typed it (whitespace folded); the page masks it per the campaign's
    # profanity setting when it is read.
    text = models.CharField(max_length=QUESTION_MAX_CHARS)
    asker = models.CharField(max_length=PARTICIPANT_KEY_LENGTH)
    status = models.CharField(
        max_length=10, choices=QuestionStatus.choices, default=QuestionStatus.PENDING
    )
    # Pinned "on screen now" for every viewer: one per event at most.
    on_screen = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)  # approved or dismissed
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["event", "status", "created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["event"],
                condition=models.Q(on_screen=True),
                name="engagement_one_question_on_screen",
            ),
            models.CheckConstraint(
                condition=models.Q(on_screen=False) | models.Q(status=QuestionStatus.APPROVED),
                name="engagement_on_screen_question_approved",
            ),
        ]

    def __str__(self) -> str:
        return f"question {self.pk} of event {self.event_id}"


class QuestionVote(models.Model):
    """One upvote of a question by one participant (unique: a second is refused)."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="votes")
    voter = models.CharField(max_length=PARTICIPANT_KEY_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["question", "voter"], name="engagement_one_upvote_per_participant"
            )
        ]

    def __str__(self) -> str:
        return f"upvote of question {self.question_id}"


POLL_QUESTION_MAX_CHARS = 200
POLL_OPTION_MAX_CHARS = 100
POLL_MIN_OPTIONS = 2
POLL_MAX_OPTIONS = 6


class PollStatus(models.TextChoices):
    DRAFT = "draft", "Prepared"
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"
    ARCHIVED = "archived", "Off the page"


class Poll(models.Model):
    """A question with 2 to 6 answers that staff prepare, open and close; attendees vote once.
    The page shows the open poll, else the last closed one until staff take it off."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="polls")
    question = models.CharField(max_length=POLL_QUESTION_MAX_CHARS)
    status = models.CharField(max_length=10, choices=PollStatus.choices, default=PollStatus.DRAFT)
    # Results on every page; otherwise only voters' pages show them.
    results_revealed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event"],
                condition=models.Q(status=PollStatus.OPEN),
                name="engagement_one_open_poll",
            )
        ]

    def __str__(self) -> str:
        return f"poll {self.pk} of event {self.event_id}"


class PollOption(models.Model):
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="options")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=POLL_OPTION_MAX_CHARS)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["poll", "position"], name="engagement_option_position")
        ]

    def __str__(self) -> str:
        return f"option {self.position} of poll {self.poll_id}"


class PollVote(models.Model):
    """One participant's vote in a poll (unique per poll: a second is refused)."""

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="votes")
    option = models.ForeignKey(PollOption, on_delete=models.CASCADE, related_name="votes")
    voter = models.CharField(max_length=PARTICIPANT_KEY_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["poll", "voter"], name="engagement_one_vote_per_poll")
        ]

    def __str__(self) -> str:
        return f"vote in poll {self.poll_id}"


ASK_TEXT_MAX_CHARS = 140
ASK_TAG_MAX_CHARS = 40


class Ask(models.Model):
    """A call to give that staff pin for every viewer ("Give $27 now — help us reach $100k by
    9 pm") with its preset amount and a refcode-like `tag` for the gifts given while it is
    pinned. One pinned per event at most."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="asks")
    text = models.CharField(max_length=ASK_TEXT_MAX_CHARS)
    amount_minor = models.PositiveBigIntegerField()
    tag = models.SlugField(max_length=ASK_TAG_MAX_CHARS)
    pinned = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # The last time it was pinned, and taken down (null while pinned or never pinned).
    pinned_at = models.DateTimeField(null=True, blank=True)
    unpinned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event"], condition=models.Q(pinned=True), name="engagement_one_pinned_ask"
            ),
            models.UniqueConstraint(fields=["event", "tag"], name="engagement_ask_tag_once"),
            models.CheckConstraint(
                condition=models.Q(amount_minor__gt=0), name="engagement_ask_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"ask {self.tag} of event {self.event_id}"


MOMENT_LABEL_MAX_CHARS = 120
MOMENT_KEY_MAX_CHARS = 80


class MomentKind(models.TextChoices):
    SPEAKER = "speaker", "Speaker"
    ASK = "ask", "Ask"
    POLL = "poll", "Poll"
    MILESTONE = "milestone", "Milestone"
    OTHER = "other", "Moment"


class Moment(models.Model):
    """A point of the show staff want to read the money against ("Speaker: Jane Doe", an ask
    pinned, a poll opened): marked by staff on the dashboard or recorded by the service that
    made it happen. The report (liveroom/report.py) sets the money and viewers of the minutes
    after it beside it. `source_key` makes recording idempotent: one moment per event and key
    (a retried request, the same ask's same pin)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="moments")
    kind = models.CharField(max_length=10, choices=MomentKind.choices)
    label = models.CharField(max_length=MOMENT_LABEL_MAX_CHARS)
    at = models.DateTimeField()
    source_key = models.CharField(max_length=MOMENT_KEY_MAX_CHARS, blank=True, default="")
    # The staff member who marked it (None: recorded by a service).
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["event", "at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "source_key"],
                condition=~models.Q(source_key=""),
                name="engagement_moment_once_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"moment {self.pk} of event {self.event_id}"

    @property
    def title(self) -> str:
        """How the report names it: "Speaker: Jane Doe", "Poll: Which issue next?"."""
        if self.kind == MomentKind.OTHER:
            return self.label
        return f"{self.get_kind_display()}: {self.label}"


class ReactionMinute(models.Model):
    """An event's reactions in one minute, copied from Redis (where they live two days) once
    the show has ended, so the report keeps them (engagement/reactions.py)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    minute = models.BigIntegerField()  # minutes since the epoch, UTC
    counts = models.JSONField(default=dict)  # emoji name → count

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "minute"], name="engagement_reaction_minute")
        ]

    def __str__(self) -> str:
        return f"reactions of event {self.event_id} in minute {self.minute}"
