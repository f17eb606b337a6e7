"""The DICOM side: a pynetdicom AE serving Verification (C-ECHO), Modality Worklist C-FIND and,
when given what to do with them, Modality Performed Procedure Step N-CREATE and N-SET."""

from __future__ import annotations

import io
import ipaddress
import logging
import socket
import threading
import time
import traceback
import warnings
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import ModalityWorklistInformationFind, Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from wldesk.core.dicom.charsets import charset_terms
from wldesk.core.dicom.model import ACCESSION_NUMBER, SPS_SEQUENCE
from wldesk.core.dicom.vr import SPECIFIC_CHARACTER_SET, describe_tag
from wldesk.core.dicom.wlfile import walk_dataset
from wldesk.core.events import AssociationEvent, EventBus, QueryEvent, ServerEvent
from wldesk.core.logs import file_label
from wldesk.core.net.fastfind import FastPath, HandlerResult, PreEncoded, fast_pending
from wldesk.core.net.mpps import MPPS, PerformedSteps
from wldesk.core.net.mpps import handlers as mpps_handlers
from wldesk.core.net.tls import TLSConfigError, server_context
from wldesk.core.net.transport import (
    PENDING_TOTAL,
    Handshakes,
    TitleProblem,
    listen_error,
    start_server,
    title_problems,
)
from wldesk.core.profile import Profile
from wldesk.core.query.answer import Answer, CannotEncode, finalize
from wldesk.core.query.matching import CompiledQuery, compile_query
from wldesk.core.query.profiles import answer_limit, rewrite_query, shape
from wldesk.core.query.strict import strict_problems
from wldesk.core.query.values import QueryError, element_values
from wldesk.core.settings import Settings
from wldesk.core.snapshot import snapshot_path
from wldesk.core.store import Entry, FolderStore

log = logging.getLogger(__name__)

STATUS_TEXT = {
    0x0000: "Success",
    0xFE00: "Cancel",
    0xA700: "Out of resources",
    0xA900: "Identifier does not match SOP class",
    0xC000: "Unable to process",
    0xC001: "Unable to process: worklist folder unavailable",
}


MAX_ASSOCIATIONS = 64
"""Places for associations that are always left, however many connections wait to send their
A-ASSOCIATE-RQ (pynetdicom's limit adds ``PENDING_TOTAL`` for those; over it, an association is
rejected: transient, local limit exceeded)."""

INDEX_WAIT = 45.0
"""Seconds a C-FIND that arrives during the first indexing of the folder waits for it. After
that it gets a failure saying why, rather than silence until the modality gives up (DCMTK-based
stacks wait 60 s for data, then drop the association)."""


class ServerStartError(RuntimeError):
    """The server could not start (port in use, address not available, folder missing)."""


def status_text(status: int) -> str:
    return f"{STATUS_TEXT.get(status, 'Failure')} (0x{status:04X})"


def _status(code: int, comment: str, tag: int | None = None) -> Dataset:
    ds = Dataset()
    ds.Status = code
    ds.ErrorComment = comment.replace("\\", "/")[:64]  # LO: a backslash would split it
    if tag is not None:
        ds.OffendingElement = [tag]
    return ds


def host_matches(expected: str, address: str) -> bool:
    """True when ``address`` (the peer's IP) is ``expected`` (an IP address or a host name)."""
    try:
        return ipaddress.ip_address(expected) == ipaddress.ip_address(address)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(expected, None)
    except OSError:
        return False
    return any(ipaddress.ip_address(info[4][0]) == ipaddress.ip_address(address) for info in infos)


def access_refusal(settings: Settings, calling_aet: str, address: str) -> str | None:
    """Why a modality may not query (None when it may)."""
    if settings.allow_unknown_modalities:
        return None
    known = settings.find_modality(calling_aet)
    if known is None:
        return f"calling AE title {calling_aet!r} is not a known modality"
    if known.host and not host_matches(known.host, address):
        return f"{calling_aet} is known from {known.host}, but connected from {address}"
    return None


SERVED = (ModalityWorklistInformationFind, Verification)
"""The SOP classes (abstract syntaxes) this SCP always accepts (MPPS too when it is on)."""


def syntax_name(uid: str) -> str:
    """``Study Root Query/Retrieve Information Model - FIND (1.2.840.10008.5.1.4.1.2.2.1)``."""
    uid = uid.strip().rstrip("\0")
    name = UID(uid).name if uid else "(empty)"
    return f"{name} ({uid})" if name != uid else uid


@dataclass(frozen=True)
class Refusal:
    """An A-ASSOCIATE-RJ: result, source and reason (PS3.8 9.3.4), and why, for the log."""

    result: int
    source: int
    diagnostic: int
    reason: str
    not_served: tuple[str, ...] = ()
    cause: str = ""  # AssociationEvent.cause


def called_refusal(settings: Settings, called_aet: str) -> Refusal | None:
    """With ``check_called_ae_title`` on, the refusal of a called AE title other than ours."""
    if settings.check_called_ae_title and called_aet != settings.ae_title:
        return Refusal(0x01, 0x01, 0x07, f"called AE title {called_aet!r} is not this server's "
                                         f"({settings.ae_title!r})", cause="called_ae_title")
    return None


def syntax_refusal(proposed: list[str], served: tuple[str, ...] = SERVED) -> Refusal | None:
    """The refusal of an association that proposes none of the SOP classes ``served``."""
    if any(uid in served for uid in proposed):
        return None
    names = tuple(dict.fromkeys(syntax_name(uid) for uid in proposed))
    offered = "Modality Worklist FIND, Verification" + (", MPPS" if MPPS in served else "")
    return Refusal(0x01, 0x01, 0x01, f"proposed no SOP class this server offers ({offered}), "
                                     "only: " + "; ".join(names or ("nothing",)),
                   names, "no_worklist_service")


UNDECODABLE = "cannot decode the query: malformed identifier"
"""The reason (and Error Comment) of an identifier that is not valid DICOM (0xA900)."""


def decode_identifier(event: evt.Event) -> Dataset:
    """The C-FIND identifier, every element and sequence item decoded now.

    pydicom decodes lazily: a length that runs past the data would otherwise only fail later,
    while matching, as an internal error. Raises whatever pydicom raises for malformed bytes."""
    syntax = event.context.transfer_syntax
    raw = getattr(event.request, "Identifier", None)
    if isinstance(raw, io.BytesIO) and not syntax.is_deflated:
        walk_dataset(raw.getvalue(), explicit=not syntax.is_implicit_VR,
                     little=syntax.is_little_endian)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the query's faults are its status, not warnings
        identifier: Dataset = event.identifier
        for elem in identifier.iterall():
            if elem.VR == "SQ" and not isinstance(elem.value, DicomSequence):
                raise ValueError(f"{describe_tag(elem.tag)} is not a sequence")
    return identifier


def _plain(exc: Exception) -> str:
    """pydicom's reason in a few words (it never holds the query's values, only tags and
    positions), for the log line; the modality gets UNDECODABLE."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for wording in ("incomplete file: ", "malformed file: ", " (still being written, or cut short)"):
        text = text.replace(wording, "")
    return text.replace("file", "identifier")[:120]


def query_summary(identifier: Dataset) -> dict[str, str]:
    """The query's keys as keyword -> value text, SPS item keys included, for logs and the GUI."""
    summary: dict[str, str] = {}
    def add(ds: Dataset) -> None:
        for elem in ds:
            if elem.tag.element == 0 or elem.tag == SPECIFIC_CHARACTER_SET:
                continue
            if elem.VR == "SQ":
                if elem.tag == SPS_SEQUENCE and elem.value:
                    add(elem.value[0])
                else:
                    summary[elem.keyword or describe_tag(elem.tag)] = ""
                continue
            summary[elem.keyword or describe_tag(elem.tag)] = "\\".join(
                str(v) for v in element_values(elem) if not isinstance(v, bytes))
    add(identifier)
    return summary


@dataclass
class _Association:
    number: int
    calling_aet: str
    called_aet: str
    address: str
    port: int


class WorklistServer:
    """The worklist SCP. ``start()`` returns once listening; associations run on their threads.
    With ``mpps`` and the ``mpps`` setting on, it also takes MPPS N-CREATE and N-SET and gives
    them to ``mpps``."""

    def __init__(self, settings: Settings, bus: EventBus | None = None,
                 store: FolderStore | None = None, mpps: PerformedSteps | None = None, *,
                 index_cache: Path | None = None) -> None:
        """``index_cache``: where its store keeps the folder's index snapshot (default: the
        user's cache folder; the self-test gives its own)."""
        self.settings = settings
        self.mpps = mpps if settings.mpps else None
        self.served: tuple[str, ...] = SERVED + ((MPPS,) if self.mpps is not None else ())
        self.bus = bus or EventBus()
        self._owns_store = store is None
        self.store = store if store is not None else FolderStore(
            Path(settings.database), report=self.bus.emit, settle_seconds=settings.settle_seconds,
            folder_events=settings.folder_events,
            snapshot_file=snapshot_path(Path(settings.database), index_cache))
        self._server: ThreadedAssociationServer | None = None
        self._associations: weakref.WeakKeyDictionary[Association, _Association] = \
            weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._counter = 0
        self.index_wait = INDEX_WAIT
        self.fast_path = FastPath()  # off (and logged once) if pynetdicom cannot take wldesk's DUL

    @property
    def is_running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server is not running")
        return int(self._server.server_address[1])

    def start(self) -> None:
        if self._server is not None:
            return
        folder = Path(self.settings.database)
        if not folder.is_dir():
            message = f"the worklist folder {folder} does not exist"
            self.bus.emit(ServerEvent("failed", message))
            raise ServerStartError(message)
        try:
            tls = server_context(self.settings.tls_certificate, self.settings.tls_key,
                                 self.settings.tls_ca)
        except TLSConfigError as exc:
            self.bus.emit(ServerEvent("failed", str(exc)))
            raise ServerStartError(str(exc)) from None
        ae = AE(ae_title=self.settings.ae_title)
        # pynetdicom counts the connections still to send their A-ASSOCIATE-RQ among the
        # associations; Handshakes holds them to PENDING_TOTAL, on top of the 64 real ones.
        ae.maximum_associations = MAX_ASSOCIATIONS + PENDING_TOTAL
        # pynetdicom aborts an association idle for network_timeout; while a very large answer
        # is being sent the peer says nothing, so 60 s (the default) cut 100,000-answer queries.
        ae.network_timeout = 300
        ae.add_supported_context(Verification)
        ae.add_supported_context(ModalityWorklistInformationFind)
        handlers: list[evt.EventHandlerType] = [
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_ACCEPTED, self._on_accepted),
            (evt.EVT_REJECTED, self._on_rejected),
            (evt.EVT_RELEASED, self._on_released),
            (evt.EVT_ABORTED, self._on_aborted),
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_C_FIND, fast_pending(self._on_find, self.fast_path)),
        ]
        if self.mpps is not None:
            ae.add_supported_context(MPPS)
            handlers += mpps_handlers(self.mpps, self._source)
        address = (self.settings.bind_address, self.settings.port)
        try:
            self._server = start_server(
                ae, address, handlers, self.fast_path, ssl_context=tls,
                handshakes=Handshakes(deadline=float(self.settings.association_request_timeout)))
        except OSError as exc:
            message = (f"cannot listen on {self.settings.bind_address or '*'}:"
                       f"{self.settings.port}: {listen_error(exc)}")
            self.bus.emit(ServerEvent("failed", message))
            raise ServerStartError(message) from None
        self.store.start()
        security = ""
        if tls is not None:
            security = (" (DICOM TLS, client certificates required)" if self.settings.tls_ca
                        else " (DICOM TLS)")
        self.bus.emit(ServerEvent("started", f"{self.settings.ae_title} listening on "
                                             f"{self.settings.bind_address}:{self.port}{security}, "
                                             f"serving {folder}"))

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            if self._owns_store:
                self.store.stop()
            self.bus.emit(ServerEvent("stopped", "server stopped"))

    # --- association events ----------------------------------------------------------------------

    def _info(self, assoc: Association) -> _Association:
        with self._lock:
            info = self._associations.get(assoc)
            if info is None:
                self._counter += 1
                info = _Association(
                    number=self._counter,
                    calling_aet=str(assoc.requestor.ae_title).strip(),
                    called_aet=str(assoc.acceptor.ae_title).strip(),
                    address=str(assoc.requestor.address), port=int(assoc.requestor.port))
                self._associations[assoc] = info
            return info

    def _emit_assoc(self, kind: str, info: _Association, reason: str = "",
                    not_served: tuple[str, ...] = (), cause: str = "") -> None:
        self.bus.emit(AssociationEvent(kind=kind, association_id=info.number,
                                       calling_aet=info.calling_aet, called_aet=info.called_aet,
                                       address=info.address, port=info.port, reason=reason,
                                       not_served=not_served, cause=cause))

    def _on_requested(self, event: evt.Event) -> None:
        info = self._info(event.assoc)
        primitive = event.assoc.requestor.primitive
        if primitive is not None:  # the requestor's titles, before pynetdicom negotiates
            info.calling_aet = str(primitive.calling_ae_title).strip()
            info.called_aet = str(primitive.called_ae_title).strip()
        bad_titles = title_problems(event.assoc)
        for bad in bad_titles:  # replaced by "?" for pynetdicom: show what was sent
            setattr(info, f"{bad.which}_aet", bad.shown)
        self._emit_assoc("requested", info)
        refusal = self._title_refusal(bad_titles) or self._refusal(info, primitive)
        if refusal is not None:
            # As pynetdicom does for its own refusals: A-ASSOCIATE-RJ, then end the association
            # once it has been sent.
            event.assoc.acse.send_reject(refusal.result, refusal.source, refusal.diagnostic)
            self._emit_assoc("rejected", info, refusal.reason, refusal.not_served, refusal.cause)
            event.assoc.kill()

    @staticmethod
    def _title_refusal(problems: tuple[TitleProblem, ...]) -> Refusal | None:
        """An AE title pynetdicom could not decode: calling (reason 3) or called (reason 7)."""
        if not problems:
            return None
        diagnostic = 0x03 if any(p.which == "calling" for p in problems) else 0x07
        return Refusal(0x01, 0x01, diagnostic, "; ".join(str(p) for p in problems),
                       cause="bad_title")

    def _refusal(self, info: _Association, primitive: Any) -> Refusal | None:
        access = access_refusal(self.settings, info.calling_aet, info.address)
        if access is not None:  # permanent, service user, calling AE title not recognised
            known = self.settings.find_modality(info.calling_aet) is not None
            return Refusal(0x01, 0x01, 0x03, access,
                           cause="wrong_host" if known else "unknown_modality")
        refusal = called_refusal(self.settings, info.called_aet)
        if refusal is None and primitive is not None:
            proposed = [str(cx.abstract_syntax) for cx
                        in primitive.presentation_context_definition_list]
            refusal = syntax_refusal(proposed, self.served)
        return refusal

    def _on_accepted(self, event: evt.Event) -> None:
        left_out = tuple(dict.fromkeys(syntax_name(str(cx.abstract_syntax))
                                       for cx in event.assoc.rejected_contexts))
        reason = ("some proposed SOP classes are not served: " + "; ".join(left_out)
                  if left_out else "")
        self._emit_assoc("accepted", self._info(event.assoc), reason, left_out)

    def _on_rejected(self, event: evt.Event) -> None:  # refusals decided by pynetdicom itself
        self._emit_assoc("rejected", self._info(event.assoc), "association request not acceptable")

    def _on_released(self, event: evt.Event) -> None:
        self._emit_assoc("released", self._info(event.assoc))

    def _on_aborted(self, event: evt.Event) -> None:
        self._emit_assoc("aborted", self._info(event.assoc))

    def _on_echo(self, event: evt.Event) -> int:
        return 0x0000

    def _source(self, event: evt.Event) -> str:
        """Who sent a message: ``CT1 (192.168.1.20)``."""
        info = self._info(event.assoc)
        return f"{info.calling_aet} ({info.address})"

    # --- queries ---------------------------------------------------------------------------------

    def _on_find(self, event: evt.Event) -> Iterator[HandlerResult]:
        started = time.perf_counter()
        info = self._info(event.assoc)
        report: dict[str, Any] = {"keys": {}, "files": 0, "matches": 0, "returned": 0,
                                  "status": 0xC000, "unsupported": (), "accessions": [],
                                  "sent_last": [], "withheld": []}
        profile = self.settings.profile_for(info.calling_aet)
        try:
            for item in self._find(event, info, report, profile):
                status = item[0]
                report["final_sent"] = not (isinstance(status, int) and status in (0xFF00, 0xFF01))
                yield item
        except GeneratorExit:  # pynetdicom stopped asking: after a final status, or an abort
            if not report.get("final_sent"):
                report["status_text"] = "stopped before the end: the association ended"
            raise
        except Exception as exc:
            if self.settings.redact_patient_data:  # the message may quote the query's values
                log.error("query from %s failed: %s\n%s", info.calling_aet, type(exc).__name__,
                          "".join(traceback.format_tb(exc.__traceback__)).rstrip())
            else:
                log.exception("query from %s failed", info.calling_aet)
            report["status"] = 0xC000
            yield _status(0xC000, f"wldesk internal error: {exc}"), None
        finally:
            status = report["status"]
            self.bus.emit(QueryEvent(
                association_id=info.number, calling_aet=info.calling_aet, address=info.address,
                keys=report["keys"], files_considered=report["files"], matches=report["matches"],
                returned=report["returned"], duration_ms=(time.perf_counter() - started) * 1000,
                status=status, status_text=report.get("status_text") or status_text(status),
                unsupported_keys=report["unsupported"],
                accession_numbers=tuple(report["accessions"]),
                redacted_status_text=report.get("redacted_status_text", ""),
                invalid_keys=report.get("invalid_keys", ()),
                profile="" if profile.is_default() else profile.summary(),
                sent_last=tuple(report["sent_last"]), withheld=tuple(report["withheld"])))

    def _find(self, event: evt.Event, info: _Association, report: dict[str, Any],
              profile: Profile) -> Iterator[HandlerResult]:
        try:
            identifier = decode_identifier(event)
            report["keys"] = query_summary(identifier)
        except Exception as exc:  # any failure to decode is the query's fault
            report["status"], report["status_text"] = 0xA900, f"{UNDECODABLE}: {_plain(exc)}"
            report["redacted_status_text"] = UNDECODABLE
            yield _status(0xA900, UNDECODABLE), None
            return
        # ignore_query_station shows every station's steps: FilterIssuerAet would take them away
        issuer = (info.calling_aet if self.settings.filter_issuer_aet
                  and not profile.ignore_query_station else None)
        try:
            query = compile_query(rewrite_query(identifier, profile), issuer_aet=issuer,
                                  hidden_statuses=self.settings.hidden_statuses)
        except QueryError as exc:
            report["status"], report["status_text"] = 0xA900, f"invalid query: {exc}"
            report["redacted_status_text"] = f"invalid query: {exc.redacted}"
            if exc.tag is not None:
                report["invalid_keys"] = (keyword_for_tag(exc.tag) or describe_tag(exc.tag),)
            yield _status(0xA900, str(exc), exc.tag), None
            return
        report["unsupported"] = query.unsupported
        if not self.store.wait_ready(self.index_wait):
            loaded = len(self.store)
            report["status"], report["status_text"] = 0xC001, (
                f"the worklist folder is still being read after start ({loaded:,} files so far)")
            yield _status(0xC001, "worklist still loading after start; ask again shortly"), None
            return
        self.store.sync()
        report["files"] = len(self.store)
        if self.store.folder_error is not None:
            report["status"], report["status_text"] = 0xC001, self.store.folder_error
            yield _status(0xC001, "worklist folder unavailable"), None
            return
        query_charset = (charset_terms(identifier.SpecificCharacterSet)
                         if "SpecificCharacterSet" in identifier else None)
        limit = answer_limit(self.settings.limit_answers, profile)
        pending = 0xFF01 if query.unsupported else 0xFF00
        syntax = event.context.transfer_syntax
        implicit = syntax == ImplicitVRLittleEndian
        fast = implicit or syntax == ExplicitVRLittleEndian
        # Answers go out as they are found, so the modality reads the first ones while the rest
        # are matched; past the limit the rest are only counted.
        redact = self.settings.redact_patient_data
        matches = self._matches(query, self.store.candidates(query.prefilter()), redact)
        planned = (self._plain_answers(matches, report) if profile.is_default() else
                   self._profiled_answers(matches, profile, query_charset, report, redact))
        available = 0
        for found, charset, late in planned:
            available += 1
            if limit and available > limit:
                continue
            if event.is_cancelled:
                report["status"] = 0xFE00
                yield 0xFE00, None
                return
            report["returned"] += 1
            answer = found if charset is None else finalize(found, charset, query_charset)
            if late and late not in report["sent_last"]:
                report["sent_last"].append(late)
            if ACCESSION_NUMBER in answer:
                report["accessions"].append(str(answer.value(ACCESSION_NUMBER) or ""))
            yield pending, _identifier(answer, implicit) if fast else answer.to_dataset()
        cut = limit and available > limit
        by = ("LimitAnswers" if limit == self.settings.limit_answers
              else f"{info.calling_aet}'s profile")
        if cut:
            log.info("query from %s: %d answers, %s sent the first %d",
                     info.calling_aet, available, by, limit)
        if cut and self.settings.limit_final_status == "cancel":
            report["status"], report["status_text"] = 0xFE00, f"Cancel (0xFE00): {by}"
            yield 0xFE00, None
            return
        report["status"] = 0x0000
        if cut:
            report["status_text"] = f"Success (0x0000), cut to {limit} by {by}"

    @staticmethod
    def _plain_answers(matches: Iterator[tuple[Answer, Entry]], report: dict[str, Any]
                       ) -> Iterator[tuple[Answer, tuple[str, ...] | None, str]]:
        """Without a profile: each match, its character set still to give (only to the answers
        sent: past the limit they are only counted)."""
        for found, entry in matches:
            report["matches"] += 1
            yield found, entry.charset, ""

    @staticmethod
    def _profiled_answers(matches: Iterator[tuple[Answer, Entry]], profile: Profile,
                          query_charset: list[str] | None, report: dict[str, Any], redact: bool
                          ) -> Iterator[tuple[Answer, tuple[str, ...] | None, str]]:
        """With a profile: the final answers, in the order they are sent. An entry breaking a
        strict rule comes after every entry that passes (each with "file: rule", the third
        value), or is withheld."""
        late: list[tuple[str, list[Answer]]] = []
        for found, entry in matches:
            report["matches"] += 1
            problems = strict_problems(entry.node) if profile.strict else ()
            if problems and profile.withhold_invalid:
                report["withheld"].append(_entry_note(entry, problems, redact))
                continue
            answers = shape(found, entry.node, entry.charset, query_charset, profile)
            if problems:
                late.append((_entry_note(entry, problems, redact), answers))
                continue
            for answer in answers:
                yield answer, None, ""
        for note, answers in late:
            for answer in answers:
                yield answer, None, note

    @staticmethod
    def _matches(query: CompiledQuery, entries: list[Entry], redact: bool = False
                 ) -> Iterator[tuple[Answer, Entry]]:
        """Each match with its entry."""
        for entry in entries:
            try:
                answer = query.answer(entry.node)
            except Exception as exc:  # one odd file must never fail the whole query
                if redact:  # neither the file's name nor the message (it may quote values)
                    log.error("matching %s failed (%s); the file is skipped",
                              file_label(entry.path, True), type(exc).__name__)
                else:
                    log.exception("matching %s failed; the file is skipped", entry.path)
                continue
            if answer is not None:
                yield answer, entry


def _entry_note(entry: Entry, problems: tuple[str, ...], redact: bool) -> str:
    """"file name: rule; rule" for the QueryEvent (the name as the logs show it)."""
    return f"{file_label(Path(entry.name), redact)}: {'; '.join(problems)}"


def _identifier(answer: Answer, implicit: bool) -> PreEncoded | Dataset:
    """The answer encoded here, or as a pydicom dataset when only pydicom can encode it."""
    try:
        return PreEncoded(answer.encode(implicit))
    except CannotEncode:
        return answer.to_dataset()
