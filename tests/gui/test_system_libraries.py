"""The system libraries the window needs: a missing one is named with the packages to install, and
the X11 plugin is checked with the real dynamic loader, in a fresh process (a library the test
process has loaded already would hide a missing one)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.processes import REPO_ROOT
from wldesk.gui.system_libraries import WINDOW_PACKAGES, missing_library_advice, xcb_plugin

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's xcb plugin is Linux only")


def x11_problem_in_fresh_process(plugin: Path | None, **environment: str) -> str:
    """What ``x11_problem(plugin)`` says in a new Python with only ``environment`` for the display
    variables (DISPLAY, WAYLAND_DISPLAY and QT_QPA_PLATFORM are removed otherwise)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")} | environment
    code = ("import sys; from pathlib import Path; from wldesk.gui.system_libraries import x11_problem; "
            "print(x11_problem(Path(sys.argv[1]) if sys.argv[1] else None))")
    done = subprocess.run([sys.executable, "-c", code, str(plugin or "")], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


@pytest.fixture
def plugin_without_its_qt(tmp_path: Path) -> Path:
    """A copy of the real libqxcb.so where its RUNPATH ($ORIGIN/../../lib) finds no Qt: loading it
    fails on libQt6XcbQpa.so.6 as it fails on a missing system library."""
    plugin = xcb_plugin()
    assert plugin is not None
    copy = tmp_path / "plugins" / "platforms" / "libqxcb.so"
    copy.parent.mkdir(parents=True)
    shutil.copy(plugin, copy)
    return copy


def test_a_missing_library_is_named_with_the_packages_to_install() -> None:
    # the error of `import PySide6.QtCore` on a minimal Debian 12
    error = ImportError("libglib-2.0.so.0: cannot open shared object file: No such file or directory")
    advice = missing_library_advice(error)
    if not sys.platform.startswith("linux"):
        assert advice is None
        return
    assert advice is not None
    assert "libglib-2.0.so.0 is not installed" in advice
    assert f"sudo apt-get install {' '.join(WINDOW_PACKAGES)} " in advice
    assert "wldesk serve" in advice


def test_the_readmes_commands_install_them() -> None:
    """The set-up command and the test command (which runs the X11 check below) of the README."""
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    set_up = next(line for line in lines if line.endswith(" && .venv/bin/wldesk"))
    tests = next(line for line in lines if line.startswith("sudo ") and line.endswith(" pytest -q"))
    assert f" && sudo apt-get install -y python3-venv {' '.join(WINDOW_PACKAGES)} && " in set_up
    assert f" && sudo apt-get install -y python3-venv {' '.join(WINDOW_PACKAGES)} dcmtk bindfs && " in tests


def test_other_import_errors_get_no_advice() -> None:
    assert missing_library_advice(ImportError("No module named 'PySide6'")) is None
    assert missing_library_advice(OSError("libfoo.so.1: undefined symbol: bar")) is None


@linux_only
def test_the_x11_plugin_of_this_machine_loads() -> None:
    """With the README's packages installed: they are all the X11 plugin needs."""
    assert xcb_plugin() is not None
    assert x11_problem_in_fresh_process(None, DISPLAY=":0") == "None"


@linux_only
def test_a_plugin_that_cannot_load_is_reported(plugin_without_its_qt: Path) -> None:
    said = x11_problem_in_fresh_process(plugin_without_its_qt, DISPLAY=":0")
    assert said.startswith("the window cannot start: the system library libQt6XcbQpa.so.6 is not installed.")
    assert x11_problem_in_fresh_process(plugin_without_its_qt, DISPLAY=":0", QT_QPA_PLATFORM="xcb") == said


@linux_only
@pytest.mark.parametrize("environment", [
    {},  # no display: the server alone, or Qt's own error
    {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"},  # Qt may use Wayland
    {"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"},
])
def test_no_check_when_qt_is_not_going_to_use_x11(plugin_without_its_qt: Path,
                                                  environment: dict[str, str]) -> None:
    assert x11_problem_in_fresh_process(plugin_without_its_qt, **environment) == "None"
