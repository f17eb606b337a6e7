"""Small Qt helpers shared by the tabs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtWidgets import QLabel

Index = QModelIndex | QPersistentModelIndex

ERROR_COLOR = "#b00020"  # the red of the messages under a field that is wrong


def error_label(name: str, kind: str = "error", color: str = ERROR_COLOR) -> QLabel:
    """The hidden label that says under a field what is wrong with it (``<name>_<kind>``): red
    for an error, or another colour (a warning)."""
    label = QLabel()
    label.setObjectName(f"{name}_{kind}")
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {color};")
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def refilter(proxy: QSortFilterProxyModel, change: Callable[[], None]) -> None:
    """Apply ``change`` to the proxy's filter and re-filter its rows (Qt >= 6.10 wants the change
    between begin/endFilterChange; before that, invalidateRowsFilter, now deprecated, does it)."""
    if hasattr(proxy, "endFilterChange"):
        proxy.beginFilterChange()
        change()
        proxy.endFilterChange(QSortFilterProxyModel.Direction.Rows)
    else:
        change()
        proxy.invalidateRowsFilter()


def column_title(titles: Sequence[str], section: int, orientation: Qt.Orientation,
                 role: int) -> str | None:
    """A model's ``headerData`` for columns named by ``titles`` (no row headers)."""
    if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(titles)):
        return titles[section]
    return None


class ColumnsModel(QAbstractTableModel):
    """A flat table model whose columns are named by ``COLUMNS``; subclasses give ``row_count``."""

    COLUMNS: tuple[str, ...] = ()

    def row_count(self) -> int:
        raise NotImplementedError

    def rowCount(self, parent: Index | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else self.row_count()

    def columnCount(self, parent: Index | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return column_title(self.COLUMNS, section, orientation, role)
