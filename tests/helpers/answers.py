"""Comparing C-FIND answers with the entries they came from: values, requested and unrequested keys."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

# --------------------------------------------------------------------------------------------
# Dataset inspection
# --------------------------------------------------------------------------------------------


def is_group_length(tag: int) -> bool:
    return (tag & 0xFFFF) == 0


SPECIFIC_CHARACTER_SET = 0x00080005


def _is_empty_value(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, (str, bytes, list, MultiValue, PersonName)):
        return len(str(value) if isinstance(value, PersonName) else value) == 0
    return False


def normalized_value(value: object) -> object:
    """A comparable form of an element value (padding stripped, multi-values as tuples)."""
    if isinstance(value, (list, MultiValue)):
        return tuple(normalized_value(v) for v in value)
    if isinstance(value, PersonName):
        return str(value).strip(" \0")
    if isinstance(value, str):
        return value.strip(" \0")
    return value


def is_empty_dataset(ds: Dataset) -> bool:
    """True if no element of ``ds`` (recursively) carries a value."""
    for elem in ds:
        if elem.VR == "SQ":
            if not all(is_empty_dataset(item) for item in elem.value):
                return False
        elif not _is_empty_value(elem.value):
            return False
    return True


def consistent_with(answer: Dataset, entry: Dataset) -> bool:
    """True if every value ``answer`` returns agrees with worklist entry ``entry``.

    Empty values agree with anything (a requested key the entry lacks comes back empty). A
    returned sequence item must agree with at least one item of the entry's sequence, so returning
    only some items of a sequence (the matching scheduled procedure steps) is fine.
    """
    for elem in answer:
        if is_group_length(elem.tag) or elem.tag == SPECIFIC_CHARACTER_SET:
            continue
        if elem.VR == "SQ":
            entry_items = list(entry[elem.tag].value) if elem.tag in entry else []
            for item in elem.value:
                if is_empty_dataset(item):
                    continue
                if not any(consistent_with(item, candidate) for candidate in entry_items):
                    return False
        elif not _is_empty_value(elem.value):
            if elem.tag not in entry:
                return False
            if normalized_value(entry[elem.tag].value) != normalized_value(elem.value):
                return False
    return True


def requested_keys_missing(query: Dataset, answer: Dataset, path: str = "") -> list[str]:
    """Keys of ``query`` absent from ``answer`` (recursing into sequence items the query details).

    Group lengths and (0008,0005) are not counted as requested keys.
    """
    missing: list[str] = []
    for elem in query:
        if is_group_length(elem.tag) or elem.tag == SPECIFIC_CHARACTER_SET:
            continue
        name = f"{path}{elem.tag} {elem.keyword or '?'}"
        if elem.tag not in answer:
            missing.append(name)
            continue
        if elem.VR == "SQ" and len(elem.value) == 1 and not _only_group_lengths(elem.value[0]):
            answer_elem = answer[elem.tag]
            if answer_elem.VR != "SQ":
                missing.append(f"{name} (returned as {answer_elem.VR}, not SQ)")
                continue
            for index, item in enumerate(answer_elem.value):
                missing += requested_keys_missing(elem.value[0], item, f"{name}[{index}] > ")
    return missing


def unrequested_keys(query: Dataset, answer: Dataset, path: str = "") -> list[str]:
    """Keys of ``answer`` that ``query`` did not request ((0008,0005) is always allowed).

    Inside a sequence that the query requests with one non-empty item, the answer's items may only
    hold the attributes of that item; a sequence requested with zero items or one empty item may
    be returned whole.
    """
    extra: list[str] = []
    for elem in answer:
        if elem.tag == SPECIFIC_CHARACTER_SET:
            continue
        name = f"{path}{elem.tag} {elem.keyword or '?'}"
        if elem.tag not in query:
            extra.append(name)
            continue
        query_elem = query[elem.tag]
        if (
            elem.VR == "SQ"
            and query_elem.VR == "SQ"
            and len(query_elem.value) == 1
            and not _only_group_lengths(query_elem.value[0])
        ):
            for index, item in enumerate(elem.value):
                extra += unrequested_keys(query_elem.value[0], item, f"{name}[{index}] > ")
    return extra


def _only_group_lengths(ds: Dataset) -> bool:
    return all(is_group_length(elem.tag) for elem in ds)


def summarize(ds: Dataset, keys: Iterable[str] = ()) -> str:
    """A one-line description of a dataset's top-level values (or only of ``keys``)."""
    wanted = set(keys)
    parts: list[str] = []
    for elem in ds:
        if wanted and elem.keyword not in wanted:
            continue
        if elem.VR == "SQ":
            parts.append(f"{elem.keyword or elem.tag}=<{len(elem.value)} item(s)>")
        else:
            parts.append(f"{elem.keyword or elem.tag}={normalized_value(elem.value)!r}")
    return ", ".join(parts) if parts else "<empty>"


def raw_value(ds: Dataset, tag: int) -> bytes:
    """The undecoded bytes of a top-level element as received.

    ``ds`` must be freshly parsed: pydicom decodes an element the first time it is accessed (also
    by iterating over the dataset).
    """
    elem = ds.get_item(tag)
    if elem is None:
        raise KeyError(f"{tag:08x} not in dataset")
    value = elem.value
    if isinstance(value, bytes):
        return value
    raise TypeError(f"{tag:08x} was already decoded; read the dataset afresh to see its bytes")


def entry_candidates(answer: Dataset, entries: Mapping[str, Dataset]) -> frozenset[str]:
    """Names of the worklist entries whose values agree with everything ``answer`` returns."""
    return frozenset(name for name, entry in entries.items() if consistent_with(answer, entry))


def match_answers_to_entries(
    candidates: Sequence[Collection[str]], entries: Collection[str]
) -> dict[int, str] | None:
    """Give each answer a distinct entry among its candidates so that every entry is used.

    A bipartite perfect matching (augmenting paths). Returns {answer index: entry name}, or None
    when no such assignment exists (wrong count, or answers that cannot all be told apart).
    """
    wanted = set(entries)
    if len(candidates) != len(wanted):
        return None
    owner: dict[str, int] = {}

    def augment(index: int, seen: set[str]) -> bool:
        for name in sorted(set(candidates[index]) & wanted):
            if name in seen:
                continue
            seen.add(name)
            if name not in owner or augment(owner[name], seen):
                owner[name] = index
                return True
        return False

    for index in range(len(candidates)):
        if not augment(index, set()):
            return None
    return {index: name for name, index in owner.items()}
