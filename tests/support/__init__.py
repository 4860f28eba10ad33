"""Helpers shared by the tests: free loopback ports, polling with a deadline, and reading the
event page's player configuration. Server processes are started by tests.support.processes."""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Every server a test starts listens on a port of this range (nothing else on this machine
# uses it); a port is handed out once per run. Two runs at once on one machine each take
# their own range: PC_TEST_PORTS=20000-21999.
_first, _, _last = os.environ.get("PC_TEST_PORTS", "18200-19799").partition("-")
PORTS = range(int(_first), int(_last) + 1)
_taken: set[int] = set()


def free_port(ports: range = PORTS) -> int:
    """A loopback port from `ports` that nothing listens on and this run has not handed out."""
    for port in ports:
        if port in _taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken.add(port)
        return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


def wait_for(
    predicate: Callable[[], T], timeout: float, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll `predicate` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def player_config(html: str) -> dict:
    """The event page's player configuration (its #player-config JSON script)."""
    found = re.search(r'<script id="player-config" type="application/json">(.*?)</script>', html)
    assert found, "no player configuration on the page"
    return json.loads(found.group(1))
