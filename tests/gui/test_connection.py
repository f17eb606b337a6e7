"""The connection card (address, AE title, port, Copy) and the "after restart" line."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from tests.helpers.ports import free_port
from wldesk.core.net.addresses import this_computer_addresses
from wldesk.core.settings import KnownModality, Settings
from wldesk.gui.connection import ConnectionCard, after_restart_text
from wldesk.gui.controller import ServerController


def test_copy_puts_the_three_lines_on_the_clipboard(qtbot: QtBot,
                                                    controller: ServerController) -> None:
    card = ConnectionCard(controller)
    qtbot.addWidget(card)
    qtbot.waitUntil(lambda: controller.addresses is not None, timeout=5000)
    settings = controller.settings
    expected = (f"Address: 127.0.0.1 (this computer only)\nAE title: {settings.ae_title}\n"
                f"Port: {settings.port}")
    assert card.lines.text() == expected
    card.copy_button.click()
    assert QGuiApplication.clipboard().text() == expected
    assert card.copy_button.text() == "Copied"
    qtbot.waitUntil(lambda: card.copy_button.text() == "Copy", timeout=5000)


def test_listening_on_every_address_shows_this_computers(qtbot: QtBot,
                                                         controller: ServerController) -> None:
    card = ConnectionCard(controller)
    qtbot.addWidget(card)
    controller.apply_settings(controller.settings.replace(bind_address="0.0.0.0"))
    ipv4 = [a for a in this_computer_addresses() if ":" not in a]
    first = (("Addresses: " if len(ipv4) > 1 else "Address: ") + ", ".join(ipv4) if ipv4
             else "Address: 127.0.0.1 (this computer only)")
    qtbot.waitUntil(lambda: card.text().splitlines()[0] == first, timeout=5000)
    assert card.title.text() == "When started, modalities connect to"  # stopped: what starts next


def test_after_restart_names_what_changes(tmp_path: Path) -> None:
    live = Settings(database=str(tmp_path), port=free_port())
    assert after_restart_text(None, live) == ""  # no server: nothing waits for a restart
    assert after_restart_text(live, live.replace(redact_patient_data=True)) == ""  # no restart needed
    assert after_restart_text(live, live.replace(ae_title="WLTEST", port=4243)) == \
        "After restart: AE title WLTEST · port 4243"
    saved = live.replace(bind_address="127.0.0.1", database=str(tmp_path / "other"), limit_answers=5,
                         modalities=[KnownModality("CT", "CT1")])
    assert after_restart_text(live, saved) == (
        f"After restart: address 127.0.0.1 · folder {tmp_path / 'other'} · 2 more changed settings")
