"""The known modalities as an editable table (the Settings tab's): name, AE title, host, and each
one's profile (edited in a dialog, ``wldesk.gui.profiles``, not in the cell)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from wldesk.core.profile import Profile
from wldesk.core.settings import KnownModality, Settings, SettingsError, check_ae_title
from wldesk.gui.qtutil import ERROR_COLOR

# --- known modalities -------------------------------------------------------------------------

@cache
def _row_checker() -> Settings:
    return Settings(database="")  # only used to run the settings' own checks on one modality


def _host_problem(host: str) -> str | None:
    """The settings' verdict on a modality host, without the key it would name."""
    try:
        _row_checker().replace(modalities=[{"name": "", "ae_title": "CHECK", "host": host}])
    except SettingsError as exc:
        return str(exc).split(": ", 1)[-1]
    return None


DEFAULT_TEXT = "Default profile"
"""What the Profile column shows for a modality without a profile of its own."""


class ModalitiesModel(QAbstractTableModel):
    """The known modalities as an editable table: name, AE title, host, profile.

    Cells keep what the user typed; problems (an invalid AE title or host, an AE title used by
    two rows) are shown in the cell's tooltip and colour and listed by :meth:`problems`. The
    Profile column shows each row's profile in a few words; it is changed with
    :meth:`set_profile` (the Settings tab's Profile… dialog), not typed in.
    """

    COLUMNS = ("Name", "AE title", "Host", "Profile")
    NAME, AE_TITLE, HOST, PROFILE = range(4)

    def __init__(self, modalities: Iterable[KnownModality] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[list[str]] = []
        self._profiles: list[Profile | None] = []
        self._problems: dict[tuple[int, int], str] = {}
        self._fill(modalities)

    def _fill(self, modalities: Iterable[KnownModality]) -> None:
        known = list(modalities)
        self._rows = [[m.name, m.ae_title, m.host] for m in known]
        self._profiles = [m.profile for m in known]
        self._recheck()

    # --- Python API ----------------------------------------------------------------------------

    def set_modalities(self, modalities: Iterable[KnownModality]) -> None:
        self.beginResetModel()
        self._fill(modalities)
        self.endResetModel()

    def rows(self) -> list[tuple[str, str, str]]:
        return [(name, ae_title, host) for name, ae_title, host in self._rows]

    def mappings(self) -> list[dict[str, Any]]:
        """The rows as the settings take them (validated there)."""
        return [{"name": name, "ae_title": ae_title, "host": host}
                | ({"profile": profile} if profile is not None else {})
                for (name, ae_title, host), profile in zip(self._rows, self._profiles, strict=True)]

    def profile(self, row: int) -> Profile | None:
        """Row ``row``'s own profile (None: the default profile applies)."""
        return self._profiles[row]

    def set_profile(self, row: int, profile: Profile | None) -> None:
        self._profiles[row] = profile
        index = self.index(row, self.PROFILE)
        self.dataChanged.emit(index, index)

    def add_row(self, name: str = "", ae_title: str = "", host: str = "") -> int:
        row = len(self._rows)
        self.insertRows(row, 1)
        self._rows[row] = [name, ae_title, host]
        self._recheck()
        self._refresh_all()
        return row

    def problems(self) -> list[str]:
        """One line per problem, in row order, naming the row and the column."""
        return [f"Row {row + 1}, {self.COLUMNS[column]}: {message}"
                for (row, column), message in sorted(self._problems.items())]

    def _recheck(self) -> None:
        problems: dict[tuple[int, int], str] = {}
        first_row: dict[str, int] = {}
        for row, (_name, ae_title, host) in enumerate(self._rows):
            try:
                title = check_ae_title(ae_title.strip())
            except ValueError as exc:
                problems[row, self.AE_TITLE] = str(exc)
            else:
                if title in first_row:
                    problems[row, self.AE_TITLE] = (
                        f"{title!r} is already the AE title of row {first_row[title] + 1}")
                else:
                    first_row[title] = row
            host_problem = _host_problem(host.strip())
            if host_problem is not None:
                problems[row, self.HOST] = host_problem
        self._problems = problems

    def _refresh_all(self) -> None:
        """A cell's problem can change with another cell's value (duplicates): refresh them all."""
        if self._rows:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(self._rows) - 1, len(self.COLUMNS) - 1))

    # --- Qt API --------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not self.checkIndex(index):
            return None
        row, column = index.row(), index.column()
        if column == self.PROFILE:
            profile = self._profiles[row]
            if role == Qt.ItemDataRole.DisplayRole:
                return DEFAULT_TEXT if profile is None else profile.summary()
            if role == Qt.ItemDataRole.ToolTipRole:
                return "Select the row and click Profile… to change how this modality's answers " \
                       "are shaped"
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._rows[row][column]
        problem = self._problems.get((row, column))
        if role == Qt.ItemDataRole.ToolTipRole:
            return problem
        if role == Qt.ItemDataRole.ForegroundRole and problem is not None:
            return QColor(ERROR_COLOR)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.COLUMNS[section] if 0 <= section < len(self.COLUMNS) else None
        return str(section + 1)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if index.column() == self.PROFILE:
            return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or not self.checkIndex(index) \
                or index.column() == self.PROFILE:
            return False
        text = "" if value is None else str(value)
        if self._rows[index.row()][index.column()] == text:
            return True
        self._rows[index.row()][index.column()] = text
        self._recheck()
        self._refresh_all()  # covers ``index``
        return True

    def insertRows(self, row: int, count: int,
                   parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:  # noqa: B008
        if parent.isValid() or count < 1 or not 0 <= row <= len(self._rows):
            return False
        self.beginInsertRows(QModelIndex(), row, row + count - 1)
        self._rows[row:row] = [["", "", ""] for _ in range(count)]
        self._profiles[row:row] = [None] * count
        self._recheck()
        self.endInsertRows()
        self._refresh_all()
        return True

    def removeRows(self, row: int, count: int,
                   parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:  # noqa: B008
        if parent.isValid() or count < 1 or row < 0 or row + count > len(self._rows):
            return False
        self.beginRemoveRows(QModelIndex(), row, row + count - 1)
        del self._rows[row:row + count]
        del self._profiles[row:row + count]
        self._recheck()
        self.endRemoveRows()
        self._refresh_all()
        return True
