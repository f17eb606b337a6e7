"""Every wldesk setting, declared once, and its persistence.

Each field of :class:`Settings` is declared with :func:`setting`: type (the annotation), default,
description, check, choices, range, label for 0, its group in the Settings tab and whether a change
needs a server restart. The Settings tab, the server controller and the command line's help all
read these declarations (:meth:`Settings.declarations`) instead of keeping their own tables.

The settings file is a JSON object (comments and a UTF-8 BOM are accepted), written atomically::

    {"version": 1, "ae_title": "WLDESK", "port": 4242, ...}

``version`` is the file's format (:data:`SETTINGS_VERSION`). A file without it is format 0, the
files of wldesk before the key existed: same keys. An older format is upgraded step by step when it
is read; saving writes the current one. A key this wldesk does not know (written by a newer wldesk,
or misspelt) is not an error: it is logged as a warning, kept in :attr:`Settings.unknown_keys`, and
written back unchanged on the next save, so a newer wldesk's file does not stop an older one. A
known key with a wrong type or value is an error naming the key.

The window reads the file leniently (:func:`read_settings_file`): it must open even when the file
is wrong, show what is wrong and let it be fixed, so a wrong value leaves its setting at the
default and is returned as a :class:`SettingsProblem` instead of raised. ``wldesk serve`` and the
other commands read it strictly and stop. Before a file that had problems is replaced, a copy of it
is kept (:func:`backup_settings_file`).

An Orthanc configuration file is also accepted as a source, so a clinic can migrate by pointing at
it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wldesk import __version__
from wldesk.core import paths
from wldesk.core.profile import DEFAULT_PROFILE, Profile, ProfileError, profile_from

log = logging.getLogger(__name__)


class SettingsError(ValueError):
    """A setting has a value of the wrong type or out of range; the message names the key."""


@dataclass(frozen=True)
class SettingsProblem:
    """Something of a settings file that could not be used: one setting's value, or the file."""

    key: str | None  # the setting (or "version"); None when the whole file could not be read
    message: str  # what is wrong, naming the key

    def __str__(self) -> str:
        return self.message


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


def _check_bind(value: str) -> str:
    if value in ("", "localhost"):
        return value
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"not an IP address: {value!r}") from None
    return value


_MODALITY_RE = re.compile(r"^[A-Z0-9_ ]{1,16}$")


def modality_hours(text: str) -> dict[str, int]:
    """The hours of ``archive_after_hours_by_modality`` ("CT=48, US=24"), by modality (upper
    case); raises ValueError naming what is wrong."""
    found: dict[str, int] = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        modality, equals, hours = part.partition("=")
        modality = modality.strip().upper()
        if not equals or not _MODALITY_RE.match(modality):
            raise ValueError(f"expected MODALITY=HOURS (e.g. CT=48), got {part.strip()!r}")
        try:
            value = int(hours.strip())
        except ValueError:
            raise ValueError(f"{modality}: the hours must be a whole number, got "
                             f"{hours.strip()!r}") from None
        if not 0 <= value <= 87600:
            raise ValueError(f"{modality}: the hours must be from 0 (never) to 87600, got {value}")
        if modality in found:
            raise ValueError(f"{modality} is given twice")
        found[modality] = value
    return found


def _check_modality_hours(value: str) -> str:
    return ", ".join(f"{modality}={hours}" for modality, hours in modality_hours(value).items())


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
    """A modality allowed to query: its AE title, optionally the host it must come from, and
    optionally its own profile (None: ``default_profile`` applies)."""

    name: str
    ae_title: str
    host: str = ""
    profile: Profile | None = None

    def to_mapping(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "ae_title": self.ae_title, "host": self.host}
        if self.profile is not None:  # a file without profiles is written as before
            out["profile"] = self.profile.to_mapping()
        return out


def _modality_from(value: Any, where: str) -> KnownModality:
    if not isinstance(value, Mapping):
        raise SettingsError(f"{where}: expected an object with name, ae_title and host")
    unknown = set(value) - {"name", "ae_title", "host", "profile"}
    if unknown:
        raise SettingsError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    profile = None
    if value.get("profile") is not None:
        try:
            profile = profile_from(value["profile"], f"{where}.profile")
        except ProfileError as exc:
            raise SettingsError(str(exc)) from None
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
                         host=texts["host"], profile=profile)


STEP_STATUSES = {"SCHEDULED": "Scheduled", "ARRIVED": "Arrived", "READY": "Ready",
                 "STARTED": "Started", "COMPLETED": "Completed", "DISCONTINUED": "Discontinued"}
"""The Scheduled Procedure Step Status terms (PS3.3 C.4.10), each with how the window shows it."""


# --- declaring a setting -----------------------------------------------------------------------

GROUPS = ("Worklist", "Network", "Modalities", "Orders", "wldesk")
"""The boxes of the Settings tab, in their order; every setting names one as its group."""

_TYPES = {"str": "str", "int": "int", "bool": "bool", "tuple[KnownModality, ...]": "modalities",
          "Profile": "profile", "tuple[str, ...]": "choices"}
_DECLARED = "wldesk.setting"  # field metadata key: what setting() was told
_NOT_A_SETTING = "wldesk.not_a_setting"  # field metadata key: why a field is no setting


@dataclass(frozen=True)
class SettingInfo:
    """Everything wldesk knows about one setting, as declared with :func:`setting`."""

    name: str
    type: str  # "str", "int", "bool", "modalities" (a tuple of KnownModality), "profile" or
    # "choices" (a tuple of some of the choices, in their order)
    default: Any  # None when default_factory computes it
    default_factory: Callable[[], Any] | None
    description: str  # one sentence: the Settings tab's tooltip, its label up to ":" or "("
    group: str  # one of GROUPS
    restart: bool  # True: the running server reads it at start, a change needs a restart
    check: Callable[[Any], Any] | None = None  # raises ValueError; returns the value normalised
    choices: tuple[str, ...] = ()  # the values allowed (a str or choices setting), in order
    choice_labels: tuple[str, ...] = ()  # how the Settings tab shows each of the choices
    minimum: int | None = None  # an int setting's range (None: unbounded)
    maximum: int | None = None
    zero_label: str = ""  # what 0 means for an int setting, shown instead of 0 ("unlimited")
    secret: bool = False  # a password or token: the Settings tab does not show it

    def default_value(self) -> Any:
        return self.default_factory() if self.default_factory is not None else self.default

    def range_problem(self, value: int) -> str | None:
        """Why ``value`` is outside the declared range, or None."""
        low, high = self.minimum, self.maximum
        if (low is None or value >= low) and (high is None or value <= high):
            return None
        if low is not None and high is not None:
            return f"must be a number from {low} to {high} (got {value})"
        if low == 0 and self.zero_label:
            return f"must be 0 ({self.zero_label}) or a positive number (got {value})"
        if low is not None:
            return f"must be {low} or more (got {value})"
        return f"must be {high} or less (got {value})"


def setting(default: Any, description: str, *, group: str, restart: bool,
            check: Callable[[Any], Any] | None = None, choices: Mapping[str, str] | None = None,
            minimum: int | None = None, maximum: int | None = None, zero_label: str = "",
            default_factory: Callable[[], Any] | None = None, secret: bool = False) -> Any:
    """Declare a field of :class:`Settings` as a setting (a ``dataclasses.field`` with its metadata).

    ``restart`` has no default on purpose: whether a change needs a server restart is decided for
    every setting when it is declared. ``choices`` maps each allowed value to its label in the
    Settings tab. A computed default (the worklist folder) comes from ``default_factory``, with
    ``default`` None. A ``secret`` (a password, a token) is typed in the tab but not shown.
    """
    if not isinstance(restart, bool):
        raise TypeError(f"setting(): restart must be True or False, not {restart!r}")
    if group not in GROUPS:
        raise ValueError(f"setting(): group {group!r} is not one of {', '.join(GROUPS)}")
    if not description.strip():
        raise ValueError("setting(): every setting needs a description")
    if default_factory is not None and default is not None:
        raise ValueError("setting(): give a default or a default_factory, not both")
    declared = {
        "description": description, "group": group, "restart": restart, "check": check,
        "choices": tuple(choices or ()), "choice_labels": tuple((choices or {}).values()),
        "minimum": minimum, "maximum": maximum, "zero_label": zero_label,
        "default": default, "default_factory": default_factory, "secret": secret,
    }
    metadata = {_DECLARED: declared}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def describe_settings(cls: type) -> tuple[SettingInfo, ...]:
    """The settings a dataclass declares, in field order.

    Raises TypeError for a field not declared with :func:`setting` (and not marked as no
    setting): a setting without its description, group or restart flag cannot exist. Each
    declared default must pass the setting's own checks.
    """
    infos = []
    for f in dataclasses.fields(cls):
        if _NOT_A_SETTING in f.metadata:
            continue
        declared = f.metadata.get(_DECLARED)
        where = f"{cls.__name__}.{f.name}"
        if declared is None:
            raise TypeError(f"{where} is not declared with setting(): its description, group and "
                            "restart flag are missing")
        kind = _TYPES.get(str(f.type))
        if kind is None:
            raise TypeError(f"{where}: settings of type {f.type} are not supported")
        info = SettingInfo(name=f.name, type=kind, **declared)
        if info.choices and kind not in ("str", "choices"):
            raise TypeError(f"{where}: only a str or choices setting has choices")
        if kind == "choices" and not info.choices:
            raise TypeError(f"{where}: a choices setting needs its choices")
        if kind != "int" and (info.minimum, info.maximum, info.zero_label) != (None, None, ""):
            raise TypeError(f"{where}: only an int setting has a range or a label for 0")
        if info.secret and kind != "str":
            raise TypeError(f"{where}: only a str setting is a secret")
        if info.zero_label and info.range_problem(0) is not None:
            raise TypeError(f"{where}: a label for 0, but 0 is out of its range")
        if info.default_factory is None:
            try:
                _coerce(info, info.default, "its default")
            except SettingsError as exc:
                raise TypeError(f"{where}: {exc}") from None
        infos.append(info)
    return tuple(infos)


def _default_database() -> str:
    return str(paths.default_worklist_dir())


@dataclass(frozen=True)
class Settings:
    """The settings of a wldesk installation. Each field but the last is one setting, declared with
    :func:`setting`; :meth:`declarations` lists them."""

    ae_title: str = setting("WLDESK", "AE title the worklist server answers as.", check=check_ae_title,
                            group="Network", restart=True)
    port: int = setting(4242, "TCP port the server listens on.", minimum=1, maximum=65535,
                        group="Network", restart=True)
    bind_address: str = setting(
        "0.0.0.0", "Local address to listen on (0.0.0.0: every IPv4 interface).", check=_check_bind,
        group="Network", restart=True)
    tls_certificate: str = setting(
        "", "TLS certificate file (PEM): with its key, the server speaks DICOM TLS only (empty: plain "
            "TCP).", group="Network", restart=True)
    tls_key: str = setting("", "TLS private key file: the certificate's key (PEM, unencrypted).",
                           group="Network", restart=True)
    tls_ca: str = setting(
        "", "TLS CA certificates file (PEM): modalities must then present a certificate signed by "
            "one of them (empty: no client certificate asked for).", group="Network", restart=True)
    database: str = setting(None, "Folder whose .wl files are served.", check=_check_folder,
                            default_factory=_default_database, group="Worklist", restart=True)
    hidden_statuses: tuple[str, ...] = setting(
        ("COMPLETED", "DISCONTINUED"), "Steps with these statuses are hidden from queries (a query "
        "asking for a status still finds them).", choices=STEP_STATUSES, group="Worklist",
        restart=True)
    archive_after_hours: int = setting(
        0, "Archive an entry this many hours after its scheduled start (0: never).", minimum=0,
        maximum=87600, zero_label="never", group="Worklist", restart=False)
    archive_after_hours_by_modality: str = setting(
        "", "Archive hours per modality: the steps of these modalities (0008,0060) are archived "
            "this many hours after their scheduled start instead of archive_after_hours, e.g. "
            "'CT=48, US=24' (0: never).", check=_check_modality_hours, group="Worklist",
        restart=False)
    archive_done_after_minutes: int = setting(
        0, "Archive a completed or discontinued entry this many minutes after it was done "
           "(0: never).", minimum=0, maximum=525600, zero_label="never", group="Worklist",
        restart=False)
    filter_issuer_aet: bool = setting(
        False, "Serve a modality only the steps scheduled for its own AE title when its query "
               "leaves the station AE title open.", group="Worklist", restart=True)
    limit_answers: int = setting(0, "Maximum answers per query (0: unlimited).", minimum=0,
                                 zero_label="unlimited", group="Worklist", restart=True)
    limit_final_status: str = setting(
        "success", "Final status after LimitAnswers cut a query: 'success' (what most modalities "
                   "expect) or 'cancel' (0xFE00, like Orthanc).",
        choices={"success": "Success", "cancel": "Cancel (0xFE00)"}, group="Worklist", restart=True)
    settle_seconds: int = setting(
        5, "Settle time in seconds: how long a changed .wl file must stay unchanged before it is "
           "served when its writer gives no other sign of being done (closing it on Linux, "
           "sharing it on Windows).", minimum=1, maximum=600, group="Worklist", restart=True)
    folder_events: str = setting(
        "auto", "Whether folder change events show every change: not on a network share or FUSE "
                "mount, where changes made by other computers raise none; then each query lists "
                "the folder (one attribute request per file: ~30 ms per 1,000 files on a local FUSE "
                "mount, a network round trip each on a file server) and reads the changed files. "
                "'auto' detects such folders, 'trust' always goes by the events, 'relist' always "
                "lists.",
        choices={"auto": "Detect (list network shares per query)", "trust": "Trust folder events",
                 "relist": "List the folder per query"}, group="Worklist", restart=True)
    association_request_timeout: int = setting(
        5, "Seconds to wait for a new connection's association request: a connection that sends "
           "no A-ASSOCIATE-RQ within them is closed, so that idle or stalled connections do not "
           "hold places.", minimum=1,
        maximum=120, group="Network", restart=True)
    check_called_ae_title: bool = setting(
        False, "Refuse associations addressed to another called AE title than this server's "
               "(A-ASSOCIATE-RJ, called AE title not recognised, as wlmscpfs does); off, any "
               "called AE title is accepted, as Orthanc does.", group="Network", restart=True)
    mpps: bool = setting(
        True, "Modalities report the exams they perform (MPPS) on the worklist port: an exam "
              "begun marks its entry STARTED, one finished COMPLETED or DISCONTINUED.",
        group="Network", restart=True)
    mpps_keep_days: int = setting(
        30, "Days each performed-step report (MPPS) is kept, to be seen from its entry.",
        minimum=1, maximum=3650, group="Network", restart=True)
    allow_unknown_modalities: bool = setting(
        True, "Accept queries from AE titles that are not in the known modalities.",
        group="Modalities", restart=True)
    modalities: tuple[KnownModality, ...] = setting(
        (), "Known modalities: name, AE title, optional host and optional profile.",
        group="Modalities", restart=True)
    default_profile: Profile = setting(  # noqa: RUF009 (a Profile is frozen, like the others)
        DEFAULT_PROFILE, "Profile of the modalities without their own: how their answers are "
                         "shaped (character set, strict answers, one step per answer, query "
                         "rules).", group="Modalities", restart=True)
    rest_port: int = setting(
        0, "REST API port: a RIS or a script creates, reads, changes and archives entries over "
           "HTTP with Orthanc's /worklists calls (0: off).", minimum=0, maximum=65535,
        zero_label="off", group="Orders", restart=False)
    rest_bind_address: str = setting(
        "127.0.0.1", "REST API address to listen on (127.0.0.1: this computer only; any other "
                     "address needs a token or a user name and password).", check=_check_bind,
        group="Orders", restart=False)
    rest_token: str = setting(
        "", "REST API token: clients send it as 'Authorization: Bearer <token>'.",
        group="Orders", restart=False, secret=True)
    rest_user: str = setting("", "REST API user name (HTTP basic authentication, with the "
                                 "password).", group="Orders", restart=False)
    rest_password: str = setting("", "REST API password (HTTP basic authentication).",
                                 group="Orders", restart=False, secret=True)
    rest_tls_certificate: str = setting(
        "", "REST API TLS certificate file (PEM): with its key, the API speaks HTTPS only (empty: "
            "plain HTTP).", group="Orders", restart=False)
    rest_tls_key: str = setting(
        "", "REST API TLS private key file: the certificate's key (PEM, unencrypted).",
        group="Orders", restart=False)
    hl7_port: int = setting(
        0, "TCP port of the HL7 v2 (MLLP) listener that takes orders from a RIS (0: off).",
        minimum=0, maximum=65535, zero_label="off", group="Orders", restart=False)
    hl7_bind_address: str = setting(
        "0.0.0.0", "Local address the HL7 listener listens on (0.0.0.0: every IPv4 interface, as "
        "the RIS is usually another computer; 127.0.0.1: this computer only).", check=_check_bind,
        group="Orders", restart=False)
    hl7_mapping_file: str = setting(
        "", "JSON file that changes which HL7 fields make which worklist keys (empty: the default "
        "mapping, see docs/integration.md).", group="Orders", restart=False)
    hl7_fallback_station: str = setting(
        "ANY", "Station AE title of HL7 orders that name no station and whose modality has none.",
        check=check_ae_title, group="Orders", restart=False)
    hl7_keep_days: int = setting(
        7, "Days each HL7 message received and its answer are kept, for support (0: not kept).",
        minimum=0, maximum=3650, zero_label="not kept", group="Orders", restart=False)
    import_folder: str = setting(
        "", "CSV import folder: a .csv file saved into it is imported (each row an entry), then "
            "moved to its done folder with a report; e.g. the worklist folder's import folder. "
            "Empty: no CSV import.", group="Orders", restart=False)
    import_mapping_file: str = setting(
        "", "CSV column mapping file: a JSON file naming the DICOM keyword of each column header, "
            "on top of the headers wldesk knows (Patient name, Accession, Date...). Empty: only "
            "those.", group="Orders", restart=False)
    import_date_order: str = setting(
        "auto", "How CSV dates such as 03/04/2026 are read: day first, month first, or as this "
                "computer writes dates (a date that could be either is refused then).",
        choices={"auto": "As this computer writes dates", "DMY": "Day first (31/03/2026)",
                 "MDY": "Month first (03/31/2026)"}, group="Orders", restart=False)
    start_at_launch: bool = setting(
        True, "Start the worklist server when the wldesk window opens.", group="wldesk",
        restart=False)
    start_at_login: bool = setting(
        False, "Open wldesk (in the tray) when this user logs in.", group="wldesk", restart=False)
    redact_patient_data: bool = setting(
        False, "Keep patient data (names, IDs, birth dates) out of the logs.", group="wldesk",
        restart=False)
    audit_days: int = setting(
        30, "Days the query audit log keeps each query (0: no audit log; the days kept are "
            "deleted).", minimum=0, maximum=3650, zero_label="no audit log", group="wldesk",
        restart=False)

    unknown_keys: tuple[tuple[str, str], ...] = field(default=(), metadata={_NOT_A_SETTING: (
        "the keys of the settings file that this wldesk does not know (a newer one's), each with "
        "its value as JSON text: kept so that saving writes them back unchanged")})

    def __post_init__(self) -> None:
        clash = {key for key, _value in self.unknown_keys} & {"version", *_SETTING_NAMES}
        if clash:
            raise ValueError(f"unknown_keys holds known key(s): {', '.join(sorted(clash))}")

    @classmethod
    def declarations(cls) -> tuple[SettingInfo, ...]:
        return _SETTINGS

    @classmethod
    def declaration(cls, name: str) -> SettingInfo:
        """The declaration of setting ``name``; KeyError when there is none."""
        return _SETTINGS_BY_NAME[name]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "settings") -> Settings:
        """Build settings from a settings file's JSON object, validating every setting.

        A file of an older format is upgraded first. Keys this wldesk does not know are kept in
        ``unknown_keys`` and logged as a warning (a newer wldesk may have written them).
        """
        return cls._from_mapping(data, source, None)

    @classmethod
    def from_mapping_leniently(cls, data: Mapping[str, Any], *, source: str = "settings"
                               ) -> tuple[Settings, tuple[SettingsProblem, ...]]:
        """Like :meth:`from_mapping`, but a wrong value is a problem, not an error: the setting
        keeps its default and the problem (naming the key, not the file) is returned with it."""
        problems: list[SettingsProblem] = []
        settings = cls._from_mapping(data, source, problems)
        return settings, tuple(problems)

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any], source: str,
                      problems: list[SettingsProblem] | None) -> Settings:
        """Without ``problems`` a wrong value raises SettingsError; with it, it is noted there."""
        where = f"{source}: " if problems is None else ""

        def note(key: str, exc: SettingsError) -> None:
            if problems is None:
                raise exc
            problems.append(SettingsProblem(key, str(exc)))

        values = dict(data)
        version = 0
        try:
            version = _file_version(values.pop("version", 0), f"{where}key 'version'")
        except SettingsError as exc:
            note("version", exc)  # leniently: read as the oldest format, which upgrades keep
        for upgrade in _UPGRADES[version:]:
            values = upgrade(values)
        unknown = [key for key in values if key not in _SETTINGS_BY_NAME]
        _warn_unknown(source, unknown, version)
        settings: dict[str, Any] = {}
        for name, value in values.items():
            if name in _SETTINGS_BY_NAME:
                try:
                    settings[name] = _coerce(_SETTINGS_BY_NAME[name], value,
                                             f"{where}setting '{name}'")
                except SettingsError as exc:
                    note(name, exc)
        kept = tuple((key, json.dumps(values[key], ensure_ascii=False)) for key in unknown)
        return cls(**settings, unknown_keys=kept)

    def to_mapping(self) -> dict[str, Any]:
        """The settings file's JSON object: ``version``, every setting, then the unknown keys."""
        out: dict[str, Any] = {"version": SETTINGS_VERSION}
        for info in _SETTINGS:
            value = getattr(self, info.name)
            if info.type == "modalities":
                value = [m.to_mapping() for m in value]
            elif info.type == "profile":
                value = value.to_mapping()
            elif info.type == "choices":
                value = list(value)
            out[info.name] = value
        for key, text in self.unknown_keys:
            out[key] = json.loads(text)
        return out

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied, each validated like a value read from a file."""
        values = {name: _coerce(_SETTINGS_BY_NAME[name], value, f"setting '{name}'")
                  for name, value in changes.items()}
        return dataclasses.replace(self, **values)

    def restart_needed_for(self, new: Settings) -> bool:
        """True when ``new`` changes a setting that the server reads only when it starts."""
        return any(getattr(new, info.name) != getattr(self, info.name)
                   for info in _SETTINGS if info.restart)

    def find_modality(self, ae_title: str) -> KnownModality | None:
        title = ae_title.strip()
        return next((m for m in self.modalities if m.ae_title == title), None)

    def profile_for(self, ae_title: str) -> Profile:
        """The profile of the modality calling as ``ae_title``: its own, else the default one."""
        known = self.find_modality(ae_title)
        return known.profile if known is not None and known.profile is not None \
            else self.default_profile


def _type_name(info: SettingInfo) -> str:
    if info.type == "choices":
        return "a list of " + ", ".join(repr(c) for c in info.choices)
    if info.choices:
        return "one of " + ", ".join(repr(c) for c in info.choices)
    return {"str": "a string", "int": "an integer", "bool": "true or false",
            "modalities": "a list of modalities", "profile": "a profile object"}[info.type]


def _coerce(info: SettingInfo, value: Any, where: str) -> Any:
    if info.type == "modalities":
        if not isinstance(value, (list, tuple)):
            raise SettingsError(f"{where}: expected {_type_name(info)}, got {value!r}")
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
    if info.type == "choices":
        if not isinstance(value, (list, tuple)) or any(v not in info.choices for v in value):
            raise SettingsError(f"{where}: expected {_type_name(info)}, got {value!r}")
        return tuple(c for c in info.choices if c in value)
    if info.type == "profile":
        try:
            return profile_from(value, where)
        except ProfileError as exc:
            raise SettingsError(str(exc)) from None
    expected = {"str": str, "int": int, "bool": bool}[info.type]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise SettingsError(f"{where}: expected {_type_name(info)}, got {value!r}")
    if info.choices and value not in info.choices:
        raise SettingsError(f"{where}: expected {_type_name(info)}, got {value!r}")
    if isinstance(value, int):
        problem = info.range_problem(value)
        if problem is not None:
            raise SettingsError(f"{where}: {problem}")
    if info.check is not None:
        try:
            value = info.check(value)
        except ValueError as exc:
            raise SettingsError(f"{where}: {exc}") from None
    return value


_SETTINGS = describe_settings(Settings)
_SETTINGS_BY_NAME = {info.name: info for info in _SETTINGS}
_SETTING_NAMES = frozenset(_SETTINGS_BY_NAME)


def coerce_value(name: str, value: Any, where: str) -> Any:
    """``value`` as setting ``name`` holds it, checked (SettingsError naming ``where`` when it
    is wrong): for values that come from elsewhere, e.g. an Orthanc configuration's keys."""
    return _coerce(_SETTINGS_BY_NAME[name], value, where)


# --- the settings file's format: version and upgrades --------------------------------------------

def _upgrade_from_0(data: dict[str, Any]) -> dict[str, Any]:
    """Format 0 (wldesk before the "version" key) has the keys of format 1: nothing to change."""
    return data


# Step i turns a file of format i into format i + 1. A step must not overwrite a key that is
# already there: an older wldesk re-saves a newer file with its own version and the newer keys.
_UPGRADES: tuple[Callable[[dict[str, Any]], dict[str, Any]], ...] = (_upgrade_from_0,)
SETTINGS_VERSION = len(_UPGRADES)
"""The format of the settings files this wldesk writes (their ``version`` key)."""


def _file_version(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SettingsError(f"{where}: expected the settings format, a whole number from 0 up, "
                            f"got {value!r}")
    return value


def _warn_unknown(source: str, unknown: list[str], version: int) -> None:
    if version > SETTINGS_VERSION:
        why = (f"the file is settings version {version}, written by a newer wldesk; this one "
               f"({__version__}) knows versions up to {SETTINGS_VERSION}")
    elif unknown:
        why = "misspelt, or written by a newer wldesk?"
    else:
        return
    if not unknown:
        log.warning("%s: %s; using the settings it knows", source, why)
        return
    keys = ", ".join(repr(key) for key in unknown)
    log.warning("%s: unknown setting%s %s kept as is in the file but not used (%s)", source,
                "s" if len(unknown) > 1 else "", keys, why)
