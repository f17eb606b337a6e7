"""The settings file: reading a wldesk settings file or an Orthanc configuration file (strictly
for ``wldesk serve`` and the commands, leniently for the window), saving it atomically, and
keeping a backup copy before a file with problems is replaced."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from wldesk.core import paths
from wldesk.core.fileio import atomic_create_bytes, atomic_write_bytes
from wldesk.core.settings import (
    Settings,
    SettingsError,
    SettingsProblem,
    coerce_value,
)

log = logging.getLogger(__name__)

# --- files -------------------------------------------------------------------------------------

def _strip_json_comments(text: str) -> str:
    """Remove // and /* */ comments outside strings (Orthanc's configuration files have them)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


_ORTHANC_KEYS = frozenset({"DicomAet", "DicomPort", "DicomModalities", "Worklists",
                           "DicomAlwaysAllowFindWorklist", "Name", "StorageDirectory", "Plugins"})


def is_orthanc_config(data: Mapping[str, Any]) -> bool:
    return any(key in _ORTHANC_KEYS for key in data)


def _orthanc_modalities(raw: Any, check_host: bool, source: str) -> list[dict[str, str]]:
    if not isinstance(raw, Mapping):
        raise SettingsError(f"{source}: 'DicomModalities' must be an object")
    result = []
    for name, entry in raw.items():
        if isinstance(entry, list) and len(entry) >= 2:
            aet, host = entry[0], entry[1]
        elif isinstance(entry, Mapping) and "AET" in entry:
            aet, host = entry["AET"], entry.get("Host", "")
        else:
            raise SettingsError(
                f"{source}: 'DicomModalities.{name}' must be [AET, host, port] or "
                '{"AET": ..., "Host": ..., "Port": ...}')
        if not isinstance(aet, str) or not isinstance(host, str):
            raise SettingsError(f"{source}: 'DicomModalities.{name}': AET and Host must be strings")
        result.append({"name": str(name), "ae_title": aet, "host": host if check_host else ""})
    return result


def settings_from_orthanc(data: Mapping[str, Any], config_path: Path) -> Settings:
    """Take the keys wldesk understands from an Orthanc configuration.

    DicomAet, DicomPort, DicomModalities (hosts kept only when DicomCheckModalityHost is true,
    as Orthanc checks them only then), DicomAlwaysAllowFindWorklist (Orthanc's default, false,
    when absent) and Worklists.{Database, FilterIssuerAet, LimitAnswers, DeleteWorklistsDelay (hours,
    as archive_after_hours: counted from the scheduled start, and archived)}. A relative Database is
    resolved against the configuration file's folder. LimitAnswers cut queries with 0xFE00 in
    Orthanc, so the final status is set to 'cancel' to behave the same.
    """
    source = str(config_path)
    raw: dict[str, tuple[str, Any]] = {}  # wldesk setting -> (Orthanc key, value)
    for orthanc_key, key in (("DicomAet", "ae_title"), ("DicomPort", "port"),
                             ("DicomAlwaysAllowFindWorklist", "allow_unknown_modalities")):
        if orthanc_key in data:
            raw[key] = (orthanc_key, data[orthanc_key])
    if "DicomModalities" in data:
        check_host = data.get("DicomCheckModalityHost", False) is True
        raw["modalities"] = ("DicomModalities",
                             _orthanc_modalities(data["DicomModalities"], check_host, source))
    worklists = data.get("Worklists", {})
    if not isinstance(worklists, Mapping):
        raise SettingsError(f"{source}: key 'Worklists' must be an object")
    if worklists.get("Enable") is False:
        log.warning("%s: Worklists.Enable is false; wldesk serves the worklist folder anyway", source)
    for orthanc_key, key in (("Database", "database"), ("FilterIssuerAet", "filter_issuer_aet"),
                             ("LimitAnswers", "limit_answers"),
                             ("DeleteWorklistsDelay", "archive_after_hours")):
        if orthanc_key in worklists:
            raw[key] = (f"Worklists.{orthanc_key}", worklists[orthanc_key])

    values: dict[str, Any] = {"allow_unknown_modalities": False, "limit_final_status": "cancel"}
    for key, (orthanc_key, value) in raw.items():
        values[key] = coerce_value(key, value, f"{source}: key '{orthanc_key}'")
    if "database" in values:
        values["database"] = str((config_path.parent / values["database"]).resolve())
    return Settings(**values)


def _json_object(path: Path) -> dict[str, Any]:
    """The file's JSON object; SettingsError saying why there is none (without the file's name)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SettingsError(f"cannot read the settings file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise SettingsError("the settings file is not UTF-8 text") from None
    try:
        data = json.loads(_strip_json_comments(text))
    except json.JSONDecodeError as exc:
        raise SettingsError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: "
                            f"{exc.msg})") from None
    if not isinstance(data, dict):
        raise SettingsError("expected a JSON object at the top level")
    return data


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return _json_object(path)
    except SettingsError as exc:
        raise SettingsError(f"{path}: {exc}") from None


def load_settings(path: Path) -> Settings:
    """Read a wldesk settings file or an Orthanc configuration file; raise SettingsError."""
    data = _read_json(path)
    if is_orthanc_config(data):
        return settings_from_orthanc(data, path)
    return Settings.from_mapping(data, source=str(path))


def save_settings(settings: Settings, path: Path) -> None:
    """Persist settings as JSON, atomically (the old file survives any failure)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(settings.to_mapping(), indent=2, ensure_ascii=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


@dataclass(frozen=True)
class SettingsFile:
    """The window's settings as read at start-up: what could be used and what could not."""

    settings: Settings  # the file's good values; defaults for the others
    problems: tuple[SettingsProblem, ...]  # empty when the whole file could be used
    source: Path  # the file read (or that would have been: there may be none yet)
    path: Path  # where changes are saved: ``source``, or wldesk's own file for an Orthanc one


def read_settings_file(config: Path | None) -> SettingsFile:
    """The window's settings: from ``config``, else from the user's settings file (defaults when
    there is none yet), never raising for what the file holds.

    A wrong value leaves its setting at the default, as a problem naming the key; a file that
    cannot be read at all (not JSON, an Orthanc configuration with a wrong value) gives every
    default and one problem. Changes go to ``config`` unless it is an Orthanc configuration: then
    to wldesk's own settings file.
    """
    own = paths.default_settings_path()
    source = config if config is not None else own
    if config is None and not own.exists():
        return SettingsFile(Settings(), (), source, own)
    try:
        data = _json_object(source)
    except SettingsError as exc:
        return SettingsFile(Settings(), (SettingsProblem(None, str(exc)),), source, source)
    if is_orthanc_config(data):
        try:
            return SettingsFile(settings_from_orthanc(data, source), (), source, own)
        except SettingsError as exc:
            return SettingsFile(Settings(), (SettingsProblem(None, str(exc)),), source, own)
    settings, problems = Settings.from_mapping_leniently(data, source=str(source))
    return SettingsFile(settings, problems, source, source)


def backup_settings_file(path: Path, when: datetime | None = None) -> Path:
    """Copy ``path`` next to itself as ``<name>.bak-YYYYMMDD-HHMMSS`` (``-2``, ``-3``... when that
    name is taken: a backup is never replaced), atomically; the copy's path. Raises OSError."""
    data = path.read_bytes()
    stamp = (when or datetime.now()).strftime("%Y%m%d-%H%M%S")
    number = 1
    while True:
        backup = path.with_name(f"{path.name}.bak-{stamp}" + (f"-{number}" if number > 1 else ""))
        try:
            atomic_create_bytes(backup, data)
        except FileExistsError:
            number += 1
            continue
        return backup
