"""The profanity filter (`better-profanity`) as the live room's public text reads it: words on
its list shown as ****. The campaign decides whether it applies (`ticker_profanity_filter`);
the author's own text is stored as written, for staff."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import cache, lru_cache
from typing import Any

from better_profanity import Profanity


class IndexedWords:
    """The filter's word list, indexed by length and first character. better-profanity keeps
    it as a list of `VaryingString` (a word and the characters that may stand for each of its
    letters: "a" as "@" or "4", ...) and scans the whole list for every word of a text: about
    25 ms a line. Every substitution in its map is one character, so a text word matches a
    listed word exactly when it has its length and each character is one of that position's
    options: `in` here answers what the list's scan answers, from the few words of that
    length and first character."""

    def __init__(self, words: Iterable[object], char_map: Mapping[str, tuple[str, ...]]):
        self._index: dict[tuple[int, str], list[tuple[frozenset[str], ...]]] = defaultdict(list)
        for word in words:
            original = str(word)
            if not original:
                continue
            options = tuple(frozenset(char_map.get(char, (char,))) for char in original)
            if any(len(sub) != 1 for choice in options for sub in choice):
                raise ValueError("a substitution of more or less than one character")
            for first in options[0]:
                self._index[(len(original), first)].append(options)

    def __contains__(self, text: object) -> bool:
        if not isinstance(text, str) or not text:
            return False
        for options in self._index.get((len(text), text[0]), ()):
            if all(char in choice for char, choice in zip(text, options, strict=True)):
                return True
        return False


@cache
def _filter() -> Any:
    # The word list is loaded once per process (about 5 MB), on first use; censoring only
    # reads it, so threads may share it. Its list is swapped for the index (same answers).
    profanity = Profanity()
    profanity.CENSOR_WORDSET = IndexedWords(profanity.CENSOR_WORDSET, profanity.CHARS_MAPPING)
    return profanity


@lru_cache(maxsize=4096)
def mask(text: str) -> str:
    """`text` with the filter's words as ****. Cached: the same few lines are read for every
    snapshot of an event."""
    if not text:
        return text
    return str(_filter().censor(text))
