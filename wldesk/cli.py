"""Command line: every command's body. ``wldesk serve`` (headless server), ``check`` (find problem
files), ``dump`` / ``load`` (a `.wl` file as DCMTK dump text or DICOM JSON, and back), ``selftest``;
without a command, the window."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wldesk import __version__
from wldesk.core import paths
from wldesk.core.check import check_folder
from wldesk.core.editing.document import encode_document, load_document, new_document, save_document
from wldesk.core.editing.dump import ParsedDump, dump_bytes, from_json, parse_dump, to_json
from wldesk.core.editing.errors import EditError
from wldesk.core.editing.values import worklist_problems
from wldesk.core.events import EventBus
from wldesk.core.libraries import configure_libraries
from wldesk.core.logs import EventLogger, setup_logging
from wldesk.core.net.server import ServerStartError, WorklistServer
from wldesk.core.settings import Settings, SettingsError, is_orthanc_config_file, load_settings

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
    serve.add_argument("--limit-answers", type=int, metavar="N",
                       help=f"at most N answers per query (0: "
                            f"{Settings.declaration('limit_answers').zero_label}; "
                            f"default {_default('limit_answers')})")

    check = sub.add_parser("check", help="list .wl files that cannot be served or lack keys "
                                         "modalities need; exit code 1 when any has a problem")
    check.add_argument("folder", nargs="?", type=Path, metavar="DIR",
                       help="folder to check (default: the configured worklist folder)")
    check.add_argument("--config", type=Path, metavar="FILE", dest="check_config",
                       help="settings file")

    dump = sub.add_parser("dump", help="print a .wl file as DCMTK dump text (what dump2dcm and "
                                       "'wldesk load' read), in the file's character set")
    dump.add_argument("file", type=Path, metavar="FILE", help="the .wl file")
    dump.add_argument("--json", action="store_true", help="print the DICOM JSON model instead")

    load = sub.add_parser("load", help="write a .wl file from a dump text (dcmdump/dump2dcm "
                                       "format) or a DICOM JSON file")
    load.add_argument("text", type=Path, metavar="TEXT", help="the dump or JSON text")
    load.add_argument("out", type=Path, metavar="OUT.wl", help="the .wl file to write")

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
    settings = load_effective_settings(args.serve_config or args.config, {
        "database": args.database, "port": args.port, "ae_title": args.aet,
        "bind_address": args.bind, "filter_issuer_aet": args.filter_issuer_aet,
        "limit_answers": args.limit_answers, "tls_certificate": args.tls_cert,
        "tls_key": args.tls_key, "tls_ca": args.tls_ca})
    folder = Path(settings.database)
    if folder == paths.default_worklist_dir():
        folder.mkdir(parents=True, exist_ok=True)
    setup_logging(paths.log_dir() / "wldesk.log")
    bus = EventBus()
    bus.subscribe(EventLogger(settings.redact_patient_data))
    server = WorklistServer(settings, bus)
    try:
        server.start()
    except ServerStartError as exc:
        log.error("%s", exc)
        return EXIT_PROBLEMS
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
    server.stop()
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    folder = args.folder or Path(
        load_effective_settings(args.check_config or args.config, {}).database)
    if not folder.is_dir():
        print(f"wldesk: error: {folder} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    findings = check_folder(folder)
    for finding in findings:
        print(finding)
    serious = {f.path for f in findings if f.serious}
    print(f"{len(serious)} file(s) with problems", file=sys.stderr)
    return EXIT_PROBLEMS if serious else EXIT_OK


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
        data = (to_json(doc.dataset) + "\n").encode("utf-8") if json else dump_bytes(doc.dataset)
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
        if args.command == "selftest":
            from wldesk.selftest import run  # loads Qt for its window check

            return run()
        return _gui(args)
    except SettingsError as exc:
        print(f"wldesk: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _gui(args: argparse.Namespace) -> int:
    from wldesk.gui.app import run_gui  # Qt is loaded only for the window

    settings = load_effective_settings(args.config, {})
    own_file = args.config is None or not is_orthanc_config_file(args.config)
    settings_path = args.config if args.config is not None and own_file \
        else paths.default_settings_path()
    return run_gui(settings, settings_path, args.minimized)
