"""The house rules of docs/architecture.md, read from the code's own imports: the layers, no import
circle, no Qt in core, no module too large to read."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "wldesk"
MAX_LINES = 800

# Each layer and the layers it may import (itself included). A module's layer is the longest
# prefix below that names it.
LAYERS: dict[str, str] = {
    "wldesk": "plumbing",  # the package face: APP_NAME, __version__
    "wldesk.core": "plumbing",
    "wldesk.core.paths": "plumbing",
    "wldesk.core.fileio": "plumbing",
    "wldesk.core.events": "plumbing",
    "wldesk.core.logs": "plumbing",
    "wldesk.core.audit": "plumbing",
    "wldesk.core.settings": "plumbing",
    "wldesk.core.settings_file": "plumbing",
    "wldesk.core.profile": "plumbing",
    "wldesk.core.autostart": "plumbing",
    "wldesk.core.dicom": "dicom",
    "wldesk.core.query": "query",
    "wldesk.core.store": "folder",
    "wldesk.core.check": "folder",
    "wldesk.core.share": "folder",
    "wldesk.core.index": "folder",
    "wldesk.core.snapshot": "folder",
    "wldesk.core.watch": "folder",
    "wldesk.core.net": "net",
    "wldesk.core.editing": "editing",
    "wldesk.core.flow": "flow",
    "wldesk.core.libraries": "entry",
    "wldesk.gui": "gui",
    "wldesk.cli": "entry",
    "wldesk.__main__": "entry",
    "wldesk.selftest": "entry",
    "wldesk.machine_setup": "entry",
}
CORE = {"plumbing", "dicom", "query", "folder", "net", "editing", "flow"}
MAY_IMPORT: dict[str, set[str]] = {
    "plumbing": {"plumbing"},
    "dicom": {"plumbing", "dicom"},
    "query": {"plumbing", "dicom", "query"},
    "folder": {"plumbing", "dicom", "query", "folder"},
    "net": {"plumbing", "dicom", "query", "folder", "net"},
    "editing": {"plumbing", "dicom", "folder", "editing"},
    "flow": {"plumbing", "dicom", "query", "folder", "net", "editing", "flow"},
    "gui": CORE | {"gui"},
    "entry": CORE | {"gui", "entry"},
}
QT_PACKAGES = ("PySide6", "shiboken6")


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def layer(module: str) -> str:
    prefix = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[prefix]


def own(name: str, known: dict[str, Path]) -> str | None:
    """The wldesk module that ``import name`` loads (a package's own module for ``from pkg``)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {}
    for module, path in known.items():
        edges[module] = {target for name in imports(path) if name.startswith("wldesk")
                         if (target := own(name, known)) is not None and target != module}
    return edges


def test_every_module_has_a_layer() -> None:
    assert all(layer(module) for module in modules())


def test_layers_import_only_what_they_may() -> None:
    wrong = [f"{module} ({layer(module)}) imports {target} ({layer(target)})"
             for module, targets in graph().items() for target in sorted(targets)
             if layer(target) not in MAY_IMPORT[layer(module)]]
    assert wrong == []


def test_core_imports_no_qt() -> None:
    qt = [f"{module} imports {name}" for module, path in modules().items()
          if layer(module) in CORE for name in imports(path) if name.split(".")[0] in QT_PACKAGES]
    assert qt == []


def test_no_import_circle() -> None:
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in edges[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in edges:
        if module not in index:
            visit(module)
    assert circles == []


@pytest.mark.parametrize("module", sorted(modules()))
def test_module_size(module: str) -> None:
    lines = len(modules()[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module}: {lines} lines; split it along its seams"
