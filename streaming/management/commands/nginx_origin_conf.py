"""`manage.py nginx_origin_conf`: deploy/nginx/origin.conf.template with this deployment's
values (MEDIA_ROOT, the web process's address, the listen address, the size cap)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

TEMPLATE = Path(settings.BASE_DIR) / "deploy" / "nginx" / "origin.conf.template"


def render_origin_conf(*, listen: str, upstream: str, media_root: Path | None = None) -> str:
    values = {
        "LISTEN": listen,
        "UPSTREAM": upstream,
        "MEDIA_ROOT": str(Path(media_root or settings.MEDIA_ROOT).resolve()),
        "MAX_BODY_BYTES": str(settings.HLS_MAX_OBJECT_BYTES),
    }
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    return text


class Command(BaseCommand):
    help = "Print the nginx origin config (a server block) for this deployment."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--listen", default="80")
        parser.add_argument("--upstream", default="127.0.0.1:8000")

    def handle(self, *args: Any, listen: str, upstream: str, **options: Any) -> None:
        self.stdout.write(render_origin_conf(listen=listen, upstream=upstream), ending="")
