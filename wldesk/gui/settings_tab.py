"""The Settings tab: a form over every declared setting, validated while the user types.

Nothing about a setting is declared here twice: the form is built from ``Settings.declarations()``
(the group boxes from their groups, the editor from the type, choices and their labels, range and
label for 0, the label and tooltip from the description), and every value is validated by
``Settings.replace``, whose message (naming the key) is shown in red under the field. Save stays
disabled while any field is invalid.

Valid settings are then checked against this computer, off the GUI thread, a moment after the
last keystroke (:func:`wldesk.core.net.preflight.check_settings`, through the controller): a port
another program uses, an address that is not this computer's, a missing folder (with a button that
creates it), TLS files that do not work. These are shown under their fields too, in brown, but they
do not disable Save: the saved settings are what the server starts with next, and a drive that is
not connected yet or a port that another program will give up are fair to save. They do stop
"Restart now": the restart bar says why, and the running server goes on with the settings it has.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QMouseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from wldesk.core.net.preflight import Problem, create_folder
from wldesk.core.profile import Profile
from wldesk.core.settings import GROUPS, SettingInfo, Settings, SettingsError
from wldesk.core.store import Entry
from wldesk.gui.controller import ServerController
from wldesk.gui.modalities_table import ModalitiesModel
from wldesk.gui.profiles import ProfileDialog
from wldesk.gui.qtutil import error_label
from wldesk.gui.restart_bar import RestartBar

WARNING_COLOR = "#7a4a00"
CHECK_DELAY_MS = 300
LABEL_CHARACTERS = 34
"""The width of the form's labels, in characters: longer labels wrap."""
"""How long after the last change the form is checked against this computer (ports, folder)."""

# A spin box holds a 32-bit int: the bounds of a setting declared without its own.
_SPIN_LIMITS = (-(2**31), 2**31 - 1)


def field_label(declaration: SettingInfo) -> str:
    """A short label from a setting's description: without a trailing "(...)" or ": details"."""
    text = declaration.description.strip().rstrip(".")
    text = re.sub(r"\s*\([^()]*\)$", "", text)
    return text.split(": ", 1)[0]


def field_tooltip(declaration: SettingInfo) -> str:
    return declaration.description.strip()


# --- editors of single settings ---------------------------------------------------------------

class _Editor:
    """Reads and writes one setting in its widget(s); ``widget`` goes into the form."""

    widget: QWidget

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def focus_widget(self) -> QWidget:
        return self.widget


class _TextEditor(_Editor):
    def __init__(self, changed: Callable[[], None], secret: bool = False) -> None:
        self.edit = QLineEdit()
        if secret:
            self.edit.setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit)
        self.edit.textChanged.connect(changed)
        self.widget = self.edit

    def value(self) -> Any:
        return self.edit.text().strip()

    def set_value(self, value: Any) -> None:
        self.edit.setText(str(value))

    def focus_widget(self) -> QWidget:
        return self.edit


class _FolderEditor(_TextEditor):
    """A folder path with Browse… (a folder dialog) and Open (the system's file manager)."""

    def __init__(self, changed: Callable[[], None]) -> None:
        super().__init__(changed)
        self.browse = QPushButton("Browse…")
        self.open = QPushButton("Open")
        self.open.setToolTip("Open this folder in the file manager")
        self.browse.clicked.connect(self._browse)
        self.open.clicked.connect(self._open)
        self.edit.textChanged.connect(self.update_open)
        self.widget = QWidget()
        row = QHBoxLayout(self.widget)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.browse)
        row.addWidget(self.open)
        self.update_open()

    def update_open(self) -> None:
        """Open is possible when the folder exists (call when it may have been created)."""
        text = self.edit.text().strip()
        self.open.setEnabled(bool(text) and Path(text).is_dir())

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self.widget, "Worklist folder", self.edit.text().strip())
        if chosen:
            self.edit.setText(str(Path(chosen)))

    def _open(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(self.edit.text().strip()))


class _IntEditor(_Editor):
    def __init__(self, declaration: SettingInfo, changed: Callable[[], None]) -> None:
        self.spin = QSpinBox()
        low = _SPIN_LIMITS[0] if declaration.minimum is None else declaration.minimum
        high = _SPIN_LIMITS[1] if declaration.maximum is None else declaration.maximum
        self.spin.setRange(low, high)
        if low == 0 and declaration.zero_label:  # the spin box shows it for its minimum
            self.spin.setSpecialValueText(declaration.zero_label)
        # QSpinBox.textChanged says nothing while the typed text is no valid value, and its line
        # edit's textChanged nothing on setValue: listen to both
        self.spin.textChanged.connect(changed)
        self.spin.lineEdit().textChanged.connect(changed)
        self.widget = self.spin

    def value(self) -> Any:
        """The number typed, even out of range (the settings say why it is wrong), or the text."""
        if self.spin.hasAcceptableInput():
            return self.spin.value()
        text = self.spin.cleanText().strip()
        try:
            return int(text)
        except ValueError:
            return text

    def set_value(self, value: Any) -> None:
        self.spin.setValue(int(value))


class _ToggleLabel(QLabel):
    """A check box's text that wraps (a QCheckBox's own text does not) and toggles it when
    clicked, as the check box's own text would."""

    def __init__(self, text: str, check: QCheckBox) -> None:
        super().__init__(text)
        self.check = check
        self.setWordWrap(True)
        self.setBuddy(check)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.check.isEnabled():
            self.check.toggle()
            self.check.setFocus()
        super().mouseReleaseEvent(event)


class _BoolEditor(_Editor):
    def __init__(self, text: str, changed: Callable[[], None]) -> None:
        self.check = QCheckBox()
        self.check.setAccessibleName(text)
        self.check.toggled.connect(changed)
        self.label = _ToggleLabel(text, self.check)
        self.widget = QWidget()
        row = QHBoxLayout(self.widget)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.check, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.label, 1)

    def value(self) -> Any:
        return self.check.isChecked()

    def set_value(self, value: Any) -> None:
        self.check.setChecked(bool(value))

    def focus_widget(self) -> QWidget:
        return self.check


class _ChoiceEditor(_Editor):
    def __init__(self, declaration: SettingInfo, changed: Callable[[], None]) -> None:
        self.combo = QComboBox()
        for choice, label in zip(declaration.choices, declaration.choice_labels, strict=True):
            self.combo.addItem(label, choice)
        self.combo.currentIndexChanged.connect(changed)
        self.widget = self.combo

    def value(self) -> Any:
        return self.combo.currentData()

    def set_value(self, value: Any) -> None:
        self.combo.setCurrentIndex(self.combo.findData(value))


class _ChoicesEditor(_Editor):
    """Some of the choices: a check box for each."""

    def __init__(self, declaration: SettingInfo, changed: Callable[[], None]) -> None:
        self.checks: dict[str, QCheckBox] = {}
        self.widget = QWidget()
        row = QHBoxLayout(self.widget)
        row.setContentsMargins(0, 0, 0, 0)
        for choice, label in zip(declaration.choices, declaration.choice_labels, strict=True):
            check = QCheckBox(label)
            check.setObjectName(f"{declaration.name}:{choice}")
            check.toggled.connect(changed)
            self.checks[choice] = check
            row.addWidget(check)
        row.addStretch(1)

    def value(self) -> Any:
        return tuple(choice for choice, check in self.checks.items() if check.isChecked())

    def set_value(self, value: Any) -> None:
        for choice, check in self.checks.items():
            check.setChecked(choice in value)


class _ProfileOpener:
    """Opens the profile dialog (non-modal to the code: ``done`` gets the profile chosen)."""

    def __init__(self, parent: QWidget, entries: Callable[[], Sequence[Entry]],
                 default: Callable[[], Profile]) -> None:
        self.parent, self.entries, self.default = parent, entries, default
        self.dialog: ProfileDialog | None = None  # the one open (for tests)

    def open(self, title: str, own: Profile | None, can_inherit: bool,
             done: Callable[[Profile | None], None]) -> None:
        dialog = ProfileDialog(title, own, self.default(), self.entries(),
                               can_inherit=can_inherit, parent=self.parent)
        self.dialog = dialog
        dialog.accepted.connect(lambda: done(dialog.profile()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()


class _ProfileEditor(_Editor):
    """The default profile: what it does in a few words, and Edit… (the profile dialog)."""

    def __init__(self, changed: Callable[[], None], opener: _ProfileOpener) -> None:
        self._profile = Profile()
        self._changed, self._opener = changed, opener
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.edit = QPushButton("Edit…")
        self.edit.clicked.connect(self._edit)
        self.widget = QWidget()
        row = QHBoxLayout(self.widget)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.summary, 1)
        row.addWidget(self.edit)

    def _edit(self) -> None:
        self._opener.open("Default profile", self._profile, False, self._chosen)

    def _chosen(self, profile: Profile | None) -> None:
        self.set_value(profile or Profile())
        self._changed()

    def value(self) -> Any:
        return self._profile

    def set_value(self, value: Any) -> None:
        self._profile = value
        self.summary.setText(value.summary().capitalize())

    def focus_widget(self) -> QWidget:
        return self.edit


class _ModalitiesEditor(_Editor):
    def __init__(self, changed: Callable[[], None], opener: _ProfileOpener) -> None:
        self._opener = opener
        self.model = ModalitiesModel()
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed
                                  | QAbstractItemView.EditTrigger.AnyKeyPressed
                                  | QAbstractItemView.EditTrigger.SelectedClicked)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.view.setMinimumHeight(140)
        self.add = QPushButton("Add")
        self.remove = QPushButton("Remove")
        self.profile = QPushButton("Profile…")
        self.profile.setToolTip("How the selected modality's answers are shaped: character set, "
                                "strict answers, one step per answer, query rules; with a preview")
        self.add.clicked.connect(self._add)
        self.remove.clicked.connect(self._remove)
        self.profile.clicked.connect(self._edit_profile)
        selection = self.view.selectionModel()
        selection.selectionChanged.connect(self._update_remove)
        selection.currentChanged.connect(self._update_remove)
        for signal in (self.model.dataChanged, self.model.rowsInserted, self.model.rowsRemoved,
                       self.model.modelReset):
            signal.connect(changed)
        self.model.modelReset.connect(self._update_remove)
        self.model.rowsRemoved.connect(self._update_remove)
        self.widget = QWidget()
        row = QHBoxLayout(self.widget)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.view, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.add)
        buttons.addWidget(self.remove)
        buttons.addWidget(self.profile)
        buttons.addStretch(1)
        row.addLayout(buttons)
        self._update_remove()

    def _selected_rows(self) -> list[int]:
        rows = {index.row() for index in self.view.selectionModel().selectedRows()}
        current = self.view.currentIndex()
        if not rows and current.isValid():
            rows.add(current.row())
        return sorted(rows)

    def _update_remove(self) -> None:
        self.remove.setEnabled(bool(self._selected_rows()))
        self.profile.setEnabled(len(self._selected_rows()) == 1)

    def _edit_profile(self) -> None:
        [row] = self._selected_rows()
        name, ae_title, _host = self.model.rows()[row]
        self._opener.open(f"Profile of {name or ae_title or f'row {row + 1}'}",
                          self.model.profile(row), True,
                          lambda profile: self.model.set_profile(row, profile))

    def _add(self) -> None:
        row = self.model.add_row()
        index = self.model.index(row, ModalitiesModel.NAME)
        self.view.setCurrentIndex(index)
        self.view.edit(index)

    def _remove(self) -> None:
        for row in reversed(self._selected_rows()):
            self.model.removeRows(row, 1)

    def value(self) -> Any:
        return self.model.mappings()

    def set_value(self, value: Any) -> None:
        self.model.set_modalities(value)

    def focus_widget(self) -> QWidget:
        return self.view


# --- the tab ----------------------------------------------------------------------------------

class SettingsTab(QWidget):
    """Edit, validate, save and revert the settings; offer a restart when the server needs one."""

    def __init__(self, controller: ServerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._loading = False
        self._candidate: Settings | None = None
        self._editors: dict[str, _Editor] = {}
        self._errors: dict[str, QLabel] = {}
        self._warnings: dict[str, QLabel] = {}
        self._checks = 0  # the number of the latest check of the form: older answers are dropped
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(CHECK_DELAY_MS)
        self._check_timer.timeout.connect(self._check_form)
        self.profiles = _ProfileOpener(self, lambda: controller.snapshot().entries,
                                       self._default_profile)
        self.create_folder_button = QPushButton("Create folder")
        self.create_folder_button.setToolTip("Create this folder (and the folders it is in)")
        self.create_folder_button.clicked.connect(self._create_folder)
        self.create_folder_button.hide()

        self.restart_bar = RestartBar(controller)
        self.restart_label, self.restart_button = self.restart_bar.label, self.restart_bar.button

        # what the settings file held that could not be used (the form shows defaults instead)
        self.file_bar = QLabel()
        self.file_bar.setObjectName("file_bar")
        self.file_bar.setWordWrap(True)
        self.file_bar.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.file_bar.setStyleSheet("#file_bar { background: #fde7e9; color: #5c0011; "
                                    "padding: 6px; }")
        self.file_bar.hide()

        body = QWidget()
        body_layout = QVBoxLayout(body)
        for group in GROUPS:
            members = [d for d in Settings.declarations() if d.group == group]
            if members:
                body_layout.addWidget(self._group(group, members))
        body_layout.addStretch(1)
        self.form_area = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)

        self.form_error = error_label("form")  # a problem that no single field explains
        self.save_error = error_label("save")
        self.save_note = QLabel()  # where the copy of a replaced settings file with problems is
        self.save_note.setWordWrap(True)
        self.save_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.save_note.hide()
        self.save_button = QPushButton("Save")
        self.revert_button = QPushButton("Revert")
        self.revert_button.setToolTip("Discard the changes and show the saved settings")
        self.save_button.clicked.connect(self.save)
        self.revert_button.clicked.connect(self.revert)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.restart_bar)
        layout.addWidget(self.file_bar)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.form_error)
        layout.addWidget(self.save_error)
        layout.addWidget(self.save_note)
        layout.addLayout(buttons)

        controller.settings_changed.connect(self.load)
        controller.state_changed.connect(self._on_state)
        self.load(controller.settings)

    # --- building ------------------------------------------------------------------------------

    def _editor_for(self, declaration: SettingInfo) -> _Editor:
        name, kind = declaration.name, declaration.type
        changed = self._revalidate
        if kind == "modalities":
            return _ModalitiesEditor(changed, self.profiles)
        if kind == "profile":
            return _ProfileEditor(changed, self.profiles)
        if name == "database":
            return _FolderEditor(changed)
        if kind == "choices":
            return _ChoicesEditor(declaration, changed)
        if declaration.choices:
            return _ChoiceEditor(declaration, changed)
        if kind == "bool":
            return _BoolEditor(field_label(declaration), changed)
        if kind == "int":
            return _IntEditor(declaration, changed)
        if kind == "str":
            return _TextEditor(changed, declaration.secret)
        raise TypeError(f"the Settings tab has no editor for setting {name!r} of type {kind}")

    def _group(self, title: str, declarations: list[SettingInfo]) -> QGroupBox:
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        for declaration in declarations:
            name, tooltip = declaration.name, field_tooltip(declaration)
            editor = self._editor_for(declaration)
            editor.focus_widget().setObjectName(name)
            editor.focus_widget().setToolTip(tooltip)
            editor.focus_widget().setAccessibleDescription(tooltip)
            error = error_label(name)
            warning = error_label(name, "warning", WARNING_COLOR)
            self._editors[name], self._errors[name], self._warnings[name] = editor, error, warning
            cell = QWidget()
            column = QVBoxLayout(cell)
            column.setContentsMargins(0, 0, 0, 0)
            column.addWidget(editor.widget)
            column.addWidget(error)
            column.addWidget(warning)
            if name == "database":
                column.addWidget(self.create_folder_button, 0, Qt.AlignmentFlag.AlignLeft)
            if isinstance(editor, _BoolEditor):
                editor.label.setObjectName(f"{name}_label")
                editor.label.setToolTip(tooltip)
                form.addRow(cell)
                continue
            label = QLabel(field_label(declaration))
            # a long label wraps instead of pushing the fields away; one width for all labels,
            # so that a wrapped label is as tall as its lines
            label.setWordWrap(True)
            label.setFixedWidth(label.fontMetrics().averageCharWidth() * LABEL_CHARACTERS)
            label.setToolTip(tooltip)
            label.setBuddy(editor.focus_widget())
            if isinstance(editor, _ModalitiesEditor):
                form.addRow(label)
                form.addRow(cell)
            else:
                form.addRow(label, cell)
        return box

    # --- access for the window and tests -------------------------------------------------------

    def _default_profile(self) -> Profile:
        """The default profile as the form shows it (a modality's dialog starts from it)."""
        profile = self._editors["default_profile"].value()
        assert isinstance(profile, Profile)
        return profile

    def field_names(self) -> list[str]:
        return list(self._editors)

    def editor(self, name: str) -> QWidget:
        """The widget that holds setting ``name`` (a line edit, spin box, check box, combo box or table)."""
        return self._editors[name].focus_widget()

    def line_edit(self, name: str) -> QLineEdit:
        widget = self.editor(name)
        assert isinstance(widget, QLineEdit), name
        return widget

    def spin_box(self, name: str) -> QSpinBox:
        widget = self.editor(name)
        assert isinstance(widget, QSpinBox), name
        return widget

    def check_box(self, name: str) -> QCheckBox:
        widget = self.editor(name)
        assert isinstance(widget, QCheckBox), name
        return widget

    def combo_box(self, name: str) -> QComboBox:
        widget = self.editor(name)
        assert isinstance(widget, QComboBox), name
        return widget

    @property
    def modalities_model(self) -> ModalitiesModel:
        editor = self._editors["modalities"]
        assert isinstance(editor, _ModalitiesEditor)
        return editor.model

    @property
    def modalities_view(self) -> QTableView:
        editor = self._editors["modalities"]
        assert isinstance(editor, _ModalitiesEditor)
        return editor.view

    def button(self, name: str) -> QPushButton:
        """``browse`` and ``open`` (worklist folder), ``add``, ``remove`` and ``profile``
        (modalities), ``edit`` (the default profile)."""
        editor = self._editors["database" if name in ("browse", "open") else
                               "default_profile" if name == "edit" else "modalities"]
        found = getattr(editor, name)
        assert isinstance(found, QPushButton), name
        return found

    def error_label(self, name: str) -> QLabel:
        return self._errors[name]

    def error_text(self, name: str) -> str:
        """The problem shown for setting ``name``, or "" when it is valid."""
        label = self._errors[name]
        return "" if label.isHidden() else label.text()

    def warning_text(self, name: str) -> str:
        """What the last check against this computer found for setting ``name``, or ""."""
        label = self._warnings[name]
        return "" if label.isHidden() else label.text()

    def candidate(self) -> Settings | None:
        """The settings as the form shows them, or None while any field is invalid."""
        return self._candidate

    # --- behaviour -----------------------------------------------------------------------------

    def load(self, settings: Settings) -> None:
        """Show ``settings`` in the form (discarding edits and the last save error)."""
        self.save_error.hide()
        self.save_note.hide()
        problems = self.controller.settings_problems
        self.file_bar.setText(
            f"wldesk could not use everything in the settings file {self.controller.settings_path}"
            ": " + "; ".join(problem.message for problem in problems) + ". The form shows the "
            "defaults instead. Save writes the form to the file and keeps a copy of the old one.")
        self.file_bar.setVisible(bool(problems))
        self._loading = True
        try:
            for name, editor in self._editors.items():
                editor.set_value(getattr(settings, name))
        finally:
            self._loading = False
        self._revalidate()

    def _revalidate(self) -> None:
        if self._loading:
            return
        base = self.controller.settings
        values = {name: editor.value() for name, editor in self._editors.items()}
        errors: dict[str, str] = {}
        for name, value in values.items():
            if name == "modalities" and self.modalities_model.problems():
                errors[name] = "\n".join(self.modalities_model.problems())
                continue
            try:
                base.replace(**{name: value})
            except SettingsError as exc:
                errors[name] = str(exc)
        marks = {problem.key: "In the settings file: "
                 + problem.message.removeprefix(f"setting '{problem.key}': ")
                 + ". The default is shown." for problem in self.controller.settings_problems}
        for name, label in self._errors.items():
            text = errors.get(name) or marks.get(name, "")
            label.setText(text)
            label.setHidden(not text)
        candidate: Settings | None = None
        form_error = ""
        if not errors:
            try:
                candidate = base.replace(**values)
            except SettingsError as exc:
                form_error = str(exc)
        self.form_error.setText(form_error)
        self.form_error.setHidden(not form_error)
        self._candidate = candidate
        if "limit_answers" in values and "limit_final_status" in self._editors:
            # the final status only matters when answers are limited
            self._editors["limit_final_status"].widget.setEnabled(values["limit_answers"] != 0)
        # a file with problems is worth saving as the form shows it, even unchanged
        unsaved = candidate != base or bool(self.controller.settings_problems)
        self.save_button.setEnabled(candidate is not None and unsaved)
        self.revert_button.setEnabled(candidate != base)
        self._check_timer.start()  # (again): check against this computer once typing pauses

    def _check_form(self) -> None:
        """Check the form's settings against this computer, off the GUI thread.

        Not while the server starts, restarts or stops: the check listens on the port for an
        instant, which must not be the instant the server takes it (the state change checks
        again)."""
        candidate = self._candidate
        self._checks += 1
        if candidate is None:
            self._show_problems([])
            return
        if self.controller.state in ("starting", "restarting", "stopping"):
            return
        number = self._checks
        self.controller.check_settings(candidate, self,
                                       lambda problems: self._checked(number, problems))

    def _checked(self, number: int, problems: list[Problem]) -> None:
        if number == self._checks:  # else the form changed meanwhile: a newer check follows
            self._show_problems(problems)

    def _show_problems(self, problems: list[Problem]) -> None:
        for name, label in self._warnings.items():
            text = "\n".join(p.message for p in problems if p.setting == name)
            label.setText(text)
            label.setHidden(not text)
        self.create_folder_button.setVisible(any(p.missing_folder for p in problems))

    def _create_folder(self) -> None:
        folder = self._editors["database"].value()
        problem = create_folder(folder)
        if problem is not None:
            label = self._warnings["database"]
            label.setText(problem)
            label.show()
            return
        editor = self._editors["database"]
        assert isinstance(editor, _FolderEditor)
        editor.update_open()
        self._check_timer.stop()
        self._check_form()

    def save(self) -> bool:
        """Save and apply the form's settings; False (with the reason shown) when that failed."""
        new = self._candidate
        if new is None:
            return False
        restart = self.controller.needs_restart(new)
        try:
            backup = self.controller.apply_settings(new)
        except OSError as exc:
            self._show_save_error(exc)
            return False
        self.load(self.controller.settings)  # as the settings normalized them
        if backup is not None:
            self.save_note.setText(f"Saved. The old settings file was kept as {backup}.")
            self.save_note.show()
        if restart:
            self.restart_bar.offer()
        else:
            self.restart_bar.hide()  # the running server uses the saved settings
        return True

    def _show_save_error(self, exc: OSError) -> None:
        reason = exc.strerror or str(exc)
        if exc.filename:
            reason += f": {exc.filename}"
        self.save_error.setText(f"The settings were not saved ({reason}).")
        self.save_error.show()

    def revert(self) -> None:
        self.load(self.controller.settings)

    def _on_state(self, state: str, _message: str) -> None:
        if state in ("running", "stopped", "error"):
            self._check_timer.start()  # whose port is whose may have changed
