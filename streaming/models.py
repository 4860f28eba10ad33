"""Streams, their renditions and the segments we published.

The database holds the playlist writer's state, so any web process may receive any PUT: a
rendition's row is locked while a segment is appended and its playlist rewritten.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from events.models import Event


def new_public_id() -> str:
    # Used in every URL a viewer or encoder sees; not a secret, just unguessable enough.
    return secrets.token_hex(8)


class StreamMode(models.TextChoices):
    PUSH = "push", "Push: the encoder PUTs HLS to our ingest"
    RELAY = "relay", "Relay: we pull an upstream HLS origin"


class StreamState(models.TextChoices):
    """The encoder's side, apart from the show's (the event's status): idle → live (segments
    arriving) → reconnecting (none for 2 target durations, an ENDLIST or the RTMP publisher
    gone: players wait, the show goes on) → stalled (still none after
    STREAM_RECONNECT_SECONDS) → ended (only when the show ends). Segments arriving again turn
    any of the middle three live, after a discontinuity."""

    IDLE = "idle", "Waiting for the encoder"
    LIVE = "live", "Receiving"
    RECONNECTING = "reconnecting", "Reconnecting"
    STALLED = "stalled", "Stalled (the encoder is gone)"
    ENDED = "ended", "Ended"


class LadderChoice(models.TextChoices):
    PASSTHROUGH = "passthrough", "Passthrough: the encoder's stream as it is (copy)"
    ADAPTIVE = "adaptive", "Adaptive: 720p / 480p / 360p (the source copied on top when it fits)"


class Latency(models.TextChoices):
    STANDARD = "standard", "Standard (about 10 s behind the stage)"
    LOW = "low", "Low (LL-HLS: about 3 s behind the stage)"


class CaptionMode(models.TextChoices):
    OFF = "off", "Off"
    CART = "cart", "A captioner (CART) posts the lines"
    AUTO = "auto", "Automatic (speech recognition), and a captioner may post lines too"


class Stream(models.Model):
    event = models.OneToOneField(Event, on_delete=models.CASCADE, related_name="stream")
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    # SHA-256 of the stream key: the key is 256 random bits, so a leaked hash reveals nothing.
    key_hash = models.CharField(max_length=64, editable=False)
    key_rotated_at = models.DateTimeField(null=True, editable=False)
    mode = models.CharField(max_length=10, choices=StreamMode.choices, default=StreamMode.PUSH)
    relay_url = models.URLField(
        "upstream playlist URL",
        blank=True,
        max_length=500,
        help_text="Relay mode: the master or media playlist of the upstream HLS origin.",
    )
    dvr = models.BooleanField(
        "DVR",
        default=False,
        help_text="Keep the whole broadcast in the live playlist so viewers can rewind.",
    )
    record = models.BooleanField(
        default=True, help_text="Keep every segment, for the replay after the stream ends."
    )
    record_practice = models.BooleanField(
        "record the practice",
        default=False,
        help_text="Keep what was streamed backstage, before “Go live”, in the replay.",
    )
    # --- RTMP ingest's ladder and signed playback (streaming/ladder.py,
    # streaming/signing.py).
    ladder = models.CharField(
        max_length=12,
        choices=LadderChoice.choices,
        default=LadderChoice.PASSTHROUGH,
        help_text="For RTMP (OBS): copy the encoder's stream, or transcode a ladder of "
        "renditions for phones and slow connections.",
    )
    signed_playback = models.BooleanField(
        default=False,
        help_text="Private or paid events: players get expiring signed URLs; unsigned "
        "requests get 403.",
    )
    # --- low latency (LL-HLS: partial segments and blocking reloads, streaming/blocking.py).
    latency = models.CharField(
        max_length=8,
        choices=Latency.choices,
        default=Latency.STANDARD,
        help_text="Low: partial segments (LL-HLS) so viewers are a few seconds behind the "
        "stage; the encoder must send segments of HLS_PART_TARGET seconds (the ladder does). "
        "Regular HLS players keep working. Applies from the next segment.",
    )
    # --- live captions (streaming/captions/).
    captions = models.CharField(
        "live captions",
        max_length=6,
        choices=CaptionMode.choices,
        default=CaptionMode.OFF,
        help_text="A WebVTT subtitle track (CC) in the player and the replay: from a human "
        "captioner (CART: lines posted with the caption key) or automatic speech recognition "
        "of the program's audio. Applies from the next segment.",
    )
    # SHA-256 of the CART caption key (shown once, like the stream key).
    caption_key_hash = models.CharField(max_length=64, blank=True, editable=False)
    # The rendition whose segments the caption segments follow (same numbers and times).
    caption_anchor = models.CharField(max_length=64, blank=True, editable=False)
    # Fixed at creation: a playlist's target duration never changes (RFC 8216 §6.2.1).
    target_duration = models.PositiveSmallIntegerField(editable=False)
    window_seconds = models.PositiveIntegerField(editable=False)
    state = models.CharField(
        max_length=12, choices=StreamState.choices, default=StreamState.IDLE, editable=False
    )
    last_segment_at = models.DateTimeField(null=True, editable=False)
    # When the current encoder session started sending (reset after every reconnect).
    session_started_at = models.DateTimeField(null=True, editable=False)
    # The green room's figures from ffprobe on the incoming segments (streaming/health.py).
    health = models.JSONField(default=dict, editable=False)
    health_at = models.DateTimeField(null=True, editable=False)
    live_at = models.DateTimeField(null=True, editable=False)
    ended_at = models.DateTimeField(null=True, editable=False)
    # What staff should know: upstream errors, refused segments.
    last_error = models.CharField(max_length=500, blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["state"])]

    def __str__(self) -> str:
        return f"Stream of {self.event}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.target_duration is None:
            self.target_duration = settings.HLS_TARGET_DURATION
        if self.window_seconds is None:
            self.window_seconds = (
                settings.HLS_DVR_WINDOW_SECONDS if self.dvr else settings.HLS_WINDOW_SECONDS
            )
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class Rendition(models.Model):
    """One media playlist of a stream (one per variant of the encoder's master)."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="renditions")
    name = models.CharField(max_length=64)
    # EXT-X-STREAM-INF attributes from the encoder's master (whitelisted), or {}; and under
    # "probed", CODECS and RESOLUTION read from its segments (publishing.describe).
    variant = models.JSONField(default=dict)
    position = models.PositiveSmallIntegerField(default=0)
    next_seq = models.PositiveIntegerField(default=0)
    media_sequence = models.PositiveIntegerField(default=0)
    discontinuity_sequence = models.PositiveIntegerField(default=0)
    # The encoder's own sequence numbers of its last playlist: going back means it restarted.
    encoder_first_seq = models.IntegerField(default=-1)
    encoder_last_seq = models.IntegerField(default=-1)
    pending_discontinuity = models.BooleanField(default=False)
    init_count = models.PositiveIntegerField(default=0)
    current_init = models.CharField(max_length=32, blank=True)
    peak_bits_per_second = models.PositiveIntegerField(default=0)
    # The program date-time of the next segment when it follows on without a discontinuity.
    next_pdt = models.DateTimeField(null=True)
    # Low latency: the segment being built from parts (publishing.append_part), or {}.
    open_segment = models.JSONField(default=dict)
    ended = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "name"], name="one_rendition_per_name")
        ]

    def __str__(self) -> str:
        return self.name


class Segment(models.Model):
    rendition = models.ForeignKey(Rendition, on_delete=models.CASCADE, related_name="segments")
    seq = models.PositiveIntegerField()
    duration = models.FloatField()
    program_date_time = models.DateTimeField()
    discontinuity = models.BooleanField(default=False)
    init_name = models.CharField(max_length=32, blank=True)
    extension = models.CharField(max_length=4)
    size = models.PositiveIntegerField()
    published_at = models.DateTimeField()
    # When it left the live playlist's window; its file goes after duration + window more.
    removed_at = models.DateTimeField(null=True)
    deleted = models.BooleanField(default=False)
    # Low latency: the durations of the parts it was built from (files `<seq>_<i>.<ext>`).
    parts = models.JSONField(default=list)

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.UniqueConstraint(fields=["rendition", "seq"], name="one_segment_per_seq")
        ]
        indexes = [models.Index(fields=["removed_at"], condition=models.Q(deleted=False),
                                name="segment_retention")]  # fmt: skip

    def __str__(self) -> str:
        return self.file_name

    @property
    def file_name(self) -> str:
        return f"{self.seq}.{self.extension}"


class Transcoder(models.Model):
    """The RTMP publish session of a stream and the health of its supervised ffmpeg
    (streaming/transcoder.py). `publishing` is set when nginx-rtmp's on_publish hook accepts
    the encoder and cleared by on_publish_done (streaming/rtmp_sessions.py); the supervisor
    runs one ffmpeg while it is set."""

    stream = models.OneToOneField(Stream, on_delete=models.CASCADE, related_name="transcoder")
    publishing = models.BooleanField(default=False)
    # nginx-rtmp's id of the publishing connection: a late publish_done of an older
    # connection must not stop a newer one.
    client_id = models.CharField(max_length=32, blank=True)
    # Which nginx-rtmp accepted it (RTMP_SERVER_NAME): only the transcoder supervisor beside
    # that nginx can play the stream from loopback.
    rtmp_server = models.CharField(max_length=64, blank=True)
    publish_started_at = models.DateTimeField(null=True)
    pid = models.PositiveIntegerField(null=True)
    started_at = models.DateTimeField(null=True)
    restarts = models.PositiveIntegerField(default=0)
    speed = models.FloatField(null=True)
    # Set while ffmpeg's reported speed stays below 1.0 for 10 s: it cannot keep real time.
    behind_since = models.DateTimeField(null=True)
    last_progress_at = models.DateTimeField(null=True)
    rungs = models.CharField(max_length=200, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"Transcoder of {self.stream}"


# --- Simulcast (streaming/simulcast/) ----------------------------------------------------------


class SimulcastService(models.TextChoices):
    YOUTUBE = "youtube", "YouTube"
    FACEBOOK = "facebook", "Facebook"
    TWITCH = "twitch", "Twitch"
    CUSTOM = "custom", "Other (any RTMP or RTMPS server)"


class SimulcastState(models.TextChoices):
    """One destination's copy of the program: stopped (the show is not live, or it is off)
    → connecting (ffmpeg started, or waiting for the program) → live (sending); retrying
    (it failed: waiting the backoff before the next try, with the last error); failed (it
    failed SIMULCAST_MAX_TRIES times in a row, or the destination is refused: staff fix it,
    or the next "Go live" or "Resume show" tries again)."""

    STOPPED = "stopped", "Stopped"
    CONNECTING = "connecting", "Connecting"
    LIVE = "live", "Live"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"


class SimulcastDestination(models.Model):
    """Where a supervised ffmpeg copies the event's program while its show is live
    (streaming/simulcast/runner.py). The stream key is stored encrypted (keybox.py) and is
    never shown, logged or put in an error message again."""

    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="simulcast_destinations"
    )
    service = models.CharField(
        max_length=10, choices=SimulcastService.choices, default=SimulcastService.CUSTOM
    )
    url = models.CharField(
        "server URL",
        max_length=500,
        blank=True,
        help_text="rtmp:// or rtmps://. Left empty for YouTube, Facebook or Twitch: their "
        "RTMPS ingest.",
    )
    key_sealed = models.TextField(editable=False)
    enabled = models.BooleanField(default=True)
    # Bumped by every change staff make: a running copy restarts with the new settings.
    version = models.PositiveIntegerField(default=1, editable=False)
    state = models.CharField(
        max_length=10,
        choices=SimulcastState.choices,
        default=SimulcastState.STOPPED,
        editable=False,
    )
    tries = models.PositiveIntegerField(default=0, editable=False)  # failures in a row
    live_since = models.DateTimeField(null=True, editable=False)
    last_error = models.CharField(max_length=500, blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, editable=False)
    # The lease of the supervisor that runs it (RTMP_SERVER_NAME), renewed every round: one
    # copy per destination across every transcoder machine.
    runner = models.CharField(max_length=64, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, editable=False)
    pid = models.PositiveIntegerField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["enabled", "state"])]

    def __str__(self) -> str:
        return f"{self.get_service_display()} for {self.event}"


# --- Live captions (streaming/captions/) --------------------------------------------------------


class CaptionSource(models.TextChoices):
    CART = "cart", "Captioner"
    AUTO = "auto", "Speech recognition"


class CaptionCue(models.Model):
    """One cue of a stream's captions, on the program's clock (the segments' program
    date-times): it is written into the WebVTT segment of every media segment it overlaps
    as that segment is published (streaming/captions/rendition.py)."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="caption_cues")
    start = models.DateTimeField()
    end = models.DateTimeField()
    text = models.CharField(max_length=500)
    source = models.CharField(max_length=4, choices=CaptionSource.choices)
    # When it arrived (a CART post, or recognised), and for recognised speech when it was
    # said (its end, on the program's clock): the captions' delay.
    created_at = models.DateTimeField()
    spoken_end = models.DateTimeField(null=True)

    class Meta:
        ordering = ["start", "pk"]
        indexes = [models.Index(fields=["stream", "end"])]

    def __str__(self) -> str:
        return self.text
