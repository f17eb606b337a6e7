"""DICOM datasets as text: DCMTK's dump format (``dcmdump`` / ``dump2dcm``) and the DICOM JSON model.

Dump format, one element per line (what ``dump2dcm`` reads)::

    (0010,0010) PN [DOE^JOHN]                               #   8, 1 PatientName
    (0040,0100) SQ (Sequence with undefined length #=1)     # u/l, 1 ScheduledProcedureStepSequence
      (fffe,e000) na (Item with undefined length #=2)         # u/l, 1 Item
        (0008,0060) CS [CT]                                     #   2, 1 Modality
      (fffe,e00d) na (ItemDelimitationItem)                   #   0, 0 ItemDelimitationItem
    (fffe,e0dd) na (SequenceDelimitationItem)               #   0, 0 SequenceDelimitationItem

Reading follows dump2dcm (DCMTK 3.6.7): ``#`` starts a comment line; the VR is optional (the
dictionary's is used); a value in ``[...]`` ends at the last ``]`` of the line and ``\\n`` in it
becomes CR LF; a value without brackets ends at ``#`` or the end of the line; ``(...)`` after the
VR is a description (``(no value available)``: an empty value) except for AT values; trailing
spaces of a value are dropped; UI values may be ``=Name`` (DCMTK's UID names, e.g.
``=LittleEndianExplicit``); binary values are hexadecimal separated by backslashes (OB/UN bytes,
OW words); several values are separated by backslashes; group 0002 lines form the file meta
information; group lengths are dropped (pydicom recomputes the meta's; others are retired); when
an element appears twice in one dataset the first is kept, as dump2dcm does. Unlike dump2dcm,
item and sequence delimiters may be left out: the structure is then taken from the indentation
(dcmdump indents nested elements by two spaces), a new item line ends the previous item, an
element line ends a sequence that has no open item, and the end of the text ends everything.

Character sets: a dump is text in the encoding of its dataset (dcmdump writes the value bytes as
they are in the file; dump2dcm copies them back). Bytes given to :func:`load_text` are therefore
decoded with the dump's own Specific Character Set (0008,0005); a dump without one is read as
UTF-8 (Latin-1 when it is not valid UTF-8), and (0008,0005) is then added to the dataset
(ISO_IR 192, or ISO_IR 100) when the text is not plain ASCII, which :class:`ParsedDump` notes say.
A ``str`` given to :func:`load_text` is already decoded. :func:`dump_bytes` writes the values in
the dataset's character set (UTF-8 when it has none), so that ``dump2dcm`` and :func:`load_text`
read them back; :func:`dump_text` gives the same lines as a ``str`` for display and editing.

What the dump format cannot carry (:func:`dump_limitations` lists it for a dataset): trailing
spaces of a value (insignificant in DICOM), a lone CR or LF (written as ``\\n``, read back as
CR LF), a backslash followed by ``n`` inside a value that needs brackets, and lines longer than
4094 bytes unless dump2dcm is given ``+l``.
"""

from __future__ import annotations

import json as _json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydicom import config as pydicom_config
from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import dictionary_VR, get_private_entry, keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag, Tag
from pydicom.uid import ExplicitVRLittleEndian
from pydicom.valuerep import PN_DELIMS, TEXT_VR_DELIMS

from wldesk.core.dicom.charsets import can_encode, charset_terms, is_default, is_valid
from wldesk.core.dicom.vr import (
    BINARY_VRS,
    KNOWN_VRS,
    LONG_VRS,
    PIXEL_DATA,
    SINGLE_VALUED_VRS,
    SPECIFIC_CHARACTER_SET,
    STRING_VRS,
    TEXT_VRS,
)
from wldesk.core.editing.dcmtk_uids import uid_for_name
from wldesk.core.editing.errors import EditError
from wldesk.core.editing.values import (
    element_text,
    is_large,
    size_text,
    value_from_text,
    value_size,
)

_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_INTERNAL_VRS = ("na", "ox", "xs", "up")  # dcmdump's pseudo VRs: the dictionary's VR is used
_TAG = re.compile(r"\(([0-9A-Fa-f]{1,4}),([0-9A-Fa-f]{1,4})\)")
_VALUE_COLUMN = 40
_NOT_LOADED = "(not loaded)"  # dcmdump's words for a value it left out (-M); here: a large value
_DUMP2DCM_LINE_LIMIT = 4095  # dump2dcm (+l 4096 by default) reads lines of up to 4094 bytes
_SYNTAX_NAMES = {"1.2.840.10008.1.2": "Little Endian Implicit",
                 "1.2.840.10008.1.2.1": "Little Endian Explicit",
                 "1.2.840.10008.1.2.2": "Big Endian Explicit",
                 "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian"}


class DumpError(EditError):
    """A dump (or DICOM JSON) text cannot be read, or a dataset cannot be written as one; the
    message says why and, for dumps, on which line."""


# ----------------------------------------------------------------------------------------------
# Reading


@dataclass
class ParsedDump:
    """What :func:`parse_dump` read: the dataset (with ``file_meta`` when the dump has group 0002
    lines) and notes on what was assumed or fixed, in plain words."""

    dataset: Dataset
    notes: list[str] = field(default_factory=list)


@dataclass
class _Line:
    number: int
    indent: int
    tag: int
    vr: str | None
    value: str | None


@dataclass
class _Node:
    line: _Line
    vr: str
    items: list[list[_Node]] | None = None


@dataclass
class _Open:
    kind: str  # "top", "seq" or "item"
    indent: int
    line: int
    children: list[_Node] = field(default_factory=list)
    node: _Node | None = None  # the sequence, for "seq"
    content_indent: int | None = None

    def indented(self) -> bool:
        return self.content_indent is not None and self.content_indent > self.indent


def _parse_line(number: int, text: str) -> _Line | None:
    line = text.rstrip()
    body = line.lstrip()
    if not body or body.startswith("#"):
        return None
    indent = len(line) - len(body)
    close = line.find(")")
    match = _TAG.fullmatch(re.sub(r"\s", "", line[:close + 1])) if close >= 0 else None
    if match is None:
        raise DumpError(f"line {number}: no tag (gggg,eeee) found")
    tag = int(match.group(1), 16) << 16 | int(match.group(2), 16)
    rest = line[close + 1:].lstrip()
    if tag == PIXEL_DATA or rest[:2] == "pi":
        raise DumpError(f"line {number}: pixel data is not supported in worklist entries")
    vr: str | None = None
    if len(rest) >= 2 and "A" <= rest[0] <= "Z" and "A" <= rest[1] <= "Z":
        vr, rest = rest[:2], rest[2:]
        if vr not in KNOWN_VRS:
            raise DumpError(f"line {number}: unknown value representation {vr!r}")
    elif rest[:2] in _INTERNAL_VRS:
        rest = rest[2:]
    rest = rest.lstrip()
    value: str | None = None
    if rest.startswith("["):
        end = rest.rfind("]")
        if end < 0:
            raise DumpError(f"line {number}: the value opened with [ has no closing ] (a line "
                            "break inside a value is written \\n)")
        value = rest[1:end].replace("\\n", "\r\n") or None
    elif rest.startswith("("):
        if rest.startswith(_NOT_LOADED):
            raise DumpError(f"line {number}: the value was left out of this dump {_NOT_LOADED} "
                            "(too large for a dump); a dump cannot give it back: open the .wl "
                            "file itself")
        if vr == "AT":
            value = re.sub(r"\s", "", rest[:rest.rfind(")") + 1])
    elif rest.startswith("<"):
        raise DumpError(f"line {number}: values read from other files (<...>) are not supported")
    elif rest and not rest.startswith("#"):
        hash_at = rest.find("#")
        value = (rest if hash_at < 0 else rest[:hash_at]).rstrip() or None
    return _Line(number, indent, tag, vr, value)


def _vr_of(tag: BaseTag, given: str | None) -> str:
    if given is not None:
        return given
    if tag.is_private:
        return "LO" if tag.is_private_creator else "UN"
    try:
        return dictionary_VR(tag).split(" or ")[0]
    except KeyError:
        return "UN"


class _Builder:
    """Builds the element tree from dump lines, closing items and sequences left open."""

    def __init__(self) -> None:
        self.stack = [_Open("top", -1, 0)]
        self.notes: list[str] = []

    def _pop(self, line: _Line | None, explicit: bool) -> None:
        closed = self.stack.pop()
        if not explicit and line is None and not closed.indented():
            what = "sequence" if closed.kind == "seq" else "item"
            self.notes.append(f"the {what} opened on line {closed.line} has no end delimiter; "
                              "it was ended at the end of the text")

    def _close_by_indent(self, line: _Line) -> None:
        while len(self.stack) > 1:
            top = self.stack[-1]
            if not top.indented() or line.indent >= (top.content_indent or 0):
                return
            if line.indent == top.indent and (
                    (line.tag == _ITEM_END and top.kind == "item")
                    or (line.tag == _SEQUENCE_END and top.kind == "seq")):
                return
            self._pop(line, explicit=False)

    def add(self, line: _Line) -> None:
        self._close_by_indent(line)
        top = self.stack[-1]
        if line.tag == _ITEM_END:
            if top.kind != "item":
                raise DumpError(f"line {line.number}: item end (fffe,e00d) without an open item")
            self._pop(line, explicit=True)
            return
        if line.tag == _SEQUENCE_END:
            if top.kind == "item":
                self._pop(line, explicit=False)
                top = self.stack[-1]
            if top.kind != "seq":
                raise DumpError(f"line {line.number}: sequence end (fffe,e0dd) without an open "
                                "sequence")
            self._pop(line, explicit=True)
            return
        if line.tag == _ITEM:
            if top.kind == "item":
                self._pop(line, explicit=False)
                top = self.stack[-1]
            if top.kind != "seq" or top.node is None or top.node.items is None:
                raise DumpError(f"line {line.number}: an item (fffe,e000) outside a sequence")
            if top.content_indent is None:
                top.content_indent = line.indent
            item: list[_Node] = []
            top.node.items.append(item)
            self.stack.append(_Open("item", line.indent, line.number, children=item))
            return
        if line.tag >> 16 == 0xFFFE:
            raise DumpError(f"line {line.number}: unexpected tag ({line.tag >> 16:04x},"
                            f"{line.tag & 0xFFFF:04x})")
        if top.kind == "seq":  # a sequence without items and without its end delimiter
            self._pop(line, explicit=False)
            top = self.stack[-1]
        if top.content_indent is None:
            top.content_indent = line.indent
        node = _Node(line, _vr_of(Tag(line.tag), line.vr))
        top.children.append(node)
        if node.vr == "SQ":
            node.items = []
            self.stack.append(_Open("seq", line.indent, line.number, node=node))

    def finish(self) -> list[_Node]:
        while len(self.stack) > 1:
            self._pop(None, explicit=False)
        return self.stack[0].children


class _Decoder:
    """Turns the element tree into pydicom elements, decoding text from the dump's bytes."""

    def __init__(self, from_bytes: bool, terms: list[str]) -> None:
        self.from_bytes = from_bytes
        self.terms = terms
        self.declared = bool(terms)
        self.encodings: list[str] | None = None
        self.notes: list[str] = []
        self.non_ascii = False
        self.invalid_utf8 = False
        if terms and not is_default(terms):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                encodings = convert_encodings(list(terms))
            self.encodings = None if caught else encodings

    def text(self, line: _Line, vr: str, value: str) -> str:
        if vr not in TEXT_VRS or (value.isascii() and not (self.from_bytes and "\x1b" in value)):
            return value
        self.non_ascii = True
        if not self.from_bytes:
            return value
        raw = value.encode("latin-1")
        if not self.declared:
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                self.invalid_utf8 = True
                return value  # Latin-1
        charset = "\\".join(self.terms)
        if self.encodings is None:
            raise DumpError(f"line {line.number}: the value is not plain ASCII, and "
                            f"SpecificCharacterSet {charset} does not say how to read it")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if vr == "PN":
                decoded = "\\".join("=".join(decode_bytes(group, self.encodings, PN_DELIMS)
                                             for group in person.split(b"="))
                                    for person in raw.split(b"\\"))
            elif vr in SINGLE_VALUED_VRS:
                decoded = decode_bytes(raw, self.encodings, TEXT_VR_DELIMS)
            else:
                decoded = "\\".join(decode_bytes(part, self.encodings, TEXT_VR_DELIMS)
                                    for part in raw.split(b"\\"))
        if caught:
            raise DumpError(f"line {line.number}: the value is not valid {charset} text (a dump "
                            "is read in the character set its SpecificCharacterSet names)")
        return decoded

    def element(self, node: _Node) -> DataElement:
        line, vr = node.line, node.vr
        tag = Tag(line.tag)
        if vr == "SQ":
            items = [self.dataset(item) for item in node.items or ()]
            return DataElement(tag, "SQ", DicomSequence(items))
        text = line.value
        if text is None:
            return DataElement(tag, vr, "" if vr in STRING_VRS else None,
                               validation_mode=pydicom_config.IGNORE)
        if vr in STRING_VRS:
            text = text.rstrip(" ")
            if vr == "UI" and text.startswith("="):
                uid = uid_for_name(text[1:])
                if uid is None:
                    raise DumpError(f"line {line.number}: unknown UID name {text[1:]!r}")
                text = uid
            text = self.text(line, vr, text)
        elif text.startswith("="):
            raise DumpError(f"line {line.number}: values read from other files (={text[1:]}) "
                            "are not supported")
        try:
            value = value_from_text(vr, text)
            return DataElement(tag, vr, value, validation_mode=pydicom_config.IGNORE)
        except (ValueError, OverflowError) as exc:
            raise DumpError(f"line {line.number}: {text!r} is not a valid {vr} value ({exc})") \
                from None

    def dataset(self, nodes: list[_Node], meta: FileMetaDataset | None = None) -> Dataset:
        ds = Dataset()
        for node in nodes:
            tag = Tag(node.line.tag)
            if tag.element == 0 and tag.group != 0:
                continue  # group lengths: retired, or recomputed (file meta)
            if tag.group == 0:
                raise DumpError(f"line {node.line.number}: command elements (group 0000) cannot "
                                "be in a worklist entry")
            target: Dataset = ds
            if tag.group == 2:
                if meta is None:
                    raise DumpError(f"line {node.line.number}: file meta elements (group 0002) "
                                    "belong at the top level")
                target = meta
            if tag in target:
                self.notes.append(f"line {node.line.number}: ({tag.group:04x},{tag.element:04x}) "
                                  "appears again in the same dataset; the first value is kept "
                                  "(as dump2dcm does)")
                continue
            target[tag] = self.element(node)
        return ds


def parse_dump(text: str | bytes) -> ParsedDump:
    """Read a dump (dcmdump output, DCMTK's sample ``.dump`` files, or text written by hand in
    the format dump2dcm reads); raise :class:`DumpError` naming the line when it cannot be read.
    See the module documentation for the rules and for how bytes are decoded."""
    from_bytes = isinstance(text, bytes)
    source = text.decode("latin-1") if isinstance(text, bytes) else text
    if source.startswith("\ufeff"):
        source = source[1:]
    elif from_bytes and source.startswith("\xef\xbb\xbf"):  # a UTF-8 byte order mark
        source = source[3:]
    builder = _Builder()
    for number, raw_line in enumerate(source.split("\n"), start=1):
        line = _parse_line(number, raw_line)
        if line is not None:
            builder.add(line)
    nodes = builder.finish()
    charset = next((n for n in nodes if n.line.tag == SPECIFIC_CHARACTER_SET), None)
    terms = [t.strip() for t in (charset.line.value or "").split("\\")] if charset else []
    decoder = _Decoder(from_bytes, terms if any(terms) else [])
    meta = FileMetaDataset()
    ds = decoder.dataset(nodes, meta)
    notes = builder.notes + decoder.notes
    if len(meta):
        ds.file_meta = meta
    if decoder.non_ascii and not decoder.declared:
        if decoder.invalid_utf8:
            ds.SpecificCharacterSet = "ISO_IR 100"
            notes.append("the dump has no SpecificCharacterSet (0008,0005) and its text is not "
                         "valid UTF-8: it was read as Latin-1 and (0008,0005) ISO_IR 100 was added")
        elif from_bytes:
            ds.SpecificCharacterSet = "ISO_IR 192"
            notes.append("the dump has no SpecificCharacterSet (0008,0005): its text was read as "
                         "UTF-8 and (0008,0005) ISO_IR 192 was added")
        else:
            ds.SpecificCharacterSet = "ISO_IR 192"
            notes.append("the dump has no SpecificCharacterSet (0008,0005) but non-ASCII text: "
                         "(0008,0005) ISO_IR 192 (UTF-8) was added")
    elif decoder.non_ascii and from_bytes and decoder.encodings \
            and decoder.encodings[0] not in ("UTF8", "utf_8") and _looks_utf8(nodes):
        notes.append("the text looks like UTF-8 but SpecificCharacterSet says "
                         + "\\".join(terms) + "; it was read as " + "\\".join(terms)
                         + " (as dump2dcm does). If the dump was saved as UTF-8, set "
                         "(0008,0005) to ISO_IR 192.")
    return ParsedDump(ds, notes)


def _looks_utf8(nodes: list[_Node]) -> bool:
    def values(level: list[_Node]) -> Iterator[str]:
        for node in level:
            if node.line.value is not None and node.vr in TEXT_VRS:
                yield node.line.value
            for item in node.items or ():
                yield from values(item)

    found = False
    for value in values(nodes):
        raw = value.encode("latin-1", "replace")
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return False
        found = True
    return found


def load_text(text: str | bytes) -> Dataset:
    """The dataset of a dump (see :func:`parse_dump`, which also returns notes)."""
    return parse_dump(text).dataset


# ----------------------------------------------------------------------------------------------
# Writing


def _keyword(elem: DataElement) -> str:
    tag = elem.tag
    if tag.is_private:
        if tag.is_private_creator:
            return "PrivateCreator"
        creator = getattr(elem, "private_creator", None)
        if creator:
            try:
                return re.sub(r"\W", "", get_private_entry(tag, creator)[2]) or "Unknown Tag & Data"
            except KeyError:
                pass
        return "Unknown Tag & Data"
    return keyword_for_tag(tag) or "Unknown Tag & Data"


def _encode(elem: DataElement, encodings: list[str]) -> bytes:
    """The value bytes of ``elem`` as pydicom writes them (padding included)."""
    if elem.VR in TEXT_VRS and elem.value is not None:  # probe quietly before pydicom writes
        values = elem.value if isinstance(elem.value, (list, MultiValue)) else [elem.value]
        texts = [str(v) for v in values]
        if is_valid(encodings) and not can_encode(texts, encodings):
            raise DumpError(f"{_keyword(elem)}: its text cannot be written in "
                            + "\\".join(encodings))
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_data_element(fp, elem, encodings)
    if any("replacement" in str(w.message) or "Unknown encoding" in str(w.message)
           for w in caught):
        raise DumpError(f"{_keyword(elem)}: its text cannot be written in "
                        + "\\".join(encodings))
    data = fp.getvalue()
    return data[12:] if elem.VR in LONG_VRS else data[8:]


def _values(elem: DataElement) -> list[Any]:
    value = elem.value
    if value is None or (isinstance(value, (str, bytes)) and not value):
        return []
    if isinstance(value, (MultiValue, list, tuple)):
        return list(value)
    return [value]


def _vm(elem: DataElement) -> int:
    if elem.VR in BINARY_VRS or elem.VR in SINGLE_VALUED_VRS:
        return 1 if _values(elem) else 0
    return len(_values(elem))


def _escape(text: str) -> str:
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def _escape_bytes(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\\n").replace(b"\n", b"\\n").replace(b"\r", b"\\n")


_PLAIN = re.compile(r"[^\s()<>\[\]#=]+")


class _Writer:
    def __init__(self, as_bytes: bool, encodings: list[str], whole: bool = False) -> None:
        self.as_bytes = as_bytes
        self.whole = whole  # large values written out too (the command line, as dcmdump +M)
        self.encodings = encodings
        self.lines: list[str | bytes] = []
        self.limitations: list[str] = []

    def emit(self, depth: int, head: str, value: str | bytes, comment: str) -> None:
        width = len(value)
        padding = " " * max(_VALUE_COLUMN - width, 0)
        prefix = "  " * depth + head
        if self.as_bytes:
            assert isinstance(value, bytes)
            self.lines.append(prefix.encode("ascii") + value
                              + f"{padding} # {comment}".encode("ascii", "replace"))
        else:
            assert isinstance(value, str)
            self.lines.append(f"{prefix}{value}{padding} # {comment}")

    def plain(self, text: str) -> str | bytes:
        return text.encode("ascii", "replace") if self.as_bytes else text

    def element(self, elem: DataElement, depth: int, where: str) -> None:
        tag = elem.tag
        vr = str(elem.VR).split(" or ")[0] if elem.VR else "UN"
        head = f"({tag.group:04x},{tag.element:04x}) {vr} "
        name = _keyword(elem)
        if vr == "SQ":
            items = list(elem.value or ())
            self.emit(depth, head, self.plain(f"(Sequence with undefined length #={len(items)})"),
                      f"u/l, 1 {name}")
            for number, item in enumerate(items, start=1):
                self.emit(depth + 1, "(fffe,e000) na ",
                          self.plain(f"(Item with undefined length #={len(item)})"), "u/l, 1 Item")
                for child in item:
                    self.element(child, depth + 2, f"{where}{name} item {number}: ")
                self.emit(depth + 1, "(fffe,e00d) na ", self.plain("(ItemDelimitationItem)"),
                          "  0, 0 ItemDelimitationItem")
            self.emit(depth, "(fffe,e0dd) na ", self.plain("(SequenceDelimitationItem)"),
                      "  0, 0 SequenceDelimitationItem")
            return
        if not _values(elem):
            self.emit(depth, head, self.plain("(no value available)"), f"  0, 0 {name}")
            return
        # never turned into text: 200 MB of OB would be 600 MB of hex digits
        if is_large(elem) and not self.whole:
            size = value_size(elem)
            self.emit(depth, head, self.plain(_NOT_LOADED), f"{size:3}, 1 {name}")
            self.limitations.append(f"{where}{name} ({tag.group:04x},{tag.element:04x}): "
                                    f"{size_text(size)} is too large for a dump; it is written "
                                    f"{_NOT_LOADED}, and reading the dump back stops there")
            return
        text = element_text(elem)
        try:
            encoded = _encode(elem, self.encodings)
        except DumpError:
            if self.as_bytes:
                raise
            encoded = text.encode("utf-8")
        length = len(encoded) + len(encoded) % 2
        comment = f"{length:3}, {_vm(elem)} {name}"
        if vr not in STRING_VRS:
            self.emit(depth, head, self.plain(text), comment)
            return
        value_text = text.rstrip(" ")  # trailing spaces are insignificant; dump2dcm drops them
        if "\\n" in value_text:
            if _PLAIN.fullmatch(value_text) and not value_text.startswith("="):
                self.emit(depth, head, self.plain(value_text) if not self.as_bytes
                          else encoded.rstrip(b" \0"), comment)
                return
            self.limitations.append(f"{where}{name}: a backslash followed by n cannot be written "
                                    "inside [...] (dump2dcm reads it as a line break)")
        if re.search(r"[\r\n]", value_text) and not re.fullmatch(r"(?s)(?:[^\r\n]|\r\n)*",
                                                                  value_text):
            self.limitations.append(f"{where}{name}: a lone CR or LF is written as \\n, which "
                                    "dump2dcm reads as CR LF")
        if self.as_bytes:
            raw = encoded.rstrip(b"\0") if vr == "UI" else encoded.rstrip(b" ")
            self.emit(depth, head, b"[" + _escape_bytes(raw) + b"]", comment)
        else:
            self.emit(depth, head, f"[{_escape(value_text)}]", comment)


def _syntax_name(uid: Any) -> str:
    return _SYNTAX_NAMES.get(str(uid), str(uid))


def _write_dump(ds: Dataset, *, meta: bool, as_bytes: bool, whole: bool = False) -> _Writer:
    terms = charset_terms(ds.get("SpecificCharacterSet"))
    encodings = terms if any(terms) and not is_default(terms) else ["ISO_IR 192"]
    writer = _Writer(as_bytes, encodings, whole)
    file_meta = getattr(ds, "file_meta", None) if meta else None
    syntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    if file_meta is not None and len(file_meta):
        writer.lines += [writer.plain(""), writer.plain("# Dicom-File-Format"), writer.plain(""),
                         writer.plain("# Dicom-Meta-Information-Header"),
                         writer.plain(f"# Used TransferSyntax: {_syntax_name(ExplicitVRLittleEndian)}")]
        writer.encodings = ["ISO_IR 6"]  # the file meta is always in the default repertoire
        for elem in file_meta:
            writer.element(elem, 0, "")
        writer.encodings = encodings
        writer.lines.append(writer.plain(""))
    writer.lines.append(writer.plain("# Dicom-Data-Set"))
    if syntax:
        writer.lines.append(writer.plain(f"# Used TransferSyntax: {_syntax_name(syntax)}"))
    for elem in ds:
        writer.element(elem, 0, "")
    longest = max((len(line if isinstance(line, bytes) else line.encode("utf-8"))
                   for line in writer.lines), default=0)
    if longest >= _DUMP2DCM_LINE_LIMIT:
        writer.limitations.append(f"a line is {longest} bytes long: dump2dcm needs "
                                  f"+l {longest + 2} to read it (its default allows 4094 characters)")
    return writer


def dump_text(ds: Dataset, *, meta: bool = True) -> str:
    """``ds`` as dcmdump-style lines (with its file meta information first, when it has one and
    ``meta``), values as text: for display and editing; read back with :func:`load_text`."""
    lines = _write_dump(ds, meta=meta, as_bytes=False).lines
    return "\n".join(str(line) for line in lines) + "\n"


def dump_bytes(ds: Dataset, *, meta: bool = True, whole: bool = False) -> bytes:
    """The lines of :func:`dump_text` with every value encoded in ``ds``'s Specific Character Set
    (UTF-8 when it has none), as dcmdump writes them: what ``dump2dcm`` reads back into ``ds``.
    With ``whole``, large values are written out too (``wldesk dump``, like dcmdump's default),
    else as ``(not loaded)``. Raises :class:`DumpError` when a text value cannot be written in
    that character set."""
    lines = _write_dump(ds, meta=meta, as_bytes=True, whole=whole).lines
    return b"\n".join(line if isinstance(line, bytes) else line.encode() for line in lines) + b"\n"


def dump_limitations(ds: Dataset) -> list[str]:
    """Values of ``ds`` that a dump cannot give back exactly (see the module documentation);
    trailing spaces, which DICOM says are insignificant, are not listed."""
    return _write_dump(ds, meta=True, as_bytes=False).limitations


# ----------------------------------------------------------------------------------------------
# DICOM JSON model


def to_json(ds: Dataset, *, indent: int | None = 2, whole: bool = False) -> str:
    """``ds`` in the DICOM JSON model (PS3.18 F.2; file meta information is not part of it).
    Large values (:func:`~wldesk.core.editing.values.large_values` lists them) are left out unless
    ``whole`` (``wldesk dump --json``): in base64 a 200 MB value would be 270 MB of text."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _json.dumps(_json_dict(ds, whole), indent=indent, ensure_ascii=False)


def _json_dict(ds: Dataset, whole: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for elem in ds:
        if elem.VR == "SQ":
            out[f"{int(elem.tag):08X}"] = {
                "vr": "SQ", "Value": [_json_dict(item, whole) for item in elem.value or ()]}
        elif whole or not is_large(elem):
            out[f"{int(elem.tag):08X}"] = elem.to_json_dict(None, 0)
    return out


def from_json(text: str | bytes) -> Dataset:
    """The dataset of a DICOM JSON text; raises :class:`DumpError` when it is not one."""
    try:
        document = _json.loads(text)
        if not isinstance(document, dict):
            raise DumpError("a DICOM JSON dataset is an object ({...})")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Dataset.from_json(document)
    except DumpError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DumpError(f"not a DICOM JSON dataset ({exc})") from None
