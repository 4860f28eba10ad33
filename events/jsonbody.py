"""Reading a JSON request body that anybody may send: an object, or nothing.

`json.loads` alone lets through what breaks later: a body nested thousands deep (Python's
parser recurses until RecursionError), and lone surrogates (`"\\ud800"` is valid JSON, but no
UTF-8 text: PostgreSQL refuses it, and so does any email or log line). Both come back as None
here, like a body that is not JSON at all, so the view answers 400 with a sentence.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 20


def json_object(body: bytes) -> dict[str, Any] | None:
    """The body's JSON object, or None when it is not UTF-8 JSON, not an object, nested more
    than MAX_DEPTH deep, or holds a string that is not valid Unicode text."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(data, dict) or not _sound(data, MAX_DEPTH):
        return None
    return data


def _sound(value: object, depth: int) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            return False
        return True
    if isinstance(value, dict | list):
        if depth <= 0:
            return False
        items = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
        return all(
            (key is None or _sound(key, depth)) and _sound(item, depth - 1) for key, item in items
        )
    return True
