"""The Test query, without a window: ask the running server exactly as a modality would, and why not.

It replaces hand-run ``findscu`` troubleshooting. :class:`QueryForm` holds what the modality sends
(its calling AE title, the scheduled date, its modality and station, patient and accession keys);
:func:`build_identifier` turns it into the C-FIND identifier and :func:`findscu_command` into the
equivalent DCMTK command line; :func:`identifier_from_keys` applies findscu-style ``-k`` keys
(``ScheduledProcedureStepSequence[0].Modality=CT``) and :func:`flat_keys` prints an answer the same
way. :func:`send_query` sends it over the network with pynetdicom, as a modality would (blocking),
collecting the answers with :func:`wldesk.core.net.scu.find`, which loses none;
:func:`query_and_explain` also compares every entry of the worklist folder with the query and says,
in plain words, why each one that is not among the answers is not (``compile_query(...).explain``),
and which files the server cannot serve at all; :func:`explain_without_network` works the same out
locally when the server cannot be asked.

Used by the Test query tab (``wldesk.gui.testquery_tab``, on a worker thread), by ``wldesk
query`` and by ``wldesk selftest`` for its C-FIND check. No Qt here.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydicom.datadict import dictionary_has_tag, dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]

from wldesk.core.net.scu import find
from wldesk.core.net.server import status_text
from wldesk.core.query.matching import CompiledQuery, compile_query
from wldesk.core.query.values import QueryError
from wldesk.core.store import FolderStore, Snapshot

DEFAULT_CALLING_AET = "TESTQUERY"
QUERY_TIMEOUT = 10.0  # seconds, for connecting, the association and each C-FIND response
SPS_KEYWORD = "ScheduledProcedureStepSequence"
MWL = ModalityWorklistInformationFind
_UTF8 = "ISO_IR 192"


# --- the query -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueryForm:
    """What the form asks: the values a modality would send. Empty text means any value."""

    calling_aet: str = DEFAULT_CALLING_AET
    date_from: date | None = None  # both None: any date
    date_to: date | None = None
    modality: str = ""
    station: str = ""
    patient_name: str = ""
    patient_id: str = ""
    accession: str = ""

    @property
    def date_value(self) -> str:
        """The Scheduled Procedure Step Start Date key: today as ``YYYYMMDD-YYYYMMDD``, like modalities."""
        if self.date_from is None and self.date_to is None:
            return ""
        low = f"{self.date_from:%Y%m%d}" if self.date_from else ""
        high = f"{self.date_to:%Y%m%d}" if self.date_to else ""
        return f"{low}-{high}"

    def top_keys(self) -> list[tuple[str, str]]:
        """The top-level keys, in the order they are sent (empty value: a return key)."""
        return [("PatientName", self.patient_name.strip()), ("PatientID", self.patient_id.strip()),
                ("PatientBirthDate", ""), ("PatientSex", ""),
                ("AccessionNumber", self.accession.strip()), ("RequestedProcedureDescription", ""),
                ("StudyInstanceUID", ""), ("RequestedProcedureID", "")]

    def step_keys(self) -> list[tuple[str, str]]:
        """The keys of the one Scheduled Procedure Step Sequence item."""
        return [("ScheduledStationAETitle", self.station.strip()),
                ("ScheduledProcedureStepStartDate", self.date_value),
                ("ScheduledProcedureStepStartTime", ""), ("Modality", self.modality.strip()),
                ("ScheduledProcedureStepDescription", ""), ("ScheduledProcedureStepID", "")]

    def needs_utf8(self) -> bool:
        return not all(value.isascii() for _, value in self.top_keys() + self.step_keys())


def build_identifier(form: QueryForm) -> Dataset:
    """The C-FIND identifier a modality sends for ``form``."""
    ds = Dataset()
    if form.needs_utf8():
        ds.SpecificCharacterSet = _UTF8
    for keyword, value in form.top_keys():
        setattr(ds, keyword, value)
    step = Dataset()
    for keyword, value in form.step_keys():
        setattr(step, keyword, value)
    ds.ScheduledProcedureStepSequence = DicomSequence([step])
    return ds


@dataclass(frozen=True)
class Target:
    """Where the running server listens, and how it treats calling AE titles."""

    host: str
    port: int
    called_aet: str
    filter_issuer_aet: bool
    hidden_statuses: tuple[str, ...] = ()  # the server's hidden_statuses


def connect_host(bind_address: str) -> str:
    """The address to reach a server bound to ``bind_address`` from this computer."""
    if bind_address in ("", "0.0.0.0"):
        return "127.0.0.1"
    if bind_address == "::":
        return "::1"
    return bind_address


def findscu_command(form: QueryForm, target: Target, *, windows: bool | None = None) -> str:
    """An equivalent DCMTK ``findscu`` command line, quoted for this system's shell."""
    args = ["findscu", "-W", "-aet", form.calling_aet, "-aec", target.called_aet,
            target.host, str(target.port)]
    keys: list[str] = []
    if form.needs_utf8():
        keys.append(f"SpecificCharacterSet={_UTF8}")
    keys += [f"{keyword}={value}" if value else keyword for keyword, value in form.top_keys()]
    keys += [f"{SPS_KEYWORD}[0].{keyword}={value}" if value else f"{SPS_KEYWORD}[0].{keyword}"
             for keyword, value in form.step_keys()]
    for key in keys:
        args += ["-k", key]
    if windows if windows is not None else sys.platform == "win32":
        return subprocess.list2cmdline(args)
    return shlex.join(args)


# --- findscu-like keys ------------------------------------------------------------------------

_NUMBERS = {"US": int, "SS": int, "UL": int, "SL": int, "UV": int, "SV": int, "FL": float,
            "FD": float}


def _tag_of(name: str) -> int:
    """The tag of a keyword or of ``gggg,eeee`` / ``(gggg,eeee)``; ValueError when neither."""
    text = name.strip()
    hexa = text.strip("()").replace(",", "")
    if "," in text and len(hexa) == 8:
        try:
            return int(hexa, 16)
        except ValueError:
            pass
    tag = tag_for_keyword(text)
    if tag is None:
        raise ValueError(f"unknown keyword {text!r}")
    return int(tag)


def _step(segment: str) -> tuple[int, int | None]:
    name, bracket, rest = segment.partition("[")
    if not bracket:
        return _tag_of(name), None
    if not rest.endswith("]") or not rest[:-1].isdigit():
        raise ValueError(f"bad item index in {segment!r} (write Keyword[0])")
    return _tag_of(name), int(rest[:-1])


def apply_key(ds: Dataset, key: str) -> None:
    """Apply one findscu ``-k`` key to ``ds``: ``Keyword=value``, ``Keyword`` (a return key),
    ``(0010,0010)=value``, ``ScheduledProcedureStepSequence[0].Modality=CT``. ValueError when the
    key cannot be applied."""
    path, equals, value = key.partition("=")
    segments = path.strip().split(".")
    if not path.strip() or any(not segment.strip() for segment in segments):
        raise ValueError(f"bad key {key!r} (write Keyword=value)")
    target = ds
    for segment in segments[:-1]:
        tag, index = _step(segment)
        if index is None or dictionary_VR(tag) != "SQ":
            raise ValueError(f"{segment!r} in {key!r} is not a sequence item (write Keyword[0])")
        if tag not in target or target[tag].VR != "SQ" or target[tag].value is None:
            target.add_new(tag, "SQ", DicomSequence([]))
        items = target[tag].value
        while len(items) <= index:
            items.append(Dataset())
        target = items[index]
    tag, index = _step(segments[-1])
    vr = dictionary_VR(tag) if dictionary_has_tag(tag) else "UN"
    if vr == "SQ":
        if equals and value:
            raise ValueError(f"a sequence takes no value: {key!r}")
        if tag not in target:
            target.add_new(tag, "SQ", DicomSequence([]))
        if index is not None:
            while len(target[tag].value) <= index:
                target[tag].value.append(Dataset())
        return
    if index is not None:
        raise ValueError(f"{segments[-1]!r} in {key!r} is not a sequence")
    convert = _NUMBERS.get(vr.split(" or ")[0])
    element_value: Any = value if value else None
    if element_value is not None and convert is not None:
        try:
            element_value = convert(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number ({vr}) in {key!r}") from None
    try:
        target.add_new(tag, vr.split(" or ")[0], element_value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"{value!r} is not a {vr} value in {key!r} ({exc})") from None


def identifier_from_keys(keys: Sequence[str], base: Dataset | None = None) -> Dataset:
    """``base`` (or an empty identifier) with the ``-k`` keys applied in order; UTF-8 is declared
    when a value is not ASCII and no Specific Character Set is given."""
    ds = base if base is not None else Dataset()
    for key in keys:
        apply_key(ds, key)
    if "SpecificCharacterSet" not in ds and not all(key.isascii() for key in keys):
        ds.SpecificCharacterSet = _UTF8
    return ds


def flat_keys(ds: Dataset, prefix: str = "") -> list[tuple[str, str]]:
    """The elements of ``ds`` as (``-k``-style path, text) pairs, items as ``Keyword[i].``."""
    rows: list[tuple[str, str]] = []
    for element in ds:
        name = element.keyword or f"({element.tag.group:04X},{element.tag.element:04X})"
        if element.VR == "SQ":
            items = element.value or []
            if not items:
                rows.append((f"{prefix}{name}", ""))
            for number, item in enumerate(items):
                rows += flat_keys(item, f"{prefix}{name}[{number}].")
        else:
            rows.append((f"{prefix}{name}", _text(element.value)))
    return rows


# --- running it ----------------------------------------------------------------------------------

@dataclass
class NetworkResult:
    """What the server answered; ``reached`` is False when no C-FIND could be completed."""

    reached: bool
    ok: bool
    status: str
    answers: list[Dataset] = field(default_factory=list)
    final_status: int | None = None  # the final C-FIND status, when one came


def _plural(count: int, word: str, plural: str = "") -> str:
    return f"{count} {word}" if count == 1 else f"{count} {plural or word + 's'}"


def send_query(form: QueryForm, target: Target, identifier: Dataset,
               timeout: float = QUERY_TIMEOUT) -> NetworkResult:
    """Send ``identifier`` as a modality would (blocking; run it on a worker thread)."""
    ae = AE(ae_title=form.calling_aet)
    ae.add_requested_context(MWL)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.connection_timeout = timeout
    where = f"{target.host}:{target.port}"
    started = time.perf_counter()
    try:
        assoc = ae.associate(target.host, target.port, ae_title=target.called_aet)
        if assoc.is_rejected:
            primitive = assoc.acceptor.primitive
            reason = primitive.reason_str if primitive is not None else "no reason given"
            reason = reason[:1].lower() + reason[1:]
            hint = ""
            if primitive is not None and primitive.result_source == 1 and primitive.diagnostic == 3:
                hint = (f" ({form.calling_aet} is not allowed to query: add it to the known "
                        "modalities, or allow unknown modalities)")
            return NetworkResult(False, False, f"association rejected: {reason}{hint}")
        if not assoc.is_established:
            return NetworkResult(False, False, f"no association with {where}: the server did not "
                                               "answer (is it running, is the port right?)")
        try:
            found = find(assoc, identifier, timeout=timeout)
        finally:
            if assoc.is_established:
                assoc.release()
    except Exception as exc:  # anything from the network must end as a message, not a crash
        return NetworkResult(False, False, f"the query could not be sent: {exc}")
    finally:
        ae.shutdown()
    elapsed = round((time.perf_counter() - started) * 1000)
    answers = found.answers
    if found.final_status is None:
        if found.timed_out:
            return NetworkResult(False, False, f"no response from the server within {timeout:g} s "
                                               f"after {_plural(len(answers), 'answer')}")
        return NetworkResult(False, False, "the server ended the query without a final status")
    code = found.final_status
    comment = found.error_comment
    count = _plural(len(answers), "answer")
    note = ", optional keys not supported (0xFF01)" if found.unsupported_keys else ""
    if code in (0x0000, 0xFE00):
        return NetworkResult(True, True, f"{count}, {status_text(code)}{note}, {elapsed} ms", answers,
                             code)
    failure = f"query failed: {status_text(code)}" + (f": {comment}" if comment else "")
    return NetworkResult(True, False, f"{failure} ({count} before it, {elapsed} ms)", answers, code)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, MultiValue)):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _fingerprint(ds: Dataset) -> tuple[str, ...]:
    """What identifies an answer: the request's identifiers and its steps' IDs."""
    steps = ds.get(SPS_KEYWORD) or []
    return (_text(ds.get("StudyInstanceUID")), _text(ds.get("AccessionNumber")),
            _text(ds.get("PatientID")), _text(ds.get("RequestedProcedureID")),
            *sorted(_text(step.get("ScheduledProcedureStepID")) for step in steps))


def _pretty_date(text: str) -> str:
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else text


def _pretty_time(text: str) -> str:
    digits = text.replace(":", "")
    return f"{digits[:2]}:{digits[2:4]}" if len(digits) >= 4 and digits[:4].isdigit() else text


ANSWER_COLUMNS = ("Patient", "Patient ID", "Accession", "Modality", "Station", "Date/time",
                  "Description")


def answer_row(ds: Dataset) -> tuple[str, ...]:
    """One row of the answers table."""
    steps = list(ds.get(SPS_KEYWORD) or [])

    def each(keyword: str) -> str:
        return "; ".join(dict.fromkeys(t for t in (_text(s.get(keyword)) for s in steps) if t))

    when = "; ".join(dict.fromkeys(
        " ".join(filter(None, (_pretty_date(_text(s.get("ScheduledProcedureStepStartDate"))),
                               _pretty_time(_text(s.get("ScheduledProcedureStepStartTime"))))))
        for s in steps))
    description = _text(ds.get("RequestedProcedureDescription"))
    step_description = each("ScheduledProcedureStepDescription")
    if step_description and step_description != description:
        description = f"{description} ({step_description})" if description else step_description
    return (_text(ds.get("PatientName")), _text(ds.get("PatientID")),
            _text(ds.get("AccessionNumber")), each("Modality"), each("ScheduledStationAETitle"),
            when.strip("; "), description)


@dataclass
class Explanation:
    """The entries of the folder compared with the query."""

    matching: list[Dataset]  # the local answers, in file name order
    others: list[tuple[str, str]]  # (file name, why it is not an answer), in file name order


def explain_entries(snapshot: Snapshot, query: CompiledQuery,
                    answers: Sequence[Dataset] | None = None) -> Explanation:
    """Why each entry of ``snapshot`` is not an answer; ``answers`` are the server's, if it was asked.

    An entry that matches here but is not among the server's answers (LimitAnswers cut it, or
    the file changed during the query) is listed with that reason.
    """
    sent = Counter(_fingerprint(a) for a in answers) if answers is not None else None
    matching: list[Dataset] = []
    others: list[tuple[str, str]] = []
    for entry in snapshot.entries:
        try:
            local = query.match(entry.node)
            reason = query.explain(entry.node) if local is None else None
        except Exception as exc:  # as in the server: one odd file never stops the others
            others.append((entry.name, f"cannot be matched ({exc})"))
            continue
        if local is None:
            others.append((entry.name, reason or "does not match this query"))
            continue
        matching.append(local)
        if sent is not None:
            key = _fingerprint(local)
            if sent[key] > 0:
                sent[key] -= 1
            else:
                others.append((entry.name, "matches this query, but the server did not send it "
                                           "(LimitAnswers, or the file changed during the query)"))
    for problem in snapshot.problems:
        others.append((problem.path.name, f"file not served: {problem.reason}"))
    others.sort(key=lambda row: row[0])
    if snapshot.folder_error:
        others.insert(0, ("(worklist folder)", f"not readable: {snapshot.folder_error}"))
    return Explanation(matching, others)


@dataclass(frozen=True)
class Outcome:
    """One run of the tab, ready for display."""

    sent: bool  # the query went over the network (False: worked out locally, or not at all)
    ok: bool
    status: str
    answers: list[tuple[str, ...]] = field(default_factory=list)
    others: list[tuple[str, str]] = field(default_factory=list)
    offer_local: bool = False  # the server could not be asked: offer the local explanation


def query_and_explain(form: QueryForm, target: Target, store: FolderStore,
                      timeout: float = QUERY_TIMEOUT) -> Outcome:
    """Ask the server, then explain every other entry (blocking; for the worker thread)."""
    identifier = build_identifier(form)
    try:
        query = compile_query(identifier,
                              issuer_aet=form.calling_aet if target.filter_issuer_aet else None,
                              hidden_statuses=target.hidden_statuses)
    except QueryError as exc:
        return Outcome(False, False, f"invalid query: {exc}")
    result = send_query(form, target, identifier, timeout)
    if not result.reached:
        return Outcome(False, False, result.status, offer_local=True)
    # The server brought the store up to date before answering: this snapshot is at least as fresh.
    explanation = explain_entries(store.snapshot(), query, result.answers)
    return Outcome(True, result.ok, result.status, [answer_row(a) for a in result.answers],
                   explanation.others)


def explain_without_network(form: QueryForm, filter_issuer_aet: bool, store: FolderStore,
                            hidden_statuses: tuple[str, ...] = ()) -> Outcome:
    """What the server would answer, worked out from the folder without the network (blocking)."""
    try:
        query = compile_query(build_identifier(form),
                              issuer_aet=form.calling_aet if filter_issuer_aet else None,
                              hidden_statuses=hidden_statuses)
    except QueryError as exc:
        return Outcome(False, False, f"invalid query: {exc}")
    try:
        store.sync()
    except Exception as exc:
        return Outcome(False, False, f"the worklist folder could not be read: {exc}")
    explanation = explain_entries(store.snapshot(), query)
    status = (f"worked out locally, nothing was sent: "
              f"{_plural(len(explanation.matching), 'entry', 'entries')} would match this query")
    return Outcome(False, True, status, [answer_row(a) for a in explanation.matching],
                   explanation.others)
