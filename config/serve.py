"""`python -m config.serve`: one web process as production runs it (uvicorn, HTTP and
WebSockets), with the flags the live room needs and client addresses taken from
X-Forwarded-For only when the request comes from a trusted proxy.

TRUSTED_PROXIES lists the proxies in front (nginx, a load balancer: `127.0.0.1/32` when nginx
runs on the same machine), comma-separated in CIDR form. Unset, nobody is trusted: the client
address is the connection's peer, whatever headers say, so nobody can pick their own address
to dodge a per-address limit. Behind nginx, set it and have nginx send the header
(`proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`, and `real_ip` when nginx
itself sits behind a load balancer or CDN): deploy/README.md.
"""

from __future__ import annotations

import argparse
import os

import django
import uvicorn

from config.env import env_networks
from events import heartbeats


def uvicorn_options(*, host: str, port: int) -> dict[str, object]:
    """uvicorn.run's keywords for a web process."""
    proxies = env_networks("TRUSTED_PROXIES")
    return {
        "host": host,
        "port": port,
        # A socket's deflate context costs ~100 KB; snapshots are small (README-liveroom.md).
        "ws_per_message_deflate": False,
        "ws_max_size": 65536,
        "lifespan": "off",
        "access_log": False,
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": ",".join(str(network) for network in proxies) or None,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run one Pledgecast web process.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    heartbeats.start(role="web", port=args.port)  # /healthz lists the web processes alive
    uvicorn.run(
        "config.asgi:application",
        log_level=args.log_level,
        **uvicorn_options(host=args.host, port=args.port),  # type: ignore[arg-type]
    )


if __name__ == "__main__":
    main()
