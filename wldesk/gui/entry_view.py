"""A read-only view of one worklist file: every element, sequences as expandable rows."""

from __future__ import annotations

from pathlib import Path

from pydicom.datadict import keyword_for_tag
from PySide6.QtWidgets import QDialog, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from wldesk.core.check import missing_keys
from wldesk.core.node import Node, values_of
from wldesk.core.store import read_entry
from wldesk.core.wlfile import WorklistFileError


def _value_text(vr: str, value: object) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return "\\".join(str(v) for v in values_of(value))


def _add_rows(parent: QTreeWidget | QTreeWidgetItem, node: Node) -> None:
    for tag, vr, value in node:
        item = QTreeWidgetItem([f"({tag >> 16:04X},{tag & 0xFFFF:04X})",
                                keyword_for_tag(tag) or "(private or unknown)", vr,
                                "" if vr == "SQ" else _value_text(vr, value)])
        if isinstance(parent, QTreeWidget):
            parent.addTopLevelItem(item)
        else:
            parent.addChild(item)
        if vr == "SQ":
            item.setText(3, f"{len(value)} item(s)")
            for number, child in enumerate(value, start=1):
                holder = QTreeWidgetItem(["", f"Item {number}", "", ""])
                item.addChild(holder)
                _add_rows(holder, child)


class EntryView(QDialog):
    """Shows a `.wl` file as the server reads it, with the keys modalities need that it lacks."""

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{path.name} — wldesk")
        self.resize(760, 560)
        layout = QVBoxLayout(self)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Tag", "Keyword", "VR", "Value"])
        layout.addWidget(self.tree)
        try:
            entry = read_entry(path)
        except WorklistFileError as exc:
            self.summary.setText(f"{path}\nThis file is not served: {exc}")
            return
        _add_rows(self.tree, entry.node)
        self.tree.expandAll()
        for column in range(3):
            self.tree.resizeColumnToContents(column)
        problems = missing_keys(entry.node) + list(entry.notes)
        self.summary.setText(str(path) + ("\n" + "\n".join(problems) if problems else
                                          "\nComplete: it has every key modalities need."))
