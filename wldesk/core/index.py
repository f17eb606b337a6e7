"""The folder store's value index: which entries hold a value of the keys modalities send."""

from __future__ import annotations

from collections.abc import Iterable, Set
from datetime import date
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


def _texts(node: Node, tag: int) -> set[str]:
    return {normalize_text(v, "LO") for v in values_of(node.value(tag, ""))}


def _index_keys(node: Node) -> dict[str, set[Any]]:
    """The values of one entry under each of the prefilter's indexes."""
    keys: dict[str, set[Any]] = {"accession": _texts(node, ACCESSION_NUMBER),
                                 "patient_id": _texts(node, PATIENT_ID),
                                 "modality": set(), "station": set(), "dates": set()}
    steps = node.get(SPS_SEQUENCE)
    for step in steps[1] if steps is not None and steps[0] == "SQ" else ():
        keys["modality"] |= _texts(step, MODALITY)
        keys["station"] |= _texts(step, STATION_AET)
        keys["dates"] |= {d for d in map(parse_date, map(str, values_of(step.value(SPS_START_DATE, ""))))
                          if d is not None}
    return keys


class ValueIndex:
    """Value -> names maps for the keys modalities send; maintained as entries come and go.

    A value held by one entry maps to its name alone (a set per unique accession number would
    cost more than the entry itself).
    """

    def __init__(self) -> None:
        self.maps: dict[str, dict[Any, str | set[str]]] = {f: {} for f in _FIELDS}

    def add(self, name: str, node: Node) -> None:
        for f, values in _index_keys(node).items():
            index = self.maps[f]
            for value in values:
                held = index.get(value)
                if held is None:
                    index[value] = name
                elif isinstance(held, str):
                    index[value] = {held, name}
                else:
                    held.add(name)

    def remove(self, name: str, node: Node) -> None:
        for f, values in _index_keys(node).items():
            index = self.maps[f]
            for value in values:
                held = index.get(value)
                if held == name:
                    del index[value]
                elif isinstance(held, set):
                    held.discard(name)
                    if len(held) == 1:
                        index[value] = held.pop()

    def _lookup(self, f: str, values: Iterable[Any]) -> Set[str]:
        """The names holding any of ``values``; may be the index's own set: only read it."""
        index = self.maps[f]
        found: list[str | set[str]] = [held for value in values
                                       if (held := index.get(value)) is not None]
        if len(found) == 1 and isinstance(found[0], set):
            return found[0]
        return set().union(*({held} if isinstance(held, str) else held for held in found))

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
