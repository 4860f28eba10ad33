"""Pledgecast settings: everything comes from the environment, with embedded defaults.

With no environment at all the platform runs on SQLite, the in-memory channel layer, the
local-memory cache, Celery in eager mode and the simulated payment provider. Setting
DATABASE_URL, REDIS_URL and the Stripe keys switches each part to the real thing. The README
lists every variable.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from whitenoise.compress import Compressor

from config.env import (
    PoolBudget,
    database_from_url,
    env_bool,
    env_int,
    env_list,
    env_networks,
    env_str,
    redis_dependent_settings,
)
from config.security import content_security_policy

# Lets generic Django classes be subscripted at run time (ModelAdmin[Event]) for mypy.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY, or DEBUG=1 for local development only."
        )
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production-0123456789abcdef"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "events",
    "donations",
    "streaming",
    "engagement",
    "liveroom",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # JSON clients get JSON errors; every 429 has Retry-After (config/errors.py).
    "config.errors.ErrorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", "sqlite:///db.sqlite3")
# The connection budget of a process (PostgreSQL only; README "Database connections"): a pool
# of at most DATABASE_POOL_SIZE connections for requests and other work, plus one for each
# thread that applies webhooks (they keep theirs between events), never more whatever the
# request rate. A request that waits DATABASE_POOL_TIMEOUT seconds for one gets a 503.
DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 10, minimum=1)
DATABASE_POOL_TIMEOUT = env_int("DATABASE_POOL_TIMEOUT", 5, minimum=1)
# Threads (and so database connections) per web process that apply webhooks.
DONATION_WEBHOOK_THREADS = env_int("DONATION_WEBHOOK_THREADS", 8, minimum=1)
DATABASE_CONNECTION_BUDGET = DATABASE_POOL_SIZE + DONATION_WEBHOOK_THREADS
DATABASES = {
    "default": database_from_url(
        DATABASE_URL,
        base_dir=BASE_DIR,
        pool=PoolBudget(
            min_size=1, max_size=DATABASE_CONNECTION_BUDGET, timeout_s=DATABASE_POOL_TIMEOUT
        ),
        behind_pgbouncer=env_bool("DATABASE_BEHIND_PGBOUNCER", default=False),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery broker ----------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# The process roles this deployment runs (`make serve`: web,worker,beat,stream_worker,
# transcoder): /healthz is down while one of them has no live process (events/heartbeats.py).
SERVE_ROLES = env_list("SERVE_ROLES", [])
# Bursts of thousands of WebSocket connects need more than redis-py's default pool.
REDIS_POOL_SIZE = env_int("REDIS_POOL_SIZE", 1000, minimum=10)
_redis = redis_dependent_settings(REDIS_URL, pool_size=REDIS_POOL_SIZE)
CHANNEL_LAYERS = _redis["CHANNEL_LAYERS"]
CACHES = _redis["CACHES"]

# --- Live room (liveroom/): real-time tally, ticker and viewer count ------------------------
# At most this many snapshots per second per event, for the whole deployment.
LIVE_SNAPSHOTS_PER_SECOND = env_int("LIVE_SNAPSHOTS_PER_SECOND", 2, minimum=1)
# A web process reports its viewer count every third of this; a dead process's viewers leave
# the count after at most this long (plus one report interval). Kept ≤ 30 s by a test.
LIVE_PRESENCE_TTL_SECONDS = env_int("LIVE_PRESENCE_TTL_SECONDS", 15, minimum=1)
# The hub's own Redis pool (admission leases, snapshots); a blocking pool, so a burst of
# connects waits for a connection instead of failing its handshake.
LIVE_REDIS_POOL_SIZE = env_int("LIVE_REDIS_POOL_SIZE", 200, minimum=4)
# Inbound WebSocket messages: larger ones, or more than the rate (bursts: twice that),
# close the socket. 2 KB holds the longest question (280 characters of up to 4 UTF-8 bytes).
LIVE_INBOUND_MAX_BYTES = env_int("LIVE_INBOUND_MAX_BYTES", 2048, minimum=16)
LIVE_INBOUND_PER_SECOND = env_int("LIVE_INBOUND_PER_SECOND", 5, minimum=1)
# One viewer-count sample per event per this many seconds, for the staff dashboard's chart.
LIVE_VIEWER_SAMPLE_SECONDS = env_int("LIVE_VIEWER_SAMPLE_SECONDS", 15, minimum=1)
# Seats one client may hold (liveroom/seats.py): per browser (attendee cookie), and per address
# as a share of the event's capacity (never fewer than a browser's). 0 turns a cap off.
LIVE_SEATS_PER_ATTENDEE = env_int("LIVE_SEATS_PER_ATTENDEE", 3, minimum=0)
LIVE_SEATS_PER_ADDRESS_PERCENT = env_int("LIVE_SEATS_PER_ADDRESS_PERCENT", 25, minimum=0)

CELERY_BROKER_URL = _redis["CELERY_BROKER_URL"]
CELERY_TASK_ALWAYS_EAGER = _redis["CELERY_TASK_ALWAYS_EAGER"]
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
# The room's reactions live two days in Redis: copied into the database hourly once the show
# has ended (engagement/reactions.py), for the report.
CELERY_BEAT_SCHEDULE["engagement-reactions-snapshot"] = {
    "task": "engagement.tasks.snapshot_reactions",
    "schedule": 3600.0,
}

# --- Auth, i18n, time -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS: list[Path | tuple[str, Path]] = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # The player's hls.js, from npm (package-lock.json pins it): /static/vendor/hls.js/…; no CDN.
    "config.staticfiles.VendorFinder",
]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "/media/"
# Outside DEBUG, `collectstatic` writes content-hashed names (cached for good by browsers) with a
# Brotli and a gzip copy beside each, and pages link the hashed names from its manifest (a page
# naming a file that was never collected is a 500, so collectstatic runs before the web process
# starts).
STATIC_HASHED = env_bool("STATIC_HASHED", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_HASHED
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Source maps are fetched by developer tools only: no compressed copies (hls.js's is 1.7 MB, and
# Brotli's best compression, done once per deploy, takes seconds on it).
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, "map")
# The web process serves /static/ itself (config/staticfiles.py: WhiteNoise, the Brotli or gzip
# copy to clients that accept it, hashed names immutable); in DEBUG from the source folders.
SERVE_STATIC = env_bool("SERVE_STATIC", default=DEBUG)
if SERVE_STATIC:
    MIDDLEWARE.insert(0, "config.staticfiles.StaticFilesMiddleware")

# --- Streaming (streaming/): HLS ingest, our playlists, the origin, stream health ------------
# Every stream keeps the target duration it was created with (RFC 8216: it never changes).
# Encoders must cut segments no longer than this (keyframe interval ≤ it).
HLS_TARGET_DURATION = env_int("HLS_TARGET_DURATION", 2, minimum=1)
# Seconds of media in a live playlist: at least 3 target durations (RFC 8216 §6.2.2).
HLS_WINDOW_SECONDS = env_int("HLS_WINDOW_SECONDS", 6 * HLS_TARGET_DURATION, minimum=1)
if HLS_WINDOW_SECONDS < 3 * HLS_TARGET_DURATION:
    raise ImproperlyConfigured(
        f"HLS_WINDOW_SECONDS={HLS_WINDOW_SECONDS} must be at least 3 * HLS_TARGET_DURATION "
        f"({3 * HLS_TARGET_DURATION})"
    )
# Low-latency streams (LL-HLS, streaming/blocking.py): the part target in milliseconds (the
# encoder's segment length in that mode; parts are grouped into segments of the target
# duration) and the longest a blocking playlist reload is held (RFC 8216bis §6.2.5.2: three
# target durations), in target durations.
HLS_PART_TARGET_MS = env_int("HLS_PART_TARGET_MS", 500, minimum=100)
HLS_BLOCKING_RELOAD_TARGETS = env_int("HLS_BLOCKING_RELOAD_TARGETS", 3, minimum=1)
# The window of a stream with DVR on (viewers can rewind this far).
HLS_DVR_WINDOW_SECONDS = env_int("HLS_DVR_WINDOW_SECONDS", 7200, minimum=HLS_WINDOW_SECONDS)
# The largest object (segment or playlist) an encoder may PUT; larger bodies get 413.
HLS_MAX_OBJECT_BYTES = env_int("HLS_MAX_OBJECT_BYTES", 32 * 1024 * 1024, minimum=1024)
# The show (streaming/show.py): an encoder that stops sending is "reconnecting" this long
# before it counts as stalled (the show goes on either way), and staff may resume an ended
# show this long after its end.
STREAM_RECONNECT_SECONDS = env_int("STREAM_RECONNECT_SECONDS", 60, minimum=1)
SHOW_RESUME_MINUTES = env_int("SHOW_RESUME_MINUTES", 60, minimum=0)
# Stall detection, retention and relay polling run every half target duration.
CELERY_BEAT_SCHEDULE["streaming-health"] = {
    "task": "streaming.tasks.sweep_streams",
    "schedule": HLS_TARGET_DURATION / 2,
}
CELERY_BEAT_SCHEDULE["streaming-relays"] = {
    "task": "streaming.tasks.poll_relays",
    "schedule": HLS_TARGET_DURATION / 2,
}

# --- RTMP ingest, the renditions ladder and signed playback (streaming/) ----------------------
# Where the transcoder reads what OBS published to nginx-rtmp (deploy/nginx/rtmp.conf; play is
# allowed from loopback only), and where it PUTs HLS (the web process's ingest).
RTMP_PLAY_URL = env_str("RTMP_PLAY_URL", "rtmp://127.0.0.1:1935/live")
# What staff type into OBS as the server (shown in the admin).
RTMP_PUBLIC_URL = env_str("RTMP_PUBLIC_URL", "rtmp://127.0.0.1:1935/live")
# This machine's nginx-rtmp, named in its hook URLs: the transcoder supervisor runs only the
# streams published to the nginx-rtmp beside it (one name per RTMP ingest machine).
RTMP_SERVER_NAME = env_str("RTMP_SERVER_NAME", "rtmp")
TRANSCODER_INGEST_URL = env_str("TRANSCODER_INGEST_URL", "http://127.0.0.1:8000/streaming/ingest")
# How often the transcoder supervisor looks for streams to start or stop (milliseconds).
TRANSCODER_POLL_MS = env_int("TRANSCODER_POLL_MS", 500, minimum=50)
# Signed playback (nginx secure_link, md5): the secret shared with the edge, and how long a
# URL handed to a player stays valid. The default secret derives from SECRET_KEY.
PLAYBACK_SIGNING_SECRET = (
    env_str("PLAYBACK_SIGNING_SECRET")
    or hashlib.sha256(f"pledgecast-playback|{SECRET_KEY}".encode()).hexdigest()
)
PLAYBACK_URL_TTL_SECONDS = env_int("PLAYBACK_URL_TTL_SECONDS", 12 * 3600, minimum=60)

# --- Simulcast (streaming/simulcast/): the program copied to YouTube, Facebook, any RTMP(S) ---
# The secret that seals destination stream keys in the database (default: from SECRET_KEY).
SIMULCAST_KEY_SECRET = (
    env_str("SIMULCAST_KEY_SECRET")
    or hashlib.sha256(f"pledgecast-simulcast|{SECRET_KEY}".encode()).hexdigest()
)
# A destination that fails this many times in a row is "failed" until staff change it or the
# show goes live again; between tries it waits 1, 2, 4… seconds, at most this long.
SIMULCAST_MAX_TRIES = env_int("SIMULCAST_MAX_TRIES", 10, minimum=1)
SIMULCAST_MAX_BACKOFF_SECONDS = env_int("SIMULCAST_MAX_BACKOFF_SECONDS", 30, minimum=1)
# Where the transcoder reads a pushed (or relayed) stream's HLS to copy it: the origin.
SIMULCAST_ORIGIN_URL = env_str("SIMULCAST_ORIGIN_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Live captions (streaming/captions/) --------------------------------------------------------
# The subtitle track as players list it (EXT-X-MEDIA NAME and LANGUAGE).
CAPTIONS_NAME = env_str("CAPTIONS_NAME", "English (live captions)")
CAPTIONS_LANGUAGE = env_str("CAPTIONS_LANGUAGE", "en")
# Speech recognition of streams with automatic captions, run by the stream worker:
# "pocketsphinx" (its wheel's US English model), "off", or "module:Class" for another engine
# implementing streaming.captions.recognizers.Recognizer (faster-whisper with a model an
# operator installed, say).
CAPTIONS_ENGINE = env_str("CAPTIONS_ENGINE", "pocketsphinx")

# --- Outbound fetches (events/outbound.py: relay upstreams, any URL staff type) ---------------
# Only public addresses are fetched; these private ranges too (an operator relaying from its
# own network), e.g. "10.20.0.0/16,fd00:20::/32". Empty by default.
OUTBOUND_ALLOWED_NETWORKS = env_networks("OUTBOUND_ALLOWED_NETWORKS")

# The proxies in front of the web processes (config/serve.py believes their X-Forwarded-For).
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES")

# --- Registration: attempts per visitor address and per email in a window (0: no limit) -----
REGISTRATION_RATE_WINDOW_SECONDS = env_int("REGISTRATION_RATE_WINDOW_SECONDS", 3600, minimum=1)
REGISTRATIONS_PER_ADDRESS = env_int("REGISTRATIONS_PER_ADDRESS", 10, minimum=0)
REGISTRATIONS_PER_EMAIL = env_int("REGISTRATIONS_PER_EMAIL", 3, minimum=0)
# The registration row is the confirmations' outbox: what the on-commit task did not send
# (a broker outage) goes out from here.
CELERY_BEAT_SCHEDULE["events-confirmations"] = {
    "task": "events.tasks.send_pending_confirmations",
    "schedule": 5.0,
}
# Capacity notices' emails still due (events/capacity.py): a broker outage delays them only.
CELERY_BEAT_SCHEDULE["events-capacity-notices"] = {
    "task": "events.tasks.send_capacity_notices",
    "schedule": 60.0,
}

# --- Email ------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Pledgecast <receipts@localhost>")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)

# --- Payments ---------------------------------------------------------------------------------
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
# With no Stripe key the simulated provider is used; outside DEBUG it must be allowed explicitly.
ALLOW_SIMULATED_PAYMENTS = env_bool("ALLOW_SIMULATED_PAYMENTS", default=DEBUG)

# Every page's Content-Security-Policy (config/security.py): Stripe's origins only with Stripe.
CONTENT_SECURITY_POLICY = content_security_policy(stripe=bool(STRIPE_PUBLISHABLE_KEY))

# --- Donations (donations/): ledger, webhooks, limits -----------------------------------------
# Stripe's API address; only tests and benchmarks point it at a local fake.
STRIPE_API_BASE = env_str("STRIPE_API_BASE")
# The "cover the fees" gross-up: percent in basis points plus a fixed part (Stripe's card price).
DONATION_FEE_PERCENT_BP = env_int("DONATION_FEE_PERCENT_BP", 290, minimum=0)
DONATION_FEE_FIXED_MINOR = env_int("DONATION_FEE_FIXED_MINOR", 30, minimum=0)
# Card-testing defence: donation starts allowed per IP and per email in a 10-minute window.
DONATION_STARTS_PER_IP = env_int("DONATION_STARTS_PER_IP", 20, minimum=1)
DONATION_STARTS_PER_EMAIL = env_int("DONATION_STARTS_PER_EMAIL", 8, minimum=1)
# How long the donate panel's signed page token stays valid.
DONATION_PAGE_TOKEN_MAX_AGE = env_int("DONATION_PAGE_TOKEN_MAX_AGE", 12 * 3600, minimum=60)
# How long starting a donation keeps retrying Stripe's 429s (jittered backoff, same key).
DONATION_PROVIDER_RETRY_SECONDS = env_int("DONATION_PROVIDER_RETRY_SECONDS", 8, minimum=0)
# Webhook bodies larger than this are refused (413).
STRIPE_WEBHOOK_MAX_BYTES = env_int("STRIPE_WEBHOOK_MAX_BYTES", 256 * 1024, minimum=1024)
# DONATION_WEBHOOK_THREADS: with the database settings (it is part of the connection budget).
CELERY_BEAT_SCHEDULE["donations-reconcile"] = {
    "task": "donations.tasks.reconcile_payments",
    "schedule": 300.0,
}
CELERY_BEAT_SCHEDULE["donations-sweep"] = {
    "task": "donations.tasks.apply_unapplied_events",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["donations-receipts"] = {
    "task": "donations.tasks.send_pending_receipts",
    "schedule": 5.0,
}
# Returning donors' emailed codes (donations/donor_codes.py): codes asked for and tries of a code
# allowed per visitor address and per email in a window, across the deployment (each code also
# takes at most 5 tries and lasts 10 minutes). The code's row is the outbox: what the on-commit
# task did not send goes out from here.
DONOR_CODE_RATE_WINDOW_SECONDS = env_int("DONOR_CODE_RATE_WINDOW_SECONDS", 3600, minimum=1)
DONOR_CODE_REQUESTS_PER_ADDRESS = env_int("DONOR_CODE_REQUESTS_PER_ADDRESS", 10, minimum=1)
DONOR_CODE_REQUESTS_PER_EMAIL = env_int("DONOR_CODE_REQUESTS_PER_EMAIL", 3, minimum=1)
DONOR_CODE_CHECKS_PER_ADDRESS = env_int("DONOR_CODE_CHECKS_PER_ADDRESS", 20, minimum=1)
DONOR_CODE_CHECKS_PER_EMAIL = env_int("DONOR_CODE_CHECKS_PER_EMAIL", 10, minimum=1)
CELERY_BEAT_SCHEDULE["donations-donor-codes"] = {
    "task": "donations.tasks.send_pending_donor_codes",
    "schedule": 5.0,
}

# --- Donor self-service (donations/selfservice/): emailed single-use links -------------------
# How long an emailed link works, and the session it starts.
MANAGE_LINK_MINUTES = env_int("MANAGE_LINK_MINUTES", 30, minimum=1)
MANAGE_SESSION_MINUTES = env_int("MANAGE_SESSION_MINUTES", 60, minimum=1)
# Link requests per visitor address and per email address in an hour (0: no limit), and the
# changes one donor may make to their monthly gifts in an hour (each one calls Stripe).
MANAGE_LINKS_PER_ADDRESS = env_int("MANAGE_LINKS_PER_ADDRESS", 10, minimum=0)
MANAGE_LINKS_PER_EMAIL = env_int("MANAGE_LINKS_PER_EMAIL", 3, minimum=0)
MANAGE_CHANGES_PER_DONOR = env_int("MANAGE_CHANGES_PER_DONOR", 20, minimum=0)
# The link row is its email's outbox: what the on-commit task did not send goes from here.
CELERY_BEAT_SCHEDULE["donations-manage-links"] = {
    "task": "donations.tasks.send_pending_link_emails",
    "schedule": 5.0,
}
# Monthly gifts stopped at the limit per election whose cancellation or emails are still due.
CELERY_BEAT_SCHEDULE["donations-monthly-stops"] = {
    "task": "donations.tasks.run_due_monthly_stops",
    "schedule": 60.0,
}
# Best efforts: follow-ups of gifts that became itemizable without the donor's details.
CELERY_BEAT_SCHEDULE["donations-best-efforts"] = {
    "task": "donations.tasks.send_best_efforts_requests",
    "schedule": 60.0,
}
# The treasurer's queue: items found on the ledger and redesignation notices, then the daily
# mail of overdue items (hourly; one row per campaign and day, so mailed once a day).
CELERY_BEAT_SCHEDULE["donations-compliance-queue"] = {
    "task": "donations.tasks.sweep_compliance_queue",
    "schedule": 300.0,
}
CELERY_BEAT_SCHEDULE["donations-treasurer-digests"] = {
    "task": "donations.tasks.mail_treasurer_digests",
    "schedule": 3600.0,
}

# --- Security ---------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# /healthz is probed over plain HTTP by load balancers.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Logging: one line per record, key=value, ids only (never keys or donor details) ----------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"kv": {"()": "config.logging.KeyValueFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "kv"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # The stripe library's request lines name payment methods and customers in their URLs.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "stripe": {"level": "WARNING"}},
}
