"""``wldesk selftest``: check that this installation works, end to end, without touching its data.

Runs, each on its own line ("ok", "warn" or "FAIL" and what was seen):

* the worklist server on a free port of 127.0.0.1, serving a temporary folder with one ``.wl``
  file written here with pydicom;
* a C-ECHO against it with pynetdicom, and a Modality Worklist C-FIND sent by the Test query's
  probe (:mod:`wldesk.core.net.probe`, pynetdicom too): one answer, then Success;
* whether that C-FIND's answer went out through wldesk's fast answer path (batched pending
  responses, :mod:`wldesk.core.net.fastfind`). When this pynetdicom cannot take wldesk's batching
  DUL the server fails open: it answers through pynetdicom's standard path, the same answers,
  only slower for long worklists. That is reported as a warning line, ``warn fast answer path:
  fast path off: <why>``, not as a failure: modalities are still answered, so the selftest
  passes (exit code 0) and its last line says how many warnings there were;
* the application's resources (SVG icons rendered through Qt's svg plugins);
* the window application (tray, window, single-instance channel) started on Qt's offscreen
  platform unless another platform was asked for, then quit.

Nothing of the user's settings, worklists or running wldesk is used or changed: the folder and the
settings file are temporary, the single-instance channel has a private name. Exit code 0 when
every check passed (warnings included), 1 otherwise. Meant for installers, CI and support ("does
this PC run it?").
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wldesk import __version__

MWL_FIND = "1.2.840.10008.5.1.4.31"
PATIENT = "SELFTEST^WLDESK"


class CheckFailed(Exception):
    """A check saw something wrong; the message says what."""


class CheckWarning(Exception):
    """A check saw something worth knowing that does not stop wldesk from working."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_worklist(folder: Path) -> Path:
    """One complete worklist entry, as a DICOM Part 10 file written by pydicom."""
    from pydicom import dcmwrite
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    sps = Dataset()
    sps.ScheduledStationAETitle = "SELFTEST"
    sps.ScheduledProcedureStepStartDate = time.strftime("%Y%m%d")
    sps.ScheduledProcedureStepStartTime = "0900"
    sps.Modality = "OT"
    sps.ScheduledProcedureStepID = "SPS-SELFTEST"
    sps.ScheduledProcedureStepDescription = "wldesk self-test"
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.AccessionNumber = "SELFTEST1"
    ds.PatientName = PATIENT
    ds.PatientID = "SELFTEST"
    ds.PatientBirthDate = "19700101"
    ds.StudyInstanceUID = generate_uid()
    ds.RequestedProcedureID = "RP-SELFTEST"
    ds.RequestedProcedureDescription = "wldesk self-test"
    ds.ScheduledProcedureStepSequence = [sps]
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = UID(MWL_FIND)
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    path = folder / "selftest.wl"
    dcmwrite(path, ds, enforce_file_format=True)
    return path


class SelfTest:
    """The checks; :meth:`check` runs one and prints its line."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.failures = 0
        self.warnings = 0
        self.server: Any = None
        self.port = 0

    def check(self, name: str, func: Callable[[], str]) -> bool:
        started = time.monotonic()
        try:
            detail = func()
        except CheckFailed as exc:
            self.failures += 1
            print(f"FAIL {name}: {exc}", flush=True)
            return False
        except CheckWarning as exc:
            self.warnings += 1
            print(f"warn {name}: {exc}", flush=True)
            return True
        except Exception as exc:  # a crash is a failed check with its cause, not a traceback dump
            self.failures += 1
            where = traceback.extract_tb(exc.__traceback__)[-1]
            print(f"FAIL {name}: {type(exc).__name__}: {exc} "
                  f"({Path(where.filename).name}:{where.lineno})", flush=True)
            return False
        print(f"ok   {name}: {detail} ({time.monotonic() - started:.2f} s)", flush=True)
        return True

    # --- checks --------------------------------------------------------------------------------

    def environment(self) -> str:
        frozen = "frozen bundle " + str(getattr(sys, "_MEIPASS", "")) if getattr(sys, "frozen", False) \
            else "Python " + sys.executable
        import pydicom
        import pynetdicom

        from wldesk.core.query.profiles import transliterate

        # the profiles' transliteration tables are data files: a bundle without them fails here
        sample = transliterate("Ødegård Łukasz 北", "ascii")
        if sample != "Odegard Lukasz Bei":
            raise RuntimeError(f"transliteration gives {sample!r}, not 'Odegard Lukasz Bei'")
        return (f"wldesk {__version__}, Python {sys.version.split()[0]} on {sys.platform}, "
                f"pydicom {pydicom.__version__}, pynetdicom {pynetdicom.__version__}, {frozen}")

    def start_server(self) -> str:
        from wldesk.core.net.server import WorklistServer
        from wldesk.core.settings import Settings

        folder = self.workdir / "worklists"
        folder.mkdir()
        written = _write_worklist(folder)
        settings = Settings(database=str(folder), port=_free_port(), bind_address="127.0.0.1",
                            ae_title="WLDESK", start_at_launch=False)
        self.server = WorklistServer(settings, index_cache=self.workdir / "index")
        self.server.start()
        self.port = self.server.port
        if not self.server.store.wait_ready(20):
            raise CheckFailed("the worklist folder was not indexed within 20 s")
        return f"listening on 127.0.0.1:{self.port}, serving {written.name}"

    def _associate(self, context: str) -> Any:
        from pynetdicom import AE

        if self.server is None:
            raise CheckFailed("the server did not start")
        ae = AE(ae_title="SELFTEST")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
        ae.add_requested_context(context)
        assoc = ae.associate("127.0.0.1", self.port, ae_title="WLDESK")
        if not assoc.is_established:
            raise CheckFailed(f"no association with 127.0.0.1:{self.port} (rejected or aborted)")
        return assoc

    def echo(self) -> str:
        assoc = self._associate("1.2.840.10008.1.1")
        try:
            status = assoc.send_c_echo()
        finally:
            assoc.release()
        if status is None or "Status" not in status:
            raise CheckFailed("no C-ECHO response")
        if status.Status != 0:
            raise CheckFailed(f"C-ECHO status 0x{status.Status:04X}, expected Success")
        return "Success (0x0000)"

    def find(self) -> str:
        """The C-FIND a modality sends, through the Test query's probe (wldesk.core.net.probe)."""
        from wldesk.core.net.probe import QueryForm, Target, build_identifier, send_query

        if self.server is None:
            raise CheckFailed("the server did not start")
        form = QueryForm(calling_aet="SELFTEST", patient_name="SELFTEST*")
        target = Target("127.0.0.1", self.port, "WLDESK", filter_issuer_aet=False)
        result = send_query(form, target, build_identifier(form), timeout=20)
        if not result.reached:
            raise CheckFailed(result.status)
        if result.final_status != 0:
            raise CheckFailed(f"{result.status}; expected Success (0x0000)")
        answers = result.answers
        if len(answers) != 1:
            raise CheckFailed(f"{len(answers)} answers, expected 1")
        name = str(answers[0].get("PatientName", ""))
        if name != PATIENT:
            raise CheckFailed(f"the answer's PatientName is {name!r}, expected {PATIENT!r}")
        return f"1 answer ({name}, accession {answers[0].get('AccessionNumber', '')}), Success"

    def fast_path(self) -> str:
        """Whether the answers went out through the fast answer path (ask after :meth:`find`)."""
        if self.server is None:
            raise CheckFailed("the server did not start")
        state = self.server.fast_path
        if not state.is_on:
            raise CheckWarning(f"fast path off: {state.off_reason}; queries are answered through "
                               "pynetdicom's standard path (the same answers, slower for long "
                               "worklists)")
        if not state.used:
            raise CheckFailed("the C-FIND was not answered through the fast answer path")
        return "on (pending answers batched by wldesk's DUL)"

    def stop_server(self) -> str:
        if self.server is None:
            raise CheckFailed("the server did not start")
        self.server.stop()
        self.server = None
        return "stopped"

    def gui(self) -> str:
        if not os.environ.get("QT_QPA_PLATFORM"):
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from wldesk.gui.system_libraries import missing_library_advice

        try:
            from PySide6.QtCore import QCoreApplication, QEventLoop, QSize
            from PySide6.QtGui import QImageReader
            from PySide6.QtWidgets import QApplication
        except ImportError as exc:
            problem = missing_library_advice(exc)
            if problem is None:
                raise
            raise CheckFailed(problem) from exc

        from wldesk.core.settings import Settings
        from wldesk.gui.app import WldeskApp
        from wldesk.gui.resources import icon, resources_dir

        app = QApplication.instance() or QApplication(sys.argv[:1])
        assert isinstance(app, QApplication)
        platform = app.platformName()
        formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
        if "svg" not in formats:
            raise CheckFailed(f"Qt cannot read SVG images (the svg imageformat plugin is missing; "
                              f"formats: {', '.join(sorted(formats))})")
        rendered = []
        for name in ("wldesk", "state-running", "state-stopped", "state-starting", "state-error"):
            pixmap = icon(name).pixmap(QSize(32, 32))
            if pixmap.isNull():
                raise CheckFailed(f"the icon {name}.svg renders empty (the svg iconengine plugin "
                                  "is missing?)")
            rendered.append(name)
        folder = self.workdir / "gui-worklists"
        folder.mkdir()
        settings = Settings(database=str(folder), port=_free_port(), bind_address="127.0.0.1",
                            start_at_launch=False)
        instance = f"wldesk-selftest-{os.getpid()}"
        # its own audit folder: the real one's days are the installed settings' to keep or delete
        main = WldeskApp(settings, self.workdir / "gui-settings.json", minimized=True,
                         instance_name=instance, state_folder=self.workdir / "gui-state")
        try:
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
                time.sleep(0.02)
            if not main.instance.isListening():
                raise CheckFailed(f"the single-instance channel {instance!r} is not listening: "
                                  f"{main.instance.errorString()}")
            shown = "tray icon" if main.tray.isVisible() else \
                "window" if main.window.isVisible() else None
            if shown is None:
                raise CheckFailed("neither the tray icon nor the window is visible")
        finally:
            main.quit()
            QCoreApplication.processEvents()
            main.deleteLater()
            QCoreApplication.processEvents()
        return (f"platform {platform}, {shown} shown, single-instance channel listening, "
                f"{len(rendered)} SVG icons rendered from {resources_dir()}")


def run() -> int:
    """Run every check, print one line each; 0 when all passed, 1 otherwise."""
    from wldesk.core.libraries import configure_libraries

    configure_libraries()
    with tempfile.TemporaryDirectory(prefix="wldesk-selftest-") as tmp:
        test = SelfTest(Path(tmp))
        test.check("environment", test.environment)
        if test.check("server", test.start_server):
            test.check("C-ECHO", test.echo)
            if test.check("MWL C-FIND", test.find):
                test.check("fast answer path", test.fast_path)
            test.check("server stop", test.stop_server)
        elif test.server is not None:
            test.server.stop()
        test.check("GUI", test.gui)
    if test.failures:
        print(f"selftest: {test.failures} check(s) FAILED", flush=True)
        return 1
    warned = f", {test.warnings} warning(s)" if test.warnings else ""
    print(f"selftest: all checks passed{warned}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run())
