"""The profile dialog of the Settings tab: how one modality's answers are shaped (or the default
profile's), with a preview of the answer that modality would get for an entry of the folder.

The preview is computed by the core (``wldesk.core.query.profiles.preview``) from the entry as the
folder store holds it; the dialog only shows it.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from wldesk.core.profile import CHARSETS, Profile
from wldesk.core.query.profiles import preview
from wldesk.core.store import Entry

_FLAGS = (
    ("strict", "Strict answers: times as HHMMSS, dates as YYYYMMDD, empty descriptions filled; "
               "entries a strict modality would refuse are sent last"),
    ("withhold_invalid", "Do not send the entries a strict modality would refuse"),
    ("one_step_per_answer", "One answer per scheduled step (for devices that show only the "
                            "first step)"),
    ("ignore_query_date", "Ignore the date the modality asks for (show every day)"),
    ("ignore_query_station", "Ignore the station AE title the modality asks for (show every "
                             "station's steps)"),
)


class ProfileDialog(QDialog):
    """Edit one profile. ``own`` None means the modality uses the default profile (``default``);
    ``can_inherit`` offers that choice (a modality's row; not for the default profile itself)."""

    def __init__(self, title: str, own: Profile | None, default: Profile,
                 entries: Sequence[Entry], *, can_inherit: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._default = default
        self._can_inherit = can_inherit
        self._entries = list(entries)

        self.inherit = QCheckBox("Use the default profile")
        self.inherit.setObjectName("inherit")
        self.inherit.setChecked(own is None)
        self.inherit.setVisible(can_inherit)
        self.charset = QComboBox()
        self.charset.setObjectName("charset")
        for value, label in CHARSETS.items():
            self.charset.addItem(label, value)
        self.flags: dict[str, QCheckBox] = {}
        self.max_answers = QSpinBox()
        self.max_answers.setObjectName("max_answers")
        self.max_answers.setRange(0, 2**31 - 1)
        self.max_answers.setSpecialValueText("no limit")
        form_box = QGroupBox("How the answers are shaped")
        form = QFormLayout(form_box)
        form.addRow("Character set:", self.charset)
        for name, text in _FLAGS:
            box = self.flags[name] = QCheckBox(text)
            box.setObjectName(name)
            form.addRow(box)
        form.addRow("At most this many answers:", self.max_answers)

        self.entry = QComboBox()
        self.entry.setObjectName("entry")
        for entry in self._entries:
            self.entry.addItem(entry.name)
        self.verdict = QLabel()
        self.verdict.setObjectName("verdict")
        self.verdict.setWordWrap(True)
        self.answer = QPlainTextEdit()
        self.answer.setObjectName("answer")
        self.answer.setReadOnly(True)
        self.answer.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.answer.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        preview_box = QGroupBox("Preview: the answer this modality would get")
        column = QVBoxLayout(preview_box)
        pick = QFormLayout()
        pick.addRow("Entry:", self.entry)
        column.addLayout(pick)
        note = QLabel("As answered to a query for every key a strict CT asks for, none of them "
                      "filtering; values as the modality receives them.")
        note.setWordWrap(True)
        column.addWidget(note)
        column.addWidget(self.verdict)
        column.addWidget(self.answer, 1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout = QVBoxLayout(self)
        layout.addWidget(self.inherit)
        layout.addWidget(form_box)
        layout.addWidget(preview_box, 1)
        layout.addWidget(buttons)
        self.resize(760, 720)

        self._show(own or default)
        self.inherit.toggled.connect(self._inherit_toggled)
        self.charset.currentIndexChanged.connect(self._changed)
        self.max_answers.valueChanged.connect(self._changed)
        for box in self.flags.values():
            box.toggled.connect(self._changed)
        self.entry.currentIndexChanged.connect(self._changed)
        self._changed()

    def _show(self, profile: Profile) -> None:
        self.charset.setCurrentIndex(self.charset.findData(profile.charset))
        for name, box in self.flags.items():
            box.setChecked(bool(getattr(profile, name)))
        self.max_answers.setValue(profile.max_answers)

    def _inherit_toggled(self, inherit: bool) -> None:
        if inherit:
            self._show(self._default)
        self._changed()

    def _shown(self) -> Profile:
        strict = self.flags["strict"].isChecked()
        return Profile(charset=str(self.charset.currentData()), strict=strict,
                       withhold_invalid=strict and self.flags["withhold_invalid"].isChecked(),
                       one_step_per_answer=self.flags["one_step_per_answer"].isChecked(),
                       ignore_query_date=self.flags["ignore_query_date"].isChecked(),
                       ignore_query_station=self.flags["ignore_query_station"].isChecked(),
                       max_answers=self.max_answers.value())

    def profile(self) -> Profile | None:
        """The profile chosen: None when the modality is to use the default profile."""
        return None if self._can_inherit and self.inherit.isChecked() else self._shown()

    def _changed(self) -> None:
        editable = not (self._can_inherit and self.inherit.isChecked())
        for widget in (self.charset, self.max_answers, *self.flags.values()):
            widget.setEnabled(editable)
        self.flags["withhold_invalid"].setEnabled(editable and self.flags["strict"].isChecked())
        self._update_preview()

    def _update_preview(self) -> None:
        if not self._entries:
            self.verdict.setText("The worklist folder has no entry to preview.")
            self.answer.setPlainText("")
            return
        entry = self._entries[max(self.entry.currentIndex(), 0)]
        shown = preview(entry.node, entry.charset, self._shown())
        self.verdict.setText(shown.verdict)
        self.answer.setPlainText(shown.text())

    def preview_text(self) -> str:
        """The verdict and the answer as the preview shows them (for tests)."""
        return f"{self.verdict.text()}\n{self.answer.toPlainText()}"
