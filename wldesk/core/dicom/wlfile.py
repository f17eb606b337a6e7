"""Reading one `.wl` file: structural completeness check, decoding, character sets.

pydicom parses a truncated file without complaint (a half-written file looks like a smaller,
valid entry), so every file is walked element by element here: each length must fit and the last
element must end exactly at the end of the file. The same walk collects the elements, which are
decoded directly into a compact ``Node`` (about ten times faster than pydicom). Files that need
more than that decoder knows (big endian, deflated, ISO 2022 code extensions, multi-byte
character sets) are decoded by pydicom after the same completeness check.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pydicom
from pydicom.charset import python_encoding
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from wldesk.core.dicom.charsets import SINGLE_BYTE_OR_UTF8
from wldesk.core.dicom.node import LayoutCache, Node, shared
from wldesk.core.dicom.vr import (
    KNOWN_VRS,
    LONG_VRS,
    PIXEL_DATA,
    SINGLE_VALUED_VRS,
    SPECIFIC_CHARACTER_SET,
    STRING_VRS,
    STRUCT_FORMATS,
    TEXT_VRS,
)

UNDEFINED = 0xFFFFFFFF
_IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_EXPLICIT_BE = "1.2.840.10008.1.2.2"
_DEFLATED = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1")
# Character sets the fast decoder handles: one byte per character, or UTF-8 (backslash-safe).

Raw = tuple[int, str, Any]  # tag, VR, bytes (or a list of items, each a list of Raw, for SQ)


class WorklistFileError(ValueError):
    """The file cannot be served; the message is the reason, in plain words."""


@lru_cache(maxsize=4096)
def _implicit_vr(tag: int) -> str:
    if tag & 0xFFFF == 0:
        return "UL"  # group length
    if tag >> 16 & 1:
        return "UN"
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return "UN"
    return vr.split(" or ")[0]


class _Walker:
    """Walks encoded elements, proving the byte stream complete, and collects them."""

    def __init__(self, buf: bytes, explicit: bool, little: bool = True) -> None:
        self.buf = buf
        self.explicit = explicit
        self.little = little
        self.u16 = struct.Struct("<H" if little else ">H").unpack_from
        self.u32 = struct.Struct("<I" if little else ">I").unpack_from

    def _need(self, pos: int, count: int, end: int) -> None:
        if pos + count > end:
            raise WorklistFileError(
                f"incomplete file: it ends inside an element at byte {pos} of {len(self.buf)} "
                "(still being written, or cut short)")

    def elements(self, pos: int, end: int, until_item_end: bool, out: list[Raw],
                 depth: int = 0) -> int:
        """Collect elements from ``pos`` into ``out``; return the position after the last one."""
        if depth > 64:
            raise WorklistFileError("sequences nested more than 64 levels deep")
        buf, u16, u32 = self.buf, self.u16, self.u32
        while True:
            if pos == end and not until_item_end:
                return pos
            self._need(pos, 8, end)
            group, number = u16(buf, pos)[0], u16(buf, pos + 2)[0]
            tag = group << 16 | number
            if group == 0xFFFE:
                if number == 0xE00D and until_item_end:
                    return pos + 8
                raise WorklistFileError(
                    f"malformed file: unexpected item tag (FFFE,{number:04X}) at byte {pos}")
            walker = self
            if self.explicit:
                vr = buf[pos + 4:pos + 6].decode("latin-1")
                if not (vr.isalpha() and vr.isupper()):
                    raise WorklistFileError(
                        f"malformed file: invalid value representation at byte {pos + 4}")
                if vr in LONG_VRS:
                    self._need(pos, 12, end)
                    length = u32(buf, pos + 8)[0]
                    pos += 12
                else:
                    length = u16(buf, pos + 6)[0]
                    pos += 8
                if vr == "UN" and length == UNDEFINED:  # holds an implicit VR sequence
                    vr, walker = "SQ", _Walker(buf, explicit=False)
            else:
                vr = _implicit_vr(tag)
                length = u32(buf, pos + 4)[0]
                pos += 8
                if length == UNDEFINED and vr != "SQ" and tag != PIXEL_DATA:
                    vr = "SQ"
            if length == UNDEFINED:
                items: list[list[Raw]] = []
                pos = walker.items(pos, end, tag == PIXEL_DATA, items, depth + 1)
                out.append((tag, vr, items if tag != PIXEL_DATA else b""))
            else:
                self._need(pos, length, end)
                if vr == "SQ":
                    items = []
                    walker.defined_items(pos, pos + length, items, depth + 1)
                    out.append((tag, vr, items))
                else:
                    out.append((tag, vr, buf[pos:pos + length]))
                pos += length

    def _item_header(self, pos: int, end: int) -> tuple[int, int]:
        self._need(pos, 8, end)
        tag = self.u16(self.buf, pos)[0] << 16 | self.u16(self.buf, pos + 2)[0]
        return tag, self.u32(self.buf, pos + 4)[0]

    def _item(self, pos: int, end: int, length: int, items: list[list[Raw]], depth: int) -> int:
        item: list[Raw] = []
        if length == UNDEFINED:
            pos = self.elements(pos, end, True, item, depth)
        else:
            self._need(pos, length, end)
            self.elements(pos, pos + length, False, item, depth)
            pos += length
        items.append(item)
        return pos

    def items(self, pos: int, end: int, fragments: bool, items: list[list[Raw]], depth: int) -> int:
        """Collect the items of an undefined-length sequence up to its delimiter."""
        while True:
            tag, length = self._item_header(pos, end)
            pos += 8
            if tag == 0xFFFEE0DD:
                return pos
            if tag != 0xFFFEE000:
                raise WorklistFileError(f"malformed file: expected a sequence item at byte {pos - 8}")
            if fragments:
                if length == UNDEFINED:
                    raise WorklistFileError("malformed file: pixel data fragment of undefined length")
                self._need(pos, length, end)
                pos += length
            else:
                pos = self._item(pos, end, length, items, depth)

    def defined_items(self, pos: int, end: int, items: list[list[Raw]], depth: int) -> None:
        while pos < end:
            tag, length = self._item_header(pos, end)
            if tag != 0xFFFEE000:
                raise WorklistFileError(f"malformed file: expected a sequence item at byte {pos}")
            pos = self._item(pos + 8, end, length, items, depth)
            if pos > end:
                raise WorklistFileError("malformed file: an item overruns its sequence")


def _meta_transfer_syntax(buf: bytes, pos: int) -> tuple[int, str]:
    """Walk the explicit little endian group 0002 from ``pos``; return (end, transfer syntax)."""
    syntax = _IMPLICIT_LE
    while buf[pos:pos + 2] == b"\x02\x00":
        long_vr = buf[pos + 4:pos + 6].decode("latin-1") in LONG_VRS
        header = 12 if long_vr else 8
        if pos + header > len(buf):
            raise WorklistFileError("incomplete file: it ends inside the file meta information")
        length = struct.unpack_from("<I" if long_vr else "<H", buf, pos + header - (4 if long_vr else 2))[0]
        if pos + header + length > len(buf):
            raise WorklistFileError("incomplete file: it ends inside the file meta information")
        if buf[pos + 2:pos + 4] == b"\x10\x00":
            syntax = buf[pos + header:pos + header + length].rstrip(b"\0 ").decode("ascii", "replace")
        pos += header + length
    return pos, syntax


def _locate_dataset(buf: bytes) -> tuple[int, str]:
    """Where the dataset starts and its transfer syntax (file meta, or a guess for raw data)."""
    if not buf:
        raise WorklistFileError("empty file")
    if len(buf) >= 132 and buf[128:132] == b"DICM":
        return _meta_transfer_syntax(buf, 132)
    if len(buf) < 132 and not any(buf[:128]):
        raise WorklistFileError("incomplete file: it ends inside the 128-byte preamble "
                                "(still being written, or cut short)")
    if buf[:2] == b"\x02\x00" and buf[4:6].isalpha():
        return _meta_transfer_syntax(buf, 0)
    explicit = buf[4:6].isalpha() and buf[4:6].isupper()
    _check_first_element(buf, explicit)
    return 0, _EXPLICIT_LE if explicit else _IMPLICIT_LE


def _check_first_element(buf: bytes, explicit: bool) -> None:
    """A file without the DICM marker must at least start like a dataset (not a text file)."""
    not_dicom = WorklistFileError(
        "not a DICOM file: no DICM marker, and the bytes do not start a DICOM dataset "
        "(a dcmdump text saved as .wl? convert it with 'wldesk load')")
    if len(buf) < 8:
        raise not_dicom
    group, number = struct.unpack_from("<HH", buf)
    tag = group << 16 | number
    if group in (0, 0xFFFE) or (not group & 1 and _implicit_vr(tag) == "UN"):
        raise not_dicom
    if explicit and buf[4:6].decode("latin-1") not in KNOWN_VRS:
        raise not_dicom


def walk_dataset(buf: bytes, explicit: bool, little: bool = True) -> None:
    """Prove ``buf`` a complete dataset in the given encoding (a C-FIND identifier): every
    length fits, every sequence and item ends where it says. Raises WorklistFileError."""
    _Walker(buf, explicit, little).elements(0, len(buf), False, [])


def walk(buf: bytes) -> list[Raw]:
    """Prove ``buf`` a complete DICOM file or raw dataset; return its top-level elements."""
    return _walk(buf)[0]


def _walk(buf: bytes) -> tuple[list[Raw], str]:
    """The top-level elements of ``buf`` and its transfer syntax."""
    pos, syntax = _locate_dataset(buf)
    body = buf
    if syntax in _DEFLATED:
        try:
            body = zlib.decompress(buf[pos:], -zlib.MAX_WBITS)
        except zlib.error:
            raise WorklistFileError("incomplete or corrupt deflated data") from None
        pos = 0
    walker = _Walker(body, explicit=syntax != _IMPLICIT_LE, little=syntax != _EXPLICIT_BE)
    out: list[Raw] = []
    walker.elements(pos, len(body), False, out)
    if not out:
        raise WorklistFileError("the file holds no DICOM elements")
    return out, syntax


@dataclass(frozen=True)
class ParsedFile:
    node: Node
    charset: tuple[str, ...]  # Specific Character Set terms, declared or inferred (() = default)
    notes: tuple[str, ...]  # worth telling the user; they do not stop the file being served


class _Decoder:
    """Turns collected raw elements into Nodes, with one Python codec for all text."""

    def __init__(self, codec: str, cache: LayoutCache) -> None:
        self.codec = codec
        self.cache = cache
        self.replaced = False

    def text(self, raw: bytes, vr: str, share: bool = True) -> Any:
        if not raw:
            return ""
        if vr in TEXT_VRS:
            try:
                text = raw.decode(self.codec)
            except UnicodeDecodeError:
                self.replaced = True
                text = raw.decode(self.codec, "replace")
        else:
            text = raw.decode("latin-1")
        parts = [text] if vr in SINGLE_VALUED_VRS else text.split("\\")
        values = tuple(self.cache.text(p.rstrip(" \0")) if share else p.rstrip(" \0") for p in parts)
        return values[0] if len(values) == 1 else values

    def value(self, tag: int, vr: str, payload: Any) -> Any:
        if vr == "SQ":
            return tuple(self.node(item) for item in payload)
        if vr in STRING_VRS:
            return self.text(payload, vr, shared(tag, vr))
        code = STRUCT_FORMATS.get(vr)
        if code is not None or vr == "AT":
            size = struct.calcsize(code or "H")
            count = len(payload) // size
            if count == 0:
                return ""
            numbers = struct.unpack(f"<{count}{code or 'H'}", payload[:count * size])
            if vr == "AT":
                numbers = tuple(numbers[i] << 16 | numbers[i + 1] for i in range(0, len(numbers) - 1, 2))
            return numbers[0] if len(numbers) == 1 else tuple(numbers)
        return bytes(payload)

    def node(self, raws: list[Raw]) -> Node:
        tags = tuple(tag for tag, _, _ in raws)
        vrs = tuple(vr for _, vr, _ in raws)
        values = tuple(self.value(tag, vr, payload) for tag, vr, payload in raws)
        return Node(self.cache.layout(tags, vrs), values)


def _raw_texts(raws: list[Raw]) -> list[bytes]:
    found = []
    for _, vr, payload in raws:
        if vr == "SQ":
            for item in payload:
                found += _raw_texts(item)
        elif vr in TEXT_VRS:
            found.append(payload)
    return found


@lru_cache(maxsize=256)
def _terms(raw: bytes) -> tuple[str, ...]:
    return tuple(t.strip(" \0") for t in raw.decode("latin-1").split("\\"))


def _charset_terms(raws: list[Raw]) -> tuple[str, ...]:
    for tag, _, payload in raws:
        if tag == SPECIFIC_CHARACTER_SET:
            return _terms(bytes(payload))
    return ()


_UTF8_GUESS = "no SpecificCharacterSet (0008,0005); its text was read as UTF-8 (ISO_IR 192)"
_LATIN1_GUESS = "no SpecificCharacterSet (0008,0005); its text was read as Latin-1 (ISO_IR 100)"


def _fast_codec(raws: list[Raw], terms: tuple[str, ...],
                notes: list[str]) -> tuple[str, tuple[str, ...]] | None:
    """The codec for the fast decoder and the charset terms, or None when pydicom must decode."""
    if not terms or terms == ("",):
        texts = _raw_texts(raws)
        if all(t.isascii() for t in texts):
            return "ascii", ()
        try:
            for text in texts:
                text.decode("utf-8")
        except UnicodeDecodeError:
            notes.append(_LATIN1_GUESS)
            return "latin_1", ("ISO_IR 100",)
        notes.append(_UTF8_GUESS)
        return "UTF8", ("ISO_IR 192",)
    if len(terms) > 1 or any(b"\x1b" in t for t in _raw_texts(raws)):
        return None  # ISO 2022 code extensions
    codec = python_encoding.get(terms[0])
    return (codec, terms) if codec in SINGLE_BYTE_OR_UTF8 else None


def _read_with_pydicom(buf: bytes, encoding: str | None) -> Dataset:
    ds = pydicom.dcmread(io.BytesIO(buf), force=True)
    if encoding is not None:
        implicit, little = ds.original_encoding
        ds.set_original_encoding(implicit, little, encoding)
    for _ in ds.iterall():  # convert every raw element now, while warnings are being caught
        pass
    return ds


def _parse_with_pydicom(buf: bytes, raws: list[Raw], cache: LayoutCache) -> ParsedFile:
    notes: list[str] = []
    terms = _charset_terms(raws)
    encoding = None
    if not terms and not all(t.isascii() for t in _raw_texts(raws)):
        try:
            for text in _raw_texts(raws):
                text.decode("utf-8")
            encoding, terms = "utf_8", ("ISO_IR 192",)
            notes.append(_UTF8_GUESS)
        except UnicodeDecodeError:
            terms = ("ISO_IR 100",)
            notes.append(_LATIN1_GUESS)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = _read_with_pydicom(buf, encoding)
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError,
            struct.error, NotImplementedError, LookupError) as exc:
        raise WorklistFileError(f"not a readable DICOM file ({exc})") from None
    notes.extend(sorted({str(w.message) for w in caught}))
    return ParsedFile(Node.from_dataset(ds, cache), terms, tuple(notes))


def parse_bytes(buf: bytes, cache: LayoutCache | None = None) -> ParsedFile:
    """Parse a complete `.wl` file; raise WorklistFileError with the reason otherwise."""
    cache = cache or LayoutCache()
    raws, syntax = _walk(buf)
    notes: list[str] = []
    chosen = _fast_codec(raws, _charset_terms(raws), notes)
    if chosen is None or syntax in _DEFLATED or syntax == _EXPLICIT_BE:
        return _parse_with_pydicom(buf, raws, cache)
    codec, terms = chosen
    decoder = _Decoder(codec, cache)
    node = decoder.node(raws)
    if decoder.replaced:
        notes.append(f"some text is not valid {' '.join(terms) or 'ASCII'}; "
                     "the invalid bytes are shown as \N{REPLACEMENT CHARACTER}")
    return ParsedFile(node, terms, tuple(notes))
