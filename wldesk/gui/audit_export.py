"""Activity > Export... > Queries of a period: the audit log's queries of a chosen period as a CSV
file (:func:`wldesk.core.audit.export_csv`), read and written off the GUI thread. The audit log
holds the queries answered while the window was closed too (``wldesk serve``, or before)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path

from PySide6.QtCore import QDate, QDateTime, QTime
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from wldesk.core.audit import AuditLog, export_csv
from wldesk.gui.tasks import run_in_background

TIME_FORMAT = "yyyy-MM-dd HH:mm"
QUICK = ("Today", "Yesterday", "Last 7 days")


def quick_period(choice: str, today: date) -> tuple[datetime, datetime]:
    """The first and the last minute of a quick choice (local times)."""
    first = {"Today": today, "Yesterday": today - timedelta(days=1),
             "Last 7 days": today - timedelta(days=6)}[choice]
    last = today - timedelta(days=1) if choice == "Yesterday" else today
    return datetime.combine(first, time(0, 0)), datetime.combine(last, time(23, 59))


def _export(audit: AuditLog, start: datetime, end: datetime, path: Path
            ) -> tuple[int, list[str]]:
    """On a worker thread: the lines queued so far written, then the period exported."""
    audit.flush()
    notes: list[str] = []
    return export_csv(audit.folder, start, end, path, notes.append), notes


class AuditExportDialog(QDialog):
    """Choose a period (quick choices or from/to) and a file; Export writes the CSV."""

    def __init__(self, audit: AuditLog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.audit = audit
        self.setWindowTitle("Export queries")
        intro = QLabel(
            "Save the queries modalities made in a period as a CSV file for a spreadsheet: time, "
            "modality (calling AE title), its IP address, what it asked for, how many entries "
            "matched and were sent, and the result. Queries answered while this window was "
            f"closed are included. The audit log keeps {audit.days} days."
            if audit.days > 0 else
            "The audit log is off (0 days in the Settings tab), so no queries are kept to export.")
        intro.setWordWrap(True)

        quick = QHBoxLayout()
        self.quick_buttons: dict[str, QPushButton] = {}
        for choice in QUICK:
            button = QPushButton(choice)
            button.clicked.connect(partial(self.choose, choice))
            quick.addWidget(button)
            self.quick_buttons[choice] = button
        quick.addStretch(1)
        self.from_edit = QDateTimeEdit()
        self.to_edit = QDateTimeEdit()
        for edit in (self.from_edit, self.to_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat(TIME_FORMAT)
            edit.dateTimeChanged.connect(self._period_changed)
        self.file_edit = QLineEdit()
        self.file_edit.textEdited.connect(self._file_edited)
        self.browse_button = QPushButton("Choose…")
        self.browse_button.clicked.connect(self._browse)
        file_row = QHBoxLayout()
        file_row.addWidget(self.file_edit, 1)
        file_row.addWidget(self.browse_button)
        form = QFormLayout()
        form.addRow("Period:", quick)
        form.addRow("From:", self.from_edit)
        form.addRow("To (included):", self.to_edit)
        form.addRow("File:", file_row)

        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = buttons.addButton("Export", QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.export)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.result_label)
        layout.addWidget(buttons)
        self._file_chosen = False
        self.busy = False
        self.choose("Today")
        self.resize(560, self.sizeHint().height())

    # --- the period and the file ----------------------------------------------------------------

    def choose(self, choice: str) -> None:
        """A quick choice: Today, Yesterday or Last 7 days."""
        self.set_period(*quick_period(choice, date.today()))

    def set_period(self, start: datetime, end: datetime) -> None:
        for edit, moment in ((self.from_edit, start), (self.to_edit, end)):
            edit.setDateTime(QDateTime(QDate(moment.year, moment.month, moment.day),
                                       QTime(moment.hour, moment.minute)))

    def period(self) -> tuple[datetime, datetime]:
        """From the first second of From to the last second of To (local times)."""
        start = self.from_edit.dateTime().toPython()
        end = self.to_edit.dateTime().toPython()
        assert isinstance(start, datetime) and isinstance(end, datetime)
        return start.replace(second=0, microsecond=0), end.replace(second=59, microsecond=0)

    def set_file(self, path: Path) -> None:
        self.file_edit.setText(str(path))
        self._file_chosen = True

    def _suggested(self) -> Path:
        start, end = self.period()
        days = f"{start:%Y%m%d}" if start.date() == end.date() \
            else f"{start:%Y%m%d}-{end:%Y%m%d}"
        return Path.home() / f"wldesk-queries-{days}.csv"

    def _period_changed(self) -> None:
        self.result_label.clear()
        if not self._file_chosen:
            self.file_edit.setText(str(self._suggested()))

    def _file_edited(self, text: str) -> None:
        self._file_chosen = bool(text.strip())

    def _browse(self) -> None:
        name, _filter = QFileDialog.getSaveFileName(
            self, "Export queries", self.file_edit.text() or str(self._suggested()),
            "CSV files (*.csv);;All files (*)")
        if name:
            self.set_file(Path(name))

    # --- export ----------------------------------------------------------------------------------

    def export(self) -> None:
        start, end = self.period()
        text = self.file_edit.text().strip()
        if start > end:
            self.result_label.setText("The period ends before it starts: change From or To.")
            return
        if not text:
            self.result_label.setText("Choose the file to save to.")
            return
        path = Path(text).expanduser()
        self.busy = True
        self.export_button.setEnabled(False)
        self.result_label.setText("Exporting…")
        run_in_background(self, partial(_export, self.audit, start, end, path),
                          partial(self._done, path), self._failed, name="wldesk-gui-audit-export")

    def _done(self, path: Path, result: tuple[int, list[str]]) -> None:
        count, notes = result
        message = (f"Saved {count} row{'s' if count != 1 else ''} to {path}." if count else
                   f"No queries in that period; {path} holds the column names only.")
        if notes:
            message += (f"\n{len(notes)} line{'s' if len(notes) != 1 else ''} of the audit log "
                        f"could not be read and {'were' if len(notes) != 1 else 'was'} left out: "
                        + "; ".join(notes[:3]))
        self._finish(message)

    def _failed(self, exc: Exception) -> None:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        self._finish(f"Could not save the file: {reason}. Nothing was written.")

    def _finish(self, message: str) -> None:
        self.busy = False
        self.export_button.setEnabled(True)
        self.result_label.setText(message)
