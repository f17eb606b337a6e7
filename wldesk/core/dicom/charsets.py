"""Character sets (PS3.5 6.1): which Specific Character Set can carry a given text."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

from pydicom.charset import convert_encodings, encode_string
from pydicom.multival import MultiValue

UTF8 = "ISO_IR 192"
SINGLE_BYTE_OR_UTF8 = frozenset({"iso8859", "latin_1", "iso8859_2", "iso8859_3", "iso8859_4",
                                 "iso_ir_126", "iso_ir_127", "iso_ir_138", "iso_ir_144",
                                 "iso_ir_148", "iso_ir_166", "UTF8"})
"""Python codecs of the character sets with one byte per character, or UTF-8: in all of them a
byte 0x5C is a backslash, so encoded values can be split and joined byte-wise."""


def charset_terms(value: Any) -> list[str]:
    """The defined terms of a (0008,0005) value, e.g. ``['', 'ISO 2022 IR 87']``."""
    if value is None:
        return []
    terms = list(value) if isinstance(value, (list, MultiValue)) else [value]
    return [str(t).strip() for t in terms]


def is_default(terms: Sequence[str]) -> bool:
    return all(t in ("", "ISO_IR 6", "ISO 2022 IR 6") for t in terms)


def can_encode(texts: Iterable[str], terms: Sequence[str]) -> bool:
    """True when every text can be encoded exactly in the character set ``terms``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encodings = convert_encodings(list(terms) or None)
        if caught:  # an unknown defined term: pydicom would fall back to ASCII
            return False
        for text in texts:
            encode_string(text, encodings)
            if caught:
                return False
    return True


def choose(texts: list[str], preferred: Iterable[Sequence[str]]) -> list[str]:
    """The first of ``preferred`` that encodes ``texts`` exactly, else UTF-8 (which encodes all)."""
    for terms in preferred:
        if terms and not is_default(terms) and can_encode(texts, terms):
            return list(terms)
    return [UTF8]
