"""events.jsonbody: a JSON object from anybody's request body, or None."""

from __future__ import annotations

import pytest

from events.jsonbody import MAX_DEPTH, json_object


def test_a_plain_object_comes_back():
    assert json_object(b'{"a": [1, {"b": "c\\u00e9"}], "n": null}') == {
        "a": [1, {"b": "c\u00e9"}],
        "n": None,
    }


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b"\xff\xfe{}",
        b'{"name": "a\\ud800b"}',  # a lone surrogate in a value
        b'{"a\\udfff": 1}',  # ... and in a key
        b'{"list": ["ok", "\\udc00"]}',
        b"[" * 100_000 + b"]" * 100_000,  # would raise RecursionError
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    ],
)
def test_what_is_not_a_sound_object_is_none(body):
    assert json_object(body) is None


def test_nesting_is_bounded():
    deep = b'{"a":' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH
    deeper = b'{"a":' * (MAX_DEPTH + 2) + b"1" + b"}" * (MAX_DEPTH + 2)
    assert json_object(deep) is not None
    assert json_object(deeper) is None
