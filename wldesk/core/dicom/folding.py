"""Text as people search for it: without case or accents, a person name's separators as spaces.

``MÜLLER^HANS`` folds to ``muller hans``, ``Ødegård`` to ``odegard``, ``Straße`` to ``strasse``:
what someone types on a keyboard without those letters finds the name as the file holds it. Both
the text searched and the text typed are folded the same way (:func:`fold`), and a search matches
when every typed word is in the text (:func:`search_words`, :func:`contains_words`), in any order.

Only the accents of Latin, Greek and Cyrillic letters are dropped (the combining diacritics of
NFKD's decomposition), and the Latin letters NFKD does not decompose are spelled plainly (ø, æ, œ,
đ, ł, þ...). Other scripts keep their marks (a Japanese voiced mark changes the syllable); a search
typed in them finds the same text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

_COMBINING_MARKS = (  # the blocks of combining diacritics (Latin, Greek and Cyrillic accents)
    range(0x0300, 0x0370), range(0x1AB0, 0x1B00), range(0x1DC0, 0x1E00), range(0x20D0, 0x2100),
    range(0xFE20, 0xFE30))
_LETTERS = {"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ð": "d", "ł": "l", "þ": "th", "ħ": "h",
            "\u0131": "i", "ŧ": "t", "ŀ": "l"}  # U+0131: the dotless i of Turkish
_SEPARATORS = {"^": " ", "=": " "}  # a person name's components and groups
_ASCII_TABLE = str.maketrans(_SEPARATORS)
_TABLE = str.maketrans({**_SEPARATORS, **_LETTERS,
                        **{chr(c): None for block in _COMBINING_MARKS for c in block}})


def fold(text: str) -> str:
    """``text`` without case and Latin accents, ``^`` and ``=`` as spaces (``MÜLLER^HANS`` ->
    ``muller hans``); full-width letters and ligatures as their plain letters (NFKD)."""
    if text.isascii():
        return text.lower().translate(_ASCII_TABLE)
    return unicodedata.normalize("NFKD", text).casefold().translate(_TABLE)


def search_words(text: str) -> tuple[str, ...]:
    """The folded words of what someone typed to search (``"Hans  Müller"`` -> ``("hans",
    "muller")``); none for blank text."""
    return tuple(fold(text).split())


def contains_words(folded: str, words: Sequence[str]) -> bool:
    """Whether every one of ``words`` (:func:`search_words`) is in ``folded`` (:func:`fold`)."""
    return all(word in folded for word in words)
