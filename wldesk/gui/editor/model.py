"""The `.wl` tag editor's model: a pydicom dataset as an editable tree, every change undoable.

:class:`DatasetModel` shows a pydicom dataset as a tree: one row per element (tag, name, VR,
value), sequences with one row per item, items with their elements. Every change goes through
the model's :class:`~PySide6.QtGui.QUndoStack` as a command (edit, add, remove, item add/remove,
character set, import), and every change is a minimal row insertion, removal or ``dataChanged``
(a reset only when the whole dataset is replaced). Values are checked against their VR, the
number of values their attribute allows and the dataset's character set before they are set; a
value that fails is refused with the reason (:attr:`DatasetModel.refused`), which the cell's
tooltip then shows too. Dates may be typed in the computer's own format (:mod:`.dates`). Large
values (:func:`~wldesk.core.editing.values.is_large`) are shown abbreviated and are read-only:
they are never turned into text.
"""

from __future__ import annotations

import re
from typing import Any

from pydicom import config as pydicom_config
from pydicom.datadict import dictionary_description, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag, Tag
from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QUndoCommand, QUndoStack

from wldesk.core.dicom.model import SPS_SEQUENCE
from wldesk.core.dicom.vr import (
    BINARY_VRS,
    KNOWN_VRS,
    SPECIFIC_CHARACTER_SET,
    attribute_name,
    tag_text,
)
from wldesk.core.editing.errors import EditError
from wldesk.core.editing.values import (
    Parsed,
    binary_value_problem,
    element_from_text,
    element_text,
    is_large,
    new_element,
    parse_key,
    size_text,
    value_preview,
    value_problems,
    value_size,
    worklist_problems,
)
from wldesk.gui.editor.dates import date_hint, typed_dates
from wldesk.gui.qtutil import column_title

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

# The keys of the scheduled procedure step: a problem naming them without "step N:" is about the
# only step (check.missing_keys leaves the prefix out when there is one step).
_STEP_KEYWORDS = frozenset({
    "ScheduledStationAETitle", "ScheduledProcedureStepStartDate", "ScheduledProcedureStepStartTime",
    "Modality", "ScheduledProcedureStepID", "ScheduledProcedureStepDescription",
    "ScheduledProtocolCodeSequence"})


def large_value_reason(elem: DataElement) -> str:
    """Why the large value of ``elem`` cannot be edited in the table."""
    size = size_text(value_size(elem))
    if elem.VR in BINARY_VRS:
        return (f"{size} of {elem.VR} data: too large to show or edit as text here. Export "
                "value… in the Edit menu saves it to a file, Replace value from file… sets it "
                "from one.")
    return f"{size} of text: too long to show or edit here."


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
        self._refusals: dict[Key, str] = {}  # the last value refused for a cell, and why
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
        self._refusals.clear()
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
        return column_title(self.COLUMNS, section, orientation, role)

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
        return elem.VR != "SQ" and elem.tag.element != 0 and elem.VR in KNOWN_VRS \
            and not is_large(elem)

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
                shown = value_preview(elem)
                return shown.replace("\r\n", "↵").replace("\n", "↵").replace("\r", "↵")
            return None
        if role == Qt.ItemDataRole.EditRole and column == self.VALUE:
            return value_preview(elem) if is_large(elem) else element_text(elem)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(elem, key, column)
        return None

    def _tooltip(self, elem: DataElement, key: Key, column: int) -> str | None:
        refused = self._refusals.get(key) if column == self.VALUE else None
        problem = self._invalid.get(key) if column == self.VALUE else None
        problem = refused or problem or self._flagged.get(key)
        if problem:
            return problem
        if column == self.NAME:
            try:
                return str(dictionary_description(elem.tag))
            except KeyError:
                return None
        if column != self.VALUE or elem.VR == "SQ":
            return None
        if is_large(elem):
            return large_value_reason(elem)
        text = element_text(elem)
        return text[:2000] if len(text) > 60 else None

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
        key = self.key(index)
        if text == element_text(elem) or self._typed(elem, text) == element_text(elem):
            self._forget_refusal(key)
            return True
        parsed = self._parse(index, text)
        if parsed.element is None:
            reason = f"{self.where(index)}: {parsed.reason}"
            self._refusals[key] = f"Not changed: {reason}"
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.ToolTipRole])
            return self._refuse(reason)
        self.undo_stack.push(_ElementCommand(self, f"Edit {attribute_name(elem.tag)}",
                                             where=key[0], tag=elem.tag, old=elem,
                                             new=parsed.element))
        return True

    def _refuse(self, reason: str) -> bool:
        self.last_error = reason
        self.refused.emit(reason)
        return False

    def _forget_refusal(self, key: Key) -> None:
        if self._refusals.pop(key, None) is not None:
            index = self.index_of(key, self.VALUE)
            if index.isValid():
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.ToolTipRole])

    @staticmethod
    def _typed(elem: DataElement, text: str) -> str:
        """``text`` as the value of ``elem`` holds it: dates typed in the computer's own format
        (or YYYY-MM-DD) become YYYYMMDD."""
        return typed_dates(text) if elem.VR == "DA" else text

    # --- checks --------------------------------------------------------------------------------

    def check_text(self, index: Index, text: str) -> str | None:
        """Why ``text`` cannot be the value of the element at ``index`` (its VR, how many values
        its attribute holds, what the character set can carry), or None when it can."""
        return self._parse(index, text).reason

    def _parse(self, index: Index, text: str) -> Parsed:
        """:func:`element_from_text` for the element at ``index`` (its VR, the top-level character set)."""
        elem = self.element(index)
        if elem is None:
            return Parsed(None, ("not an element",))
        if is_large(elem):
            return Parsed(None, (large_value_reason(elem),))
        parsed = element_from_text(self.dataset_at(index), elem.tag, self._typed(elem, text),
                                   elem.VR, charset=self._dataset)
        if parsed.element is None and elem.VR == "DA":
            return Parsed(None, (f"{parsed.reason} ({date_hint()})",))
        return parsed

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
            new = new_element(tag)
            container = self.container(parent if parent is not None else QModelIndex())
            where = self.key(container)[0] if container.isValid() else ()
            dataset = self.dataset_at(container)
            if tag in dataset:
                raise EditError(f"{attribute_name(tag)} {tag_text(tag)} is already there")
        except EditError as exc:
            self._refuse(str(exc))
            raise
        self.undo_stack.push(_ElementCommand(self, f"Add {attribute_name(tag)}", where=where,
                                             tag=tag, old=None, new=new))
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
        parsed = element_from_text(self._dataset, SPECIFIC_CHARACTER_SET, value, "CS",
                                   charset=self._dataset)
        if parsed.element is None:
            shown = value or "the default character set (ASCII)"
            self._refuse(f"The character set cannot be changed to {shown}:\n"
                         + "\n".join(parsed.problems))
            raise EditError(self.last_error)
        new = parsed.element if value else None
        self.undo_stack.push(_ElementCommand(self, "Change character set", where=(),
                                             tag=Tag(SPECIFIC_CHARACTER_SET), old=old, new=new))

    def set_bytes(self, index: Index, data: bytes) -> None:
        """Make the binary element at ``index`` hold ``data`` (e.g. read from a file) as one
        undoable change; :class:`EditError` (also reported by ``refused``) says why it cannot."""
        elem = self.element(index)
        if elem is None or elem.VR not in BINARY_VRS:
            self._refuse("select a binary element (VR OB, OW, UN, ...) to replace its value")
            raise EditError(self.last_error)
        problem = binary_value_problem(elem.VR, data)
        if problem is not None:
            self._refuse(f"{self.where(index)}: {problem}")
            raise EditError(self.last_error)
        where, _ = self.key(index)
        new = DataElement(elem.tag, elem.VR, data, validation_mode=pydicom_config.IGNORE)
        self.undo_stack.push(_ElementCommand(self, f"Replace {attribute_name(elem.tag)}",
                                             where=where, tag=elem.tag, old=elem, new=new))

    def charset(self) -> str:
        """The (0008,0005) value as text ("" when absent or empty)."""
        return element_text(self._dataset.get(SPECIFIC_CHARACTER_SET))

    def replace_dataset(self, dataset: Dataset, text: str = "Import") -> None:
        """Replace every element of the top level with those of ``dataset`` (one command)."""
        self.undo_stack.push(_ReplaceCommand(self, text, list(self._dataset), list(dataset)))

    # --- the primitive changes the commands make ----------------------------------------------

    def _put_element(self, where: ItemPath, tag: BaseTag, elem: DataElement | None) -> None:
        self._forget_refusal((where, int(tag)))
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
        self._refusals.clear()
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

