"""The new-entry form's OB/GYN box: the Last Menstrual Date, or the estimated due date it is
worked out from (:func:`wldesk.core.editing.obgyn.lmp_from_edd`), and the Pregnancy Status."""

from __future__ import annotations

from datetime import date

from pydicom.dataset import Dataset
from PySide6.QtCore import QDate
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel

from wldesk.core.editing.obgyn import PREGNANCY_STATUSES, lmp_from_edd
from wldesk.core.editing.values import text_of
from wldesk.gui.editor.widgets import DateEditor
from wldesk.gui.qtutil import error_label

OBGYN_KEYWORDS = ("LastMenstrualDate", "PregnancyStatus")


class ObgynFields:
    """The OB/GYN box (``box``) and its values."""

    def __init__(self) -> None:
        self.box = QGroupBox("OB/GYN")
        self.lmp = DateEditor()
        self.lmp.set_text_value("")
        self.lmp.setToolTip("The first day of the last menstrual period (LMP)")
        self.edd = DateEditor()
        self.edd.set_text_value("")
        self.edd.setToolTip("The estimated due date: the LMP is worked out from it (280 days "
                            "before)")
        self.edd.dateChanged.connect(self._edd_changed)
        self.status = QComboBox()
        self.status.addItem("(not given)", "")
        for value, label in PREGNANCY_STATUSES:
            self.status.addItem(label, value)
        self.error = error_label("obgyn")
        form = QFormLayout(self.box)
        form.addRow(QLabel("Last menstrual date"), self.lmp)
        form.addRow(QLabel("or due date (EDD)"), self.edd)
        form.addRow(QLabel("Pregnancy status"), self.status)
        form.addRow(self.error)

    def _edd_changed(self, _date: QDate) -> None:
        value = self.edd.text_value()
        if value:
            edd = date(int(value[:4]), int(value[4:6]), int(value[6:]))
            self.lmp.set_text_value(lmp_from_edd(edd).strftime("%Y%m%d"))

    def problems(self, today: date) -> list[str]:
        """What is wrong with the box's values (shown under it)."""
        found = []
        lmp = self.lmp.text_value()
        if lmp and lmp > today.strftime("%Y%m%d"):
            found.append("last menstrual date: it is in the future (check the due date)")
        elif lmp and lmp < (today.replace(year=today.year - 1)).strftime("%Y%m%d"):
            found.append("last menstrual date: more than a year ago")
        self.error.setText("\n".join(found))
        self.error.setVisible(bool(found))
        return found

    def values(self) -> dict[str, str]:
        """The box's values by keyword (empty ones included: modalities ask for both keys)."""
        return {"LastMenstrualDate": self.lmp.text_value(),
                "PregnancyStatus": str(self.status.currentData() or "")}

    def prefill(self, ds: Dataset) -> None:
        self.lmp.set_text_value(text_of(ds, "LastMenstrualDate"))
        found = self.status.findData(text_of(ds, "PregnancyStatus").strip())
        self.status.setCurrentIndex(max(found, 0))
