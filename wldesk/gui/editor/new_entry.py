"""The new-entry form: patient, order and step in, a complete `.wl` file in the worklist folder out.

The form collects what a person at the front desk knows;
:func:`wldesk.core.editing.entries.new_entry` makes the entry (Study Instance UID and empty IDs
generated, UTF-8 unless chosen otherwise) and :func:`~wldesk.core.editing.entries.save_new_entry`
writes it atomically under the name :func:`~wldesk.core.editing.entries.suggest_filename` gives,
never over a file that appeared meanwhile. A
template (saved from an editor, or from the form) fills in the order and step; an entry being
duplicated fills in everything but its IDs.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from PySide6.QtCore import QDate, Qt, QTime, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from wldesk.core import paths
from wldesk.core.editing.document import DEFAULT_CHARSET, new_document
from wldesk.core.editing.entries import (
    JAPANESE_CHARSET,
    KOREAN_CHARSET,
    name_charset,
    name_in_scripts,
    new_entry,
    person_name,
    save_new_entry,
)
from wldesk.core.editing.errors import EditError
from wldesk.core.editing.obgyn import OBGYN_TEMPLATE_NAME, obgyn_template
from wldesk.core.editing.templates import list_templates, load_template, save_template
from wldesk.core.editing.values import (
    set_element_text,
    text_of,
    unwritable_character,
    validate_element,
)
from wldesk.core.settings import KnownModality
from wldesk.gui.editor.obgyn import OBGYN_KEYWORDS, ObgynFields
from wldesk.gui.editor.widgets import CHARSETS, DateEditor
from wldesk.gui.qtutil import ERROR_COLOR, error_label

MODALITIES = ("CT", "MR", "US", "CR", "DX", "MG", "XA", "RF", "NM", "PT", "OT", "IO", "PX", "ES",
              "OP", "SC")
PRIORITIES = (("", "(not given)"), ("ROUTINE", "Routine"), ("HIGH", "High"), ("STAT", "STAT"),
              ("MEDIUM", "Medium"), ("LOW", "Low"))
SEXES = (("", "(not given)"), ("F", "Female"), ("M", "Male"), ("O", "Other"))
SCRIPT_CHARSETS = (("Japanese (ISO 2022 IR 87)", JAPANESE_CHARSET),
                   ("Korean (ISO 2022 IR 149)", KOREAN_CHARSET))
BUILT_IN_OBGYN = "built-in:obgyn"  # the template combo's data of the built-in OB/GYN template
REQUIRED_MARK = f'<span style="color: {ERROR_COLOR};">*</span>'
_ORDER_IDENTIFIERS = ("StudyID", "PlacerOrderNumberImagingServiceRequest",
                      "FillerOrderNumberImagingServiceRequest")


def duplicate_base(source: Dataset) -> Dataset:
    """``source`` without what identifies its order (references to its study, order numbers), as
    the template of a duplicate; new_entry then gives it new IDs and a new Study Instance UID."""
    base = copy.deepcopy(source)
    if hasattr(base, "file_meta"):
        del base.file_meta
    for keyword in _ORDER_IDENTIFIERS:
        if keyword in base:
            delattr(base, keyword)
    if "ReferencedStudySequence" in base:
        base.ReferencedStudySequence = DicomSequence([])
    return base


def _first_step(ds: Dataset) -> Dataset:
    steps = ds.get("ScheduledProcedureStepSequence")
    return steps[0] if steps else Dataset()


@dataclass(eq=False)
class _Field:
    """A text field of the form: the line it is typed in, the attribute it fills, the red label
    under it saying what is wrong, and, when it is required, what to do while it is empty (said
    once the field was typed in, or Save was tried: an untouched form is not all red)."""

    edit: QLineEdit
    keyword: str
    error: QLabel
    missing: str = ""  # e.g. "Enter the patient ID"; "" for an optional field
    name: str = ""  # the field's label, e.g. "patient ID"
    touched: bool = False


class NewEntryDialog(QDialog):
    """Makes a new worklist entry in ``folder``. The station AE title list offers the AE titles of
    ``modalities`` and ``stations`` (those the folder's entries use); ``templates`` is the
    templates folder (default: paths.templates_dir()); ``source`` prefills the form from an entry
    to duplicate.

    Required fields are marked with an asterisk; each field says under it what is wrong as it is
    typed, and Save stays disabled (its tool tip listing why) until the form makes an entry that
    modalities accept.
    """

    created = Signal(object)  # pathlib.Path of the file written

    def __init__(self, folder: Path, modalities: Sequence[KnownModality] = (), *,
                 stations: Sequence[str] = (), templates: Path | None = None,
                 source: Dataset | None = None, parent: QWidget | None = None,
                 now: datetime | None = None) -> None:
        super().__init__(parent)
        self.folder = Path(folder)
        self.modalities = tuple(modalities)
        self.templates = templates if templates is not None else paths.templates_dir()
        self.saved_path: Path | None = None
        self.last_error = ""
        self._base: Dataset | None = duplicate_base(source) if source is not None else None
        self.setWindowTitle("Duplicate entry" if source is not None else "New worklist entry")
        moment = now or datetime.now()
        self._fields: list[_Field] = []
        self.labels: dict[QWidget, QLabel] = {}  # each field's label in the form
        self._below: dict[QWidget, QWidget] = {}  # what a field shows under it besides errors

        # template
        self.template_combo = QComboBox()
        self.template_combo.setMinimumWidth(240)
        self.template_combo.activated.connect(self._template_chosen)
        self.save_template_button = QPushButton("Save as template…")
        self.save_template_button.clicked.connect(self._save_template_clicked)
        top = QHBoxLayout()
        top.addWidget(QLabel("Template:"))
        top.addWidget(self.template_combo)
        top.addWidget(self.save_template_button)
        top.addStretch(1)
        top.addWidget(QLabel("Character set:"))
        self.charset_combo = QComboBox()
        for label, value in (*CHARSETS[:3], *SCRIPT_CHARSETS):
            self.charset_combo.addItem(label, value)
        self.charset_combo.setCurrentIndex(self.charset_combo.findData(DEFAULT_CHARSET))
        self.charset_combo.currentIndexChanged.connect(self._refresh)
        self._charset_picked = False  # a person chose the character set: names do not change it
        self.charset_combo.activated.connect(lambda _row: setattr(self, "_charset_picked", True))
        top.addWidget(self.charset_combo)

        # patient
        self.family_name = self._line("PatientName", "e.g. Müller",
                                      missing="Enter the patient's family name")
        self.given_name = self._line("PatientName", "e.g. José")
        self.middle_name = self._line("PatientName")
        self.name_prefix = self._line("PatientName", "e.g. Dr")
        self.name_suffix = self._line("PatientName", "e.g. Jr")
        self.ideographic_name = self._line("PatientName", "e.g. 山田^太郎")
        self.phonetic_name = self._line("PatientName", "e.g. やまだ^たろう")
        for edit in (self.ideographic_name, self.phonetic_name):
            edit.setToolTip("The name in another script, family^given: kanji, hanja or hangul, "
                            "and how it is read (kana, hangul)")
            edit.textEdited.connect(self._name_scripts_changed)
        self.patient_id = self._line("PatientID", missing="Enter the patient ID")
        self.birth_date = DateEditor()
        self.birth_date.set_text_value("")
        self.birth_date.setMaximumDate(QDate.currentDate())
        self.sex = QComboBox()
        for value, label in SEXES:
            self.sex.addItem(label, value)
        patient = self._group("Patient", (
            ("Family name", self.family_name), ("Given name", self.given_name),
            ("Middle name", self.middle_name), ("Prefix", self.name_prefix),
            ("Suffix", self.name_suffix), ("Ideographic name", self.ideographic_name),
            ("Phonetic name", self.phonetic_name), ("Patient ID", self.patient_id),
            ("Birth date", self.birth_date), ("Sex", self.sex)))

        # order
        self.accession = self._line("AccessionNumber", "generated when empty")
        self.requested_procedure_id = self._line("RequestedProcedureID", "generated when empty")
        self.requested_description = self._line(
            "RequestedProcedureDescription", "e.g. CT head without contrast",
            missing="Describe the procedure, e.g. CT head without contrast")
        self.referring_physician = self._line("ReferringPhysicianName", "Family^Given")
        self.priority = QComboBox()
        for value, label in PRIORITIES:
            self.priority.addItem(label, value)
        order = self._group("Order", (
            ("Accession number", self.accession),
            ("Requested procedure ID", self.requested_procedure_id),
            ("Procedure description", self.requested_description),
            ("Referring physician", self.referring_physician), ("Priority", self.priority)))

        # step
        self.modality = QComboBox()
        self.modality.setEditable(True)
        self.modality.addItems(MODALITIES)
        self.modality.setCurrentText("")
        self.station_aet = QComboBox()
        self.station_aet.setEditable(True)
        self.station_aet.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        known = {m.ae_title: m.name for m in self.modalities}
        for title in sorted({*known, *(s.strip() for s in stations if s.strip())}):
            self.station_aet.addItem(title)
            if title in known:
                self.station_aet.setItemData(self.station_aet.count() - 1, known[title],
                                             Qt.ItemDataRole.ToolTipRole)
        self.station_aet.setCurrentText("")
        self.station_aet.setToolTip("The AE title of the device that does the exam: the known "
                                    "modalities and the stations of the folder's entries")
        completer = self.station_aet.completer()
        if completer is not None:  # typing "CT" lists CT1, CT2 and PETCT
            completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.station_name = QLabel()
        self.station_name.setStyleSheet("color: #555;")
        self.station_name.hide()
        self.station_aet.currentTextChanged.connect(self._station_changed)
        self._below[self.station_aet] = self.station_name
        modality_line = self.modality.lineEdit()
        if modality_line is not None:
            self._watch(modality_line, "Modality", missing="Choose the modality, e.g. CT")
            modality_line.textEdited.connect(
                lambda text: modality_line.setText(text.upper()) if text != text.upper() else None)
        line = self.station_aet.lineEdit()
        if line is not None:
            self._watch(line, "ScheduledStationAETitle",
                        missing="Enter the AE title of the device that does the exam, e.g. CT1")
        self.scheduled_date = QDateEdit(QDate(moment.year, moment.month, moment.day))
        self.scheduled_date.setCalendarPopup(True)
        self.scheduled_date.setDisplayFormat("yyyy-MM-dd")
        self.scheduled_time = QTimeEdit(QTime(moment.hour, moment.minute))
        self.scheduled_time.setDisplayFormat("HH:mm")
        self.step_description = self._line("ScheduledProcedureStepDescription",
                                           "same as the procedure")
        self.step_id = self._line("ScheduledProcedureStepID", "generated when empty")
        step = self._group("Scheduled step", (
            ("Modality", self.modality), ("Station AE title", self.station_aet),
            ("Date", self.scheduled_date), ("Time", self.scheduled_time),
            ("Step description", self.step_description), ("Step ID", self.step_id)))

        self.obgyn = ObgynFields()
        self.obgyn.box.hide()
        self.obgyn.lmp.dateChanged.connect(self._refresh)

        self.error_label = error_label("save")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save_entry)
        self.buttons.rejected.connect(self.reject)
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        assert save is not None
        self.save_button = save
        self.required_legend = QLabel()
        self.required_legend.setWordWrap(True)
        self.folder_label = QLabel(f"Saved into {self.folder}")
        self.folder_label.setStyleSheet("color: #555;")

        groups = QHBoxLayout()
        groups.addWidget(patient)
        groups.addWidget(order)
        groups.addWidget(step)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(groups)
        layout.addWidget(self.obgyn.box)
        layout.addWidget(self.error_label)
        layout.addWidget(self.required_legend)
        bottom = QHBoxLayout()
        bottom.addWidget(self.folder_label, 1)
        bottom.addWidget(self.buttons)
        layout.addLayout(bottom)

        self.refresh_templates()
        if source is not None:
            self.prefill(source, patient=True)
        self._refresh()

    # --- building ------------------------------------------------------------------------------

    def _line(self, keyword: str, placeholder: str = "", *, missing: str = "") -> QLineEdit:
        edit = QLineEdit()
        edit.setPlaceholderText(placeholder)
        edit.setMinimumWidth(160)
        self._watch(edit, keyword, missing=missing)
        return edit

    def _watch(self, edit: QLineEdit, keyword: str, *, missing: str = "") -> None:
        """Check the field as it is typed (VR, length, number of values, character set, and
        whether a required one is filled in): red, with the reason under it."""
        field = _Field(edit, keyword, error_label(keyword), missing)
        self._fields.append(field)
        edit.textChanged.connect(self._refresh)
        edit.textEdited.connect(lambda _text: self._touch(field))

    def _field_of(self, widget: QWidget) -> _Field | None:
        edit = widget.lineEdit() if isinstance(widget, QComboBox) else widget
        return next((f for f in self._fields if f.edit is edit), None)

    def _group(self, title: str, rows: Sequence[tuple[str, QWidget]]) -> QGroupBox:
        """A box of labelled fields; a required field's label ends in an asterisk, and the label
        saying what is wrong with a field goes under it."""
        box = QGroupBox(title)
        form = QFormLayout(box)
        for text, widget in rows:
            field = self._field_of(widget)
            label = QLabel(f"{text} {REQUIRED_MARK}" if field is not None and field.missing
                           else text)
            label.setBuddy(widget)
            self.labels[widget] = label
            if field is None:
                form.addRow(label, widget)
                continue
            field.name = text[:1].lower() + text[1:]
            cell = QWidget()
            column = QVBoxLayout(cell)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(0)
            column.addWidget(widget)
            if widget in self._below:
                column.addWidget(self._below[widget])
            column.addWidget(field.error)
            form.addRow(label, cell)
        return box

    # --- what is missing or wrong --------------------------------------------------------------

    def _touch(self, field: _Field) -> None:
        if not field.touched:
            field.touched = True
            self._refresh()

    def _described_otherwise(self) -> bool:
        """Whether the entry is described without a procedure description: by the step's, or by
        the code sequences of the template or entry duplicated."""
        if self.step_description.text().strip():
            return True
        base = self._base
        return base is not None and bool(base.get("RequestedProcedureCodeSequence")) \
            and bool(_first_step(base).get("ScheduledProtocolCodeSequence"))

    def _problem(self, field: _Field) -> str:
        """What is wrong with the field's text, in the form's words ("" when nothing)."""
        text = field.edit.text().strip()
        if not text:
            if field.missing and not (field.edit is self.requested_description
                                      and self._described_otherwise()):
                return field.missing
            return ""
        if "\\" in text:  # every field holds one value: a backslash would start a second
            return "A backslash (\\) is not allowed here"
        reason = validate_element(field.keyword, text)
        if reason is not None:
            return reason[:1].upper() + reason[1:]
        charset = str(self.charset_combo.currentData() or "")
        bad = unwritable_character(text, charset.split("\\"))
        if bad is not None:
            return (f"{bad!r} does not fit the character set {self.charset_combo.currentText()}: "
                    "choose UTF-8 at the top")
        return ""

    def problems(self) -> tuple[list[str], list[str]]:
        """What stops Save: the labels of the required fields left empty (e.g. "patient ID"),
        and what is wrong with the others ("station AE title: An AE title has at most...")."""
        missing, wrong = self._sorted([(field, self._problem(field)) for field in self._fields])
        return missing, wrong + self._obgyn_problems()

    def _obgyn_problems(self) -> list[str]:
        return [] if self.obgyn.box.isHidden() else self.obgyn.problems(date.today())

    @staticmethod
    def _sorted(found: Sequence[tuple[_Field, str]]) -> tuple[list[str], list[str]]:
        missing = [f.name for f, problem in found if problem and not f.edit.text().strip()]
        wrong = [f"{f.name}: {problem}" for f, problem in found
                 if problem and f.edit.text().strip()]
        return missing, wrong

    def _refresh(self) -> None:
        """Show what is wrong under each field, and allow Save only when nothing is."""
        found = [(field, self._problem(field)) for field in self._fields]
        for field, problem in found:
            empty = not field.edit.text().strip()
            shown = problem if problem and (field.touched or not empty) else ""
            field.edit.setStyleSheet("background: #ffd0d0;" if shown else "")
            field.edit.setToolTip(shown)
            field.error.setText(shown)
            field.error.setVisible(bool(shown))
        missing, wrong = self._sorted(found)
        wrong += self._obgyn_problems()
        self.save_button.setEnabled(not missing and not wrong)
        lines = (["Fill in first:", *(f"• {name}" for name in missing)] if missing else []) \
            + (["Correct first:", *(f"• {problem}" for problem in wrong)] if wrong else [])
        self.save_button.setToolTip("\n".join(lines) or "Save the entry into the worklist folder")
        legend = f"{REQUIRED_MARK} required"
        if missing:
            legend += f" — still needed: {', '.join(missing)}"
        self.required_legend.setText(legend)

    def _station_changed(self, text: str) -> None:
        names = [m.name for m in self.modalities if m.ae_title == text.strip()]
        self.station_name.setText(names[0] if names else "")
        self.station_name.setVisible(bool(names))

    # --- templates -----------------------------------------------------------------------------

    def refresh_templates(self) -> None:
        self.template_combo.clear()
        self.template_combo.addItem("(none)", None)
        for template in list_templates(self.templates):
            self.template_combo.addItem(template.name, str(template.path))
        self.template_combo.addItem(f"{OBGYN_TEMPLATE_NAME} (built in)", BUILT_IN_OBGYN)

    def _template_chosen(self, row: int) -> None:
        data = self.template_combo.itemData(row)
        if data == BUILT_IN_OBGYN:
            self._use_template(obgyn_template())
        elif data:
            self.apply_template(Path(str(data)))
        else:
            self._base = None
            self.obgyn.box.hide()
            self._refresh()  # what the template's codes described needs describing now

    def apply_template(self, path: Path) -> bool:
        """Prefill the order and the step from the template at ``path`` (the patient stays)."""
        try:
            template = load_template(path)
        except EditError as exc:
            self._error(str(exc))
            return False
        self._use_template(template)
        found = self.template_combo.findData(str(path))
        if found >= 0:
            self.template_combo.setCurrentIndex(found)
        return True

    def use_obgyn_template(self) -> None:
        """Prefill the form from the built-in OB/GYN ultrasound template."""
        self.template_combo.setCurrentIndex(self.template_combo.findData(BUILT_IN_OBGYN))
        self._use_template(obgyn_template())

    def _use_template(self, template: Dataset) -> None:
        self._base = template
        self.obgyn.box.setVisible(any(k in template for k in OBGYN_KEYWORDS))
        self.prefill(template, patient=False)

    def _save_template_clicked(self) -> None:
        self.save_as_template()

    def save_as_template(self, name: str | None = None) -> Path | None:
        """Save the order and step of the form as the template ``name`` (asked when None)."""
        if name is None:
            name, ok = QInputDialog.getText(self, "Save as template", "Template name:",
                                            text=self.requested_description.text())
            if not ok:
                return None
        try:
            # placeholders for the patient: a template keeps no patient data anyway
            ds = self._make(patient_name=self._patient_name() or "TEMPLATE",
                            patient_id=self.patient_id.text().strip() or "TEMPLATE")
            path = save_template(ds, name, self.templates)
        except EditError as exc:
            self._error(str(exc))
            return None
        self.refresh_templates()
        found = self.template_combo.findData(str(path))
        if found >= 0:
            self.template_combo.setCurrentIndex(found)
        self.error_label.hide()
        return path

    # --- values --------------------------------------------------------------------------------

    def prefill(self, ds: Dataset, *, patient: bool) -> None:
        """Fill the form from ``ds``: the order and step, and with ``patient`` the patient. IDs
        are left empty (new ones are generated) and the date and time stay."""
        if patient:
            groups = ([*text_of(ds, "PatientName").split("="), "", ""])[:3]
            parts = (groups[0].split("^") + [""] * 5)[:5]
            self.ideographic_name.setText(groups[1])
            self.phonetic_name.setText(groups[2])
            for edit, value in zip((self.family_name, self.given_name, self.middle_name,
                                    self.name_prefix, self.name_suffix), parts, strict=True):
                edit.setText(value)
            self.patient_id.setText(text_of(ds, "PatientID"))
            self.birth_date.set_text_value(text_of(ds, "PatientBirthDate"))
            self._choose(self.sex, text_of(ds, "PatientSex").strip())
        for edit in (self.accession, self.requested_procedure_id, self.step_id):
            edit.clear()
        self.requested_description.setText(text_of(ds, "RequestedProcedureDescription"))
        self.referring_physician.setText(text_of(ds, "ReferringPhysicianName"))
        self._choose(self.priority, text_of(ds, "RequestedProcedurePriority").strip())
        step = _first_step(ds)
        self.modality.setCurrentText(text_of(step, "Modality"))
        self.station_aet.setCurrentText(text_of(step, "ScheduledStationAETitle"))
        self.step_description.setText(text_of(step, "ScheduledProcedureStepDescription"))
        if any(k in ds for k in OBGYN_KEYWORDS):
            self.obgyn.box.show()
            self.obgyn.prefill(ds)
        charset = text_of(ds, "SpecificCharacterSet")
        if charset:
            self._choose(self.charset_combo, charset, add=True)
        self._refresh()  # the base's code sequences may describe the procedure

    @staticmethod
    def _choose(combo: QComboBox, value: str, *, add: bool = False) -> None:
        found = combo.findData(value)
        if found < 0 and add:
            combo.addItem(value, value)
            found = combo.count() - 1
        if found >= 0:
            combo.setCurrentIndex(found)

    def _patient_name(self) -> str:
        return name_in_scripts(person_name(*(e.text().strip() for e in (
            self.family_name, self.given_name, self.middle_name, self.name_prefix,
            self.name_suffix))), self.ideographic_name.text().strip(),
            self.phonetic_name.text().strip())

    def _name_scripts_changed(self) -> None:
        """Choose the character set the name's ideographic and phonetic groups need (Japanese
        or Korean, as sites using them expect), unless a person chose one that carries them."""
        name = self._patient_name()
        needed = name_charset(name) or DEFAULT_CHARSET
        current = str(self.charset_combo.currentData() or "")
        if not self._charset_picked or unwritable_character(name, current.split("\\")):
            self._choose(self.charset_combo, needed, add=True)

    def scheduled(self) -> tuple[date, time]:
        day, moment = self.scheduled_date.date(), self.scheduled_time.time()
        return (date(day.year(), day.month(), day.day()),
                time(moment.hour(), moment.minute(), moment.second()))

    def _make(self, *, patient_name: str | None = None, patient_id: str | None = None) -> Dataset:
        scheduled_date, scheduled_time = self.scheduled()
        base = self._base
        if not self.obgyn.box.isHidden():
            base = copy.deepcopy(base) if base is not None else Dataset()
            for keyword, text in self.obgyn.values().items():
                set_element_text(base, keyword, text)
        return new_entry(
            template=base,
            patient_name=patient_name if patient_name is not None else self._patient_name(),
            patient_id=patient_id if patient_id is not None else self.patient_id.text().strip(),
            birth_date=self.birth_date.text_value(),
            sex=str(self.sex.currentData() or ""),
            accession_number=self.accession.text().strip(),
            requested_procedure_id=self.requested_procedure_id.text().strip(),
            requested_procedure_description=self.requested_description.text().strip(),
            referring_physician=self.referring_physician.text().strip(),
            priority=str(self.priority.currentData() or ""),
            modality=self.modality.currentText().strip(),
            station_aet=self.station_aet.currentText().strip(),
            scheduled_date=scheduled_date, scheduled_time=scheduled_time,
            step_description=self.step_description.text().strip(),
            step_id=self.step_id.text().strip(),
            charset=str(self.charset_combo.currentData() or ""))

    def entry(self) -> Dataset:
        """The entry the form describes; :class:`EditError` lists what is missing or invalid."""
        return self._make()

    def _error(self, text: str) -> None:
        self.last_error = text
        self.error_label.setText(text.replace("; ", "\n"))
        self.error_label.show()

    def save_entry(self) -> Path | None:
        """Make the entry and save it atomically into the folder; its path (None: the form shows
        what is wrong and stays open)."""
        for field in self._fields:
            field.touched = True
        self._refresh()
        missing, wrong = self.problems()
        if missing or wrong:
            self._error("; ".join(([f"Fill in: {', '.join(missing)}"] if missing else []) + wrong))
            return None
        try:
            path = save_new_entry(new_document(self.entry()), self.folder)
        except EditError as exc:
            self._error(str(exc))
            return None
        self.saved_path = path
        self.created.emit(path)
        self.accept()
        return path
