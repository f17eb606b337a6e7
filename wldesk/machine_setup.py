"""``wldesk-cli machine-setup``: what the Windows installers (NSIS and MSI) do to the machine.

Run elevated by the installers, from the installed bundle, so that both installers share one
implementation:

``machine-setup install [--port N] [--dir DIR] [--no-firewall] [--no-acl]``
    creates DIR (default: C:\\ProgramData\\wldesk, platformdirs' site_config_dir) with
    ``worklists\\`` and ``logs\\``; writes ``settings.json`` there on a first install (database =
    DIR\\worklists, port = N or 4242) or, on an upgrade, keeps the existing file and changes only
    the port when N is given; grants the local Users group modify rights on DIR (icacls
    ``*S-1-5-32-545:(OI)(CI)M``) and adds the inbound firewall rule "wldesk DICOM" for the port
    (netsh advfirewall; an older rule of that name is replaced).
    With ``--autostart 1`` (or 0) it also writes (or deletes) the HKLM Run key that starts
    ``wldesk.exe --minimized`` (next to this executable) at every login (the MSI's AUTOSTART).
``machine-setup uninstall [--autostart-off]``
    deletes the firewall rule (and with --autostart-off the HKLM Run key). Worklists and settings
    are kept.

Every step prints one line; exit code 0 when all succeeded (a missing netsh/icacls is reported
and counted as a failure unless its step was switched off).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
from pathlib import Path

import platformdirs

from wldesk import APP_NAME
from wldesk.core.net.firewall import RULE_NAME, delete_args, rule_args
from wldesk.core.settings import SETTINGS_VERSION, Settings, SettingsError
from wldesk.core.settings_file import load_settings, save_settings

USERS_SID = "*S-1-5-32-545"  # BUILTIN\Users, whatever the Windows language


RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


def set_autostart(enabled: bool) -> int:
    """Write or delete HKLM\\...\\Run\\wldesk (64-bit view); Windows only."""
    if sys.platform == "win32":
        import winreg

        gui = Path(sys.executable).with_name("wldesk.exe")
        access = winreg.KEY_SET_VALUE | winreg.KEY_WOW64_64KEY
        with winreg.CreateKeyEx(winreg.HKEY_LOCAL_MACHINE, RUN_KEY, 0, access) as key:
            if enabled:
                winreg.SetValueEx(key, "wldesk", 0, winreg.REG_SZ, f'"{gui}" --minimized')
                print(f"autostart: HKLM Run key starts {gui} --minimized at login")
            else:
                with contextlib.suppress(FileNotFoundError):
                    winreg.DeleteValue(key, "wldesk")
                print("autostart: no HKLM Run key")
        return 0
    print("autostart: FAILED: the Run key exists on Windows only")
    return 1


def machine_dir() -> Path:
    return Path(platformdirs.site_config_dir(APP_NAME, appauthor=False))


def _run(args: list[str]) -> tuple[int, str]:
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    except OSError as exc:
        return 127, str(exc)
    return result.returncode, (result.stdout + result.stderr).strip().replace("\r", "")


def _port_arg(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None  # an empty MSI property: keep what is configured
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    problem = Settings.declaration("port").range_problem(port)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"a TCP port {problem}")
    return port


def write_settings(folder: Path, port: int | None) -> Settings:
    """Create or update ``folder/settings.json``; return the settings now in force."""
    path = folder / "settings.json"
    if path.is_file():
        settings = load_settings(path)
        if port is not None and port != settings.port:
            settings = settings.replace(port=port)
            save_settings(settings, path)
            print(f"settings: {path} kept, port set to {port}")
        else:
            print(f"settings: {path} kept (port {settings.port})")
        return settings
    settings = Settings(database=str(folder / "worklists"))
    if port is not None:
        settings = settings.replace(port=port)
    data = {"version": SETTINGS_VERSION, "database": settings.database, "port": settings.port}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"settings: {path} written (port {settings.port}, worklists {settings.database})")
    return settings


def install(folder: Path, port: int | None, firewall: bool, acl: bool,
            autostart: str | None = None) -> int:
    failures = 0
    if autostart in ("0", "1"):
        failures += set_autostart(autostart == "1")
    for sub in (folder, folder / "worklists", folder / "logs"):
        sub.mkdir(parents=True, exist_ok=True)
    print(f"folders: {folder}, worklists, logs")
    try:
        settings = write_settings(folder, port)
    except (SettingsError, OSError) as exc:
        print(f"settings: FAILED: {exc}")
        return 1
    if acl:
        code, out = _run(["icacls", str(folder), "/grant", f"{USERS_SID}:(OI)(CI)M", "/T", "/C", "/Q"])
        print(f"permissions: Users may modify {folder}" if code == 0
              else f"permissions: FAILED (icacls exit {code}): {out}")
        failures += code != 0
    if firewall:
        _run(["netsh", *delete_args()])
        code, out = _run(["netsh", *rule_args(settings.port)])
        print(f"firewall: inbound TCP {settings.port} allowed (rule {RULE_NAME!r})" if code == 0
              else f"firewall: FAILED (netsh exit {code}): {out}")
        failures += code != 0
    return 1 if failures else 0


def uninstall(autostart_off: bool = False) -> int:
    if autostart_off:
        set_autostart(False)
    code, out = _run(["netsh", *delete_args()])
    print(f"firewall: rule {RULE_NAME!r} deleted" if code == 0
          else f"firewall: nothing deleted (netsh exit {code}): {out}")
    print("settings and worklists kept")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="wldesk-cli machine-setup",
                                     description="machine-wide set-up done by the installers")
    sub = parser.add_subparsers(dest="action", required=True)
    inst = sub.add_parser("install")
    inst.add_argument("--port", type=_port_arg, default=None)
    inst.add_argument("--dir", type=Path, default=None)
    inst.add_argument("--no-firewall", dest="firewall", action="store_false")
    inst.add_argument("--no-acl", dest="acl", action="store_false")
    inst.add_argument("--autostart", choices=("0", "1", ""), default=None,
                      help="1/0: write/delete the HKLM Run key; empty or absent: leave it")
    uninst = sub.add_parser("uninstall")
    uninst.add_argument("--autostart-off", action="store_true")
    args = parser.parse_args(argv)
    if args.action == "install":
        return install(args.dir or machine_dir(), args.port, args.firewall, args.acl,
                       args.autostart)
    return uninstall(args.autostart_off)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
