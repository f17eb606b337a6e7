"""Worklist matching: PS3.4 C.2.2.2 (attribute matching) and C.2.2.3 (multi-valued attributes).

A query identifier is compiled once into a tree of keys; each entry (a parsed `.wl` dataset) is
then matched against it, which yields the answer dataset (only the requested keys, with only the
matching sequence items) or ``None``. The policies where the standard leaves a choice are written
down in docs/conformance.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from itertools import product
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from wldesk.core.dicom.model import (
    ACCESSION_NUMBER,
    DATE_TIME_PAIRS,
    MODALITY,
    PATIENT_ID,
    SPS_SEQUENCE,
    SPS_START_DATE,
    SPS_STATUS,
    STATION_AET,
    WORKLIST_ATTRIBUTES,
)
from wldesk.core.dicom.node import Node, values_of
from wldesk.core.dicom.vr import SPECIFIC_CHARACTER_SET, describe_tag
from wldesk.core.query.answer import Answer
from wldesk.core.query.values import (
    Bounds,
    ValueTest,
    date_bounds,
    element_values,
    entity_date,
    entity_time,
    in_bounds,
    is_universal_value,
    normalize_text,
    range_form,
    time_bounds,
    value_test,
)

QUERY_RETRIEVE_LEVEL = 0x00080052

# --- compiled query ------------------------------------------------------------------------------

@dataclass
class Context:
    """What the compiler learns about a query while compiling it."""

    unsupported: list[str] = field(default_factory=list)


class Key:
    """One key of a query: ``test`` filters entities; ``answer`` builds the returned element(s)."""

    tag: int
    constrains: bool = False

    def matches(self, entity: Node) -> Any:
        """Return a truthy match result (passed to ``answer``) or a falsy value."""
        raise NotImplementedError

    def answer(self, entity: Node, result: Any, out: Answer) -> None:
        raise NotImplementedError

    def explain(self, entity: Node) -> str:
        """Why ``entity`` fails this key, in plain words (only called when it does)."""
        raise NotImplementedError


FRIENDLY_NAMES = {
    0x00400001: "station AET", 0x00080060: "modality", 0x00400002: "SPS start date",
    0x00400003: "SPS start time", 0x00100010: "patient name", 0x00100020: "patient ID",
    0x00080050: "accession number", 0x00401001: "requested procedure ID",
    0x00400100: "scheduled procedure step", 0x00400009: "SPS ID", 0x00400010: "station name",
    0x00400006: "performing physician", 0x0020000D: "study instance UID",
    SPS_STATUS: "SPS status",
}


def friendly_name(tag: int) -> str:
    return FRIENDLY_NAMES.get(tag) or keyword_for_tag(tag) or describe_tag(tag)


def _shown(value: Any) -> str:
    return "\\".join(str(v) for v in values_of(value))


@dataclass
class ElementKey(Key):
    tag: int
    vr: str
    tests: list[ValueTest]  # empty: universal (return key)
    returned: bool = True
    private_creator: str | None = None
    exact: frozenset[str] | None = None  # the normalized values, when all are plain (no wildcard)
    date_bounds: list[Bounds] | None = None  # the date ranges, for a DA key
    wanted: str = ""  # the constraint as the query sent it, for explanations

    def __post_init__(self) -> None:
        self.constrains = bool(self.tests)

    def entity_element(self, entity: Node) -> tuple[str, Any] | None:
        if self.private_creator is None:
            return entity.get(self.tag)
        group, offset = self.tag >> 16, self.tag & 0xFF
        for block in range(0x10, 0x100):
            creator = entity.value((group << 16) | block)
            if isinstance(creator, str) and creator.strip() == self.private_creator:
                return entity.get((group << 16) | (block << 8) | offset)
        return None

    def matches(self, entity: Node) -> Any:
        if not self.tests:
            return True
        found = self.entity_element(entity)
        if found is None:
            return False
        return any(test(v) for v in values_of(found[1]) for test in self.tests)

    def answer(self, entity: Node, result: Any, out: Answer) -> None:
        if not self.returned:
            return
        found = self.entity_element(entity)
        if found is None:
            out.add(self.tag, self.vr, [] if self.vr == "SQ" else None)
        elif found[0] == "SQ":
            out.add(self.tag, "SQ", [Answer.from_node(item) for item in found[1]])
        else:
            out.add(self.tag, found[0], found[1])

    def explain(self, entity: Node) -> str:
        found = self.entity_element(entity)
        have = _shown(found[1]) if found is not None else ""
        if not self.returned and self.tag == STATION_AET:
            where = f"scheduled for {have}" if have else "no station AET"
            return f"{where}, not for the calling AE title {self.wanted} (FilterIssuerAet)"
        if not have:
            return f"entry has no {friendly_name(self.tag)} (query: {self.wanted})"
        return f"{friendly_name(self.tag)} {have} \N{NOT EQUAL TO} {self.wanted}"


@dataclass
class DateTimeKey(Key):
    """A DA key and its TM key matched together as one date-time range (PS3.4 C.2.2.2.5)."""

    date_key: ElementKey
    time_key: ElementKey
    bounds: list[Bounds]

    def __post_init__(self) -> None:
        self.tag = self.date_key.tag
        self.constrains = True

    def matches(self, entity: Node) -> Any:
        dates = [d for d in map(entity_date, values_of(entity.value(self.date_key.tag, ""))) if d]
        times = [t for t in map(entity_time, values_of(entity.value(self.time_key.tag, ""))) if t]
        points = [datetime.combine(d, t) for d, t in product(dates, times)]
        return any(in_bounds(p, b) for p in points for b in self.bounds)

    def answer(self, entity: Node, result: Any, out: Answer) -> None:
        self.date_key.answer(entity, result, out)
        self.time_key.answer(entity, result, out)

    def explain(self, entity: Node) -> str:
        date_text = _shown(entity.value(self.date_key.tag, ""))
        time_text = _shown(entity.value(self.time_key.tag, ""))
        wanted = f"{self.date_key.wanted} {self.time_key.wanted}"
        if not date_text or not time_text:
            missing = self.date_key if not date_text else self.time_key
            return f"entry has no {friendly_name(missing.tag)} (query: {wanted})"
        return f"scheduled {date_text} {time_text} is outside {wanted}"

    @classmethod
    def combine(cls, date_key: ElementKey, date_values: list[str], time_key: ElementKey,
                time_values: list[str]) -> DateTimeKey:
        bounds: list[Bounds] = []
        for dv, tv in product(date_values, time_values):
            d_low, d_high = date_bounds(dv, date_key.tag)
            t_low, t_high = time_bounds(tv, time_key.tag)
            low = datetime.combine(d_low, t_low or time.min) if d_low else None
            high = datetime.combine(d_high, t_high or time.max) if d_high else None
            bounds.append((low, high))
        return cls(date_key=date_key, time_key=time_key, bounds=bounds)


@dataclass
class ItemQuery:
    """The keys of one dataset level: the top level, or one item of a sequence key."""

    keys: list[Key]
    whole: bool = False  # return every attribute of a matching item (an empty item was sent)

    @property
    def constrains(self) -> bool:
        return any(k.constrains for k in self.keys)

    def match(self, entity: Node) -> Answer | None:
        results = []
        for key in self.keys:
            result = key.matches(entity)
            if not result:
                return None
            results.append(result)
        if self.whole:
            return Answer.from_node(entity)
        out = Answer()
        for key, result in zip(self.keys, results, strict=True):
            key.answer(entity, result, out)
        return out

    def explain(self, entity: Node) -> str | None:
        """Why ``entity`` does not match (the first failing key), or None when it matches."""
        return next((key.explain(entity) for key in self.keys if not key.matches(entity)), None)


@dataclass
class SequenceKey(Key):
    tag: int
    items: list[ItemQuery]
    returned: bool = True
    keeps_empty: bool = False  # an entity without items still matches (only hidden steps fail)

    def __post_init__(self) -> None:
        self.constrains = any(item.constrains for item in self.items)

    def matches(self, entity: Node) -> Any:
        found = entity.get(self.tag)
        entity_items = found[1] if found is not None and found[0] == "SQ" else ()
        if self.keeps_empty and not entity_items:
            return ([],)
        answers = []
        for entity_item in entity_items:
            for item_query in self.items:
                answer = item_query.match(entity_item)
                if answer is not None:
                    answers.append(answer)
                    break
        if self.constrains and not answers:
            return None
        return (answers,)  # a tuple is truthy even when no item matched

    def explain(self, entity: Node) -> str:
        found = entity.get(self.tag)
        entity_items = found[1] if found is not None and found[0] == "SQ" else ()
        if not entity_items:
            return f"entry has no {friendly_name(self.tag)}"
        reasons = []
        for number, item in enumerate(entity_items, start=1):
            why = [r for r in (q.explain(item) for q in self.items) if r]
            label = "step" if self.tag == SPS_SEQUENCE else "item"
            prefix = f"{label} {number}: " if len(entity_items) > 1 else ""
            reasons.append(prefix + " / ".join(why))
        return "; ".join(reasons)

    def answer(self, entity: Node, result: Any, out: Answer) -> None:
        if self.returned:
            out.add(self.tag, "SQ", result[0])


def _is_private_creator(tag: int) -> bool:
    return bool(tag >> 16 & 1) and 0x0010 <= (tag & 0xFFFF) <= 0x00FF


def _query_values(elem: DataElement) -> list[Any]:
    if elem.VR == "UN" and isinstance(elem.value, bytes):
        return [v for v in elem.value.decode("latin-1").split("\\") if v.strip(" \0")]
    return element_values(elem)


def _compile_item(ds: Dataset, supported_tags: frozenset[int] | None, ctx: Context,
                  path: str) -> ItemQuery:
    """Compile one level; ``supported_tags`` None means every attribute here is a matching key."""
    keys: list[Key] = []
    element_keys: dict[int, tuple[ElementKey, list[str]]] = {}
    for elem in ds:
        tag = int(elem.tag)
        group, number = tag >> 16, tag & 0xFFFF
        if (number == 0 or group in (0x0000, 0x0002, 0xFFFE) or tag in
                (SPECIFIC_CHARACTER_SET, QUERY_RETRIEVE_LEVEL) or _is_private_creator(tag)):
            continue
        creator = None
        if group & 1:
            creator_elem = ds.get((group << 16) | (number >> 8))
            creator = str(creator_elem.value).strip() if creator_elem is not None else None
        supported = supported_tags is None or tag in supported_tags or creator is not None
        vr = elem.VR
        if vr == "UN":
            try:
                vr = dictionary_VR(tag)
            except KeyError:
                vr = "UN"
        name = f"{path}{describe_tag(tag)}"
        if vr == "SQ":
            items = list(elem.value or ()) if elem.VR == "SQ" else []
            if not supported:
                if any(len(item) for item in items):
                    ctx.unsupported.append(name)
                keys.append(SequenceKey(tag=tag, items=[ItemQuery([], whole=True)]))
                continue
            if not items or all(len(item) == 0 for item in items):
                keys.append(SequenceKey(tag=tag, items=[ItemQuery([], whole=True)]))
                continue
            keys.append(SequenceKey(tag=tag, items=[
                _compile_item(item, None, ctx, f"{name} > ") for item in items]))
            continue
        values = _query_values(elem)
        constraining = [v for v in values if not is_universal_value(v, vr)]
        if constraining and not supported:
            ctx.unsupported.append(name)
            constraining = []
        if group & 1 and creator is None:
            key = ElementKey(tag=tag, vr=vr, tests=[])
        else:
            tests = [value_test(v, vr, tag) for v in constraining]
            key = ElementKey(tag=tag, vr=vr, tests=tests, private_creator=creator,
                             wanted="\\".join(str(v) for v in constraining))
            if constraining and creator is None:
                if vr == "DA":
                    key.date_bounds = [date_bounds(str(v), tag) for v in constraining]
                elif vr in ("AE", "CS", "LO", "SH") and not any(
                        "*" in str(v) or "?" in str(v) for v in constraining):
                    key.exact = frozenset(normalize_text(v, vr) for v in constraining)
        element_keys[tag] = (key, constraining)
        keys.append(key)
    _combine_dates_and_times(keys, element_keys)
    return ItemQuery(keys)


def _combine_dates_and_times(keys: list[Key],
                             element_keys: dict[int, tuple[ElementKey, list[str]]]) -> None:
    for date_tag, time_tag in DATE_TIME_PAIRS.items():
        if date_tag not in element_keys or time_tag not in element_keys:
            continue
        (date_key, date_values), (time_key, time_values) = (element_keys[date_tag],
                                                            element_keys[time_tag])
        if not date_values or not time_values:
            continue
        forms = {range_form(str(v)) for v in date_values + time_values}
        if len(forms) != 1:  # PS3.4 C.2.2.2.5.4: only ranges of the same form are combined
            continue
        combined = DateTimeKey.combine(date_key, [str(v) for v in date_values], time_key,
                                       [str(v) for v in time_values])
        index = keys.index(date_key)
        keys[index] = combined
        keys.remove(time_key)


def _station_filter(calling_aet: str) -> ElementKey:
    title = calling_aet.strip()
    return ElementKey(tag=STATION_AET, vr="AE", tests=[lambda v: normalize_text(v, "AE") == title],
                      returned=False, exact=frozenset({title}), wanted=title)


def _apply_issuer_filter(root: ItemQuery, calling_aet: str) -> None:
    """FilterIssuerAet: steps with no explicit station key are limited to the calling AE title."""
    sps = next((k for k in root.keys if isinstance(k, SequenceKey) and k.tag == SPS_SEQUENCE), None)
    if sps is None:
        root.keys.append(SequenceKey(tag=SPS_SEQUENCE, returned=False,
                                     items=[ItemQuery([_station_filter(calling_aet)])]))
        return
    for item in sps.items:
        station = next((k for k in item.keys if k.tag == STATION_AET), None)
        if station is None or not station.constrains:
            item.keys.append(_station_filter(calling_aet))
    sps.constrains = True


@dataclass
class VisibleStepKey(Key):
    """Leaves out the steps whose SPS Status is one of ``hidden`` (a step without a status is
    SCHEDULED); added to each step item of a query that does not ask for a status."""

    hidden: frozenset[str]
    tag: int = SPS_STATUS

    def __post_init__(self) -> None:
        self.constrains = True

    def _status(self, entity: Node) -> str:
        values = values_of(entity.value(SPS_STATUS, ""))
        return normalize_text(values[0], "CS").upper() if values and isinstance(values[0], str) \
            else ""

    def matches(self, entity: Node) -> Any:
        return self._status(entity) not in self.hidden

    def answer(self, entity: Node, result: Any, out: Answer) -> None:
        return

    def explain(self, entity: Node) -> str:
        return f"status {self._status(entity)} is hidden from queries (hidden_statuses)"


def _asks_for_status(item: ItemQuery) -> bool:
    return any(key.tag == SPS_STATUS and key.constrains for key in item.keys)


def _hide_statuses(root: ItemQuery, hidden: frozenset[str]) -> None:
    """hidden_statuses: the steps of those statuses are left out, unless the query asks for a
    status (a value in the SPS Status key; an empty key asks for none, dcm4chee #3935). An entry
    whose steps are all hidden is no answer; an entry without steps still is (it hides none)."""
    sps = next((k for k in root.keys if isinstance(k, SequenceKey) and k.tag == SPS_SEQUENCE), None)
    if sps is None:
        root.keys.append(SequenceKey(tag=SPS_SEQUENCE, returned=False, keeps_empty=True,
                                     items=[ItemQuery([VisibleStepKey(hidden)])]))
        return
    hiding = [item for item in sps.items if not _asks_for_status(item)]
    if not hiding:
        return
    sps.keeps_empty = not sps.constrains
    for item in hiding:
        item.keys.append(VisibleStepKey(hidden))
    sps.constrains = True


@dataclass(frozen=True)
class StepPrefilter:
    """Index constraints of one query item of the Scheduled Procedure Step Sequence."""

    modality: frozenset[str] | None = None
    station: frozenset[str] | None = None
    dates: list[Bounds] | None = None


@dataclass(frozen=True)
class Prefilter:
    """What the store's indexes can use to pick candidates; every field None means no constraint.

    It selects a superset of the matching entries; full matching decides.
    """

    accession: frozenset[str] | None = None
    patient_id: frozenset[str] | None = None
    steps: tuple[StepPrefilter, ...] | None = None  # an entry must satisfy one of them


def _step_prefilter(item: ItemQuery) -> StepPrefilter | None:
    found: dict[str, Any] = {}
    for key in item.keys:
        if isinstance(key, ElementKey) and key.exact is not None:
            if key.tag == MODALITY:
                found["modality"] = key.exact
            elif key.tag == STATION_AET:
                found["station"] = key.exact
        elif isinstance(key, ElementKey) and key.tag == SPS_START_DATE and key.date_bounds:
            found["dates"] = key.date_bounds
        elif isinstance(key, DateTimeKey) and key.tag == SPS_START_DATE:
            found["dates"] = key.date_key.date_bounds
    return StepPrefilter(**found) if found else None


@dataclass
class CompiledQuery:
    root: ItemQuery
    unsupported: tuple[str, ...]  # optional keys with a value that were not used for matching

    def match(self, entry: Node) -> Dataset | None:
        """The answer as a pydicom dataset (see ``answer`` for the fast form), or None."""
        found = self.root.match(entry)
        return None if found is None else found.to_dataset()

    def answer(self, entry: Node) -> Answer | None:
        """The answer ``entry`` gives to this query, or None when it does not match."""
        return self.root.match(entry)

    def explain(self, entry: Node) -> str | None:
        """Why ``entry`` is not an answer, in plain words; None when it is one."""
        return self.root.explain(entry)

    def prefilter(self) -> Prefilter:
        found: dict[str, Any] = {}
        for key in self.root.keys:
            if isinstance(key, ElementKey) and key.exact is not None:
                if key.tag == ACCESSION_NUMBER:
                    found["accession"] = key.exact
                elif key.tag == PATIENT_ID:
                    found["patient_id"] = key.exact
            elif isinstance(key, SequenceKey) and key.tag == SPS_SEQUENCE and key.constrains:
                steps = [_step_prefilter(item) for item in key.items]
                if all(step is not None for step in steps):
                    found["steps"] = tuple(s for s in steps if s is not None)
        return Prefilter(**found)


def compile_query(identifier: Dataset, *, issuer_aet: str | None = None,
                  hidden_statuses: tuple[str, ...] = ()) -> CompiledQuery:
    """Compile a C-FIND identifier. With ``issuer_aet``, apply FilterIssuerAet for that AE title;
    steps whose status is one of ``hidden_statuses`` are left out unless the query asks for it.

    Raises QueryError for a key whose value cannot be interpreted (e.g. a malformed date).
    """
    ctx = Context()
    root = _compile_item(identifier, WORKLIST_ATTRIBUTES, ctx, "")
    if issuer_aet is not None:
        _apply_issuer_filter(root, issuer_aet)
    if hidden_statuses:
        _hide_statuses(root, frozenset(hidden_statuses))
    return CompiledQuery(root=root, unsupported=tuple(ctx.unsupported))
