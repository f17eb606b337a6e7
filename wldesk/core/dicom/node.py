"""A compact, immutable, decoded DICOM dataset for the in-memory index.

A pydicom Dataset costs kilobytes of Python objects per entry; an index of 100,000 entries must
fit in a few hundred megabytes. A ``Node`` keeps one tuple of decoded values and a reference to a
shared ``Layout`` (its tags and VRs), which files of the same shape share. Repeated strings
(modalities, stations, dates, descriptions) are interned by the parser, so most entries cost a
few hundred bytes.

Values: text VRs hold ``str`` (one value) or ``tuple[str, ...]`` (several); PN the whole name
string; numbers ``int``/``float`` or tuples of them; AT a tuple of tags; binary VRs ``bytes``;
SQ a tuple of item Nodes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.valuerep import PersonName


class Layout:
    """The tags and VRs of one dataset level; shared by every Node of the same shape."""

    __slots__ = ("index", "tags", "vrs")

    def __init__(self, tags: tuple[int, ...], vrs: tuple[str, ...]) -> None:
        self.tags = tags
        self.vrs = vrs
        self.index = {tag: i for i, tag in enumerate(tags)}


# Values that differ from entry to entry: sharing them would only cost a table slot each.
# (Patients' names and IDs repeat across the procedures of one patient; they are shared.)
UNIQUE_TAGS = frozenset({
    0x00080050,  # Accession Number
    0x00400009,  # Scheduled Procedure Step ID
    0x00401001,  # Requested Procedure ID
})


def shared(tag: int, vr: str) -> bool:
    """Whether values of ``tag`` are worth sharing between entries (UIDs and per-order IDs
    are not)."""
    return vr != "UI" and tag not in UNIQUE_TAGS


class LayoutCache:
    """Interns layouts and strings so that entries of the same shape share them.

    Strings go through :func:`sys.intern`, whose table lets go of a string once no entry uses it,
    so files that come and go leave nothing behind.
    """

    def __init__(self) -> None:
        self._layouts: dict[tuple[tuple[int, ...], tuple[str, ...]], Layout] = {}

    def layout(self, tags: tuple[int, ...], vrs: tuple[str, ...]) -> Layout:
        key = (tags, vrs)
        found = self._layouts.get(key)
        if found is None:
            found = self._layouts[key] = Layout(tags, vrs)
        return found

    def adopt(self, other: LayoutCache) -> None:
        """Share ``other``'s layouts too (those of a shape this cache has not seen yet)."""
        for key, layout in other._layouts.items():
            self._layouts.setdefault(key, layout)

    @staticmethod
    def text(value: str) -> str:
        """The shared copy of a short string (long ones are rarely repeated)."""
        return value if len(value) > 64 else sys.intern(value)


class Node:
    """One dataset level: ``layout`` says which tag and VR each of ``values`` has."""

    __slots__ = ("layout", "values")

    def __init__(self, layout: Layout, values: tuple[Any, ...]) -> None:
        self.layout = layout
        self.values = values

    def get(self, tag: int) -> tuple[str, Any] | None:
        """``(vr, value)`` of ``tag``, or None when the dataset lacks it."""
        i = self.layout.index.get(tag)
        return None if i is None else (self.layout.vrs[i], self.values[i])

    def value(self, tag: int, default: Any = None) -> Any:
        i = self.layout.index.get(tag)
        return default if i is None else self.values[i]

    def __contains__(self, tag: int) -> bool:
        return tag in self.layout.index

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[tuple[int, str, Any]]:
        return iter(zip(self.layout.tags, self.layout.vrs, self.values, strict=True))

    def to_dataset(self) -> Dataset:
        ds = Dataset()
        for tag, vr, value in self:
            ds.add(to_element(tag, vr, value))
        return ds

    @classmethod
    def from_dataset(cls, ds: Dataset, cache: LayoutCache | None = None) -> Node:
        """Convert a (fully decoded) pydicom dataset."""
        cache = cache or LayoutCache()
        tags, vrs, values = [], [], []
        for elem in ds:
            tags.append(int(elem.tag))
            vrs.append(str(elem.VR))
            values.append(_from_pydicom(elem, cache))
        return cls(cache.layout(tuple(tags), tuple(vrs)), tuple(values))


def _from_pydicom(elem: DataElement, cache: LayoutCache) -> Any:
    value = elem.value
    share = cache.text if shared(int(elem.tag), str(elem.VR)) else str
    if elem.VR == "SQ":
        return tuple(Node.from_dataset(item, cache) for item in value or ())
    if value is None:
        return b"" if isinstance(elem.VR, str) and elem.VR.startswith("O") else ""
    if isinstance(value, (MultiValue, list, tuple)):
        return tuple(share(str(v)) if isinstance(v, (str, PersonName)) else v for v in value)
    if isinstance(value, (str, PersonName)):
        return share(str(value))
    return value


def to_element(tag: int, vr: str, value: Any) -> DataElement:
    """A detached pydicom element (text stays text, so the answer's charset decides encoding)."""
    if vr == "SQ":
        return DataElement(tag, "SQ", Sequence([item.to_dataset() for item in value]))
    if isinstance(value, tuple):
        return DataElement(tag, vr, list(value))
    return DataElement(tag, vr, value if value != "" else None)


def values_of(value: Any) -> list[Any]:
    """The non-empty values of an element value (a multi-valued one gives each value)."""
    items = list(value) if isinstance(value, tuple) else [value]
    return [v for v in items
            if v is not None and v != b"" and not (isinstance(v, str) and not v.strip(" \0"))]
