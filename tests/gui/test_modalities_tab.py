"""The Modalities tab against a real controller and server, with pynetdicom as the modalities.

The figures and their words without Qt: tests/core/net/test_doctor.py."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from tests.helpers.samples import name_query, write_entry
from wldesk.core.net.doctor_text import modality_views
from wldesk.core.net.scu import find
from wldesk.core.settings import KnownModality, Settings
from wldesk.gui.controller import ServerController
from wldesk.gui.mainwindow import MainWindow
from wldesk.gui.modalities_tab import UNKNOWN, ModalitiesModel, ModalitiesTab

TODAY = f"{date.today():%Y%m%d}"
KNOWN = (KnownModality("CT room 1", "CT1"), KnownModality("Ultrasound", "US1"))
REFUSED = r"is not a known modality|Association Rejected|Result: Rejected|Reason: "


def serve(qtbot: QtBot, controller: ServerController, folder: Path) -> None:
    write_entry(folder, "ct.wl", station="CT1", modality="CT", date=TODAY)
    controller.apply_settings(controller.settings.replace(
        allow_unknown_modalities=False, modalities=KNOWN))
    controller.start()
    qtbot.waitUntil(lambda: controller.state == "running", timeout=10000)


def associate(controller: ServerController, calling: str) -> Association:
    assert controller.server is not None
    ae = AE(ae_title=calling)
    ae.add_requested_context(ModalityWorklistInformationFind)
    return ae.associate("127.0.0.1", controller.server.port, ae_title="WLDESK")


def query_as_ct1(controller: ServerController) -> None:
    assoc = associate(controller, "CT1")
    try:
        assert len(find(assoc, name_query(Modality="CT", ScheduledStationAETitle="CT1",
                                          ScheduledProcedureStepStartDate=TODAY)).answers) == 1
    finally:
        assoc.release()


def rows(tab: ModalitiesTab) -> dict[str, list[str]]:
    model = tab.model
    return {model.cell(r, 0): [model.cell(r, c) for c in range(len(model.COLUMNS))]
            for r in range(model.rowCount())}


@pytest.mark.expect_log_warnings(REFUSED)
def test_the_tab_shows_a_refusal_a_query_and_a_modality_that_never_asked(
        qtbot: QtBot, controller: ServerController, worklist_folder: Path) -> None:
    serve(qtbot, controller, worklist_folder)
    window = MainWindow(controller)
    qtbot.addWidget(window)
    tab = window.modalities
    assert window.tabs.tabText(window.tabs.indexOf(tab)) == "Modalities"
    assert window.tabs.indexOf(tab) == window.tabs.indexOf(window.activity) + 1
    window.show()  # on the Worklist tab: the hidden Modalities tab is refreshed once shown
    assert associate(controller, "CT9").is_rejected
    query_as_ct1(controller)
    qtbot.waitUntil(lambda: any(v.ae_title == "CT9" for v in controller.modality_views()),
                    timeout=5000)
    qtbot.wait(500)  # longer than the tab's refresh delay
    assert "CT9" not in rows(tab)
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: "CT9" in rows(tab) and rows(tab)["CT1"][4] == "1", timeout=5000)
    shown = rows(tab)
    assert list(shown) == ["CT1", "US1", "CT9"]
    assert shown["CT9"][1] == UNKNOWN
    assert shown["CT9"][7] == ("refused: unknown AE title CT9 from 127.0.0.1: add it to the "
                               "known modalities")
    assert shown["US1"][7] == f"never queried since {date.today():%Y-%m-%d}"
    assert shown["CT1"][3].endswith(
        f": Modality CT, scheduled date {date.today():%Y-%m-%d}, station CT1")
    assert shown["CT1"][5] == "Success (0x0000)" and shown["CT1"][6] == "1"

    assert tab.select("CT1")
    details = tab.details.toPlainText()
    assert details.startswith("CT1 — CT room 1\nKnown modality: CT room 1\nLast association: ")
    assert "Answers sent: 1\nFinal status: Success (0x0000)\n" in details
    assert tab.card.text() == "\n".join(controller.connection_lines())
    assert tab.firewall_row.isHidden()  # not Windows

    tab.test_button.click()  # Test query, as CT1 asked
    test = window.test_query
    assert window.tabs.currentWidget() is test
    assert test.calling_aet.currentText() == "CT1"
    assert test.date_today.isChecked()
    assert test.modality.currentText() == "CT" and test.station.text() == "CT1"
    assert test.patient_name.text() == ""


def test_the_figures_are_there_after_a_restart_of_the_window(
        qtbot: QtBot, controller: ServerController, worklist_folder: Path,
        tmp_path: Path) -> None:
    serve(qtbot, controller, worklist_folder)
    query_as_ct1(controller)
    settings = controller.settings
    controller.stop_and_wait()  # quitting writes what is not written yet
    again = ServerController(settings, tmp_path / "settings.json")
    try:
        tab = ModalitiesTab(again)
        qtbot.addWidget(tab)
        tab.show()
        assert rows(tab)["CT1"][6] == "1"
        again.start()
        qtbot.waitUntil(lambda: again.state == "running", timeout=10000)
        query_as_ct1(again)
        qtbot.waitUntil(lambda: rows(tab)["CT1"][6] == "2", timeout=5000)
    finally:
        again.stop_and_wait()


def test_redacted_keys_are_not_filled_in(qtbot: QtBot, controller: ServerController) -> None:
    window = MainWindow(controller)
    qtbot.addWidget(window)
    window.test_as_modality("US1", {"PatientName": "<redacted>", "Modality": "US",
                                    "ScheduledProcedureStepStartDate": "20261201-20261203"})
    test = window.test_query
    assert test.calling_aet.currentText() == "US1" and test.patient_name.text() == ""
    assert test.date_range.isChecked()
    assert test.date_from.date().toString("yyyyMMdd") == "20261201"
    assert test.date_to.date().toString("yyyyMMdd") == "20261203"


def test_model(qtmodeltester: ModelTester) -> None:
    model = ModalitiesModel()
    model.set_views(modality_views(None, Settings(modalities=KNOWN), f"{date.today()}"))
    qtmodeltester.check(model)  # type: ignore[no-untyped-call]
    assert model.rowCount() == 2 and model.cell(1, 1) == "Ultrasound"
