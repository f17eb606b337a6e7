"""The entry and its values to and from files, for the editor window: export as a DCMTK dump or as
DICOM JSON, import either (one undoable change), and a binary value's bytes exported to a file or
replaced from one (the way to handle a value too large to edit as text)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, QObject, Signal

from wldesk.core.dicom.vr import BINARY_VRS
from wldesk.core.editing.dump import DumpError, dump_bytes, from_json, parse_dump, to_json
from wldesk.core.editing.errors import EditError
from wldesk.core.editing.values import large_values
from wldesk.core.fileio import atomic_write_bytes
from wldesk.gui.editor.model import DatasetModel


class EntryFiles(QObject):
    """File operations on the dataset of ``model``. What was done is said by ``message`` (text
    and milliseconds, for the status line); why something could not be done by ``failed`` (title
    and text, for a message box); a refused value by the model's ``refused``."""

    message = Signal(str, int)
    failed = Signal(str, str)
    imported = Signal()

    def __init__(self, model: DatasetModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model

    def export_dump(self, path: Path) -> bool:
        """Write the entry as it is now as dcmdump text (dump2dcm turns it back into the file);
        large values are left out (and the message says which)."""
        try:
            atomic_write_bytes(path, dump_bytes(self.model.dataset))
        except (DumpError, OSError) as exc:
            self.failed.emit("Cannot export",
                             f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}")
            return False
        self._exported(path)
        return True

    def export_json(self, path: Path) -> bool:
        """Write the entry as it is now in the DICOM JSON model; large values are left out."""
        try:
            atomic_write_bytes(path, (to_json(self.model.dataset) + "\n").encode("utf-8"))
        except OSError as exc:
            self.failed.emit("Cannot export", f"cannot write {path}: {exc.strerror or exc}")
            return False
        self._exported(path)
        return True

    def _exported(self, path: Path) -> None:
        left_out = large_values(self.model.dataset)
        if left_out:
            self.message.emit(f"Exported {path}; too large for a text file and left out: "
                              f"{'; '.join(left_out)} (Export value… in the Edit menu saves such a value)",
                              30000)
        else:
            self.message.emit(f"Exported {path}", 5000)

    def export_value(self, index: QModelIndex, path: Path) -> bool:
        """Write the bytes of the binary value at ``index`` to ``path`` (atomically), as they are."""
        element = self.model.element(index) if index.isValid() else None
        if element is None or element.VR not in BINARY_VRS:
            return False
        try:
            atomic_write_bytes(path, bytes(element.value or b""))
        except OSError as exc:
            self.failed.emit("Cannot export", f"cannot write {path}: {exc.strerror or exc}")
            return False
        self.message.emit(f"Exported {self.model.where(index)} to {path}", 5000)
        return True

    def replace_value(self, index: QModelIndex, path: Path) -> bool:
        """Make the binary element at ``index`` hold the bytes of the file ``path`` (undoable)."""
        try:
            data = path.read_bytes()
            self.model.set_bytes(index, data)
        except OSError as exc:
            self.failed.emit("Cannot replace the value", f"cannot read {path}: {exc.strerror or exc}")
            return False
        except EditError:
            return False  # refused: the model said why
        self.message.emit(f"{self.model.where(index)} now holds the bytes of {path.name}", 5000)
        return True

    def import_text(self, path: Path) -> bool:
        """Replace the dataset with a dump's (or a DICOM JSON file's), as one undoable change."""
        try:
            data = path.read_bytes()
            if path.suffix.lower() == ".json":
                dataset, notes = from_json(data), []
            else:
                parsed = parse_dump(data)
                dataset, notes = parsed.dataset, parsed.notes
        except (OSError, EditError) as exc:
            self.failed.emit("Cannot import", f"{path}: {getattr(exc, 'strerror', None) or exc}")
            return False
        self.model.replace_dataset(dataset, f"Import {path.name}")
        self.imported.emit()
        message = f"Imported {path.name} (Undo gives the previous elements back)"
        if notes:
            message += ": " + "; ".join(notes)
        self.message.emit(message, 15000)
        return True
