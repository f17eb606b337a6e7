"""Command line: every command's body. ``wldesk serve`` (headless server), ``check`` (find problem
files), ``dump`` / ``load`` (a `.wl` file as DCMTK dump text or DICOM JSON, and back), ``query``
(the Test query without the window), ``audit`` (the queries of a period, as CSV),
``modalities`` (the modality doctor's figures), ``selftest``; without a command, the window."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from wldesk import __version__
from wldesk.core import paths
from wldesk.core.audit import AuditLog, export_csv, read_period, write_csv
from wldesk.core.check import check_folder, profile_findings
from wldesk.core.editing.document import encode_document, load_document, new_document, save_document
from wldesk.core.editing.dump import ParsedDump, dump_bytes, from_json, parse_dump, to_json
from wldesk.core.editing.errors import EditError
from wldesk.core.editing.values import worklist_problems
from wldesk.core.events import EventBus
from wldesk.core.flow.mpps import make_mpps
from wldesk.core.flow.services import Channels
from wldesk.core.libraries import configure_libraries
from wldesk.core.logs import EventLogger, setup_logging
from wldesk.core.net.addresses import connection_card
from wldesk.core.net.doctor import FiguresFileError, ModalityDoctor, figures_path, read_figures
from wldesk.core.net.doctor_text import modality_views, report_text
from wldesk.core.net.probe import (
    DEFAULT_CALLING_AET,
    QUERY_TIMEOUT,
    QueryForm,
    Target,
    build_identifier,
    connect_host,
    explain_entries,
    flat_keys,
    identifier_from_keys,
    send_query,
)
from wldesk.core.net.server import ServerStartError, WorklistServer
from wldesk.core.query.matching import compile_query
from wldesk.core.query.values import QueryError
from wldesk.core.settings import Settings, SettingsError
from wldesk.core.settings_file import load_settings
from wldesk.core.store import FolderStore

log = logging.getLogger("wldesk")

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _default(name: str) -> str:
    """Setting ``name``'s declared default as the help shows it."""
    value = Settings.declaration(name).default_value()
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wldesk", description="DICOM Modality Worklist server for the .wl files of a folder.",
        epilog=f"settings: {paths.default_settings_path()}; logs: {paths.log_dir()}; "
               f"default worklist folder: {paths.default_worklist_dir()}")
    parser.add_argument("--version", action="version", version=f"wldesk {__version__}")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="settings file for the window: wldesk JSON, or an Orthanc "
                             "configuration file (changes are then saved to wldesk's own file)")
    parser.add_argument("--minimized", action="store_true",
                        help="start in the tray without showing the window")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the worklist server in the foreground (no GUI)")
    serve.add_argument("--config", type=Path, metavar="FILE", dest="serve_config",
                       help="settings file: wldesk JSON, or an Orthanc configuration file")
    serve.add_argument("--database", metavar="DIR", help="folder whose .wl files are served")
    serve.add_argument("--port", type=int, help=f"TCP port (default {_default('port')})")
    serve.add_argument("--aet", metavar="TITLE",
                       help=f"AE title of the server (default {_default('ae_title')})")
    serve.add_argument("--bind", metavar="ADDR",
                       help=f"local address to listen on (default {_default('bind_address')})")
    serve.add_argument("--filter-issuer-aet", action=argparse.BooleanOptionalAction, default=None,
                       help="serve each modality only the steps scheduled for its AE title "
                            f"(default {_default('filter_issuer_aet')})")
    serve.add_argument("--tls-cert", metavar="FILE",
                       help="TLS certificate (PEM): with --tls-key, DICOM TLS only")
    serve.add_argument("--tls-key", metavar="FILE", help="TLS private key (PEM) of the certificate")
    serve.add_argument("--tls-ca", metavar="FILE",
                       help="CA certificates (PEM) that modalities' certificates must be signed by")
    serve.add_argument("--rest-port", type=int, metavar="N",
                       help="serve the REST API (Orthanc's /worklists calls) on port N (0: off; "
                            f"default {_default('rest_port')})")
    serve.add_argument("--rest-bind", metavar="ADDR",
                       help="address the REST API listens on (default "
                            f"{_default('rest_bind_address')}; any other address needs a token "
                            "or a user name and password in the settings)")
    serve.add_argument("--limit-answers", type=int, metavar="N",
                       help=f"at most N answers per query (0: "
                            f"{Settings.declaration('limit_answers').zero_label}; "
                            f"default {_default('limit_answers')})")
    serve.add_argument("--hl7-port", type=int, metavar="N",
                       help="take HL7 v2 orders over MLLP on TCP port N (0: off; default "
                            f"{_default('hl7_port')})")

    check = sub.add_parser("check", help="list .wl files that cannot be served or lack keys "
                                         "modalities need; exit code 1 when any has a problem")
    check.add_argument("folder", nargs="?", type=Path, metavar="DIR",
                       help="folder to check (default: the configured worklist folder)")
    check.add_argument("--config", type=Path, metavar="FILE", dest="check_config",
                       help="settings file")
    check.add_argument("--modality", metavar="AE",
                       help="instead, list the entries that this AE title's profile would send "
                            "after all the others or withhold (strict rules), and why")

    dump = sub.add_parser("dump", help="print a .wl file as DCMTK dump text (what dump2dcm and "
                                       "'wldesk load' read), in the file's character set")
    dump.add_argument("file", type=Path, metavar="FILE", help="the .wl file")
    dump.add_argument("--json", action="store_true", help="print the DICOM JSON model instead")

    load = sub.add_parser("load", help="write a .wl file from a dump text (dcmdump/dump2dcm "
                                       "format) or a DICOM JSON file")
    load.add_argument("text", type=Path, metavar="TEXT", help="the dump or JSON text")
    load.add_argument("out", type=Path, metavar="OUT.wl", help="the .wl file to write")

    query = sub.add_parser(
        "query", help="ask a worklist server as a modality would (the Test query without the "
                      "window); exit code 1 when the query fails or no association is made",
        description="Send one worklist C-FIND and print the answers. The keys are the Test query "
                    "tab's (the usual return keys of a modality); -k adds or overrides keys as "
                    "in findscu.")
    query.add_argument("--host", help="server address (default: this computer, where the "
                                      "configured server listens)")
    query.add_argument("--port", type=int, help="server port (default: the configured port)")
    query.add_argument("--aec", metavar="TITLE",
                       help="called AE title (default: the configured AE title)")
    query.add_argument("--aet", metavar="TITLE", default=DEFAULT_CALLING_AET,
                       help=f"calling AE title, the modality's (default {DEFAULT_CALLING_AET})")
    query.add_argument("-k", "--key", action="append", default=[], metavar="KEY[=VALUE]",
                       dest="keys", help="a query key, as in findscu: PatientName=DOE*, "
                                         "ScheduledProcedureStepSequence[0].Modality=CT, "
                                         "(0010,0020)=123, or a keyword alone (a return key); "
                                         "repeatable")
    query.add_argument("--json", action="store_true",
                       help="print the answers as a JSON list of DICOM JSON objects")
    query.add_argument("--explain", action="store_true",
                       help="also say why each entry of the worklist folder is not an answer")
    query.add_argument("--folder", type=Path, metavar="DIR",
                       help="the folder for --explain (default: the configured worklist folder)")
    query.add_argument("--timeout", type=float, default=QUERY_TIMEOUT, metavar="SECONDS",
                       help=f"network timeout (default {QUERY_TIMEOUT:g})")
    query.add_argument("--config", type=Path, metavar="FILE", dest="query_config",
                       help="settings file (for the defaults of --port, --aec, --folder)")

    audit = sub.add_parser(
        "audit", help="print the queries of a period from the audit log, as CSV",
        description="The queries (and refused associations) the server and the window logged "
                    f"in {paths.audit_dir()}, e.g. to see what a modality asked at 9:05. Times "
                    "are this computer's local time, as 2026-12-01T08:00 (or a date alone: from "
                    "its start, or --to its end).")
    audit.add_argument("--from", dest="start", metavar="TIME",
                       help="start of the period (default: today 00:00)")
    audit.add_argument("--to", dest="end", metavar="TIME", help="end of the period, included "
                                                                "(default: now)")
    audit.add_argument("--csv", type=Path, metavar="FILE",
                       help="write the CSV to FILE (UTF-8 with BOM, for spreadsheets) instead of "
                            "printing it")

    modalities = sub.add_parser(
        "modalities", help="what each modality did with the server: last association and query, "
                           "answers, refusals and why, known modalities that never asked",
        description="Print the modality doctor's figures, which the running server (wldesk serve "
                    "or the window) keeps in the state folder. Reads them only: safe while a "
                    "server runs.")
    modalities.add_argument("--config", type=Path, metavar="FILE", dest="modalities_config",
                            help="settings file (for the known modalities)")

    sub.add_parser("selftest", help="check this installation on a temporary folder and free local "
                                    "ports: server, C-ECHO, worklist C-FIND, window (offscreen); "
                                    "exit code 1 when a check fails")
    return parser


def load_effective_settings(config: Path | None, overrides: dict[str, Any]) -> Settings:
    """Settings from ``config`` (or the user's settings file, when it exists) plus overrides."""
    path = config if config is not None else paths.default_settings_path()
    settings = load_settings(path) if config is not None or path.exists() else Settings()
    return settings.replace(**{k: v for k, v in overrides.items() if v is not None})


def _serve(args: argparse.Namespace) -> int:
    # Before the settings are read: what reading them warns about (a key this wldesk does not
    # know) goes to the log file too.
    setup_logging(paths.log_dir() / "wldesk.log")
    settings = load_effective_settings(args.serve_config or args.config, {
        "database": args.database, "port": args.port, "ae_title": args.aet,
        "bind_address": args.bind, "filter_issuer_aet": args.filter_issuer_aet,
        "limit_answers": args.limit_answers, "tls_certificate": args.tls_cert,
        "tls_key": args.tls_key, "tls_ca": args.tls_ca, "hl7_port": args.hl7_port,
        "rest_port": args.rest_port, "rest_bind_address": args.rest_bind})
    folder = Path(settings.database)
    if folder == paths.default_worklist_dir():
        folder.mkdir(parents=True, exist_ok=True)
    bus = EventBus()
    bus.subscribe(EventLogger(settings.redact_patient_data))
    audit = AuditLog(paths.audit_dir(), settings.audit_days, settings.redact_patient_data)
    bus.subscribe(audit)
    doctor = ModalityDoctor(settings)
    doctor.start(bus)
    server = WorklistServer(settings, bus, mpps=make_mpps(settings, bus))
    try:
        server.start()
    except ServerStartError as exc:
        log.error("%s", exc)
        doctor.stop()
        return EXIT_PROBLEMS
    audit.start()
    channels = Channels(settings, bus)
    channels.start()
    print(connection_card(settings), "Ctrl-C to stop", sep="\n", flush=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if hasattr(signal, "SIGBREAK"):
        signal.signal(signal.SIGBREAK, on_signal)
    while not stop.wait(1.0):
        pass
    channels.stop()
    server.stop()
    audit.stop()
    doctor.stop()
    return EXIT_OK


def _period_time(text: str | None, option: str, *, end: bool) -> datetime:
    """``--from``/``--to``'s time (local): a date alone is its start, or with ``end`` its last
    second; raises ValueError naming the option."""
    if text is None:
        now = datetime.now()
        return now if end else now.replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{option} {text!r}: not a date and time such as 2026-12-01T09:05 "
                         f"or 2026-12-01") from None
    if end and len(text.strip()) == 10:  # a date alone
        moment += timedelta(days=1, seconds=-1)
    return moment


def audit_command(args: argparse.Namespace) -> int:
    """``wldesk audit [--from TIME] [--to TIME] [--csv FILE]``: the audit log's queries of the
    period as CSV, on stdout or in FILE; lines that cannot be read are notes on stderr. Exit code
    0; 2 for a time that cannot be read; 1 when FILE cannot be written."""
    try:
        start = _period_time(args.start, "--from", end=False)
        end = _period_time(args.end, "--to", end=True)
    except ValueError as exc:
        _error(str(exc))
        return EXIT_USAGE
    if start.astimezone() > end.astimezone():
        _error(f"--from is after --to ({start:%Y-%m-%d %H:%M:%S} > {end:%Y-%m-%d %H:%M:%S})")
        return EXIT_USAGE

    def note(text: str) -> None:
        print(f"wldesk: note: {text}", file=sys.stderr)

    folder = paths.audit_dir()
    if args.csv is None:
        sys.stdout.reconfigure(encoding="utf-8", newline="")  # type: ignore[union-attr]
        write_csv(read_period(folder, start, end, note), sys.stdout)
        sys.stdout.flush()
        return EXIT_OK
    try:
        count = export_csv(folder, start, end, args.csv, note)
    except OSError as exc:
        _error(f"cannot write {args.csv}: {exc.strerror or exc}")
        return EXIT_PROBLEMS
    print(f"{count} lines written to {args.csv}", file=sys.stderr)
    return EXIT_OK


def modalities_command(args: argparse.Namespace) -> int:
    """``wldesk modalities``: the modality doctor's figures, one block per AE title (read only).
    Exit code 0; 1 when the figures file cannot be read."""
    settings = load_effective_settings(args.modalities_config or args.config, {})
    path = figures_path()
    try:
        figures = read_figures(path)
    except (FiguresFileError, OSError, UnicodeDecodeError) as exc:
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        _error(f"cannot read the modality figures {path}: {text}")
        return EXIT_PROBLEMS
    views = modality_views(figures, settings, datetime.now().astimezone().date().isoformat())
    sys.stdout.buffer.write(report_text(views).encode("utf-8"))
    sys.stdout.buffer.flush()
    if figures is None:
        print(f"(no figures kept yet: a running server writes them to {path})", file=sys.stderr)
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    settings = (load_effective_settings(args.check_config or args.config, {})
                if args.folder is None or args.modality is not None else None)
    folder = args.folder or Path(settings.database if settings is not None else "")
    if not folder.is_dir():
        print(f"wldesk: error: {folder} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    if args.modality is not None and settings is not None:
        return _check_modality(folder, settings, args.modality)
    findings = check_folder(folder)
    for finding in findings:
        print(finding)
    serious = {f.path for f in findings if f.serious}
    print(f"{len(serious)} file(s) with problems", file=sys.stderr)
    return EXIT_PROBLEMS if serious else EXIT_OK


def _check_modality(folder: Path, settings: Settings, ae_title: str) -> int:
    """``wldesk check --modality AE``: what AE's profile sends last or withholds, and why."""
    known = settings.find_modality(ae_title)
    profile = settings.profile_for(ae_title)
    whose = ("its own profile" if known is not None and known.profile is not None
             else "the default profile")
    print(f"{ae_title.strip()}: {whose} ({profile.summary()})", file=sys.stderr)
    findings = profile_findings(folder, profile)
    for finding in findings:
        print(finding)
    if not profile.strict:
        print("the profile is not strict: every matching entry is sent, in the folder's order",
              file=sys.stderr)
    else:
        print(f"{len(findings)} file(s) {'withheld' if profile.withhold_invalid else 'sent last'}",
              file=sys.stderr)
    return EXIT_PROBLEMS if findings else EXIT_OK


def _error(message: str) -> None:
    print(f"wldesk: error: {message}", file=sys.stderr)


def dump_command(path: Path, *, json: bool = False) -> int:
    """``wldesk dump FILE [--json]``: print the `.wl` file as a dump (in the file's character
    set, like dcmdump, so that ``dump2dcm`` and ``wldesk load`` read it back) or as DICOM JSON.
    Exit code 0, or 2 when the file cannot be read."""
    try:
        doc = load_document(path)
    except EditError as exc:
        _error(str(exc))
        return EXIT_USAGE
    for note in doc.notes:
        print(f"wldesk: note: {path}: {note}", file=sys.stderr)
    try:
        data = ((to_json(doc.dataset, whole=True) + "\n").encode("utf-8") if json
                else dump_bytes(doc.dataset, whole=True))
    except EditError as exc:
        _error(f"{path}: {exc}")
        return EXIT_USAGE
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return EXIT_OK


def load_command(text_path: Path, out_path: Path) -> int:
    """``wldesk load TEXT OUT.wl``: make a `.wl` file from a dump or a DICOM JSON text, written
    atomically (explicit VR little endian with a new file meta, or the dump's own file meta and
    transfer syntax). Notes and the keys modalities need that are missing go to stderr. Exit code
    0; 2 when the text cannot be read or encoded; 1 when the file cannot be written."""
    try:
        data = Path(text_path).read_bytes()
    except OSError as exc:
        _error(f"cannot read {text_path}: {exc.strerror or exc}")
        return EXIT_USAGE
    try:
        if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
            parsed = ParsedDump(from_json(data.decode("utf-8")))
        else:
            parsed = parse_dump(data)
        doc = new_document(parsed.dataset)
        encode_document(doc)
    except (EditError, UnicodeDecodeError) as exc:
        _error(f"{text_path}: {exc}")
        return EXIT_USAGE
    for note in parsed.notes:
        print(f"wldesk: note: {text_path}: {note}", file=sys.stderr)
    try:
        save_document(doc, out_path, force=True)
    except EditError as exc:
        _error(str(exc))
        return EXIT_PROBLEMS
    for problem in worklist_problems(doc.dataset):
        print(f"wldesk: warning: {out_path}: {problem} (modalities may drop this entry)",
              file=sys.stderr)
    return EXIT_OK


def query_command(args: argparse.Namespace) -> int:
    """``wldesk query``: one C-FIND as the Test query sends it, with ``-k`` keys on top; the
    answers as ``Keyword=value`` lines (one block per answer) or, with ``--json``, a JSON list of
    DICOM JSON objects on stdout; the outcome on stderr. ``--explain`` prints why each entry of the
    folder is not an answer. Exit code 0, 1 when the query fails or no association is made, 2 for
    a key that cannot be read."""
    settings = load_effective_settings(args.query_config or args.config, {})
    target = Target(args.host or connect_host(settings.bind_address), args.port or settings.port,
                    args.aec or settings.ae_title, settings.filter_issuer_aet,
                    settings.hidden_statuses)
    form = QueryForm(calling_aet=args.aet)
    try:
        identifier = identifier_from_keys(args.keys, build_identifier(form))
    except ValueError as exc:
        _error(f"-k: {exc}")
        return EXIT_USAGE
    result = send_query(form, target, identifier, args.timeout)
    sys.stdout.flush()
    if args.json:
        text = json.dumps([answer.to_json_dict() for answer in result.answers], indent=1,
                          ensure_ascii=False)
        sys.stdout.buffer.write((text + "\n").encode("utf-8"))
    else:
        lines: list[str] = []
        for number, answer in enumerate(result.answers, 1):
            lines.append(f"# answer {number}")
            lines += [f"{path}={text}" for path, text in flat_keys(answer)]
            lines.append("")
        sys.stdout.buffer.write("".join(f"{line}\n" for line in lines).encode("utf-8"))
    sys.stdout.buffer.flush()
    print(f"{target.host}:{target.port} {target.called_aet}: {result.status}", file=sys.stderr)
    if args.explain:
        _explain(args, settings, identifier, result.answers if result.reached else None)
    return EXIT_OK if result.ok else EXIT_PROBLEMS


def _explain(args: argparse.Namespace, settings: Settings, identifier: Dataset,
             answers: list[Dataset] | None) -> None:
    """Why each entry of the folder is not an answer: to stdout, or to stderr under --json."""
    out = sys.stderr if args.json else sys.stdout
    folder = args.folder or Path(settings.database)
    try:
        query = compile_query(identifier,
                              issuer_aet=args.aet if settings.filter_issuer_aet else None,
                              hidden_statuses=settings.hidden_statuses)
    except QueryError as exc:
        print(f"# cannot explain: invalid query: {exc}", file=out)
        return
    explanation = explain_entries(FolderStore(folder).refresh(), query, answers)
    if answers is None:
        print(f"# the server was not asked; worked out from {folder}: "
              f"{len(explanation.matching)} entries would match", file=out)
    print(f"# not answers, from {folder}: {len(explanation.others)}", file=out)
    for name, why in explanation.others:
        print(f"{name}: {why}", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    configure_libraries()
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "check":
            return _check(args)
        if args.command == "dump":
            return dump_command(args.file, json=args.json)
        if args.command == "load":
            return load_command(args.text, args.out)
        if args.command == "query":
            return query_command(args)
        if args.command == "audit":
            return audit_command(args)
        if args.command == "modalities":
            return modalities_command(args)
        if args.command == "selftest":
            from wldesk.selftest import run  # loads Qt for its window check

            return run()
        return _gui(args)
    except SettingsError as exc:
        print(f"wldesk: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _gui(args: argparse.Namespace) -> int:
    from wldesk.gui.system_libraries import missing_library_advice, x11_problem

    try:
        problem = x11_problem()  # instead of Qt's abort, which names libxcb-cursor0 whatever is missing
        from wldesk.gui.app import run_gui  # Qt is loaded only for the window
    except ImportError as exc:
        problem = missing_library_advice(exc)
        if problem is None:
            raise
    if problem is not None:
        print(f"wldesk: {problem}", file=sys.stderr)
        return EXIT_PROBLEMS
    # The window reads its settings itself, leniently: a file with problems opens the window
    # with them in a dialog (``wldesk serve`` and the other commands stop, exit code 2).
    return run_gui(args.config, args.minimized)
