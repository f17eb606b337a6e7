"""Character sets (PS3.5 6.1): which Specific Character Set can carry a given text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydicom.charset import (
    STAND_ALONE_ENCODINGS,
    _encode_string_impl,
    _encode_string_parts,
    python_encoding,
)
from pydicom.multival import MultiValue

UTF8 = "ISO_IR 192"
SINGLE_BYTE_OR_UTF8 = frozenset({"iso8859", "latin_1", "iso8859_2", "iso8859_3", "iso8859_4",
                                 "iso_ir_126", "iso_ir_127", "iso_ir_138", "iso_ir_144",
                                 "iso_ir_148", "iso_ir_166", "UTF8"})
"""Python codecs of the character sets with one byte per character, or UTF-8: in all of them a
byte 0x5C is a backslash, so encoded values can be split and joined byte-wise."""

DEFINED_TERMS = frozenset(python_encoding) - {"ISO 2022 58", "ISO 2022 GBK"}
"""The (0008,0005) values DICOM defines (PS3.3 C.12.1.1.2), plus ``ISO_IR 6`` which readers accept
as the default. pydicom also takes Python codec names (``UTF-8``, ``latin-1``) and misspellings;
DICOM readers (DCMTK) refuse them, so they are never sent and ``wldesk check`` reports them."""


def charset_terms(value: Any) -> list[str]:
    """The defined terms of a (0008,0005) value, e.g. ``['', 'ISO 2022 IR 87']``."""
    if value is None:
        return []
    terms = list(value) if isinstance(value, (list, MultiValue)) else [value]
    return [str(t).strip() for t in terms]


def is_default(terms: Sequence[str]) -> bool:
    return all(t in ("", "ISO_IR 6", "ISO 2022 IR 6") for t in terms)


def undefined_terms(terms: Sequence[str]) -> list[str]:
    """The values of ``terms`` that are not DICOM defined terms (e.g. ``UTF-8``, ``latin1``)."""
    return [t for t in terms if t not in DEFINED_TERMS]


def is_valid(terms: Sequence[str]) -> bool:
    """True when ``terms`` is a character set a DICOM reader can decode: defined terms only, and a
    stand-alone one (UTF-8, GB18030, GBK) only alone."""
    if undefined_terms(terms):
        return False
    return len(terms) < 2 or not any(t in STAND_ALONE_ENCODINGS for t in terms)


def _fits(text: str, encodings: list[str]) -> bool:
    for encoding in encodings:
        try:
            _encode_string_impl(text, encoding)
            return True
        except UnicodeError:
            continue
    if len(encodings) > 1:  # ISO 2022: parts of the text in different character sets
        try:
            _encode_string_parts(text, encodings)
            return True
        except (ValueError, UnicodeError):
            pass
    return False


def can_encode(texts: Iterable[str], terms: Sequence[str]) -> bool:
    """True when ``terms`` is a valid character set and every text can be encoded in it exactly.

    The one probe of encodability (answers, the editor, ``check``): it never calls pydicom's
    encoder, which logs a warning ("using replacement characters") for every text that does not
    fit, although a probe only asks."""
    if not is_valid(terms):
        return False
    encodings = [python_encoding[t] for t in terms] or [python_encoding[""]]
    return all(text.isascii() or _fits(text, encodings) for text in texts)


def choose(texts: list[str], preferred: Iterable[Sequence[str]]) -> list[str]:
    """The first of ``preferred`` that encodes ``texts`` exactly, else UTF-8 (which encodes all)."""
    for terms in preferred:
        if terms and not is_default(terms) and can_encode(texts, terms):
            return list(terms)
    return [UTF8]
