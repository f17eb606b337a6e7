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
from datetime import date, datetime, time
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from PySide6.QtCore import QDate, QTime, Signal
from PySide6.QtWidgets import (
    QComboBox,
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
from wldesk.core.editing.entries import new_entry, save_new_entry
from wldesk.core.editing.errors import EditError
from wldesk.core.editing.templates import list_templates, load_template, save_template
from wldesk.core.editing.values import text_of, validate_element
from wldesk.core.settings import KnownModality
from wldesk.gui.editor.widgets import CHARSETS, DateEditor

MODALITIES = ("CT", "MR", "US", "CR", "DX", "MG", "XA", "RF", "NM", "PT", "OT", "IO", "PX", "ES",
              "OP", "SC")
PRIORITIES = (("", "(not given)"), ("ROUTINE", "Routine"), ("HIGH", "High"), ("STAT", "STAT"),
              ("MEDIUM", "Medium"), ("LOW", "Low"))
SEXES = (("", "(not given)"), ("F", "Female"), ("M", "Male"), ("O", "Other"))
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


class NewEntryDialog(QDialog):
    """Makes a new worklist entry in ``folder``. ``modalities`` fill the station AE title list;
    ``templates`` is the templates folder (default: paths.templates_dir()); ``source`` prefills
    the form from an entry to duplicate."""

    created = Signal(object)  # pathlib.Path of the file written

    def __init__(self, folder: Path, modalities: Sequence[KnownModality] = (), *,
                 templates: Path | None = None, source: Dataset | None = None,
                 parent: QWidget | None = None, now: datetime | None = None) -> None:
        super().__init__(parent)
        self.folder = Path(folder)
        self.modalities = tuple(modalities)
        self.templates = templates if templates is not None else paths.templates_dir()
        self.saved_path: Path | None = None
        self.last_error = ""
        self._base: Dataset | None = duplicate_base(source) if source is not None else None
        self.setWindowTitle("Duplicate entry" if source is not None else "New worklist entry")
        moment = now or datetime.now()
        self._checks: list[tuple[QLineEdit, str]] = []

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
        for label, value in CHARSETS[:3]:
            self.charset_combo.addItem(label, value)
        self.charset_combo.setCurrentIndex(self.charset_combo.findData(DEFAULT_CHARSET))
        top.addWidget(self.charset_combo)

        # patient
        self.family_name = self._line("PatientName", "e.g. Müller")
        self.given_name = self._line("PatientName", "e.g. José")
        self.middle_name = self._line("PatientName")
        self.name_prefix = self._line("PatientName", "e.g. Dr")
        self.name_suffix = self._line("PatientName", "e.g. Jr")
        self.patient_id = self._line("PatientID")
        self.birth_date = DateEditor()
        self.birth_date.set_text_value("")
        self.birth_date.setMaximumDate(QDate.currentDate())
        self.sex = QComboBox()
        for value, label in SEXES:
            self.sex.addItem(label, value)
        patient = self._group("Patient", (
            ("Family name", self.family_name), ("Given name", self.given_name),
            ("Middle name", self.middle_name), ("Prefix", self.name_prefix),
            ("Suffix", self.name_suffix), ("Patient ID", self.patient_id),
            ("Birth date", self.birth_date), ("Sex", self.sex)))

        # order
        self.accession = self._line("AccessionNumber", "generated when empty")
        self.requested_procedure_id = self._line("RequestedProcedureID", "generated when empty")
        self.requested_description = self._line("RequestedProcedureDescription",
                                                 "e.g. CT head without contrast")
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
        for known in self.modalities:
            self.station_aet.addItem(known.ae_title)
            self.station_aet.setItemData(self.station_aet.count() - 1, known.name)
        self.station_aet.setCurrentText("")
        self.station_name = QLabel()
        self.station_name.setStyleSheet("color: #555;")
        self.station_aet.currentTextChanged.connect(self._station_changed)
        line = self.station_aet.lineEdit()
        if line is not None:
            self._watch(line, "ScheduledStationAETitle")
        modality_line = self.modality.lineEdit()
        if modality_line is not None:
            self._watch(modality_line, "Modality")
            modality_line.textEdited.connect(
                lambda text: modality_line.setText(text.upper()) if text != text.upper() else None)
        self.scheduled_date = QDateEdit(QDate(moment.year, moment.month, moment.day))
        self.scheduled_date.setCalendarPopup(True)
        self.scheduled_date.setDisplayFormat("yyyy-MM-dd")
        self.scheduled_time = QTimeEdit(QTime(moment.hour, moment.minute))
        self.scheduled_time.setDisplayFormat("HH:mm")
        self.step_description = self._line("ScheduledProcedureStepDescription",
                                           "same as the procedure")
        self.step_id = self._line("ScheduledProcedureStepID", "generated when empty")
        station = QWidget()
        station_row = QVBoxLayout(station)
        station_row.setContentsMargins(0, 0, 0, 0)
        station_row.setSpacing(0)
        station_row.addWidget(self.station_aet)
        station_row.addWidget(self.station_name)
        step = self._group("Scheduled step", (
            ("Modality", self.modality), ("Station AE title", station),
            ("Date", self.scheduled_date), ("Time", self.scheduled_time),
            ("Step description", self.step_description), ("Step ID", self.step_id)))

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #a00;")
        self.error_label.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save_entry)
        self.buttons.rejected.connect(self.reject)
        self.folder_label = QLabel(f"Saved into {self.folder}")
        self.folder_label.setStyleSheet("color: #555;")

        groups = QHBoxLayout()
        groups.addWidget(patient)
        groups.addWidget(order)
        groups.addWidget(step)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(groups)
        layout.addWidget(self.error_label)
        bottom = QHBoxLayout()
        bottom.addWidget(self.folder_label, 1)
        bottom.addWidget(self.buttons)
        layout.addLayout(bottom)

        self.refresh_templates()
        if source is not None:
            self.prefill(source, patient=True)

    # --- building ------------------------------------------------------------------------------

    def _line(self, keyword: str, placeholder: str = "") -> QLineEdit:
        edit = QLineEdit()
        edit.setPlaceholderText(placeholder)
        edit.setMinimumWidth(160)
        self._watch(edit, keyword)
        return edit

    def _watch(self, edit: QLineEdit, keyword: str) -> None:
        """Check the field as it is typed (VR, length, number of values): red with the reason."""
        self._checks.append((edit, keyword))
        edit.textChanged.connect(lambda text: self._check(edit, keyword, text))

    def _check(self, edit: QLineEdit, keyword: str, text: str) -> None:
        reason = validate_element(keyword, text.strip())
        edit.setStyleSheet("" if reason is None else "background: #ffd0d0;")
        edit.setToolTip(reason or "")

    @staticmethod
    def _group(title: str, rows: Sequence[tuple[str, QWidget]]) -> QGroupBox:
        box = QGroupBox(title)
        form = QFormLayout(box)
        for label, widget in rows:
            form.addRow(label, widget)
        return box

    def _station_changed(self, text: str) -> None:
        names = [m.name for m in self.modalities if m.ae_title == text.strip()]
        self.station_name.setText(names[0] if names else "")

    # --- templates -----------------------------------------------------------------------------

    def refresh_templates(self) -> None:
        self.template_combo.clear()
        self.template_combo.addItem("(none)", None)
        for template in list_templates(self.templates):
            self.template_combo.addItem(template.name, str(template.path))

    def _template_chosen(self, row: int) -> None:
        data = self.template_combo.itemData(row)
        if data:
            self.apply_template(Path(str(data)))
        else:
            self._base = None

    def apply_template(self, path: Path) -> bool:
        """Prefill the order and the step from the template at ``path`` (the patient stays)."""
        try:
            template = load_template(path)
        except EditError as exc:
            self._error(str(exc))
            return False
        self._base = template
        self.prefill(template, patient=False)
        found = self.template_combo.findData(str(path))
        if found >= 0:
            self.template_combo.setCurrentIndex(found)
        return True

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
            name = text_of(ds, "PatientName").split("=")[0]
            parts = (name.split("^") + [""] * 5)[:5]
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
        charset = text_of(ds, "SpecificCharacterSet")
        if charset:
            self._choose(self.charset_combo, charset, add=True)

    @staticmethod
    def _choose(combo: QComboBox, value: str, *, add: bool = False) -> None:
        found = combo.findData(value)
        if found < 0 and add:
            combo.addItem(value, value)
            found = combo.count() - 1
        if found >= 0:
            combo.setCurrentIndex(found)

    def _patient_name(self) -> str:
        from wldesk.core.editing.entries import person_name

        return person_name(*(e.text().strip() for e in (
            self.family_name, self.given_name, self.middle_name, self.name_prefix,
            self.name_suffix)))

    def scheduled(self) -> tuple[date, time]:
        day, moment = self.scheduled_date.date(), self.scheduled_time.time()
        return (date(day.year(), day.month(), day.day()),
                time(moment.hour(), moment.minute(), moment.second()))

    def _make(self, *, patient_name: str | None = None, patient_id: str | None = None) -> Dataset:
        scheduled_date, scheduled_time = self.scheduled()
        return new_entry(
            template=self._base,
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
        try:
            path = save_new_entry(new_document(self.entry()), self.folder)
        except EditError as exc:
            self._error(str(exc))
            return None
        self.saved_path = path
        self.created.emit(path)
        self.accept()
        return path
