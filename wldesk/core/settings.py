"""Every wldesk setting, declared once (name, type, default, description), and its persistence.

Settings live in a JSON file under the platformdirs config dir, written atomically. An Orthanc
configuration file is also accepted as a source, so a clinic can migrate by pointing at it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wldesk.core import paths
from wldesk.core.fileio import atomic_write_bytes

log = logging.getLogger(__name__)


class SettingsError(ValueError):
    """A setting has a value of the wrong type or out of range; the message names the key."""


def check_ae_title(value: str) -> str:
    """Validate a DICOM AE title (VR AE): 1-16 characters, no backslash or control characters."""
    title = value.strip(" ")
    if not title:
        raise ValueError("an AE title must not be empty")
    if len(title) > 16:
        raise ValueError(f"an AE title has at most 16 characters ({title!r} has {len(title)})")
    if any(ch == "\\" or not (" " <= ch <= "~") for ch in title):
        raise ValueError(f"an AE title uses ASCII letters, digits and punctuation other than \\ ({title!r})")
    return title


def _check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"a TCP port is a number from 1 to 65535 (got {value})")
    return value


def _check_non_negative(value: int) -> int:
    if value < 0:
        raise ValueError(f"must be 0 (unlimited) or a positive number (got {value})")
    return value


def _check_bind(value: str) -> str:
    if value in ("", "localhost"):
        return value
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"not an IP address: {value!r}") from None
    return value


_HOST_RE = re.compile(r"^[A-Za-z0-9.:_-]*$")


def check_host(value: str) -> str:
    """Validate a modality's host: empty (any host), a host name or an IP address."""
    host = value.strip()
    if not _HOST_RE.match(host):
        raise ValueError(f"not a host name or address: {host!r}")
    return host


def _check_folder(value: str) -> str:
    if not value.strip():
        raise ValueError("the worklist folder must be given")
    return value


@dataclass(frozen=True)
class KnownModality:
    """A modality allowed to query: its AE title and, optionally, the host it must come from."""

    name: str
    ae_title: str
    host: str = ""

    def to_mapping(self) -> dict[str, str]:
        return {"name": self.name, "ae_title": self.ae_title, "host": self.host}


def _modality_from(value: Any, where: str) -> KnownModality:
    if not isinstance(value, Mapping):
        raise SettingsError(f"{where}: expected an object with name, ae_title and host")
    unknown = set(value) - {"name", "ae_title", "host"}
    if unknown:
        raise SettingsError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    texts: dict[str, str] = {}
    for key in ("name", "ae_title", "host"):
        item = value.get(key, "")
        if not isinstance(item, str):
            raise SettingsError(f"{where}.{key}: expected a string, got {item!r}")
        texts[key] = item.strip()
    try:
        texts["ae_title"] = check_ae_title(texts["ae_title"])
    except ValueError as exc:
        raise SettingsError(f"{where}.ae_title: {exc}") from None
    try:
        texts["host"] = check_host(texts["host"])
    except ValueError as exc:
        raise SettingsError(f"{where}.host: {exc}") from None
    return KnownModality(name=texts["name"] or texts["ae_title"], ae_title=texts["ae_title"],
                         host=texts["host"])


def _setting(default: Any = None, *, description: str, check: Callable[[Any], Any] | None = None,
             choices: tuple[str, ...] = (), default_factory: Callable[[], Any] | None = None) -> Any:
    metadata = {"description": description, "check": check, "choices": choices}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def _default_database() -> str:
    return str(paths.default_worklist_dir())


@dataclass(frozen=True)
class Settings:
    """The settings of a wldesk installation. Each field is one setting; its metadata describes it."""

    ae_title: str = _setting("WLDESK", check=check_ae_title,
                             description="AE title the worklist server answers as.")
    port: int = _setting(4242, check=_check_port, description="TCP port the server listens on.")
    bind_address: str = _setting(
        "0.0.0.0", check=_check_bind,
        description="Local address to listen on (0.0.0.0: every IPv4 interface).")
    database: str = _setting(default_factory=_default_database, check=_check_folder,
                             description="Folder whose .wl files are served.")
    filter_issuer_aet: bool = _setting(
        False, description="Serve a modality only the steps scheduled for its own AE title when "
                           "its query leaves the station AE title open.")
    limit_answers: int = _setting(0, check=_check_non_negative,
                                  description="Maximum answers per query (0: unlimited).")
    limit_final_status: str = _setting(
        "success", choices=("success", "cancel"),
        description="Final status after LimitAnswers cut a query: 'success' (what most "
                    "modalities expect) or 'cancel' (0xFE00, like Orthanc).")
    allow_unknown_modalities: bool = _setting(
        True, description="Accept queries from AE titles that are not in the known modalities.")
    modalities: tuple[KnownModality, ...] = _setting(
        (), description="Known modalities: name, AE title and optional host.")
    redact_patient_data: bool = _setting(
        False, description="Keep patient data (names, IDs, birth dates) out of the logs.")
    start_at_launch: bool = _setting(
        True, description="Start the worklist server when the wldesk window opens.")
    start_at_login: bool = _setting(
        False, description="Open wldesk (in the tray) when this user logs in.")

    @classmethod
    def declarations(cls) -> tuple[dataclasses.Field[Any], ...]:
        return dataclasses.fields(cls)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "settings") -> Settings:
        """Build settings from JSON-like data, validating every key; unknown keys are an error."""
        known = {f.name: f for f in cls.declarations()}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise SettingsError(f"{source}: unknown setting(s): {', '.join(unknown)}")
        values = {name: _coerce(known[name], value, f"{source}: setting '{name}'")
                  for name, value in data.items()}
        return cls(**values)

    def to_mapping(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self.declarations():
            value = getattr(self, f.name)
            if f.name == "modalities":
                value = [m.to_mapping() for m in value]
            out[f.name] = value
        return out

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied, each validated like a value read from a file."""
        known = {f.name: f for f in self.declarations()}
        values = {name: _coerce(known[name], value, f"setting '{name}'")
                  for name, value in changes.items()}
        return dataclasses.replace(self, **values)

    def find_modality(self, ae_title: str) -> KnownModality | None:
        title = ae_title.strip()
        return next((m for m in self.modalities if m.ae_title == title), None)


def _type_name(f: dataclasses.Field[Any]) -> str:
    if f.metadata["choices"]:
        return "one of " + ", ".join(repr(c) for c in f.metadata["choices"])
    return {"str": "a string", "int": "an integer", "bool": "true or false"}.get(
        str(f.type), "a list of modalities")


def _coerce(f: dataclasses.Field[Any], value: Any, where: str) -> Any:
    if f.name == "modalities":
        if not isinstance(value, (list, tuple)):
            raise SettingsError(f"{where}: expected {_type_name(f)}, got {value!r}")
        modalities = tuple(
            m if isinstance(m, KnownModality) else _modality_from(m, f"{where}[{i}]")
            for i, m in enumerate(value)
        )
        first: dict[str, int] = {}
        for i, modality in enumerate(modalities):
            j = first.setdefault(modality.ae_title, i)
            if j != i:
                raise SettingsError(f"{where}[{i}].ae_title: {modality.ae_title!r} is already the "
                                    f"AE title of modality {j}")
        return modalities
    expected = {"str": str, "int": int, "bool": bool}[str(f.type)]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise SettingsError(f"{where}: expected {_type_name(f)}, got {value!r}")
    if f.metadata["choices"] and value not in f.metadata["choices"]:
        raise SettingsError(f"{where}: expected {_type_name(f)}, got {value!r}")
    check = f.metadata["check"]
    if check is not None:
        try:
            value = check(value)
        except ValueError as exc:
            raise SettingsError(f"{where}: {exc}") from None
    return value


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
    when absent) and Worklists.{Database, FilterIssuerAet, LimitAnswers}. A relative Database is
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
                             ("LimitAnswers", "limit_answers")):
        if orthanc_key in worklists:
            raw[key] = (f"Worklists.{orthanc_key}", worklists[orthanc_key])

    known = {f.name: f for f in Settings.declarations()}
    values: dict[str, Any] = {"allow_unknown_modalities": False, "limit_final_status": "cancel"}
    for key, (orthanc_key, value) in raw.items():
        values[key] = _coerce(known[key], value, f"{source}: key '{orthanc_key}'")
    if "database" in values:
        values["database"] = str((config_path.parent / values["database"]).resolve())
    return Settings(**values)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read the settings file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{path}: the settings file is not UTF-8 text") from None
    try:
        data = json.loads(_strip_json_comments(text))
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
                            f"{exc.msg})") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a JSON object at the top level")
    return data


def is_orthanc_config_file(path: Path) -> bool:
    return is_orthanc_config(_read_json(path))


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
