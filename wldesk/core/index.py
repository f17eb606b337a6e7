"""The folder store's value index: which entries hold a value of the keys modalities send."""

from __future__ import annotations

from collections.abc import Iterable, Set
from datetime import date
from functools import lru_cache
from typing import Any

from wldesk.core.dicom.model import (
    ACCESSION_NUMBER,
    MODALITY,
    PATIENT_ID,
    SPS_SEQUENCE,
    SPS_START_DATE,
    STATION_AET,
)
from wldesk.core.dicom.node import Node, values_of
from wldesk.core.query.matching import Prefilter
from wldesk.core.query.values import normalize_text, parse_date

_FIELDS = ("accession", "patient_id", "modality", "station", "dates")


def _texts(value: Any) -> Iterable[str]:
    """The texts of an element's value as the prefilter compares them (none when empty)."""
    if type(value) is str:  # one value: the usual case, made quick
        text = value.replace("\0", "").strip(" ")
        return (text,) if text else ()
    return {normalize_text(v, "LO") for v in values_of(value)}


@lru_cache(maxsize=4096)
def _day(text: str) -> date | None:
    return parse_date(text)


def _days(value: Any) -> Iterable[date]:
    if type(value) is str:
        day = _day(value)
        return (day,) if day is not None else ()
    return {d for d in map(_day, map(str, values_of(value))) if d is not None}


Keys = tuple[Iterable[Any], ...]
"""An entry's values under each of the prefilter's indexes (in the order of ``_FIELDS``)."""


def _step_keys(step: Node) -> tuple[Iterable[str], Iterable[str], Iterable[date]]:
    get, values = step.layout.index.get, step.values
    return (_texts(values[i]) if (i := get(MODALITY)) is not None else (),
            _texts(values[i]) if (i := get(STATION_AET)) is not None else (),
            _days(values[i]) if (i := get(SPS_START_DATE)) is not None else ())


def _index_keys(node: Node) -> Keys:
    get, values = node.layout.index.get, node.values
    steps: Any = values[i] if (i := get(SPS_SEQUENCE)) is not None and node.layout.vrs[i] == "SQ" else ()
    modality: Iterable[str]
    station: Iterable[str]
    days: Iterable[date]
    if len(steps) == 1:  # the usual case
        modality, station, days = _step_keys(steps[0])
    else:
        modality, station, days = set(), set(), set()
        for step in steps:
            more = _step_keys(step)
            modality.update(more[0])
            station.update(more[1])
            days.update(more[2])
    return (_texts(values[i]) if (i := get(ACCESSION_NUMBER)) is not None else (),
            _texts(values[i]) if (i := get(PATIENT_ID)) is not None else (),
            modality, station, days)


SMALL = 8
"""Up to this many names holding one value are kept in a tuple (a set costs 216 bytes from its
first name on: 100,000 entries' patient IDs and accession numbers, most held by one to a few
entries, took ~7 MB in sets of two)."""

Held = str | tuple[str, ...] | set[str]


class ValueIndex:
    """Value -> names maps for the keys modalities send; maintained as entries come and go.

    A value held by one entry maps to its name alone, by a few to a tuple of their names, by more
    to a set (a set per unique accession number would cost more than the entry itself).
    """

    def __init__(self) -> None:
        self.maps: dict[str, dict[Any, Held]] = {f: {} for f in _FIELDS}
        self._maps = [self.maps[f] for f in _FIELDS]

    def add(self, name: str, node: Node) -> None:
        for index, values in zip(self._maps, _index_keys(node), strict=True):
            for value in values:
                held = index.get(value)
                if type(held) is set:  # the usual case of a modality, a station, a date
                    held.add(name)
                elif held is None:
                    index[value] = name
                elif type(held) is str:
                    if held != name:
                        index[value] = (held, name)
                elif name not in held:  # a tuple
                    index[value] = (*held, name) if len(held) < SMALL else {*held, name}

    def remove(self, name: str, node: Node) -> None:
        for index, values in zip(self._maps, _index_keys(node), strict=True):
            for value in values:
                held = index.get(value)
                if held == name:
                    del index[value]
                elif type(held) is tuple:
                    rest = tuple(n for n in held if n != name)
                    index[value] = rest[0] if len(rest) == 1 else rest
                elif isinstance(held, set):
                    held.discard(name)
                    if len(held) <= SMALL:
                        index[value] = tuple(sorted(held))

    def _lookup(self, f: str, values: Iterable[Any]) -> Set[str]:
        """The names holding any of ``values``; may be the index's own set: only read it."""
        index = self.maps[f]
        found: list[Held] = [held for value in values if (held := index.get(value)) is not None]
        if len(found) == 1 and isinstance(found[0], set):
            return found[0]
        return set().union(*((held,) if type(held) is str else held for held in found))

    def _dates(self, bounds: list[tuple[date | None, date | None]]) -> Set[str]:
        return self._lookup("dates", [day for day in self.maps["dates"] if any(
            (lo is None or day >= lo) and (hi is None or day <= hi) for lo, hi in bounds)])

    def select(self, prefilter: Prefilter) -> Set[str] | None:
        """Names that may match (a superset of the matches), or None for "all of them"."""
        selected: Set[str] | None = None

        def narrow(names: Set[str]) -> None:
            nonlocal selected
            selected = names if selected is None else selected & names

        if prefilter.accession is not None:
            narrow(self._lookup("accession", prefilter.accession))
        if prefilter.patient_id is not None:
            narrow(self._lookup("patient_id", prefilter.patient_id))
        if prefilter.steps:
            union: Set[str] = set()
            for step in prefilter.steps:
                step_names: Set[str] | None = None
                for f, values in (("modality", step.modality), ("station", step.station)):
                    if values is not None:
                        names = self._lookup(f, values)
                        step_names = names if step_names is None else step_names & names
                if step.dates is not None:
                    names = self._dates(step.dates)
                    step_names = names if step_names is None else step_names & names
                assert step_names is not None  # Prefilter only lists steps with a constraint
                union = step_names if not union else union | step_names
            narrow(union)
        return selected
