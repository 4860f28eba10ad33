"""`manage.py nginx_edge_conf`: deploy/nginx/edge.conf for this deployment (it holds the
playback signing secret: keep the rendered file readable by root and nginx only)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from streaming.deployconf import render_edge_conf


class Command(BaseCommand):
    help = "Print the nginx HLS edge-cache config (for the http { } block)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--listen", default="80")
        parser.add_argument("--origin", default="127.0.0.1:8080", help="host:port of the origin")
        parser.add_argument("--origin-host", default=None, help="Host header for the origin")
        parser.add_argument("--cache-dir", default="/var/cache/nginx/pledgecast")
        parser.add_argument("--access-log", default="/var/log/nginx/pledgecast_edge.log")

    def handle(self, *args: Any, **options: Any) -> None:
        text = render_edge_conf(
            listen=options["listen"], origin=options["origin"],
            origin_host=options["origin_host"], cache_dir=options["cache_dir"],
            access_log=options["access_log"],
        )  # fmt: skip
        self.stdout.write(text, ending="")
