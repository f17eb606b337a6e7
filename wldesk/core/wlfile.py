"""Reading one `.wl` file: structural completeness check, parsing, character set handling.

pydicom parses a truncated file without complaint (a half-written file looks like a smaller,
valid entry), so every file is first walked element by element: each length must fit and the
last element must end exactly at the end of the file.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

UNDEFINED = 0xFFFFFFFF
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN",
                       b"UR", b"UT", b"UV"})
_PIXEL_DATA = (0x7FE0, 0x0010)
_IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_BE = "1.2.840.10008.1.2.2"
_DEFLATED = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1")
_TEXT_VRS = frozenset({"SH", "LO", "ST", "LT", "UC", "UT", "PN"})


class WorklistFileError(ValueError):
    """The file cannot be served; the message is the reason, in plain words."""


class _Walker:
    """Walks encoded elements to prove the byte stream is complete and consistent."""

    def __init__(self, buf: bytes, explicit: bool, little: bool) -> None:
        self.buf = buf
        self.explicit = explicit
        self.u16 = struct.Struct("<H" if little else ">H").unpack_from
        self.u32 = struct.Struct("<I" if little else ">I").unpack_from
        self.little = little

    def _truncated(self, pos: int) -> WorklistFileError:
        return WorklistFileError(
            f"incomplete file: it ends inside an element at byte {pos} of {len(self.buf)} "
            "(still being written, or cut short)")

    def _need(self, pos: int, count: int, end: int) -> None:
        if pos + count > end:
            raise self._truncated(pos)

    def elements(self, pos: int, end: int, until_item_end: bool, depth: int = 0) -> int:
        """Skip elements from ``pos``; return the position after the last one."""
        if depth > 64:
            raise WorklistFileError("sequences nested more than 64 levels deep")
        while True:
            if pos == end and not until_item_end:
                return pos
            self._need(pos, 8, end)
            group, element = self.u16(self.buf, pos)[0], self.u16(self.buf, pos + 2)[0]
            if group == 0xFFFE:
                if element == 0xE00D and until_item_end:
                    return pos + 8
                raise WorklistFileError(
                    f"malformed file: unexpected item tag (FFFE,{element:04X}) at byte {pos}")
            explicit, little = self.explicit, self.little
            if self.explicit:
                vr = self.buf[pos + 4:pos + 6]
                if not (vr.isalpha() and vr.isupper()):
                    raise WorklistFileError(
                        f"malformed file: invalid value representation at byte {pos + 4}")
                if vr in _LONG_VRS:
                    self._need(pos, 12, end)
                    length = self.u32(self.buf, pos + 8)[0]
                    pos += 12
                else:
                    length = self.u16(self.buf, pos + 6)[0]
                    pos += 8
                if vr == b"UN":  # an undefined-length UN holds an implicit VR sequence
                    explicit, little = False, True
            else:
                length = self.u32(self.buf, pos + 4)[0]
                pos += 8
            if length == UNDEFINED:
                inner = _Walker(self.buf, explicit, little) if explicit != self.explicit else self
                pos = inner.items(pos, end, (group, element) == _PIXEL_DATA, depth + 1)
            else:
                self._need(pos, length, end)
                pos += length

    def items(self, pos: int, end: int, fragments: bool, depth: int) -> int:
        """Skip the items of an undefined-length sequence up to its delimiter."""
        while True:
            self._need(pos, 8, end)
            group, element = self.u16(self.buf, pos)[0], self.u16(self.buf, pos + 2)[0]
            length = self.u32(self.buf, pos + 4)[0]
            pos += 8
            if (group, element) == (0xFFFE, 0xE0DD):
                return pos
            if (group, element) != (0xFFFE, 0xE000):
                raise WorklistFileError(
                    f"malformed file: expected a sequence item at byte {pos - 8}")
            if length == UNDEFINED and not fragments:
                pos = self.elements(pos, end, True, depth)
            elif length == UNDEFINED:
                raise WorklistFileError("malformed file: pixel data fragment of undefined length")
            else:
                self._need(pos, length, end)
                pos += length


def _meta_transfer_syntax(buf: bytes, pos: int) -> tuple[int, str]:
    """Walk the explicit little endian group 0002 from ``pos``; return (end, transfer syntax)."""
    syntax = _IMPLICIT_LE
    while buf[pos:pos + 2] == b"\x02\x00":
        long_vr = buf[pos + 4:pos + 6] in _LONG_VRS
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


def check_complete(buf: bytes) -> None:
    """Raise WorklistFileError unless ``buf`` is a complete DICOM file or raw dataset."""
    if not buf:
        raise WorklistFileError("empty file")
    if len(buf) >= 132 and buf[128:132] == b"DICM":
        pos, syntax = _meta_transfer_syntax(buf, 132)
    elif buf[:2] == b"\x02\x00" and buf[4:6].isalpha():
        pos, syntax = _meta_transfer_syntax(buf, 0)
    else:
        pos = 0
        syntax = "1.2.840.10008.1.2.1" if buf[4:6].isalpha() and buf[4:6].isupper() else _IMPLICIT_LE
    body = buf
    if syntax in _DEFLATED:
        try:
            body = zlib.decompress(buf[pos:], -zlib.MAX_WBITS)
        except zlib.error:
            raise WorklistFileError("incomplete or corrupt deflated data") from None
        pos = 0
    walker = _Walker(body, explicit=syntax != _IMPLICIT_LE, little=syntax != _EXPLICIT_BE)
    walker.elements(pos, len(body), until_item_end=False)


@dataclass(frozen=True)
class ParsedFile:
    dataset: Dataset
    notes: tuple[str, ...]  # things worth telling the user that do not stop the file being served


def _has_non_ascii_text(ds: Dataset) -> bool:
    for elem in ds.iterall():
        if elem.VR in _TEXT_VRS and elem.value is not None:
            values = elem.value if elem.VM > 1 else [elem.value]
            if any(not str(v).isascii() for v in values):
                return True
    return False


def _read_dataset(buf: bytes, encoding: str | None) -> Dataset:
    ds = pydicom.dcmread(io.BytesIO(buf), force=True)
    if encoding is not None:
        implicit, little = ds.original_encoding
        ds.set_original_encoding(implicit, little, encoding)
    for _ in ds.iterall():  # convert every raw element now, while warnings are being caught
        pass
    return ds


def parse_bytes(buf: bytes) -> ParsedFile:
    """Parse a complete `.wl` file; raise WorklistFileError with the reason otherwise."""
    check_complete(buf)
    notes: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = _read_dataset(buf, None)
            if "SpecificCharacterSet" not in ds and _has_non_ascii_text(ds):
                with warnings.catch_warnings(record=True) as utf8_problems:
                    warnings.simplefilter("always")
                    utf8 = _read_dataset(buf, "utf_8")
                if not utf8_problems:
                    ds = utf8
                    notes.append("no SpecificCharacterSet (0008,0005); its text was read as "
                                 "UTF-8 (ISO_IR 192)")
                else:
                    notes.append("no SpecificCharacterSet (0008,0005); its text was read as "
                                 "Latin-1 (ISO_IR 100)")
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError,
            struct.error, NotImplementedError) as exc:
        raise WorklistFileError(f"not a readable DICOM file ({exc})") from None
    notes.extend(sorted({str(w.message) for w in caught}))
    if len(ds) == 0:
        raise WorklistFileError("the file holds no DICOM elements")
    return ParsedFile(dataset=ds, notes=tuple(notes))
