"""Answers shaped for one modality: its profile (``wldesk.core.profile``) applied after matching.

Matching does not change; a profile rewrites the query's date or station key before it is
compiled (:func:`rewrite_query`), and shapes each answer after it is built (:func:`shape`):
strict dates, times and descriptions, one answer per step, and the character set. The file on disk
is never changed. :func:`preview` is the Settings tab's view of one entry through a profile.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

from anyascii import anyascii
from pydicom.dataset import Dataset

from wldesk.core.dicom.model import SPS_SEQUENCE, SPS_START_DATE, STATION_AET
from wldesk.core.dicom.node import Node
from wldesk.core.dicom.vr import BINARY_VRS, SPECIFIC_CHARACTER_SET, attribute_name, tag_text
from wldesk.core.profile import Profile
from wldesk.core.query.answer import Answer, finalize
from wldesk.core.query.matching import compile_query
from wldesk.core.query.strict import shape_strictly, strict_problems

# --- character sets ------------------------------------------------------------------------------

def _to_ascii(ch: str) -> str:
    """One character's transliteration (``ß`` is ``ss``, ``北`` is ``Bei``); a character without
    one (a private-use code point) is written as its code point rather than dropped."""
    text = anyascii(ch).replace("\\", "/")  # a backslash would split the value
    return text or f"U+{ord(ch):04X}"


def transliterate(text: str, charset: str) -> str:
    """``text`` with the characters ``charset`` cannot hold transliterated: for ``ascii`` every
    non-ASCII character, for ``ISO_IR 100`` those outside Latin-1 (``José`` stays, ``Łukasz`` is
    ``Lukasz``); other character sets hold everything."""
    if text.isascii() or charset not in ("ascii", "ISO_IR 100"):
        return text
    limit = 0x80 if charset == "ascii" else 0x100
    return "".join(ch if ord(ch) < limit else _to_ascii(ch) for ch in text)


def _transliterated(answer: Answer, charset: str) -> None:
    for i, (tag, vr, value) in enumerate(answer.elements):
        if vr == "SQ":
            for item in value or ():
                _transliterated(item, charset)
        elif vr not in BINARY_VRS and isinstance(value, str) and not value.isascii():
            answer.elements[i] = (tag, vr, transliterate(value, charset))
        elif isinstance(value, tuple) and any(isinstance(v, str) and not v.isascii()
                                              for v in value):
            answer.elements[i] = (tag, vr, tuple(transliterate(v, charset)
                                                 if isinstance(v, str) else v for v in value))


def in_charset(answer: Answer, charset: str) -> Answer:
    """``answer`` in a profile's character set (not ``as_is``): transliterated where needed, with
    that Specific Character Set, or none for ``ascii``."""
    _transliterated(answer, charset)
    answer.elements = [e for e in answer.elements if e[0] != SPECIFIC_CHARACTER_SET]
    if charset != "ascii":
        answer.add(SPECIFIC_CHARACTER_SET, "CS", charset)
    elif not answer.elements:  # no returnable key was asked: an empty identifier cannot be sent
        answer.add(SPECIFIC_CHARACTER_SET, "CS", "")
    return answer


# --- steps ---------------------------------------------------------------------------------------

def one_per_step(answer: Answer) -> list[Answer]:
    """``answer`` as one answer per item of its Scheduled Procedure Step Sequence (the matching
    items only, as matching left them); an answer with one item or none stays as it is."""
    steps = answer.value(SPS_SEQUENCE)
    if not steps or len(steps) < 2:
        return [answer]
    split = []
    for step in steps:
        single = Answer()
        single.elements = [(t, vr, [step] if t == SPS_SEQUENCE else v)
                           for t, vr, v in answer.elements]
        split.append(single)
    return split


# --- the whole shaping ---------------------------------------------------------------------------

def rewrite_query(identifier: Dataset, profile: Profile) -> Dataset:
    """The query as the profile's query rules make it: the SPS Start Date and/or the Scheduled
    Station AE Title emptied (still returned, no longer matched). ``identifier`` is not changed."""
    if not (profile.ignore_query_date or profile.ignore_query_station) \
            or "ScheduledProcedureStepSequence" not in identifier:
        return identifier
    rewritten = copy.deepcopy(identifier)
    emptied = [tag for tag, on in ((SPS_START_DATE, profile.ignore_query_date),
                                   (STATION_AET, profile.ignore_query_station)) if on]
    for item in rewritten.ScheduledProcedureStepSequence or ():
        for tag in emptied:
            if tag in item:
                item[tag].value = None
    return rewritten


def answer_limit(limit_answers: int, profile: Profile) -> int:
    """The answers a query may send: the smaller of the global LimitAnswers and the profile's
    ``max_answers`` (0 for either: no limit of its own)."""
    limits = [n for n in (limit_answers, profile.max_answers) if n]
    return min(limits) if limits else 0


def shape(answer: Answer, node: Node, entry_charset: Sequence[str],
          query_charset: list[str] | None, profile: Profile) -> list[Answer]:
    """``node``'s answer as ``profile`` sends it: one or several (one per step) final answers."""
    if profile.strict:
        shape_strictly(answer, node)
    answers = one_per_step(answer) if profile.one_step_per_answer else [answer]
    if profile.charset == "as_is":
        return [finalize(a, entry_charset, query_charset) for a in answers]
    return [in_charset(a, profile.charset) for a in answers]


# --- the preview ---------------------------------------------------------------------------------

PREVIEW_KEYS = (
    "AccessionNumber", "ReferringPhysicianName", "PatientName",
    "PatientID", "PatientBirthDate", "PatientSex", "PatientWeight", "MedicalAlerts", "Allergies",
    "PregnancyStatus", "StudyInstanceUID", "RequestingPhysician", "RequestedProcedureDescription",
    "RequestedProcedureID", "RequestedContrastAgent",
)
PREVIEW_STEP_KEYS = (
    "Modality", "ScheduledStationAETitle", "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime", "ScheduledPerformingPhysicianName",
    "ScheduledProcedureStepDescription", "ScheduledProcedureStepID",
)


def preview_query() -> Dataset:
    """The query of the preview: every key a strict CT asks for (GE's list in FIELD.md), none
    constraining, no character set of its own."""
    query = Dataset()
    for keyword in PREVIEW_KEYS:
        setattr(query, keyword, None)
    step = Dataset()
    for keyword in PREVIEW_STEP_KEYS:
        setattr(step, keyword, None)
    query.ScheduledProcedureStepSequence = [step]
    return query


@dataclass(frozen=True)
class Preview:
    """What a modality with a profile gets for one entry of the folder."""

    answers: tuple[Answer, ...]  # empty when the entry is withheld
    problems: tuple[str, ...]  # the strict rules it breaks (only with a strict profile)
    withheld: bool

    @property
    def verdict(self) -> str:
        """In plain words: sent, sent last (and why) or withheld (and why)."""
        if not self.problems:
            count = len(self.answers)
            return "Sent." if count == 1 else f"Sent as {count} answers, one per step."
        why = "; ".join(self.problems)
        if self.withheld:
            return f"Withheld: a strict modality would refuse it ({why})."
        return f"Sent after every entry that passes the strict rules, because of: {why}."

    def text(self) -> str:
        """The answers as the modality receives them: one line per key, values in the profile's
        character set (``(0010,0010) PN [Muller^Hans]  # PatientName``)."""
        blocks = []
        for number, answer in enumerate(self.answers, start=1):
            lines = [f"# answer {number} of {len(self.answers)}"] if len(self.answers) > 1 else []
            _lines(answer, 0, lines)
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)


def _lines(answer: Answer, depth: int, out: list[str]) -> None:
    indent = "  " * depth
    for tag, vr, value in sorted(answer.elements, key=lambda e: e[0]):
        head = f"{indent}{tag_text(tag)} {vr}"
        keyword = attribute_name(tag)
        if vr == "SQ":
            out.append(f"{head} ({len(value or ())} item(s))  # {keyword}")
            for number, item in enumerate(value or (), start=1):
                out.append(f"{indent}  item {number}")
                _lines(item, depth + 2, out)
            continue
        shown = "\\".join(map(str, value)) if isinstance(value, tuple) else \
            "" if value is None else str(value)
        out.append(f"{head} [{shown}]  # {keyword}" if shown else f"{head} (empty)  # {keyword}")


def preview(node: Node, entry_charset: Sequence[str], profile: Profile) -> Preview:
    """``node``'s answer to :func:`preview_query` as ``profile`` sends it, and whether a strict
    profile sends it last or withholds it, and why."""
    problems = strict_problems(node) if profile.strict else ()
    withheld = bool(problems) and profile.withhold_invalid
    found = compile_query(preview_query()).answer(node)
    assert found is not None  # no key of the preview's query constrains
    answers = () if withheld else tuple(shape(found, node, entry_charset, None, profile))
    return Preview(answers=answers, problems=problems, withheld=withheld)
