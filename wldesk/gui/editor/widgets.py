"""The small widgets of the `.wl` editor: the value editors fitting a VR (a calendar for dates,
the five parts of a person name, a line for the rest), the delegate that puts them in the tree and
checks the text as it is typed, and the character sets offered.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QDate, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDateEdit,
    QHBoxLayout,
    QLineEdit,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from wldesk.core.editing.entries import person_name
from wldesk.gui.editor.dates import date_hint
from wldesk.gui.editor.model import VR_ROLE, DatasetModel, Index

CHARSETS = (  # (label, (0008,0005) value); "" = the default repertoire, no (0008,0005)
    ("UTF-8 (ISO_IR 192)", "ISO_IR 192"),
    ("Latin-1 (ISO_IR 100)", "ISO_IR 100"),
    ("ASCII only (default)", ""),
    ("Latin-2 (ISO_IR 101)", "ISO_IR 101"),
    ("Latin-9 (ISO_IR 203)", "ISO_IR 203"),
    ("Cyrillic (ISO_IR 144)", "ISO_IR 144"),
    ("Greek (ISO_IR 126)", "ISO_IR 126"),
    ("Turkish (ISO_IR 148)", "ISO_IR 148"),
    ("Hebrew (ISO_IR 138)", "ISO_IR 138"),
    ("Arabic (ISO_IR 127)", "ISO_IR 127"),
    ("Thai (ISO_IR 166)", "ISO_IR 166"),
)


class DateEditor(QDateEdit):
    """A DA value with a calendar; the lowest date means "no date" (Delete empties it).

    A text it cannot show as a date (not a real date, a range, a year before 1800) is kept as it
    is and shown in place of the date until another date is picked or Delete pressed: it is never
    lost. The table gives such values a text box instead (:meth:`can_show`)."""

    EMPTY = QDate(1800, 1, 1)
    _EMPTY_TEXT = "(empty)"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setCalendarPopup(True)
        self.setDisplayFormat("yyyy-MM-dd")
        self.setMinimumDate(self.EMPTY)
        self.setSpecialValueText(self._EMPTY_TEXT)
        self.setToolTip("Pick a date; Delete empties it.")
        self._kept = ""  # a value that is not a date this editor can show, kept as it was

    @classmethod
    def can_show(cls, text: str) -> bool:
        """True when ``text`` is empty or a YYYYMMDD date this editor shows as it is."""
        if not text:
            return True
        value = QDate.fromString(text, "yyyyMMdd")
        return value.isValid() and value > cls.EMPTY and value.toString("yyyyMMdd") == text

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Delete:
            self.set_text_value("")
            return
        super().keyPressEvent(event)

    def text_value(self) -> str:
        value = self.date()
        return self._kept if value == self.EMPTY else value.toString("yyyyMMdd")

    def set_text_value(self, text: str) -> None:
        self._kept = "" if self.can_show(text) else text
        self.setSpecialValueText(self._kept or self._EMPTY_TEXT)
        self.setDate(QDate.fromString(text, "yyyyMMdd") if text and not self._kept else self.EMPTY)


class PersonNameEditor(QWidget):
    """A PN value as its five components: family, given, middle, prefix, suffix."""

    text_changed = Signal(str)
    done = Signal()

    COMPONENTS = ("Family", "Given", "Middle", "Prefix", "Suffix")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAutoFillBackground(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.parts: list[QLineEdit] = []
        for name in self.COMPONENTS:
            edit = QLineEdit()
            edit.setPlaceholderText(name)
            edit.setToolTip(f"{name} name")
            edit.textChanged.connect(lambda _t: self.text_changed.emit(self.text_value()))
            edit.returnPressed.connect(self.done)
            layout.addWidget(edit, 2 if name in ("Family", "Given") else 1)
            self.parts.append(edit)
        self.setFocusProxy(self.parts[0])

    def text_value(self) -> str:
        return person_name(*(p.text() for p in self.parts))

    def set_text_value(self, text: str) -> None:
        values = (text.split("^") + [""] * 5)[:5]
        for edit, value in zip(self.parts, values, strict=True):
            edit.setText(value)


class ValueLineEditor(QLineEdit):
    """Any other value as text; CS values are upper-cased as they are typed."""

    def __init__(self, vr: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vr = vr
        placeholder = {"TM": "HHMMSS, e.g. 143000", "DA": f"YYYYMMDD ({date_hint()})",
                       "UI": "1.2.840...",
                       "AE": "at most 16 characters", "DT": "YYYYMMDDHHMMSS"}.get(vr)
        if placeholder:
            self.setPlaceholderText(placeholder)
        if vr == "CS":
            self.textEdited.connect(self._upper)

    def _upper(self, text: str) -> None:
        if text != text.upper():
            position = self.cursorPosition()
            self.setText(text.upper())
            self.setCursorPosition(position)

    def text_value(self) -> str:
        return self.text()

    def set_text_value(self, text: str) -> None:
        self.setText(text)


ValueEditor = DateEditor | PersonNameEditor | ValueLineEditor


class ValueDelegate(QStyledItemDelegate):
    """Edits the Value column with an editor fitting the VR, checking the text as it is typed
    (the editor turns red and ``hint`` says why; the model refuses invalid values)."""

    hint = Signal(str)

    def __init__(self, model: DatasetModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.editor: ValueEditor | None = None

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Index) -> QWidget:
        vr = str(index.data(VR_ROLE) or "")
        text = str(index.data(Qt.ItemDataRole.EditRole) or "")
        editor: ValueEditor
        if vr == "DA" and DateEditor.can_show(text):
            editor = DateEditor(parent)
            editor.dateChanged.connect(lambda _d: self._check(editor, index))
        elif vr == "PN" and "=" not in text and "\\" not in text:
            editor = PersonNameEditor(parent)
            editor.text_changed.connect(lambda _t: self._check(editor, index))
            editor.done.connect(lambda: self._finish(editor))
        else:
            editor = ValueLineEditor(vr, parent)
            editor.textChanged.connect(lambda _t: self._check(editor, index))
        editor.set_text_value(text)
        editor.setProperty("initialised", True)
        self.editor = editor
        return editor

    def destroyEditor(self, editor: QWidget, index: Index) -> None:
        if editor is self.editor:
            self.editor = None
        super().destroyEditor(editor, index)

    def _finish(self, editor: QWidget) -> None:
        self.commitData.emit(editor)
        self.closeEditor.emit(editor, QStyledItemDelegate.EndEditHint.NoHint)

    def _check(self, editor: ValueEditor, index: Index) -> None:
        reason = self.model.check_text(index, editor.text_value())
        editor.setStyleSheet("" if reason is None else "background: #ffd0d0;")
        editor.setToolTip(reason or "")
        self.hint.emit(reason or "")

    def setEditorData(self, editor: QWidget, index: Index) -> None:
        if editor.property("initialised"):
            return  # set once when created: a model update must not overwrite what is typed
        super().setEditorData(editor, index)

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: Index) -> None:
        if isinstance(editor, (DateEditor, PersonNameEditor, ValueLineEditor)):
            self.hint.emit("")  # first: a refusal's message must stay
            model.setData(index, editor.text_value(), Qt.ItemDataRole.EditRole)

    def updateEditorGeometry(self, editor: QWidget, option: QStyleOptionViewItem,
                             index: Index) -> None:
        rect = option.rect
        if isinstance(editor, PersonNameEditor) and rect.width() < 460:
            rect.setWidth(460)
        editor.setGeometry(rect)

    def commit_open_editor(self) -> None:
        """Commit and close the editor being typed in, if any (before saving)."""
        if self.editor is not None:
            self._finish(self.editor)

