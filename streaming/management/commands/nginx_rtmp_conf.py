"""`manage.py nginx_rtmp_conf`: deploy/nginx/rtmp.conf for this deployment (nginx-rtmp's hooks
point at the web process, under a path derived from SECRET_KEY)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from streaming.deployconf import render_rtmp_conf


class Command(BaseCommand):
    help = "Print the nginx-rtmp config (for nginx.conf's top level)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--listen", default="1935")
        parser.add_argument("--web", default="http://127.0.0.1:8000", help="the web process")
        parser.add_argument("--access-log", default="/var/log/nginx/pledgecast_rtmp.log")
        parser.add_argument(
            "--server-name", default=None, help="this nginx-rtmp's name (RTMP_SERVER_NAME)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        text = render_rtmp_conf(
            listen=options["listen"], web=options["web"], access_log=options["access_log"],
            server_name=options["server_name"],
        )  # fmt: skip
        self.stdout.write(text, ending="")
