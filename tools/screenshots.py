"""Screenshots of the real application for the documentation.

``python tools/screenshots.py docs/images`` fills a temporary worklist folder with sample
entries, starts the real server, sends a few queries as modalities would, and saves the main
window's tabs, the Worklist tab's day view, the tray menu, an entry open in the editor and the
new-entry form as PNG files. Runs offscreen when there is no display.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]

if TYPE_CHECKING:
    from wldesk.gui.mainwindow import MainWindow

SAMPLES = [  # patient, accession, modality, station, day offset, time, description, charset
    ("MÜLLER^JOSÉ", "ACC1001", "CT", "CT1", 0, "0830", "CT head without contrast", "ISO_IR 100"),
    ("DOE^JOHN", "ACC1002", "CT", "CT1", 0, "0915", "CT thorax", "ISO_IR 100"),
    ("ΠΑΠΑΔΟΠΟΥΛΟΣ^ΓΙΩΡΓΟΣ", "ACC1003", "MR", "MR1", 0, "1000", "MR knee left", "ISO_IR 192"),
    ("SMITH^ANN", "ACC1004", "US", "US1", 0, "1100", "US abdomen", "ISO_IR 100"),
    ("ÅSTRÖM^INGRID", "ACC1005", "CT", "CT2", 1, "0800", "CT abdomen with contrast", "ISO_IR 192"),
    ("NGUYEN^LINH", "ACC1006", "DX", "DX1", 1, "1330", "Chest PA and lateral", "ISO_IR 100"),
]


def write_samples(folder: Path) -> None:
    today = date.today()
    for number, (name, accession, modality, station, offset, start, text, charset) in \
            enumerate(SAMPLES, start=1):
        ds = Dataset()
        ds.SpecificCharacterSet = charset
        ds.PatientName = name
        ds.PatientID = f"PID{number:04}"
        ds.PatientBirthDate = f"19{50 + number * 7}0{number}1{number}"
        ds.PatientSex = "F" if number % 2 else "M"
        ds.AccessionNumber = accession
        ds.StudyInstanceUID = generate_uid()
        ds.RequestedProcedureID = f"RP{number:04}"
        ds.RequestedProcedureDescription = text
        step = Dataset()
        step.ScheduledStationAETitle = station
        step.Modality = modality
        step.ScheduledProcedureStepStartDate = (today + timedelta(days=offset)).strftime("%Y%m%d")
        step.ScheduledProcedureStepStartTime = start
        step.ScheduledProcedureStepID = f"SPS{number:04}"
        step.ScheduledProcedureStepDescription = text
        ds.ScheduledProcedureStepSequence = Sequence([step])
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = UID("1.2.276.0.7230010.3.1.0.1")
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(folder / f"{accession}.wl", enforce_file_format=True)
    (folder / "from-ris-export.wl").write_bytes((folder / "ACC1002.wl").read_bytes()[:300])


def query(port: int, calling: str, modality: str) -> None:
    ae = AE(ae_title=calling)
    ae.add_requested_context(ModalityWorklistInformationFind)
    assoc = ae.associate("127.0.0.1", port, ae_title="WLDESK")
    identifier = Dataset()
    identifier.PatientName = ""
    identifier.PatientID = ""
    identifier.AccessionNumber = ""
    step = Dataset()
    step.Modality = modality
    today = date.today().strftime("%Y%m%d")
    step.ScheduledProcedureStepStartDate = f"{today}-{today}"
    step.ScheduledStationAETitle = ""
    identifier.ScheduledProcedureStepSequence = Sequence([step])
    if assoc.is_established:
        for _ in assoc.send_c_find(identifier, ModalityWorklistInformationFind):
            pass
        assoc.release()


def main(argv: list[str]) -> int:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from wldesk.core.libraries import configure_libraries

    configure_libraries()
    out = Path(argv[0] if argv else "docs/images")
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="wldesk-shots-"))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        os.environ[name] = str(home / name.lower())

    from PySide6.QtWidgets import QApplication

    from wldesk.core.settings import KnownModality, Settings
    from wldesk.gui.controller import ServerController
    from wldesk.gui.mainwindow import MainWindow
    from wldesk.gui.resources import icon
    from wldesk.gui.tray import TrayIcon

    app = QApplication(sys.argv[:1])
    app.setWindowIcon(icon("wldesk"))
    folder = home / "worklists"
    folder.mkdir()
    write_samples(folder)
    with socket_port() as port:
        settings = Settings(database=str(folder), port=port, bind_address="127.0.0.1",
                            modalities=(KnownModality("CT room 1", "CT1"),
                                        KnownModality("MR scanner", "MR1"),
                                        KnownModality("Ultrasound", "US1")))
    controller = ServerController(settings, home / "settings.json")
    window = MainWindow(controller)
    window.resize(1180, 760)
    window.show()
    controller.start()

    def wait(condition: Callable[[], bool], seconds: float = 15) -> None:
        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.02)

    def settle(seconds: float = 1.2) -> None:
        wait(lambda: False, seconds)

    wait(lambda: controller.state == "running")
    for calling, modality in (("CT1", "CT"), ("MR1", "MR"), ("US1", "US"), ("CT1", "XA")):
        worker = threading.Thread(target=query, args=(port, calling, modality))
        worker.start()
        wait(lambda w=worker: not w.is_alive())  # type: ignore[misc]
    settle()
    shots = [(window.worklist, "worklist"), (window.activity, "activity"),
             (window.modalities, "modalities"), (window.settings, "settings")]
    for tab, name in shots:
        window.tabs.setCurrentWidget(tab)
        if tab is window.modalities:
            window.modalities.table.selectRow(0)
        if tab is window.activity:
            model = window.activity.table.model()
            queries = [row for row in range(model.rowCount())
                       if not str(model.index(row, 3).data()).startswith("association")]
            if queries:
                window.activity.table.selectRow(queries[0])
        settle(0.5)
        window.grab().save(str(out / f"{name}.png"))
    shoot_day_view(window, out, settle)
    window.tabs.setCurrentWidget(window.test_query)
    tab = window.test_query
    tab.calling_aet.setCurrentText("CT1")
    tab.modality.setCurrentText("CT")
    tab.run_query()
    wait(lambda: tab.last_outcome is not None)
    settle(0.8)
    window.grab().save(str(out / "test-query.png"))
    tray = TrayIcon(controller, window.bring_forward, app.quit)
    tray.rebuild_menu()
    tray.menu.adjustSize()
    tray.menu.grab().save(str(out / "tray-menu.png"))
    shoot_editor(window, folder / "ACC1003.wl", out, settle)
    shoot_new_entry(window, out, settle)
    controller.stop_and_wait()
    print(f"screenshots written to {out}")
    return 0


def shoot_day_view(window: MainWindow, out: Path, settle: Callable[[float], None]) -> None:
    """Today's steps by modality and station: one done, one in progress, one chosen."""
    from PySide6.QtCore import QItemSelectionModel

    from wldesk.core.flow.ledger import OrderKey
    from wldesk.core.flow.status import set_step_status

    ledger = window.controller.channels.ledger
    ledger.update(OrderKey("ACC1001"), set_step_status("COMPLETED"))
    ledger.update(OrderKey("ACC1002"), set_step_status("STARTED"))
    tab = window.worklist
    window.tabs.setCurrentWidget(tab)
    tab.day_button.setChecked(True)
    view = tab.day_view
    for _ in range(100):  # the store sees both rewrites
        if sum(step.status in ("COMPLETED", "STARTED")
               for group in view.model.groups for step in group.steps) == 2:
            break
        settle(0.1)
    chosen = next(((number, row) for number, group in enumerate(view.model.groups)
                   for row, step in enumerate(group.steps) if step.accession == "ACC1003"), None)
    if chosen is not None:
        index = view.model.index(chosen[1], 0, view.model.index(chosen[0], 0))
        view.tree.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
    settle(0.5)
    window.grab().save(str(out / "day-view.png"))
    tab.all_button.setChecked(True)


def shoot_editor(window: MainWindow, path: Path, out: Path,
                 settle: Callable[[float], None]) -> None:
    """An entry open in the editor, its step expanded, a key just emptied: the panel lists it."""
    from PySide6.QtCore import Qt

    from wldesk.gui.editor.model import DatasetModel

    editor = window.open_entry(path)
    while editor.loading:  # the file is read in the background
        settle(0.05)
    editor.resize(1180, 720)
    editor.save_as_template("MR knee")  # for the new-entry form's template list
    model = editor.model
    station = model.find("ScheduledProcedureStepSequence", 0, "ScheduledStationAETitle")
    model.setData(station, "", Qt.ItemDataRole.EditRole)
    modality = model.find("ScheduledProcedureStepSequence", 0, "Modality")
    editor.tree.setCurrentIndex(modality.siblingAtColumn(DatasetModel.TAG))
    editor.statusBar().showMessage("ScheduledStationAETitle emptied: modalities would drop this "
                                   "entry (Ctrl+Z undoes it)")
    settle(0.5)
    editor.grab().save(str(out / "editor.png"))
    editor.close_discarding()


def shoot_new_entry(window: MainWindow, out: Path, settle: Callable[[float], None]) -> None:
    dialog = window.new_entry_dialog()
    dialog.family_name.setText("Ferreira")
    dialog.given_name.setText("Ana")
    dialog.patient_id.setText("PID0042")
    dialog.birth_date.set_text_value("19781103")
    dialog.sex.setCurrentIndex(dialog.sex.findData("F"))
    dialog.referring_physician.setText("KOVACS^PETER")
    dialog.priority.setCurrentIndex(dialog.priority.findData("ROUTINE"))
    dialog.requested_description.setText("CT thorax with contrast")
    dialog.modality.setCurrentText("CT")
    dialog.station_aet.setCurrentIndex(0)
    dialog.show()
    dialog.adjustSize()
    settle(0.5)
    dialog.grab().save(str(out / "new-entry.png"))
    dialog.close()


class socket_port:
    """A free TCP port on 127.0.0.1 (closed again before the server binds it)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
