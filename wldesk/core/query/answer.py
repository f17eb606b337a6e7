"""C-FIND answers: a light structure built by matching, its character set, and its encoding.

Building a pydicom Dataset and having pydicom encode it costs ~50 µs per answer; an answer of ten
thousand entries spends most of its time there. An ``Answer`` is a plain list of (tag, VR, value)
encoded here directly for the transfer syntaxes modalities use (implicit and explicit VR little
endian). Other transfer syntaxes, and character sets with ISO 2022 code extensions, go through
``to_dataset()`` and pydicom. Values follow ``wldesk.core.dicom.node``: text as ``str`` or a tuple of
``str``, numbers, ``bytes``; ``None`` is zero length; a sequence is a list of Answers.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from typing import Any

from pydicom.charset import python_encoding
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from wldesk.core.dicom.charsets import SINGLE_BYTE_OR_UTF8, choose, is_default, is_valid
from wldesk.core.dicom.node import Node
from wldesk.core.dicom.vr import LONG_VRS, SPECIFIC_CHARACTER_SET, STRUCT_FORMATS, TEXT_VRS


class CannotEncode(ValueError):
    """This answer needs pydicom's encoder (an unusual VR, length or character set)."""


class Answer:
    """The identifier of one pending C-FIND response."""

    __slots__ = ("elements",)

    def __init__(self) -> None:
        self.elements: list[tuple[int, str, Any]] = []

    def add(self, tag: int, vr: str, value: Any) -> None:
        self.elements.append((tag, vr, value))

    def __len__(self) -> int:
        return len(self.elements)

    def __contains__(self, tag: int) -> bool:
        return any(t == tag for t, _, _ in self.elements)

    def value(self, tag: int) -> Any:
        return next((v for t, _, v in self.elements if t == tag), None)

    def set(self, tag: int, vr: str, value: Any) -> None:
        self.elements = [e for e in self.elements if e[0] != tag]
        self.add(tag, vr, value)

    @classmethod
    def from_node(cls, node: Node) -> Answer:
        """Every element of ``node`` (a whole sequence item was asked for)."""
        answer = cls()
        for tag, vr, value in node:
            answer.add(tag, vr, [cls.from_node(item) for item in value] if vr == "SQ" else value)
        return answer

    def texts(self) -> Iterator[str]:
        """Every text value (sequences included)."""
        for _, vr, value in self.elements:
            if vr == "SQ":
                for item in value or ():
                    yield from item.texts()
            elif vr in TEXT_VRS and value is not None:
                yield from (value if isinstance(value, tuple) else (value,))

    def to_dataset(self) -> Dataset:
        ds = Dataset()
        for tag, vr, value in self.elements:
            if vr == "SQ":
                ds.add(DataElement(tag, "SQ", DicomSequence([i.to_dataset() for i in value or ()])))
            elif isinstance(value, tuple):
                ds.add(DataElement(tag, vr, list(value)))
            else:
                ds.add(DataElement(tag, vr, None if value == "" else value))
        return ds

    def encode(self, implicit: bool) -> bytes:
        """The identifier in implicit or explicit VR little endian; raises CannotEncode."""
        terms = self.value(SPECIFIC_CHARACTER_SET)
        terms = [] if terms is None else list(terms) if isinstance(terms, (list, tuple)) else [terms]
        if len(terms) > 1:
            raise CannotEncode("ISO 2022 code extensions")
        codec = python_encoding.get(terms[0] if terms else "", None)
        if codec not in SINGLE_BYTE_OR_UTF8:
            raise CannotEncode(f"character set {terms}")
        out = bytearray()
        _encode_into(out, self, implicit, codec)
        return bytes(out)


def _value_bytes(vr: str, value: Any, codec: str) -> bytes:
    if value is None or value == "":
        return b""
    if vr in STRUCT_FORMATS:
        numbers = value if isinstance(value, tuple) else (value,)
        return struct.pack(f"<{len(numbers)}{STRUCT_FORMATS[vr]}", *numbers)
    if vr == "AT":
        tags = value if isinstance(value, tuple) else (value,)
        return b"".join(struct.pack("<HH", t >> 16, t & 0xFFFF) for t in tags)
    if isinstance(value, bytes):
        data = value
    else:
        text = "\\".join(value) if isinstance(value, tuple) else str(value)
        try:
            data = text.encode(codec if vr in TEXT_VRS else "ascii")
        except UnicodeEncodeError:
            raise CannotEncode(f"{vr} value not encodable in {codec}") from None
    if len(data) % 2:
        data += b"\0" if vr in ("UI", "OB", "UN") or isinstance(value, bytes) else b" "
    return data


def _encode_into(out: bytearray, answer: Answer, implicit: bool, codec: str) -> None:
    for tag, vr, value in sorted(answer.elements, key=lambda e: e[0]):
        if vr == "SQ":
            body = bytearray()
            for item in value or ():
                item_bytes = bytearray()
                _encode_into(item_bytes, item, implicit, codec)
                body += struct.pack("<HHI", 0xFFFE, 0xE000, len(item_bytes)) + item_bytes
            data = bytes(body)
        else:
            data = _value_bytes(vr, value, codec)
        if implicit:
            out += struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(data))
        elif vr in LONG_VRS:
            out += struct.pack("<HH2s2xI", tag >> 16, tag & 0xFFFF, vr.encode(), len(data))
        else:
            if len(data) > 0xFFFF:
                raise CannotEncode(f"value of {vr} too long for explicit VR")
            out += struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), len(data))
        out += data


def finalize(answer: Answer, entry_charset: Sequence[str], query_charset: list[str] | None) -> Answer:
    """Give an answer the Specific Character Set its text needs.

    Preference: the query's own character set (the modality showed it understands it), then the
    file's, then UTF-8. An all-ASCII answer carries (0008,0005) only if the query asked for it,
    or when it would otherwise be empty (a query with no returnable key). Only DICOM defined terms
    are ever sent: a query's or file's ``UTF-8`` or ``ISO-8859-1`` (Python codec names, which
    DICOM readers refuse) is passed over like a character set that cannot carry the text.
    """
    texts = [t for t in answer.texts() if not t.isascii()]
    if texts:  # choose() only takes valid DICOM terms
        answer.set(SPECIFIC_CHARACTER_SET, "CS",
                   _terms_value(choose(texts, [query_charset or [], entry_charset])))
    elif query_charset is not None:
        answer.set(SPECIFIC_CHARACTER_SET, "CS", _terms_value(
            [] if is_default(query_charset) or not is_valid(query_charset) else query_charset))
    elif len(answer) == 0:  # no returnable key was asked: an empty identifier cannot be sent
        answer.set(SPECIFIC_CHARACTER_SET, "CS",
                   _terms_value(list(entry_charset) if is_valid(entry_charset) else []))
    return answer


def _terms_value(terms: Sequence[str]) -> Any:
    return "" if not terms else terms[0] if len(terms) == 1 else tuple(terms)
