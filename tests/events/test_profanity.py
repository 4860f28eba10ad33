"""The profanity filter's index (events/profanity.py) answers exactly as better-profanity's
own list does, substitutions ("@" for "a", "1" for "i", ...) and phrases included."""

from __future__ import annotations

import random

import pytest
from better_profanity import Profanity

from events import profanity

SUBSTITUTES = {"a": "@4*", "i": "1l*", "o": "0@*", "e": "3*", "s": "$5", "t": "7", "u": "v*"}


def test_the_index_masks_exactly_what_the_library_masks():
    library = Profanity()
    words = sorted(str(word) for word in library.CENSOR_WORDSET)
    pick = random.Random(20261201)
    texts = ["Ada from Springfield, IL: keep going, we believe in you!", "", "   ", "ok."]
    for i in range(300):
        word = pick.choice(words)
        varied = "".join(
            pick.choice(SUBSTITUTES[c]) if c in SUBSTITUTES and pick.random() < 0.4 else c
            for c in word
        )
        texts.append(
            f"Hey {varied.upper() if i % 3 == 0 else varied}, {pick.choice(words)}_{word}! "
            "2 girls 1 cup, s h i t, Scunthorpe, assessment"
        )

    assert [profanity._filter().censor(text) for text in texts] == [
        library.censor(text) for text in texts
    ]
    assert profanity.mask("what the f*ck") == "what the ****"


def test_a_substitution_of_several_characters_is_refused():
    with pytest.raises(ValueError, match="one character"):
        profanity.IndexedWords(["ass"], {"a": ("a", "/-\\")})
