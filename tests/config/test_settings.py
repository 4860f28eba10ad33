"""The settings module, loaded in a fresh interpreter under different environments."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
from django.conf import settings
django.setup()
from channels.layers import get_channel_layer
from config.celery import app
print(json.dumps({
    "layer": type(get_channel_layer()).__name__,
    "cache": settings.CACHES["default"]["BACKEND"],
    "cache_location": settings.CACHES["default"].get("LOCATION"),
    "eager": app.conf.task_always_eager,
    "broker": app.conf.broker_url,
    "db_engine": settings.DATABASES["default"]["ENGINE"],
    "debug": settings.DEBUG,
}))
"""


def load_settings(**env):
    clean = {k: v for k, v in os.environ.items() if k not in _OURS}
    clean.update({"DJANGO_SETTINGS_MODULE": "config.settings", **env})
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


_OURS = {
    "DEBUG",
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT",
    "EMAIL_BACKEND",
}


def test_without_redis_url_it_embeds_everything():
    result = load_settings(DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "layer": "InMemoryChannelLayer",
        "cache": "django.core.cache.backends.locmem.LocMemCache",
        "cache_location": "pledgecast",
        "eager": True,
        "broker": "memory://",
        "db_engine": "django.db.backends.sqlite3",
        "debug": True,
    }


def test_with_redis_url_it_uses_redis_for_layer_cache_and_celery():
    url = "redis://127.0.0.1:6379/5"
    result = load_settings(
        DEBUG="0",
        SECRET_KEY="x" * 50,
        REDIS_URL=url,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/pledgecast",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "layer": "RedisPubSubChannelLayer",
        "cache": "django.core.cache.backends.redis.RedisCache",
        "cache_location": url,
        "eager": False,
        "broker": url,
        "db_engine": "django.db.backends.postgresql",
        "debug": False,
    }


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = load_settings(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        (
            {"DEBUG": "1", "DATABASE_URL": "mysql://db/x"},
            "DATABASE_URL scheme 'mysql' is not supported",
        ),
        ({"DEBUG": "1", "REDIS_URL": "http://x"}, "REDIS_URL scheme 'http' is not supported"),
        ({"DEBUG": "1", "REDIS_POOL_SIZE": "many"}, "REDIS_POOL_SIZE='many' is not a whole number"),
    ],
)
def test_it_fails_loudly_on_a_bad_value(env, message):
    result = load_settings(**env)
    assert result.returncode != 0
    assert message in result.stderr


def test_check_deploy_is_clean_with_production_like_variables():
    env = {k: v for k, v in os.environ.items() if k not in _OURS}
    env.update(
        DEBUG="0",
        SECRET_KEY="k8Jd93-Vx_2mQpL0zR7tYb4nC6wE1sA5uH9iO3gF8jK2lZ0xN7vB4mQ1pW6eR3tY",
        ALLOWED_HOSTS="give.example.org",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/pledgecast",
        REDIS_URL="redis://127.0.0.1:6379/0",
        SECURE_HSTS_PRELOAD="1",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
