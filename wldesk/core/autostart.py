"""Start wldesk when the user logs in: the Run key on Windows, an XDG autostart entry elsewhere."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from wldesk.core.fileio import atomic_write_bytes

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
VALUE_NAME = "wldesk"


def launch_command() -> list[str]:
    """The command that starts the wldesk GUI as it is installed (frozen or not)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "wldesk"]


_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`%")


def desktop_exec(arguments: list[str]) -> str:
    """An Exec value per the Desktop Entry specification (quoting, %% and string escapes)."""
    quoted = []
    for argument in arguments:
        text = argument
        if _RESERVED & set(argument):
            inner = "".join("\\" + ch if ch in '"`$\\' else ch for ch in argument)
            text = f'"{inner}"'
        quoted.append(text.replace("%", "%%"))
    return " ".join(quoted).replace("\\", "\\\\")


def _desktop_file() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "autostart" / "wldesk.desktop"


def is_enabled() -> bool:
    if sys.platform == "win32":
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                winreg.QueryValueEx(key, VALUE_NAME)
        except OSError:
            return False
        return True
    return _desktop_file().exists()


def set_enabled(enabled: bool) -> None:
    """Add or remove the login entry for the current user; raises OSError on failure."""
    command = launch_command()
    if sys.platform == "win32":
        import winreg

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            if enabled:
                winreg.SetValueEx(key, VALUE_NAME, 0, winreg.REG_SZ,
                                  subprocess.list2cmdline([*command, "--minimized"]))
            else:
                with contextlib.suppress(FileNotFoundError):
                    winreg.DeleteValue(key, VALUE_NAME)
        return
    path = _desktop_file()
    if not enabled:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = ("[Desktop Entry]\nType=Application\nName=wldesk\n"
             "Comment=DICOM Modality Worklist server\n"
             f"Exec={desktop_exec([*command, '--minimized'])}\nTerminal=false\n"
             "X-GNOME-Autostart-enabled=true\n")
    atomic_write_bytes(path, entry.encode("utf-8"))
