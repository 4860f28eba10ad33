"""The nginx configs rendered from deploy/nginx/ with this deployment's values: the RTMP
ingest (rtmp.conf: nginx-rtmp with its hooks pointing at Django), the HLS origin
(origin.conf.template: segments from storage, playlists from the web process) and the HLS edge
cache (edge.conf: in front of the origin). The origin and the edge check playback signatures
themselves: both rendered files hold the playback signing secret."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from streaming import signing

DEPLOY = Path(settings.BASE_DIR) / "deploy" / "nginx"


PLACEHOLDER = re.compile(r"@([A-Z_]+)@")
# Values go into nginx directives unquoted or inside double quotes: no spaces, quotes, ; or {}.
SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.:/~+=,\[\]-]+$")


def _render(name: str, values: dict[str, str]) -> str:
    text = (DEPLOY / name).read_text()
    missing = set(PLACEHOLDER.findall(text)) - set(values)
    if missing:
        raise ValueError(f"{name}: no value for {sorted(missing)}")
    for key, value in values.items():
        if not SAFE_VALUE.match(value):
            raise ValueError(f"{name}: unsafe characters in the value of {key}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def render_rtmp_conf(
    *, listen: str, web: str, access_log: str, server_name: str | None = None
) -> str:
    """`web`: the Django web process nginx-rtmp calls (`http://127.0.0.1:8000`);
    `server_name`: this nginx-rtmp's name (default RTMP_SERVER_NAME)."""
    hook_url = f"{web.rstrip('/')}/streaming/rtmp/{signing.rtmp_hook_token()}"
    values = {
        "LISTEN": listen,
        "HOOK_URL": hook_url,
        "ACCESS_LOG": access_log,
        "SERVER_NAME": server_name or settings.RTMP_SERVER_NAME,
    }
    return _render("rtmp.conf", values)


def render_origin_conf(
    *,
    listen: str,
    upstream: str,
    media_root: Path | None = None,
    cache_dir: str = "/var/cache/nginx/pledgecast-origin",
    secret: str | None = None,
) -> str:
    """`upstream`: host:port of the web process; `media_root`: the storage nginx serves
    segments from (default MEDIA_ROOT); `cache_dir`: where nginx keeps the web process's
    answers to "is this stream public?" (1 s each); `secret`: the playback signing secret
    (default: PLAYBACK_SIGNING_SECRET)."""
    return _render(
        "origin.conf.template",
        {
            "LISTEN": listen,
            "UPSTREAM": upstream,
            "MEDIA_ROOT": str(Path(media_root or settings.MEDIA_ROOT).resolve()),
            "MAX_BODY_BYTES": str(settings.HLS_MAX_OBJECT_BYTES),
            "CACHE_DIR": cache_dir,
            "SECRET": secret or settings.PLAYBACK_SIGNING_SECRET,
        },
    )


def render_edge_conf(
    *,
    listen: str,
    origin: str,
    cache_dir: str,
    access_log: str = "off",
    origin_host: str | None = None,
    keys_zone: str = "64m",
    max_size: str = "10g",
    secret: str | None = None,
) -> str:
    """`origin`: host:port of the origin (nginx origin or web process); `origin_host`: the
    Host header it expects (one of its ALLOWED_HOSTS; default: the origin's host); `secret`:
    the playback signing secret (default: PLAYBACK_SIGNING_SECRET)."""
    return _render(
        "edge.conf",
        {
            "LISTEN": listen,
            "ORIGIN": origin,
            "ORIGIN_HOST": origin_host or origin.rsplit(":", 1)[0],
            "CACHE_DIR": cache_dir,
            "ACCESS_LOG": access_log,
            "KEYS_ZONE": keys_zone,
            "MAX_SIZE": max_size,
            "SECRET": secret or settings.PLAYBACK_SIGNING_SECRET,
        },
    )


_HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")


def render_front_conf(
    *,
    listen: str,
    lb_listen: str,
    edge: str,
    web: list[str],
    static_root: Path | None = None,
    access_log: str = "off",
) -> str:
    """The front (front.conf.template) and, before it, the upstream of the web processes:
    `web` lists their host:port (at least one), balanced by least connections; `lb_listen`
    is the internal entry the origin and nginx-rtmp's hooks use; `edge`: host:port of the
    edge cache that /live/ and /s/ go through."""
    if not web:
        raise ValueError("front.conf: at least one web process")
    for server in web:
        if not _HOST_PORT.match(server):
            raise ValueError(f"front.conf: {server!r} is not host:port")
    upstream = "upstream pledgecast_lb {\n    least_conn;\n"
    # A process counts as down after 3 failed connections in 5 s (front.conf.template's
    # `proxy_next_upstream error`: a slow answer is not a dead process), for 5 s.
    upstream += "".join(f"    server {server} max_fails=3 fail_timeout=5s;\n" for server in web)
    upstream += "    keepalive 64;\n}\n\n"
    return upstream + _render(
        "front.conf.template",
        {
            "LISTEN": listen,
            "LB_LISTEN": lb_listen,
            "EDGE": edge,
            "STATIC_ROOT": str(Path(static_root or settings.STATIC_ROOT).resolve()),
            "MAX_BODY_BYTES": str(settings.HLS_MAX_OBJECT_BYTES),
            "ACCESS_LOG": access_log,
        },
    )
