"""Datasets as Orthanc's JSON tags: what its REST API (``/worklists``, ``/tools/create-dicom``)
takes and gives, so that integrations written for Orthanc work unchanged.

Reading (:func:`dataset_from_tags`): an object whose keys are DICOM keywords (``PatientName``) or
tags (``0010,0010``), whose values are text as a person types it (several values separated by a
backslash, person names ``Family^Given``; numbers are taken as their text; null is an empty value)
and whose sequences are lists of such objects. Each value goes through
:func:`~wldesk.core.editing.values.element_from_text` (the one typed-value path: VR, number of
values, character set); binary values are hexadecimal as in the editor or Orthanc's
``data:application/octet-stream;base64,...``. The first problem raises :class:`TagsError`
naming the attribute and where it is.

Writing (:func:`tags_from_dataset`), in Orthanc's three formats: ``Human`` (keywords as keys, the
values as text), ``Short`` (``gggg,eeee`` keys) and ``Full`` (``gggg,eeee`` keys, each
``{"Name", "Type", "Value"}`` with the Type ``String``, ``Sequence``, ``Binary`` or ``TooLong``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag

from wldesk.core.dicom.vr import BINARY_VRS, SPECIFIC_CHARACTER_SET
from wldesk.core.editing.errors import EditError
from wldesk.core.editing.values import (
    binary_value_problem,
    element_from_text,
    element_text,
    is_large,
    new_element,
    parse_key,
)

FORMATS = ("Human", "Short", "Full")
"""Orthanc's names of its JSON formats, the first the default."""
MAX_DEPTH = 8
"""Sequences nested deeper than this are refused (a worklist entry needs two levels)."""
_DATA_URI = "data:application/octet-stream;base64,"


class TagsError(EditError):
    """Tags that cannot be a dataset; the message names the attribute and where it is."""


def _short(tag: BaseTag) -> str:
    return f"{tag.group:04x},{tag.element:04x}"


def _name(tag: BaseTag) -> str:
    return keyword_for_tag(tag) or _short(tag)


def _tag_of(key: object, where: str) -> BaseTag:
    if not isinstance(key, str) or not key or key != key.strip() or " " in key:
        raise TagsError(f"{where}{key!r}: not a DICOM keyword (e.g. PatientName) or a tag "
                        "(e.g. 0010,0010)")
    try:
        tag = parse_key(key)
        new_element(tag)  # refuses file meta, delimiters, group lengths, unknown tags
    except EditError as exc:
        raise TagsError(f"{where}{key}: {exc}") from None
    return tag


def _text_of(value: object, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TagsError(f"{where}: a value is text (or a list of objects for a sequence), not "
                        f"{type(value).__name__}")
    text = value if isinstance(value, str) else repr(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise TagsError(f"{where}: the text holds a character that is not valid Unicode") from None
    return text


def _binary(tag: BaseTag, vr: str, text: str, where: str) -> DataElement | None:
    if not text.startswith(_DATA_URI):
        return None
    try:
        data = base64.b64decode(text[len(_DATA_URI):], validate=True)
    except (binascii.Error, ValueError):
        raise TagsError(f"{where}: the base64 data after {_DATA_URI!r} cannot be read") from None
    problem = binary_value_problem(vr, data)
    if problem is not None:
        raise TagsError(f"{where}: {problem}")
    return DataElement(tag, vr, data)


def _fill(ds: Dataset, tags: Mapping[Any, Any], top: Dataset, prefix: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise TagsError(f"{prefix}sequences are nested more than {MAX_DEPTH} levels deep")
    given = [(key, _tag_of(key, prefix), value) for key, value in tags.items()]
    # the character set first: the other values are checked against it
    given.sort(key=lambda item: int(item[1]) != SPECIFIC_CHARACTER_SET)
    for key, tag, value in given:
        where = f"{prefix}{_name(tag)}"
        if tag in ds:
            raise TagsError(f"{where}: given twice (as {key!r} and by another key)")
        vr = new_element(tag).VR
        if vr == "SQ":
            listed = [] if value is None else value
            if not isinstance(listed, list) or not all(isinstance(i, dict) for i in listed):
                raise TagsError(f"{where}: a sequence is a list of objects ([{{...}}])")
            items = []
            for number, item_tags in enumerate(listed, start=1):
                item = Dataset()
                _fill(item, item_tags, top, f"{where} item {number}: ", depth + 1)
                items.append(item)
            ds[tag] = DataElement(tag, "SQ", DicomSequence(items))
            continue
        text = _text_of(value, where)
        element = _binary(tag, vr, text, where) if vr in BINARY_VRS else None
        if element is None:
            parsed = element_from_text(ds, tag, text, vr, charset=top)
            if parsed.element is None:
                raise TagsError(f"{where}: {parsed.reason}")
            element = parsed.element
        ds[tag] = element


def dataset_from_tags(tags: object, *, charset: str | None = None) -> Dataset:
    """The dataset of Orthanc-style ``tags`` (see the module documentation); with ``charset``, a
    SpecificCharacterSet of that value is added when the tags give none. Raises
    :class:`TagsError` naming the attribute when a key or a value cannot be one."""
    if not isinstance(tags, dict):
        raise TagsError("the tags are an object: {\"PatientName\": \"DOE^JANE\", ...}")
    ds = Dataset()
    if charset and not any(_is_charset(key) for key in tags):
        ds.SpecificCharacterSet = charset
    _fill(ds, tags, ds, "", 0)
    return ds


def _is_charset(key: object) -> bool:
    try:
        return isinstance(key, str) and int(parse_key(key)) == SPECIFIC_CHARACTER_SET
    except EditError:
        return False


def _value(elem: DataElement, fmt: str) -> Any:
    if elem.VR == "SQ":
        return [tags_from_dataset(item, fmt) for item in elem.value or ()]
    if is_large(elem):
        return None
    if elem.VR in BINARY_VRS and elem.value is not None:
        return _DATA_URI + base64.b64encode(bytes(elem.value)).decode("ascii")
    return element_text(elem)


def _type(elem: DataElement) -> str:
    if elem.VR == "SQ":
        return "Sequence"
    if is_large(elem):
        return "TooLong"
    return "Binary" if elem.VR in BINARY_VRS else "String"


def tags_from_dataset(ds: Dataset, fmt: str = "Human") -> dict[str, Any]:
    """``ds`` (without its file meta) in Orthanc's format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise ValueError(f"the format is one of {', '.join(FORMATS)}, not {fmt!r}")
    out: dict[str, Any] = {}
    for elem in ds:
        if elem.tag.element == 0:
            continue
        if fmt == "Human":
            out[_name(elem.tag)] = _value(elem, fmt)
        elif fmt == "Short":
            out[_short(elem.tag)] = _value(elem, fmt)
        else:
            out[_short(elem.tag)] = {"Name": keyword_for_tag(elem.tag) or "Unknown Tag & Data",
                                     "Type": _type(elem), "Value": _value(elem, fmt)}
    return out
