"""The RTMP stack (tests/support/rtmp.py) for a test module: a web process, the transcoder
supervisor and nginx (nginx-rtmp and the edge cache), on the test database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.support.rtmp import Stack, start_stack


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker) -> Iterator[Stack]:
    stack = start_stack()
    try:
        yield stack
    finally:
        stack.shutdown()
        shutil.rmtree(stack.tmp, ignore_errors=True)
