"""The `.wl` tag editor: a tree table of the dataset, edited in place, checked as you type.

:class:`DatasetModel` shows a pydicom dataset as a tree: one row per element (tag, name, VR,
value), sequences with one row per item, items with their elements. Every change goes through
the model's :class:`~PySide6.QtGui.QUndoStack` as a command (edit, add, remove, item add/remove,
character set, import), and every change is a minimal row insertion, removal or ``dataChanged``
(a reset only when the whole dataset is replaced). Values are checked against their VR, the
number of values their attribute allows and the dataset's character set before they are set; a
value that fails is refused with the reason (:attr:`DatasetModel.refused`).

:class:`EditorWindow` is the window around it: menus, the keys modalities need that are missing,
the character set, saving (atomic, with a prompt when the file changed on disk), import and
export as text, duplicate, templates and archiving. The document logic is the headless core's
(:mod:`wldesk.core.editing.document`); this module only presents it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydicom.datadict import (
    dictionary_description,
    dictionary_is_retired,
    dictionary_VR,
    keyword_dict,
    tag_for_keyword,
)
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag, Tag
from PySide6.QtCore import (
    QAbstractItemModel,
    QDate,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSignalBlocker,
    QStringListModel,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QBrush,
    QCloseEvent,
    QColor,
    QKeyEvent,
    QKeySequence,
    QShortcut,
    QUndoCommand,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QDateEdit,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolTip,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from wldesk.core import paths
from wldesk.core.dicom.model import SPS_SEQUENCE
from wldesk.core.dicom.vr import SPECIFIC_CHARACTER_SET, TEXT_VRS, attribute_name, tag_text
from wldesk.core.editing.document import (
    Document,
    FileIdentity,
    encoding_problems,
    load_document,
    save_document,
)
from wldesk.core.editing.dump import DumpError, dump_bytes, from_json, parse_dump, to_json
from wldesk.core.editing.entries import archive_entry, person_name, suggest_filename
from wldesk.core.editing.errors import ConflictError, EditError
from wldesk.core.editing.templates import save_template
from wldesk.core.editing.values import (
    element_text,
    validate_element,
    validate_value,
    value_from_text,
    value_problems,
    worklist_problems,
)
from wldesk.core.fileio import atomic_write_bytes
from wldesk.core.settings import KnownModality

Index = QModelIndex | QPersistentModelIndex
ItemPath = tuple[tuple[int, int], ...]
"""Where a dataset is: ((sequence tag, item index), ...) from the top level; () is the top."""
Key = tuple[ItemPath, int | None]
"""A row: (the dataset it is in, the element's tag), or (the item's path, None) for an item."""

VR_ROLE = Qt.ItemDataRole.UserRole + 1  # the element's VR ("" for items)
TAG_ROLE = Qt.ItemDataRole.UserRole + 2  # the element's tag as an int (None for items)
PROBLEM_ROLE = Qt.ItemDataRole.UserRole + 3  # why the row is highlighted, or None

INVALID_BRUSH = QBrush(QColor("#ffd0d0"))
MISSING_BRUSH = QBrush(QColor("#ffe9a8"))

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

# The keys of the scheduled procedure step: a problem naming them without "step N:" is about the
# only step (check.missing_keys leaves the prefix out when there is one step).
_STEP_KEYWORDS = frozenset({
    "ScheduledStationAETitle", "ScheduledProcedureStepStartDate", "ScheduledProcedureStepStartTime",
    "Modality", "ScheduledProcedureStepID", "ScheduledProcedureStepDescription",
    "ScheduledProtocolCodeSequence"})


def parse_key(text: str) -> BaseTag:
    """The tag the user means by ``text``: a keyword (``PatientWeight``) or a tag
    (``(0010,1030)``, ``0010,1030``, ``00101030``); :class:`EditError` says why not."""
    stripped = text.strip()
    word = stripped.split()[0] if stripped else ""
    found = tag_for_keyword(word)
    if found is not None:
        return Tag(found)
    match = re.fullmatch(r"\(?\s*([0-9a-fA-F]{4})\s*,?\s*([0-9a-fA-F]{4})\s*\)?", stripped)
    if match:
        return Tag(int(match.group(1), 16) << 16 | int(match.group(2), 16))
    raise EditError(f"{stripped or 'nothing'!r} is neither a DICOM keyword (e.g. PatientWeight) "
                    "nor a tag (e.g. (0010,1030))")


def dictionary_vr_of(tag: BaseTag) -> str:
    """The VR a new element of ``tag`` gets (the first of "US or SS"); :class:`EditError` for
    tags that cannot be added to a worklist dataset."""
    if tag.group == 0x0002:
        raise EditError(f"{tag_text(tag)} belongs to the file meta information, not the dataset")
    if tag.group == 0xFFFE:
        raise EditError("items and delimiters are not elements; use Add item on a sequence")
    if tag.element == 0:
        raise EditError("group lengths are computed when the file is written")
    if tag.is_private:
        return "LO" if tag.is_private_creator else "UN"
    try:
        return str(dictionary_VR(tag)).split(" or ")[0]
    except KeyError:
        raise EditError(f"{tag_text(tag)} is not in the DICOM data dictionary") from None


def dictionary_keywords() -> list[str]:
    """The keywords of the data dictionary that are not retired, sorted: for the completer."""
    return sorted(k for k, t in keyword_dict.items() if k and not dictionary_is_retired(t))


def empty_element(tag: BaseTag, vr: str) -> DataElement:
    if vr == "SQ":
        return DataElement(tag, "SQ", DicomSequence([]))
    return DataElement(tag, vr, value_from_text(vr, ""))


def element_from_text(tag: BaseTag, vr: str, text: str) -> DataElement:
    """A new element of ``tag`` and ``vr`` holding ``text`` (already checked)."""
    from pydicom import config as pydicom_config

    try:
        value = value_from_text(vr, text)
    except ValueError as exc:
        raise EditError(f"{attribute_name(tag)}: {exc}") from None
    return DataElement(tag, vr, value, validation_mode=pydicom_config.IGNORE)


# --- the model -----------------------------------------------------------------------------------


class _Node:
    """A row of the tree: an element (``tag`` set) or a dataset (the top level or an item)."""

    __slots__ = ("children", "dataset", "parent", "tag")

    def __init__(self, parent: _Node | None, *, tag: BaseTag | None = None,
                 dataset: Dataset | None = None) -> None:
        self.parent = parent
        self.tag = tag
        self.dataset = dataset
        self.children: list[_Node] = []

    @property
    def is_element(self) -> bool:
        return self.tag is not None

    def element(self) -> DataElement:
        assert self.parent is not None and self.parent.dataset is not None and self.tag is not None
        return self.parent.dataset[self.tag]

    def row(self) -> int:
        return self.parent.children.index(self) if self.parent is not None else 0


class _ElementCommand(QUndoCommand):
    """Set, add or remove one element: ``old``/``new`` None means absent."""

    def __init__(self, model: DatasetModel, text: str, *, where: ItemPath, tag: BaseTag,
                 old: DataElement | None, new: DataElement | None) -> None:
        super().__init__(text)
        self.model, self.where, self.tag, self.old, self.new = model, where, tag, old, new

    def redo(self) -> None:
        self.model._put_element(self.where, self.tag, self.new)

    def undo(self) -> None:
        self.model._put_element(self.where, self.tag, self.old)


class _ItemCommand(QUndoCommand):
    """Insert (``insert``) or remove the item ``row`` of the sequence ``tag`` in ``where``."""

    def __init__(self, model: DatasetModel, text: str, *, where: ItemPath, tag: BaseTag,
                 row: int, item: Dataset, insert: bool) -> None:
        super().__init__(text)
        self.model, self.where, self.tag, self.row, self.item = model, where, tag, row, item
        self.insert = insert

    def redo(self) -> None:
        self._apply(self.insert)

    def undo(self) -> None:
        self._apply(not self.insert)

    def _apply(self, insert: bool) -> None:
        if insert:
            self.model._insert_item(self.where, self.tag, self.row, self.item)
        else:
            self.model._remove_item(self.where, self.tag, self.row)


class _ReplaceCommand(QUndoCommand):
    """Replace every element of the top-level dataset (import)."""

    def __init__(self, model: DatasetModel, text: str, old: list[DataElement],
                 new: list[DataElement]) -> None:
        super().__init__(text)
        self.model, self.old, self.new = model, old, new

    def redo(self) -> None:
        self.model._replace_elements(self.new)

    def undo(self) -> None:
        self.model._replace_elements(self.old)


class DatasetModel(QAbstractItemModel):
    """A pydicom dataset as an editable tree: Tag, Name, VR, Value; sequences have item rows.

    Changes made through the public methods (and ``setData``) are pushed on :attr:`undo_stack`
    as commands; ``changed`` is emitted after each one (and after undo/redo).
    """

    changed = Signal()
    refused = Signal(str)  # a change was refused: the reason, in plain words

    COLUMNS = ("Tag", "Name", "VR", "Value")
    TAG, NAME, VR, VALUE = range(4)

    def __init__(self, dataset: Dataset, undo_stack: QUndoStack | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = undo_stack if undo_stack is not None else QUndoStack(self)
        self.last_error = ""
        self._dataset = dataset
        self._root = _Node(None, dataset=dataset)
        self._build(self._root)
        self._problems: list[str] = []
        self._invalid: dict[Key, str] = {}
        self._flagged: dict[Key, str] = {}
        self._recheck(emit=False)

    # --- the dataset ---------------------------------------------------------------------------

    @property
    def dataset(self) -> Dataset:
        return self._dataset

    def set_dataset(self, dataset: Dataset) -> None:
        """Show another dataset (e.g. the file reloaded); clears the undo history."""
        self.undo_stack.clear()
        self.beginResetModel()
        self._dataset = dataset
        self._root = _Node(None, dataset=dataset)
        self._build(self._root)
        self.endResetModel()
        self._recheck(emit=False)
        self.changed.emit()

    def problems(self) -> list[str]:
        """The keys modalities need that are missing or empty (worklist_problems), as of now."""
        return list(self._problems)

    def invalid_values(self) -> dict[Key, str]:
        return dict(self._invalid)

    def _build(self, node: _Node) -> None:
        assert node.dataset is not None
        node.children = [self._element_node(node, elem) for elem in node.dataset]

    def _element_node(self, parent: _Node, elem: DataElement) -> _Node:
        node = _Node(parent, tag=elem.tag)
        if elem.VR == "SQ":
            node.children = [self._item_node(node, item) for item in elem.value or ()]
        return node

    def _item_node(self, parent: _Node, item: Dataset) -> _Node:
        node = _Node(parent, dataset=item)
        self._build(node)
        return node

    # --- navigation ----------------------------------------------------------------------------

    def _node(self, index: Index) -> _Node:
        if not index.isValid():
            return self._root
        node = index.internalPointer()
        assert isinstance(node, _Node)
        return node

    def _index(self, node: _Node, column: int = 0) -> QModelIndex:
        if node is self._root or node.parent is None:
            return QModelIndex()
        return self.createIndex(node.row(), column, node)

    def _dataset_node(self, where: ItemPath) -> _Node | None:
        node = self._root
        for seq_tag, row in where:
            seq = next((c for c in node.children if c.tag == seq_tag), None)
            if seq is None or not 0 <= row < len(seq.children):
                return None
            node = seq.children[row]
        return node

    @staticmethod
    def _child(node: _Node, tag: int) -> _Node | None:
        return next((c for c in node.children if c.tag == tag), None)

    def _path_of(self, node: _Node) -> ItemPath:
        """The item path of a dataset node."""
        steps: list[tuple[int, int]] = []
        while node.parent is not None:
            seq = node.parent
            assert seq.tag is not None and seq.parent is not None
            steps.append((int(seq.tag), node.row()))
            node = seq.parent
        return tuple(reversed(steps))

    def key(self, index: Index) -> Key:
        """The row of ``index``: (dataset path, tag) for an element, (item path, None) for an item."""
        node = self._node(index)
        if node.tag is not None:
            assert node.parent is not None
            return self._path_of(node.parent), int(node.tag)
        return self._path_of(node), None

    def index_of(self, key: Key, column: int = 0) -> QModelIndex:
        where, tag = key
        node = self._dataset_node(where)
        if node is not None and tag is not None:
            node = self._child(node, tag)
        return self._index(node, column) if node is not None else QModelIndex()

    def find(self, *steps: str | int, column: int = VALUE) -> QModelIndex:
        """The index of an element or item by keywords and item numbers (from 0), e.g.
        ``find("ScheduledProcedureStepSequence", 0, "Modality")``; invalid when absent."""
        node: _Node | None = self._root
        for step in steps:
            if node is None:
                break
            if isinstance(step, int):
                node = node.children[step] if 0 <= step < len(node.children) else None
            else:
                tag = tag_for_keyword(step)
                node = self._child(node, tag) if tag is not None else None
        return self._index(node, column) if node is not None and node is not self._root \
            else QModelIndex()

    def element(self, index: Index) -> DataElement | None:
        node = self._node(index)
        return node.element() if node.is_element else None

    def is_item(self, index: Index) -> bool:
        return index.isValid() and not self._node(index).is_element

    def dataset_at(self, index: Index) -> Dataset:
        """The dataset an element is in, or the item's dataset (the top level for no index)."""
        node = self._node(index)
        if node.is_element:
            assert node.parent is not None
            node = node.parent
        assert node.dataset is not None
        return node.dataset

    def container(self, index: Index) -> QModelIndex:
        """The dataset row (an item, or invalid for the top level) new elements go into."""
        node = self._node(index)
        if node.is_element:
            assert node.parent is not None
            node = node.parent
        return self._index(node)

    def where(self, index: Index) -> str:
        """A readable location, e.g. ``ScheduledProcedureStepSequence item 1: Modality``."""
        parts = []
        node: _Node | None = self._node(index)
        while node is not None and node.parent is not None:
            if node.is_element:
                assert node.tag is not None
                parts.append(attribute_name(node.tag))
            else:
                parts.append(f"item {node.row() + 1}:")
            node = node.parent
        return " ".join(reversed(parts))

    # --- QAbstractItemModel --------------------------------------------------------------------

    def index(self, row: int, column: int, parent: Index | None = None) -> QModelIndex:
        parent = parent if parent is not None else QModelIndex()
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        node = self._node(parent)
        if not 0 <= row < len(node.children):
            return QModelIndex()
        return self.createIndex(row, column, node.children[row])

    def parent(self, child: Index | None = None) -> QModelIndex:  # type: ignore[override]
        if child is None or not child.isValid():
            return QModelIndex()
        node = self._node(child).parent
        if node is None or node is self._root:
            return QModelIndex()
        return self._index(node)

    def rowCount(self, parent: Index | None = None) -> int:
        if parent is None or not parent.isValid():
            return len(self._root.children)
        if parent.column() != 0:
            return 0
        return len(self._node(parent).children)

    def columnCount(self, parent: Index | None = None) -> int:
        return len(self.COLUMNS)

    def hasChildren(self, parent: Index | None = None) -> bool:
        return self.rowCount(parent) > 0

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(self.COLUMNS):
            return self.COLUMNS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == self.VALUE and self._editable(self._node(index)):
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    @staticmethod
    def _editable(node: _Node) -> bool:
        if not node.is_element:
            return False
        elem = node.element()
        return elem.VR != "SQ" and elem.tag.element != 0 and validate_value(elem.VR, "") is None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node, column = self._node(index), index.column()
        key = self.key(index)
        if role == PROBLEM_ROLE:
            return self._invalid.get(key) or self._flagged.get(key)
        if role == Qt.ItemDataRole.BackgroundRole:
            if key in self._invalid and column == self.VALUE:
                return INVALID_BRUSH
            return MISSING_BRUSH if key in self._flagged else None
        if not node.is_element:
            return self._item_data(node, column, role)
        elem = node.element()
        if role == VR_ROLE:
            return elem.VR
        if role == TAG_ROLE:
            return int(elem.tag)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == self.TAG:
                return tag_text(elem.tag)
            if column == self.NAME:
                return attribute_name(elem.tag)
            if column == self.VR:
                return elem.VR
            if column == self.VALUE:
                if elem.VR == "SQ":
                    count = len(elem.value or ())
                    return f"{count} item" + ("" if count == 1 else "s")
                text = element_text(elem)
                shown = text if len(text) <= 200 else text[:200] + "…"
                return shown.replace("\r\n", "↵").replace("\n", "↵").replace("\r", "↵")
            return None
        if role == Qt.ItemDataRole.EditRole and column == self.VALUE:
            return element_text(elem)
        if role == Qt.ItemDataRole.ToolTipRole:
            problem = self._invalid.get(key) if column == self.VALUE else None
            problem = problem or self._flagged.get(key)
            if problem:
                return problem
            if column == self.NAME:
                try:
                    return str(dictionary_description(elem.tag))
                except KeyError:
                    return None
            if column == self.VALUE and elem.VR != "SQ":
                text = element_text(elem)
                return text[:2000] if len(text) > 60 else None
        return None

    def _item_data(self, node: _Node, column: int, role: int) -> Any:
        if role == VR_ROLE:
            return ""
        if role == TAG_ROLE:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            if column == self.TAG:
                return "(FFFE,E000)"
            if column == self.NAME:
                return f"Item {node.row() + 1}"
            if column == self.VALUE:
                count = len(node.children)
                return f"{count} element" + ("" if count == 1 else "s")
            return ""
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._flagged.get(self.key(self._index(node)))
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or index.column() != self.VALUE:
            return False
        node = self._node(index)
        if not self._editable(node):
            return False
        elem = node.element()
        text = "" if value is None else str(value)
        if text == element_text(elem):
            return True
        reason = self.check_text(index, text)
        if reason is not None:
            return self._refuse(f"{self.where(index)}: {reason}")
        try:
            new = element_from_text(elem.tag, elem.VR, text)
        except EditError as exc:
            return self._refuse(str(exc))
        where, _ = self.key(index)
        self.undo_stack.push(_ElementCommand(self, f"Edit {attribute_name(elem.tag)}",
                                             where=where, tag=elem.tag, old=elem, new=new))
        return True

    def _refuse(self, reason: str) -> bool:
        self.last_error = reason
        self.refused.emit(reason)
        return False

    # --- checks --------------------------------------------------------------------------------

    def check_text(self, index: Index, text: str) -> str | None:
        """Why ``text`` cannot be the value of the element at ``index`` (its VR, how many values
        its attribute holds, what the character set can carry), or None when it can."""
        elem = self.element(index)
        if elem is None:
            return "not an element"
        reason = validate_element(elem.tag, text, elem.VR)
        if reason is not None:
            return reason
        if int(elem.tag) == SPECIFIC_CHARACTER_SET and self.key(index)[0] == ():
            problems = self.charset_problems(text)
            return "; ".join(problems) if problems else None
        if elem.VR in TEXT_VRS and text and not text.isascii():
            where = self.where(index)
            parts = [text] if elem.VR in ("LT", "ST", "UT") else text.split("\\")
            problems = encoding_problems(self._dataset, [(where, p) for p in parts])
            if problems:
                return problems[0].removeprefix(f"{where}: ")
        return None

    def charset_problems(self, value: str) -> list[str]:
        """The text values the character set ``value`` (a (0008,0005) value) cannot carry."""
        probe = Dataset()
        for elem in self._dataset:
            if int(elem.tag) != SPECIFIC_CHARACTER_SET:
                probe.add(elem)
        if value:
            probe.add(DataElement(SPECIFIC_CHARACTER_SET, "CS", value_from_text("CS", value)))
        return encoding_problems(probe)

    def _recheck(self, emit: bool = True) -> None:
        """Bring the highlights (invalid values, keys modalities need) up to date."""
        self._problems = worklist_problems(self._dataset)
        invalid: dict[Key, str] = {}
        for found in value_problems(self._dataset):
            invalid[(tuple(found.path[:-1]), found.path[-1][0])] = found.reason
        flagged: dict[Key, str] = {}
        for problem in self._problems:
            for where, keyword in self.problem_targets(problem):
                node = self._dataset_node(where)
                tag = tag_for_keyword(keyword)
                if node is None or tag is None:
                    continue
                key: Key = (where, tag) if self._child(node, tag) is not None else (where, None)
                if key != ((), None):
                    flagged[key] = "\n".join(filter(None, (flagged.get(key), problem)))
        changed = {k for k in invalid.keys() | self._invalid.keys()
                   if invalid.get(k) != self._invalid.get(k)}
        changed |= {k for k in flagged.keys() | self._flagged.keys()
                    if flagged.get(k) != self._flagged.get(k)}
        self._invalid, self._flagged = invalid, flagged
        if not emit:
            return
        for key in changed:
            first = self.index_of(key, 0)
            if first.isValid():
                self.dataChanged.emit(first, self.index_of(key, self.VALUE),
                                      [Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ToolTipRole,
                                       PROBLEM_ROLE])

    @staticmethod
    def problem_targets(problem: str) -> list[tuple[ItemPath, str]]:
        """The (dataset path, keyword) pairs a worklist_problems message is about."""
        scope: ItemPath | None = None
        rest = problem
        match = re.match(r"step (\d+): (.*)", rest)
        if match:
            scope = ((SPS_SEQUENCE, int(match.group(1)) - 1),)
            rest = match.group(2)
        match = re.match(r"(\w+) item (\d+): (.*)", rest)
        if match and tag_for_keyword(match.group(1)) is not None:
            keyword = match.group(1)
            outer = scope if scope is not None else \
                (((SPS_SEQUENCE, 0),) if keyword in _STEP_KEYWORDS else ())
            seq_tag = tag_for_keyword(keyword)
            assert seq_tag is not None
            scope = (*outer, (seq_tag, int(match.group(2)) - 1))
            rest = match.group(3)
        targets = []
        for word in re.findall(r"\b[A-Z][A-Za-z0-9]+\b", rest):
            if tag_for_keyword(word) is None:
                continue
            where = scope if scope is not None else \
                (((SPS_SEQUENCE, 0),) if word in _STEP_KEYWORDS else ())
            targets.append((where, word))
        return targets

    # --- changes (each one an undoable command) ------------------------------------------------

    def add_element(self, key: str | int, parent: Index | None = None) -> QModelIndex:
        """Add an empty element ``key`` (keyword or tag; VR from the dictionary) to the dataset
        of ``parent`` (an item row, an element beside which to add, or none: the top level), in
        tag order; return its index. :class:`EditError` (also reported by ``refused``) says why
        it cannot be added."""
        try:
            tag = Tag(key) if isinstance(key, int) else parse_key(key)
            vr = dictionary_vr_of(tag)
            container = self.container(parent if parent is not None else QModelIndex())
            where = self.key(container)[0] if container.isValid() else ()
            dataset = self.dataset_at(container)
            if tag in dataset:
                raise EditError(f"{attribute_name(tag)} {tag_text(tag)} is already there")
        except EditError as exc:
            self._refuse(str(exc))
            raise
        self.undo_stack.push(_ElementCommand(self, f"Add {attribute_name(tag)}", where=where,
                                             tag=tag, old=None, new=empty_element(tag, vr)))
        return self.index_of((where, int(tag)))

    def remove_element(self, index: Index) -> None:
        elem = self.element(index)
        if elem is None:
            raise EditError("not an element")
        where, _ = self.key(index)
        self.undo_stack.push(_ElementCommand(self, f"Remove {attribute_name(elem.tag)}",
                                             where=where, tag=elem.tag, old=elem, new=None))

    def add_item(self, sequence: Index, item: Dataset | None = None) -> QModelIndex:
        """Append an item (empty unless given) to the sequence at ``sequence``; its index."""
        elem = self.element(sequence)
        if elem is None or elem.VR != "SQ":
            self._refuse("select a sequence (VR SQ) to add an item to")
            raise EditError(self.last_error)
        where, _ = self.key(sequence)
        row = len(elem.value or ())
        self.undo_stack.push(_ItemCommand(
            self, f"Add item to {attribute_name(elem.tag)}", where=where, tag=elem.tag, row=row,
            item=item if item is not None else Dataset(), insert=True))
        seq_node = self._node(self.index_of((where, int(elem.tag))))
        return self._index(seq_node.children[row])

    def remove_item(self, index: Index) -> None:
        if not self.is_item(index):
            raise EditError("not a sequence item")
        node = self._node(index)
        seq = node.parent
        assert seq is not None and seq.parent is not None and seq.tag is not None
        assert node.dataset is not None
        self.undo_stack.push(_ItemCommand(
            self, f"Remove item {node.row() + 1} of {attribute_name(seq.tag)}",
            where=self._path_of(seq.parent), tag=seq.tag, row=node.row(), item=node.dataset,
            insert=False))

    def set_charset(self, value: str) -> None:
        """Make (0008,0005) ``value`` ("" removes it: the default repertoire, ASCII); refused
        (:class:`EditError`) when a text value of the dataset cannot be written in it."""
        old = self._dataset.get(SPECIFIC_CHARACTER_SET)
        if value == (element_text(old) if old is not None else ""):
            return
        reason = validate_value("CS", value)
        problems = [reason] if reason else self.charset_problems(value)
        if problems:
            shown = value or "the default character set (ASCII)"
            self._refuse(f"The character set cannot be changed to {shown}:\n" + "\n".join(problems))
            raise EditError(self.last_error)
        new = element_from_text(Tag(SPECIFIC_CHARACTER_SET), "CS", value) if value else None
        self.undo_stack.push(_ElementCommand(self, "Change character set", where=(),
                                             tag=Tag(SPECIFIC_CHARACTER_SET), old=old, new=new))

    def charset(self) -> str:
        """The (0008,0005) value as text ("" when absent or empty)."""
        return element_text(self._dataset.get(SPECIFIC_CHARACTER_SET))

    def replace_dataset(self, dataset: Dataset, text: str = "Import") -> None:
        """Replace every element of the top level with those of ``dataset`` (one command)."""
        self.undo_stack.push(_ReplaceCommand(self, text, list(self._dataset), list(dataset)))

    # --- the primitive changes the commands make ----------------------------------------------

    def _put_element(self, where: ItemPath, tag: BaseTag, elem: DataElement | None) -> None:
        node = self._dataset_node(where)
        assert node is not None and node.dataset is not None, where
        dataset = node.dataset
        current = self._child(node, tag)
        if current is not None:
            old = dataset[tag]
            if elem is not None and old.VR != "SQ" and elem.VR != "SQ":
                dataset[tag] = elem
                self.dataChanged.emit(self._index(current, 0), self._index(current, self.VALUE))
                self._changed()
                return
            row = current.row()
            self.beginRemoveRows(self._index(node), row, row)
            del dataset[tag]
            node.children.pop(row)
            self.endRemoveRows()
        if elem is not None:
            row = sum(1 for c in node.children if c.tag is not None and c.tag < tag)
            self.beginInsertRows(self._index(node), row, row)
            dataset[tag] = elem
            node.children.insert(row, self._element_node(node, elem))
            self.endInsertRows()
        self._changed()

    def _insert_item(self, where: ItemPath, tag: BaseTag, row: int, item: Dataset) -> None:
        node = self._dataset_node(where)
        seq = self._child(node, tag) if node is not None else None
        assert node is not None and node.dataset is not None and seq is not None
        self.beginInsertRows(self._index(seq), row, row)
        node.dataset[tag].value.insert(row, item)
        seq.children.insert(row, self._item_node(seq, item))
        self.endInsertRows()
        self._renumber(seq, row)

    def _remove_item(self, where: ItemPath, tag: BaseTag, row: int) -> None:
        node = self._dataset_node(where)
        seq = self._child(node, tag) if node is not None else None
        assert node is not None and node.dataset is not None and seq is not None
        self.beginRemoveRows(self._index(seq), row, row)
        del node.dataset[tag].value[row]
        seq.children.pop(row)
        self.endRemoveRows()
        self._renumber(seq, row)

    def _renumber(self, seq: _Node, first: int) -> None:
        """The sequence's item count and the numbers of the items from ``first`` changed."""
        self.dataChanged.emit(self._index(seq, self.VALUE), self._index(seq, self.VALUE))
        if first < len(seq.children):
            self.dataChanged.emit(self._index(seq.children[first], self.NAME),
                                  self._index(seq.children[-1], self.NAME))
        self._changed()

    def _replace_elements(self, elements: list[DataElement]) -> None:
        self.beginResetModel()
        self._dataset.clear()
        for elem in elements:
            self._dataset.add(elem)
        self._root = _Node(None, dataset=self._dataset)
        self._build(self._root)
        self.endResetModel()
        self._changed()

    def _changed(self) -> None:
        self._recheck()
        self.changed.emit()


# --- the value editors ---------------------------------------------------------------------------


class DateEditor(QDateEdit):
    """A DA value with a calendar; the lowest date means "no date" (Delete empties it)."""

    EMPTY = QDate(1800, 1, 1)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setCalendarPopup(True)
        self.setDisplayFormat("yyyy-MM-dd")
        self.setMinimumDate(self.EMPTY)
        self.setSpecialValueText("(empty)")
        self.setToolTip("Pick a date; Delete empties it.")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Delete:
            self.setDate(self.EMPTY)
            return
        super().keyPressEvent(event)

    def text_value(self) -> str:
        value = self.date()
        return "" if value == self.EMPTY else value.toString("yyyyMMdd")

    def set_text_value(self, text: str) -> None:
        value = QDate.fromString(text, "yyyyMMdd") if text else self.EMPTY
        self.setDate(value if value.isValid() else self.EMPTY)


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
        placeholder = {"TM": "HHMMSS, e.g. 143000", "DA": "YYYYMMDD", "UI": "1.2.840...",
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
        if vr == "DA" and (text == "" or (validate_value("DA", text) is None and "\\" not in text)):
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
            model.setData(index, editor.text_value(), Qt.ItemDataRole.EditRole)
            self.hint.emit("")

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


# --- the window ----------------------------------------------------------------------------------


class EditorWindow(QMainWindow):
    """Edits one `.wl` entry. Several can be open; each has its own undo history.

    ``folder`` is the worklist folder (duplicates are saved there; default: the entry's folder),
    ``modalities`` the known modalities (for duplicates), ``templates`` the templates folder,
    ``open_path`` what opens a file in an editor (for the duplicate just saved).
    """

    saved = Signal(object)  # pathlib.Path of the file just written
    archived = Signal(object)  # pathlib.Path of the entry in the archive folder

    def __init__(self, document: Document, *, folder: Path | None = None,
                 modalities: Sequence[KnownModality] = (), templates: Path | None = None,
                 open_path: Callable[[Path], object] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.document = document
        self.folder = folder
        self.modalities = tuple(modalities)
        self.templates = templates
        self.open_path = open_path
        self.last_error = ""
        self._closing = False
        self._ignored_identity: FileIdentity | None = None
        self.undo_stack = QUndoStack(self)
        self.model = DatasetModel(document.dataset, self.undo_stack, self)
        self.resize(1000, 680)
        self._build()
        self._build_menus()
        self.model.changed.connect(self._refresh)
        self.model.refused.connect(self._show_refusal)
        self.undo_stack.cleanChanged.connect(self._clean_changed)
        self._refresh()
        self._expand_defaults()

    @classmethod
    def open_file(cls, path: Path | str, **kwargs: Any) -> EditorWindow:
        """An editor for the file at ``path``; :class:`EditError` when it cannot be loaded."""
        return cls(load_document(path), **kwargs)

    # --- building ------------------------------------------------------------------------------

    def _build(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)

        self.conflict_bar = QFrame()
        self.conflict_bar.setFrameShape(QFrame.Shape.StyledPanel)
        self.conflict_bar.setStyleSheet("QFrame { background: #fff3cd; }")
        bar = QHBoxLayout(self.conflict_bar)
        self.conflict_label = QLabel()
        self.conflict_label.setWordWrap(True)
        bar.addWidget(self.conflict_label, 1)
        for text, slot in (("Reload", self.reload), ("Overwrite", self.overwrite),
                           ("Keep editing", self._dismiss_conflict)):
            button = QPushButton(text)
            button.clicked.connect(slot)
            bar.addWidget(button)
        self.conflict_bar.hide()
        layout.addWidget(self.conflict_bar)

        tools = QHBoxLayout()
        self.add_edit = QLineEdit()
        self.add_edit.setPlaceholderText("Add element: keyword or tag, e.g. PatientWeight or (0010,1030)")
        completer = QCompleter(QStringListModel(dictionary_keywords(), self), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setMaxVisibleItems(15)
        self.add_edit.setCompleter(completer)
        self.add_edit.returnPressed.connect(self._add_typed)
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self._add_typed)
        self.add_target = QLabel()
        tools.addWidget(self.add_edit, 2)
        tools.addWidget(self.add_button)
        tools.addWidget(self.add_target, 1)
        tools.addWidget(QLabel("Character set:"))
        self.charset_combo = QComboBox()
        self.charset_combo.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        for label, value in CHARSETS:
            self.charset_combo.addItem(label, value)
        self.charset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.charset_combo.setToolTip("SpecificCharacterSet (0008,0005): how the text is written")
        self.charset_combo.activated.connect(self._charset_chosen)
        tools.addWidget(self.charset_combo)
        layout.addLayout(tools)

        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.delegate = ValueDelegate(self.model, self.tree)
        self.tree.setItemDelegateForColumn(DatasetModel.VALUE, self.delegate)
        self.delegate.hint.connect(self._show_hint)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed
                                  | QAbstractItemView.EditTrigger.AnyKeyPressed)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.tree.setColumnWidth(DatasetModel.TAG, 150)
        self.tree.setColumnWidth(DatasetModel.NAME, 290)
        self.tree.setColumnWidth(DatasetModel.VR, 44)
        self.tree.selectionModel().currentChanged.connect(self._current_changed)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.tree, self.remove_selected,
                  context=Qt.ShortcutContext.WidgetShortcut)

        panel = QWidget()
        side = QVBoxLayout(panel)
        side.setContentsMargins(0, 0, 0, 0)
        heading = QLabel("<b>Keys modalities need</b>")
        self.problems_status = QLabel()
        self.problems_status.setWordWrap(True)
        self.problems_list = QListWidget()
        self.problems_list.setWordWrap(True)
        self.problems_list.setToolTip("Double-click a missing key to add or edit it.")
        self.problems_list.itemActivated.connect(self._problem_activated)
        self.notes_label = QLabel()
        self.notes_label.setWordWrap(True)
        self.notes_label.setStyleSheet("color: #555;")
        side.addWidget(heading)
        side.addWidget(self.problems_status)
        side.addWidget(self.problems_list, 1)
        side.addWidget(self.notes_label)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.tree)
        splitter.addWidget(panel)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([720, 280])
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)
        self.statusBar()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.save_action = file_menu.addAction("&Save", QKeySequence.StandardKey.Save, self.save)
        file_menu.addAction("Save &as…", QKeySequence.StandardKey.SaveAs, self.save_as)
        file_menu.addAction("&Reload from disk", self.reload)
        file_menu.addSeparator()
        file_menu.addAction("&Duplicate entry…", self.duplicate)
        file_menu.addAction("Save as &template…", self.save_as_template)
        file_menu.addSeparator()
        file_menu.addAction("&Import dump…", self._import_chosen)
        file_menu.addAction("Export as DCMTK &dump…", self._export_dump_chosen)
        file_menu.addAction("Export as &JSON…", self._export_json_chosen)
        file_menu.addSeparator()
        file_menu.addAction("Delete (move to archive)…", self.delete_entry)
        file_menu.addSeparator()
        file_menu.addAction("&Close", QKeySequence.StandardKey.Close, self.close)

        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Undo))
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        redo_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)
        if QKeySequence("Ctrl+Y") not in redo_keys:
            redo_keys.append(QKeySequence("Ctrl+Y"))
        self.redo_action.setShortcuts(redo_keys)
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        edit_menu.addAction("&Add element…", QKeySequence("Ctrl+E"), self._focus_add)
        self.remove_action = QAction("&Remove element", self)
        self.remove_action.triggered.connect(self.remove_selected)
        edit_menu.addAction(self.remove_action)
        self.add_item_action = edit_menu.addAction("Add &item", QKeySequence("Ctrl+I"),
                                                   self.add_item_selected)
        self.remove_item_action = edit_menu.addAction("Remove i&tem", self.remove_selected)
        edit_menu.addSeparator()
        edit_menu.addAction("E&xpand all", self.tree.expandAll)
        edit_menu.addAction("C&ollapse all", self.tree.collapseAll)

    def _expand_defaults(self) -> None:
        """Show the scheduled procedure step open: that is what modalities read."""
        for row in range(self.model.rowCount()):
            index = self.model.index(row, 0)
            if self.model.data(index, TAG_ROLE) == SPS_SEQUENCE:
                self.tree.expandRecursively(index)

    # --- state shown ---------------------------------------------------------------------------

    def _refresh(self) -> None:
        problems = self.model.problems()
        self.problems_list.clear()
        for problem in problems:
            item = QListWidgetItem(problem)
            item.setBackground(MISSING_BRUSH)
            self.problems_list.addItem(item)
        if problems:
            self.problems_status.setText(
                f"<span style='color:#a00'>{len(problems)} problem"
                f"{'' if len(problems) == 1 else 's'}: many modalities drop this entry.</span>")
        else:
            self.problems_status.setText(
                "<span style='color:#070'>Complete: it has every key modalities need.</span>")
        invalid = len(self.model.invalid_values())
        notes = list(self.document.notes)
        if invalid:
            notes.insert(0, f"{invalid} value(s) do not fit their VR (red).")
        self.notes_label.setText("\n".join(notes))
        with QSignalBlocker(self.charset_combo):
            value = self.model.charset()
            found = self.charset_combo.findData(value)
            if found < 0:
                self.charset_combo.addItem(value, value)
                found = self.charset_combo.count() - 1
            self.charset_combo.setCurrentIndex(found)
        self._refresh_title()
        self._update_actions()

    def _refresh_title(self) -> None:
        name = self.document.path.name if self.document.path else "New entry"
        self.setWindowTitle(f"{name}[*] — wldesk editor")
        self.setWindowModified(self.document.is_modified())

    def _clean_changed(self, _clean: bool) -> None:
        self._refresh_title()

    def _current_changed(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        self._update_actions()

    def _update_actions(self) -> None:
        index = self.tree.currentIndex()
        element = self.model.element(index) if index.isValid() else None
        is_item = self.model.is_item(index)
        self.remove_action.setEnabled(element is not None)
        self.remove_item_action.setEnabled(is_item)
        self.add_item_action.setEnabled(is_item or (element is not None and element.VR == "SQ"))
        container = self.model.container(index) if index.isValid() else QModelIndex()
        target = self.model.where(container) if container.isValid() else "the top level"
        self.add_target.setText(f"into {target.rstrip(':')}")

    def _show_hint(self, reason: str) -> None:
        if reason:
            self.statusBar().showMessage(f"Not a valid value: {reason}")
        else:
            self.statusBar().clearMessage()

    def _show_refusal(self, reason: str) -> None:
        self.last_error = reason
        self.statusBar().showMessage(f"Refused — {reason}", 15000)
        index = self.tree.currentIndex()
        if index.isValid() and self.isVisible():
            rect = self.tree.visualRect(index.siblingAtColumn(DatasetModel.VALUE))
            QToolTip.showText(self.tree.viewport().mapToGlobal(rect.bottomLeft()), reason, self.tree)

    def _warn(self, title: str, text: str) -> None:
        self.last_error = text
        QMessageBox.warning(self, title, text)

    # --- editing -------------------------------------------------------------------------------

    def _focus_add(self) -> None:
        self.add_edit.setFocus()
        self.add_edit.selectAll()

    def _add_typed(self) -> None:
        text = self.add_edit.text().strip()
        if not text:
            return
        try:
            index = self.add_element(text)
        except EditError:
            return  # refused: the status bar says why
        self.add_edit.clear()
        if self.model.data(index, VR_ROLE) != "SQ":
            self.tree.edit(index.siblingAtColumn(DatasetModel.VALUE))

    def add_element(self, key: str) -> QModelIndex:
        """Add ``key`` (keyword or tag) where the selection is (an item, or beside an element)."""
        index = self.model.add_element(key, self.tree.currentIndex())
        parent = index.parent()
        if parent.isValid():
            self.tree.expand(parent)
        self.tree.setCurrentIndex(index)
        self.tree.scrollTo(index)
        return index

    def remove_selected(self) -> None:
        index = self.tree.currentIndex()
        if not index.isValid():
            return
        if self.model.is_item(index):
            self.model.remove_item(index)
        else:
            self.model.remove_element(index)

    def add_item_selected(self) -> None:
        index = self.tree.currentIndex()
        if self.model.is_item(index):
            index = index.parent()
        try:
            item = self.model.add_item(index)
        except EditError:
            return
        self.tree.expand(index)
        self.tree.setCurrentIndex(item)

    def set_charset(self, value: str) -> bool:
        """Change SpecificCharacterSet; a refusal is shown in a message box. True when changed."""
        try:
            self.model.set_charset(value)
        except EditError as exc:
            self._warn("Character set not changed", str(exc))
            self._refresh()
            return False
        return True

    def _charset_chosen(self, row: int) -> None:
        self.set_charset(str(self.charset_combo.itemData(row) or ""))

    def _problem_activated(self, item: QListWidgetItem) -> None:
        for where, keyword in DatasetModel.problem_targets(item.text()):
            tag = tag_for_keyword(keyword)
            assert tag is not None
            index = self.model.index_of((where, tag), DatasetModel.VALUE)
            if not index.isValid():
                container = self.model.index_of((where, None))
                if where and not container.isValid():
                    continue
                try:
                    index = self.model.add_element(keyword, container).siblingAtColumn(
                        DatasetModel.VALUE)
                except EditError:
                    continue
            self.tree.scrollTo(index)
            self.tree.setCurrentIndex(index)
            if self.model.flags(index) & Qt.ItemFlag.ItemIsEditable:
                self.tree.edit(index)
            return

    # --- files ---------------------------------------------------------------------------------

    def save(self) -> bool:
        """Save to the file (atomically); True when saved."""
        if self.document.path is None:
            return self.save_as()
        return self.save_to(self.document.path)

    def save_as(self) -> bool:
        start = self.document.path or suggest_filename(self.document.dataset, self._folder())
        name, _ = QFileDialog.getSaveFileName(self, "Save entry as", str(start),
                                              "Worklist files (*.wl);;All files (*)")
        return self.save_to(Path(name), force=True) if name else False

    def save_to(self, path: Path, *, force: bool = False) -> bool:
        """Write the entry to ``path``. A file changed on disk meanwhile is not overwritten
        without asking (:meth:`ask_conflict`); on failure the file on disk stays as it was and a
        message box says why."""
        self.delegate.commit_open_editor()
        try:
            save_document(self.document, path, force=force)
        except ConflictError:
            self._show_conflict()
            choice = self.ask_conflict()
            if choice == "overwrite":
                return self.save_to(path, force=True)
            if choice == "reload":
                self.reload()
            return False
        except EditError as exc:
            self._warn("Cannot save", f"{exc}\n\nThe file on disk was not changed.")
            return False
        self.undo_stack.setClean()
        self.conflict_bar.hide()
        self._ignored_identity = None
        self._refresh()
        self.statusBar().showMessage(f"Saved {path}", 5000)
        self.saved.emit(path)
        return True

    def ask_conflict(self) -> str:
        """Ask what to do about the file changed on disk: "reload", "overwrite" or "cancel"."""
        box = QMessageBox(QMessageBox.Icon.Warning, "File changed on disk",
                          self.conflict_text(), parent=self)
        reload = box.addButton("Reload (lose my changes)", QMessageBox.ButtonRole.DestructiveRole)
        overwrite = box.addButton("Overwrite", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        return "reload" if clicked is reload else "overwrite" if clicked is overwrite else "cancel"

    def conflict_text(self) -> str:
        path = self.document.path
        if path is not None and not path.exists():
            return f"{path} was deleted or moved by someone else since it was opened here."
        return f"{path} was changed by someone else since it was opened here."

    def check_disk(self) -> bool:
        """Show the Reload/Overwrite bar when the file changed on disk (on focus-in); True then."""
        if not self.document.changed_on_disk():
            self.conflict_bar.hide()
            return False
        if self.document.path is not None and \
                FileIdentity.of_path(self.document.path) == self._ignored_identity:
            return False
        self._show_conflict()
        return True

    def _show_conflict(self) -> None:
        self.conflict_label.setText(self.conflict_text() + " Reload it (your changes here are lost), "
                                    "or overwrite it with this version?")
        self.conflict_bar.show()

    def _dismiss_conflict(self) -> None:
        if self.document.path is not None:
            self._ignored_identity = FileIdentity.of_path(self.document.path)
        self.conflict_bar.hide()

    def reload(self) -> bool:
        """Read the file again, dropping the changes made here (and the undo history)."""
        if self.document.path is None:
            return False
        try:
            document = load_document(self.document.path)
        except EditError as exc:
            self._warn("Cannot reload", str(exc))
            return False
        self.document = document
        self.model.set_dataset(document.dataset)
        self._ignored_identity = None
        self.conflict_bar.hide()
        self._expand_defaults()
        self._refresh()
        self.statusBar().showMessage(f"Reloaded {document.path}", 5000)
        return True

    def overwrite(self) -> bool:
        """Save this version over the file that changed on disk."""
        if self.document.path is None:
            return self.save_as()
        return self.save_to(self.document.path, force=True)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.check_disk()

    def _folder(self) -> Path:
        if self.folder is not None:
            return self.folder
        if self.document.path is not None:
            return self.document.path.parent
        return Path.cwd()

    def delete_entry(self) -> Path | None:
        """After confirmation, move the file to the archive folder and close; its new path."""
        path = self.document.path
        if path is None:
            return None
        answer = QMessageBox.question(
            self, "Delete entry",
            f"Move {path.name} to the archive folder?\nModalities will no longer see it.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return None
        try:
            target = archive_entry(path)
        except EditError as exc:
            self._warn("Cannot delete", str(exc))
            return None
        self.archived.emit(target)
        self._closing = True
        self.close()
        return target

    def close_discarding(self) -> None:
        """Close without asking, dropping unsaved changes."""
        self._closing = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.delegate.commit_open_editor()
        if self._closing or not self.document.is_modified():
            event.accept()
            return
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Save the changes to {self.windowTitle().split('[')[0]}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Discard \
                or (answer == QMessageBox.StandardButton.Save and self.save()):
            event.accept()
        else:
            event.ignore()

    # --- text import and export ----------------------------------------------------------------

    def _base_name(self, suffix: str) -> str:
        base = self.document.path.with_suffix(suffix) if self.document.path else Path("entry" + suffix)
        return str(base)

    def _export_dump_chosen(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export as DCMTK dump",
                                              self._base_name(".dump"),
                                              "DCMTK dump (*.dump *.txt);;All files (*)")
        if name:
            self.export_dump(Path(name))

    def _export_json_chosen(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export as JSON", self._base_name(".json"),
                                              "DICOM JSON (*.json);;All files (*)")
        if name:
            self.export_json(Path(name))

    def _import_chosen(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Import dump", str(self._folder()),
                                              "DCMTK dump or DICOM JSON (*.dump *.txt *.json);;"
                                              "All files (*)")
        if name:
            self.import_text(Path(name))

    def export_dump(self, path: Path) -> bool:
        """Write the entry as it is now as dcmdump text (dump2dcm turns it back into the file)."""
        try:
            atomic_write_bytes(path, dump_bytes(self.document.dataset))
        except (DumpError, OSError) as exc:
            self._warn("Cannot export", f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}")
            return False
        self.statusBar().showMessage(f"Exported {path}", 5000)
        return True

    def export_json(self, path: Path) -> bool:
        """Write the entry as it is now in the DICOM JSON model."""
        try:
            atomic_write_bytes(path, (to_json(self.document.dataset) + "\n").encode("utf-8"))
        except OSError as exc:
            self._warn("Cannot export", f"cannot write {path}: {exc.strerror or exc}")
            return False
        self.statusBar().showMessage(f"Exported {path}", 5000)
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
            self._warn("Cannot import", f"{path}: {getattr(exc, 'strerror', None) or exc}")
            return False
        self.model.replace_dataset(dataset, f"Import {path.name}")
        self._expand_defaults()
        message = f"Imported {path.name} (Undo gives the previous elements back)"
        if notes:
            message += ": " + "; ".join(notes)
        self.statusBar().showMessage(message, 15000)
        return True

    # --- new entries from this one -------------------------------------------------------------

    def duplicate_dialog(self) -> QWidget:
        """The new-entry form prefilled from this entry (new IDs and Study Instance UID)."""
        from wldesk.gui.new_entry import NewEntryDialog

        dialog = NewEntryDialog(self._folder(), self.modalities, templates=self._templates(),
                                source=self.document.dataset, parent=self)
        if self.open_path is not None:
            dialog.created.connect(self.open_path)
        return dialog

    def duplicate(self) -> None:
        dialog = self.duplicate_dialog()
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    def _templates(self) -> Path:
        return self.templates if self.templates is not None else paths.templates_dir()

    def save_as_template(self, name: str | None = None) -> Path | None:
        """Save the entry without its patient and order values as a template named ``name``
        (asked when None) in the templates folder; the template file."""
        if name is None:
            suggestion = self.model.dataset.get("RequestedProcedureDescription")
            name, ok = QInputDialog.getText(self, "Save as template", "Template name:",
                                            text=element_text(suggestion))
            if not ok:
                return None
        try:
            path = save_template(self.document.dataset, name, self._templates())
        except EditError as exc:
            self._warn("Cannot save the template", str(exc))
            return None
        self.statusBar().showMessage(f"Template {name!r} saved: {path}", 5000)
        return path
