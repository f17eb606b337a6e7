"""Start at login on Linux: the XDG autostart entry, written atomically, added and removed idempotently."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from wldesk.core import autostart

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Windows uses the Run key instead")


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG_CONFIG_HOME (not created: set_enabled makes the folders it needs)."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return home


def entry_path(config_home: Path) -> Path:
    return config_home / "autostart" / "wldesk.desktop"


def desktop_keys(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]"
    pairs = [line.split("=", 1) for line in lines[1:] if line]
    keys = dict(pairs)
    assert len(keys) == len(pairs), "no key appears twice"
    return keys


def test_enable_writes_the_entry_and_disable_removes_it(config_home: Path) -> None:
    assert autostart.is_enabled() is False
    autostart.set_enabled(True)
    entry = entry_path(config_home)
    assert entry.is_file()
    assert autostart.is_enabled() is True
    autostart.set_enabled(False)
    assert not entry.exists()
    assert autostart.is_enabled() is False


def test_entry_starts_wldesk_minimized_with_this_python(config_home: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "frozen", raising=False)
    autostart.set_enabled(True)
    keys = desktop_keys(entry_path(config_home))
    assert keys["Type"] == "Application"
    assert keys["Name"] == "wldesk"
    assert keys["Terminal"] == "false"
    assert shlex.split(keys["Exec"]) == [sys.executable, "-m", "wldesk", "--minimized"]
    assert autostart.launch_command() == [sys.executable, "-m", "wldesk"]


def test_frozen_entry_starts_the_executable(config_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/wldesk/wldesk")
    autostart.set_enabled(True)
    keys = desktop_keys(entry_path(config_home))
    assert shlex.split(keys["Exec"]) == ["/opt/wldesk/wldesk", "--minimized"]


def test_enable_and_disable_are_idempotent(config_home: Path) -> None:
    autostart.set_enabled(True)
    entry = entry_path(config_home)
    first = entry.read_bytes()
    autostart.set_enabled(True)
    assert entry.read_bytes() == first
    assert sorted(p.name for p in entry.parent.iterdir()) == ["wldesk.desktop"]
    autostart.set_enabled(False)
    autostart.set_enabled(False)  # nothing to remove: no error
    assert autostart.is_enabled() is False
    assert list(entry.parent.iterdir()) == []


def test_write_is_atomic_and_leaves_no_temporary_files(config_home: Path) -> None:
    entry = entry_path(config_home)
    entry.parent.mkdir(parents=True)
    entry.write_text("[Desktop Entry]\nExec=something-old\n", encoding="utf-8")
    before = entry.stat().st_ino
    autostart.set_enabled(True)
    assert entry.stat().st_ino != before, "replaced by a new file, not rewritten in place"
    assert "something-old" not in entry.read_text(encoding="utf-8")
    assert sorted(p.name for p in entry.parent.iterdir()) == ["wldesk.desktop"]


def test_failed_write_leaves_no_temporary_files(config_home: Path) -> None:
    entry = entry_path(config_home)
    entry.mkdir(parents=True)  # a folder where the entry should be: the rename fails
    with pytest.raises(OSError):
        autostart.set_enabled(True)
    assert sorted(p.name for p in entry.parent.iterdir()) == ["wldesk.desktop"]
    assert entry.is_dir()


def test_without_xdg_config_home_the_entry_goes_to_dot_config(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for value in (None, ""):  # unset, or set but empty: both mean ~/.config
        if value is None:
            monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
        else:
            monkeypatch.setenv("XDG_CONFIG_HOME", value)
        autostart.set_enabled(True)
        assert (tmp_path / "home" / ".config" / "autostart" / "wldesk.desktop").is_file()
        assert autostart.is_enabled() is True
        autostart.set_enabled(False)
        assert not (tmp_path / "home" / ".config" / "autostart" / "wldesk.desktop").exists()
