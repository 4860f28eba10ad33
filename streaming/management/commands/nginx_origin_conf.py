"""`manage.py nginx_origin_conf`: deploy/nginx/origin.conf.template with this deployment's
values (MEDIA_ROOT, the web process's address, the listen address, the size cap, the playback
signing secret: keep the rendered file readable by root and nginx only)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from streaming.deployconf import render_origin_conf

__all__ = ["Command", "render_origin_conf"]


class Command(BaseCommand):
    help = "Print the nginx origin config (for the http { } block) for this deployment."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--listen", default="80")
        parser.add_argument("--upstream", default="127.0.0.1:8000")
        # Relative: under nginx's prefix (-p), which nginx can create; production names one.
        parser.add_argument(
            "--cache-dir", default="pledgecast-origin-cache",
            help="where nginx keeps the 1-s answers to 'is this stream public?'",
        )  # fmt: skip

    def handle(
        self, *args: Any, listen: str, upstream: str, cache_dir: str, **options: Any
    ) -> None:
        text = render_origin_conf(listen=listen, upstream=upstream, cache_dir=cache_dir)
        self.stdout.write(text, ending="")
