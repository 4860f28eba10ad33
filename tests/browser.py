"""Headless Chromium for the browser tests: Debian's chromium driven by Playwright's Python
package (Playwright's own browser download cannot work here), screenshots under artifacts/.

Under CI (`CI` set, as `.ci/run` does) a missing chromium fails the browser tests; on a
developer's machine without it they are skipped with the command that installs it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Gitignored (/artifacts/); CI keeps whatever the run leaves there.
ARTIFACTS = Path(os.environ.get("PC_ARTIFACTS", ROOT / "artifacts"))
# As root on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Muted autoplay is allowed anyway; this lets a test unmute without a gesture.
    "--autoplay-policy=no-user-gesture-required",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}  # fmt: skip
LAPTOP = {"viewport": {"width": 1366, "height": 820}}


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.fixture
def browser(monkeypatch) -> Iterator[Any]:
    """A fresh headless Chromium per test (the sync API runs an event loop in this thread
    while it lives, so it cannot outlive one test without breaking the ORM of the next)."""
    path = chromium_path()
    if path is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if under_ci():
            pytest.fail(message + ": browser tests must run under CI")
        pytest.skip(message)
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are plain
    # synchronous code (Django's documented switch for this case).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            # This context's ORM connection is not the one pytest-django closes.
            connections.close_all()


@pytest.fixture
def screenshot(request):
    """screenshot(page, "what-it-shows") → artifacts/screenshots/<test>--what-it-shows.png."""
    directory = ARTIFACTS / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)

    def take(page: Any, name: str, *, full_page: bool = True) -> Path:
        path = directory / f"{test}--{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
