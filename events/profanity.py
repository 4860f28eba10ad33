"""The profanity filter (`better-profanity`) as the live room's public text reads it: words on
its list shown as ****. The campaign decides whether it applies (`ticker_profanity_filter`);
the author's own text is stored as written, for staff."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

from better_profanity import Profanity


@cache
def _filter() -> Any:
    # The word list is loaded once per process (about 5 MB), on first use; censoring only
    # reads it, so threads may share it.
    return Profanity()


@lru_cache(maxsize=4096)
def mask(text: str) -> str:
    """`text` with the filter's words as ****. Cached: the same few lines are read for every
    snapshot of an event."""
    if not text:
        return text
    return str(_filter().censor(text))
