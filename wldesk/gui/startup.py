"""The start-up problems dialog: why the worklist server is not running after the window opened
(a settings file with problems, a missing worklist folder, a port in use), and what to do.

It is not modal: the window stays usable behind it, and the server may be down, the window never.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QVBoxLayout,
)

from wldesk.core.settings import Settings, SettingsProblem
from wldesk.gui.mainwindow import MainWindow
from wldesk.gui.tasks import run_in_background
from wldesk.gui.tray import open_folder

CHANGE = "Change settings"
OPEN_FILE = "Open settings file"
READ_AGAIN = "Read the file again"
RESET = "Reset to defaults (keeping a backup)"
CREATE_FOLDER = "Create the folder"
TRY_AGAIN = "Try again"
CLOSE = "Close"


def _text(value: object) -> str:
    """``value`` as text inside the dialog's rich text."""
    return html.escape(str(value), quote=False)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


PROBLEMS_HEADING = "The worklist server was not started: the settings file has problems"


def _problems_body(settings_source: Path, problems: Sequence[SettingsProblem]) -> str:
    items = "".join(f"<li>{_text(problem.message)}</li>" for problem in problems)
    return (f"<p>wldesk could not use everything in its settings file<br>"
            f"<code>{_text(settings_source)}</code>:</p><ul>{items}</ul>"
            "<p>Until this is fixed, the window shows the default values instead of those. "
            "Fix the file (then read it again), reset it to the defaults (a copy of it is "
            "kept), or change the settings here and save them.</p>")


class StartupDialog(QDialog):
    """What went wrong at start-up, in plain words, with a button for each way out.

    Made by :meth:`for_settings_problems` or :meth:`for_server_error`; ``button(text)`` gives
    its buttons to tests, ``message`` and ``outcome`` its words.
    """

    def __init__(self, window: MainWindow, settings_source: Path, heading: str, body: str) -> None:
        super().__init__(window)
        self.main_window = window
        self.controller = window.controller
        self.settings_source = settings_source
        self.setWindowTitle("wldesk: the worklist server is not running")
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.message = QLabel(f"<p><b>{_text(heading)}</b></p>{body}")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setMinimumWidth(480)
        self.outcome = QLabel()
        self.outcome.setWordWrap(True)
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.outcome.hide()
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(
            QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(48, 48))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        top = QHBoxLayout()
        top.addWidget(icon)
        text = QVBoxLayout()
        text.addWidget(self.message)
        text.addWidget(self.outcome)
        top.addLayout(text, 1)
        self._row = QHBoxLayout()
        self._actions: list[QPushButton] = []
        self._buttons: dict[str, QPushButton] = {}
        close = self._button(CLOSE, self.close)
        self._row.addStretch(1)
        self._row.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(self._row)

    # --- the three kinds -----------------------------------------------------------------------

    @classmethod
    def for_settings_problems(cls, window: MainWindow, settings_source: Path,
                              problems: Sequence[SettingsProblem]) -> StartupDialog:
        dialog = cls(window, settings_source, PROBLEMS_HEADING,
                     _problems_body(settings_source, problems))
        dialog._add_action(CHANGE, dialog._change_settings)
        dialog._add_action(OPEN_FILE, dialog._open_settings_file)
        dialog._add_action(READ_AGAIN, dialog._read_again)
        dialog._add_action(RESET, dialog._reset)
        return dialog

    @classmethod
    def for_server_error(cls, window: MainWindow, settings_source: Path) -> StartupDialog:
        controller = window.controller
        settings = controller.settings
        folder = Path(settings.database)
        if not folder.is_dir():
            body = (f"<p>The worklist folder<br><code>{_text(folder)}</code><br>does "
                    "not exist. If it is on a drive or network share, check that it is "
                    "connected; or create the folder, or choose another one in the "
                    "settings.</p>")
            dialog = cls(window, settings_source,
                         "The worklist server is not running: its folder is missing", body)
            dialog._add_action(CREATE_FOLDER, dialog._create_folder)
        else:
            message = controller.message
            body = f"<p>{_text(message[:1].upper() + message[1:])}.</p>"
            if "in use" in controller.message:
                body += (f"<p>Another program (another worklist server?) is using port "
                         f"{settings.port}. Close it and try again, or choose another port in "
                         "the settings.</p>")
            dialog = cls(window, settings_source, "The worklist server could not start", body)
            dialog._add_action(TRY_AGAIN, dialog._try_again)
        dialog._add_action(CHANGE, dialog._change_settings)
        if settings_source.exists():
            dialog._add_action(OPEN_FILE, dialog._open_settings_file)
        return dialog

    # --- buttons -------------------------------------------------------------------------------

    def button(self, text: str) -> QPushButton:
        return self._buttons[text]

    def button_texts(self) -> list[str]:
        """The texts of the buttons offered, in their order."""
        return [b.text() for b in [*self._actions, self.button(CLOSE)] if not b.isHidden()]

    def _button(self, text: str, action: Callable[[], object]) -> QPushButton:
        button = QPushButton(text)
        button.setAutoDefault(False)
        button.clicked.connect(action)
        self._buttons[text] = button
        return button

    def _add_action(self, text: str, action: Callable[[], None]) -> None:
        button = self._button(text, action)
        self._actions.append(button)
        self._row.insertWidget(len(self._actions) - 1, button)
        if len(self._actions) == 1:
            button.setDefault(True)

    def _done(self, text: str) -> None:
        """The problem is dealt with: say how; only Close is left."""
        self.outcome.setText(text)
        self.outcome.setStyleSheet("")
        self.outcome.show()
        for button in self._actions:
            button.hide()
        self.button(CLOSE).setDefault(True)

    def _failed(self, text: str) -> None:
        self.outcome.setText(text)
        self.outcome.setStyleSheet("color: #b00020;")
        self.outcome.show()

    # --- what they do --------------------------------------------------------------------------

    def _change_settings(self) -> None:
        self.main_window.show_settings()
        self.close()

    def _open_settings_file(self) -> None:
        """In the program that opens .json files; the folder holding it where there is none."""
        if not open_folder(str(self.settings_source)):
            open_folder(str(self.settings_source.parent))

    def _read_again(self) -> None:
        """The file was fixed by hand: use it (the server starts once it has no problems)."""
        problems = self.controller.read_settings_file_again(self.settings_source)
        if problems:
            self.message.setText(f"<p><b>{_text(PROBLEMS_HEADING)}</b></p>"
                                 + _problems_body(self.settings_source, problems))
            self._failed("The file was read again: it still has the problems above.")
            return
        starting = (" and the worklist server is starting"
                    if self.controller.state in ("starting", "running") else "")
        self._done(f"The settings file was read again{starting}.")

    def _reset(self) -> None:
        try:
            backup = self.controller.apply_settings(Settings(), backup=True)
        except OSError as exc:
            self._failed(f"The settings could not be reset ({_reason(exc)}); nothing was changed.")
            return
        self.controller.start()
        kept = (f" Your old settings file was kept as {backup}." if backup is not None else "")
        self._done("The settings are back to their defaults and the worklist server is "
                   f"starting.{kept}")

    def _create_folder(self) -> None:
        folder = Path(self.controller.settings.database)
        self.button(CREATE_FOLDER).setEnabled(False)  # a slow network share: one at a time
        run_in_background(self, lambda: folder.mkdir(parents=True, exist_ok=True),
                          lambda _none: self._folder_created(folder), self._folder_failed,
                          name="wldesk-gui-mkdir")

    def _folder_created(self, folder: Path) -> None:
        self.controller.start()
        self._done(f"The folder {folder} was created and the worklist server is starting.")

    def _folder_failed(self, exc: Exception) -> None:
        self.button(CREATE_FOLDER).setEnabled(True)
        reason = _reason(exc) if isinstance(exc, OSError) else str(exc)
        self._failed(f"The folder could not be created ({reason}).")

    def _try_again(self) -> None:
        """Start again, with the settings file as it is now (a port changed in it by hand)."""
        if self.settings_source.exists():
            problems = self.controller.read_settings_file_again(self.settings_source)
            if problems:
                self._failed("The settings file has problems now: "
                             + "; ".join(problem.message for problem in problems)
                             + ". Fix it, or change the settings here.")
                return
        self.controller.start()
        self.close()

