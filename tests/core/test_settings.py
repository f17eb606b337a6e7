"""Settings: declarations, defaults, validation (every message names the key), atomic persistence,
the file's version and unknown keys, the window's lenient reading and backups, Orthanc import."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from wldesk.core import paths
from wldesk.core.settings import (
    GROUPS,
    SETTINGS_VERSION,
    KnownModality,
    Settings,
    SettingsError,
    describe_settings,
    setting,
)
from wldesk.core.settings_file import (
    SettingsFile,
    backup_settings_file,
    load_settings,
    read_settings_file,
    save_settings,
)


def test_defaults(isolated_home: Path) -> None:  # tests/conftest.py: the private home
    settings = Settings()
    assert settings.ae_title == "WLDESK"
    assert settings.port == 4242
    assert settings.bind_address == "0.0.0.0"
    assert settings.database == str(isolated_home / "xdg_data_home" / "wldesk" / "worklists")
    assert settings.filter_issuer_aet is False
    assert settings.limit_answers == 0
    assert settings.limit_final_status == "success"
    assert settings.settle_seconds == 5
    assert settings.allow_unknown_modalities is True
    assert settings.modalities == ()
    assert settings.redact_patient_data is False


def test_every_setting_is_described() -> None:
    names = [f.name for f in dataclasses.fields(Settings) if f.name != "unknown_keys"]
    assert [d.name for d in Settings.declarations()] == names
    for declaration in Settings.declarations():
        assert declaration.description.strip(), declaration.name
        assert declaration.group in GROUPS, declaration.name
        assert declaration.default_value() == getattr(Settings(), declaration.name)
        assert Settings.declaration(declaration.name) is declaration


def test_every_setting_says_whether_it_needs_a_restart() -> None:
    for declaration in Settings.declarations():
        assert isinstance(declaration.restart, bool), declaration.name
    restart = {d.name for d in Settings.declarations() if d.restart}
    assert restart == {"ae_title", "port", "bind_address", "database", "filter_issuer_aet",
                       "limit_answers", "limit_final_status", "settle_seconds", "folder_events",
                       "allow_unknown_modalities", "modalities", "default_profile",
                       "tls_certificate", "tls_key", "tls_ca", "association_request_timeout",
                       "check_called_ae_title", "mpps", "mpps_keep_days", "hidden_statuses"}
    assert Settings().restart_needed_for(Settings(port=104))
    assert not Settings().restart_needed_for(Settings(redact_patient_data=True, start_at_login=True,
                                                      audit_days=7))


def test_a_setting_without_its_restart_flag_cannot_be_declared() -> None:
    with pytest.raises(TypeError, match="restart"):
        setting(1, "A number.", group="Network")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="restart"):
        setting(1, "A number.", group="Network", restart=None)  # type: ignore[arg-type]

    @dataclasses.dataclass(frozen=True)
    class Undeclared:  # a field added as a plain dataclass field, without setting()
        port: int = setting(4242, "TCP port.", group="Network", restart=True, minimum=1)
        backlog: int = 5

    with pytest.raises(TypeError, match=r"Undeclared\.backlog is not declared with setting\(\)"):
        describe_settings(Undeclared)


@pytest.mark.parametrize(("declare", "expected"), [
    (lambda: setting(1, "A number.", group="Elsewhere", restart=False), "not one of"),
    (lambda: setting(1, " ", group="Network", restart=False), "description"),
])
def test_a_declaration_is_checked_when_made(declare: Any, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        declare()


def test_a_declared_default_must_be_valid() -> None:
    @dataclasses.dataclass(frozen=True)
    class OutOfRange:
        port: int = setting(0, "TCP port.", group="Network", restart=True, minimum=1, maximum=65535)

    with pytest.raises(TypeError, match=r"OutOfRange\.port: its default: must be a number from 1"):
        describe_settings(OutOfRange)

    @dataclasses.dataclass(frozen=True)
    class ChoicesOnABool:
        flag: bool = setting(False, "A flag.", group="wldesk", restart=False, choices={"x": "X"})

    with pytest.raises(TypeError, match="only a str or choices setting has choices"):
        describe_settings(ChoicesOnABool)


def test_empty_file_object_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{}", encoding="utf-8")
    assert load_settings(path) == Settings()


def full_settings(tmp_path: Path) -> Settings:
    return Settings(
        ae_title="CLINIC_WL", port=11112, bind_address="127.0.0.1",
        database=str(tmp_path / "Arbeitslisten ü"), filter_issuer_aet=True, limit_answers=25,
        limit_final_status="cancel", allow_unknown_modalities=False,
        modalities=(KnownModality("CT room 1", "CT1", "192.168.1.20"),
                    KnownModality("Ultraschall", "US_2", "")),
        redact_patient_data=True)


def test_round_trip(tmp_path: Path) -> None:
    settings = full_settings(tmp_path)
    path = tmp_path / "config" / "nested" / "settings.json"  # folders are created
    save_settings(settings, path)
    assert load_settings(path) == settings
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == settings.to_mapping()
    assert next(iter(data)) == "version" and data["version"] == SETTINGS_VERSION == 1
    assert data["modalities"][0] == {"name": "CT room 1", "ae_title": "CT1", "host": "192.168.1.20"}
    assert path.read_text(encoding="utf-8").endswith("}\n")
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json"]


def test_save_replaces_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "settings.json"
    save_settings(full_settings(tmp_path), path)
    save_settings(Settings(port=4343), path)
    assert load_settings(path) == Settings(port=4343)
    json.loads(path.read_text(encoding="utf-8"))  # complete JSON, no leftovers of the longer file
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json"]


def test_failed_save_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cfg" / "settings.json"
    save_settings(Settings(port=1111), path)
    original = path.read_bytes()

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        # the complete new content was in the temporary file before the rename
        assert json.loads(Path(src).read_text(encoding="utf-8"))["port"] == 2222
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        save_settings(Settings(port=2222), path)
    monkeypatch.undo()

    assert path.read_bytes() == original
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json"]  # no temporary file left
    assert load_settings(path).port == 1111


def test_save_into_a_path_that_is_a_folder_fails_cleanly(tmp_path: Path) -> None:
    target = tmp_path / "cfg" / "settings.json"
    target.mkdir(parents=True)
    (target / "keep").write_text("x", encoding="utf-8")
    with pytest.raises(OSError):
        save_settings(Settings(), target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["settings.json"]
    assert (target / "keep").read_text(encoding="utf-8") == "x"


# --- validation ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "value", "expected"), [
    ("port", "abc", "an integer"),
    ("port", 0, "must be a number from 1 to 65535 (got 0)"),
    ("port", 70000, "1 to 65535"),
    ("port", -1, "1 to 65535"),
    ("port", 4242.0, "an integer"),
    ("port", True, "an integer"),
    ("port", None, "an integer"),
    ("ae_title", "A" * 17, "at most 16 characters"),
    ("ae_title", "CT\\1", "other than \\"),
    ("ae_title", "", "must not be empty"),
    ("ae_title", "    ", "must not be empty"),
    ("ae_title", "CT\n1", "ASCII"),
    ("ae_title", "ÄRZTE", "ASCII"),
    ("ae_title", 42, "a string"),
    ("limit_answers", -1, "0 (unlimited) or a positive number"),
    ("limit_answers", "10", "an integer"),
    ("filter_issuer_aet", "yes", "true or false"),
    ("filter_issuer_aet", 1, "true or false"),
    ("allow_unknown_modalities", "true", "true or false"),
    ("redact_patient_data", None, "true or false"),
    ("bind_address", "my-host", "not an IP address"),
    ("bind_address", 0, "a string"),
    ("database", ["a"], "a string"),
    ("limit_final_status", "abort", "one of 'success', 'cancel'"),
    ("limit_final_status", "Cancel", "one of 'success', 'cancel'"),
    ("modalities", "CT1", "a list of modalities"),
    ("modalities", {"ae_title": "CT1"}, "a list of modalities"),
])
def test_wrong_value_names_key_and_expectation(tmp_path: Path, key: str, value: Any,
                                               expected: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({key: value}), encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    message = str(info.value)
    assert f"'{key}'" in message, message
    assert expected in message, message
    assert str(path) in message, message
    with pytest.raises(SettingsError, match=f"'{key}'"):
        Settings().replace(**{key: value})


@pytest.mark.parametrize(("modality", "expected"), [
    ("CT1", "[0]: expected an object"),
    (["CT1", "host"], "[0]: expected an object"),
    ({"name": "CT"}, "[0].ae_title: an AE title must not be empty"),
    ({"ae_title": "CT1", "port": 104}, "[0]: unknown field(s) port"),
    ({"ae_title": "CT1", "host": 5}, "[0].host: expected a string"),
    ({"ae_title": 5}, "[0].ae_title: expected a string"),
    ({"ae_title": "A" * 17}, "[0].ae_title: an AE title has at most 16 characters"),
    ({"ae_title": "CT1", "host": "not a host"}, "[0].host: not a host name or address"),
])
def test_malformed_modality(modality: Any, expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_mapping({"modalities": [modality]}, source="cfg.json")
    assert "setting 'modalities'" in str(info.value)
    assert expected in str(info.value)


def test_second_modality_is_named_by_index() -> None:
    with pytest.raises(SettingsError, match=r"'modalities'\[1\]\.ae_title"):
        Settings.from_mapping({"modalities": [{"ae_title": "CT1"}, {"ae_title": "A\\B"}]})


def test_modality_name_defaults_to_ae_title_and_values_are_trimmed() -> None:
    settings = Settings.from_mapping({"modalities": [{"ae_title": " CT1 ", "host": " 10.0.0.5 "}]})
    assert settings.modalities == (KnownModality("CT1", "CT1", "10.0.0.5"),)
    assert settings.find_modality("CT1 ") == settings.modalities[0]
    assert settings.find_modality("CT2") is None


# --- the file's version and keys of newer versions -------------------------------------------------

@pytest.mark.expect_log_warnings(
    r"^wldesk\.core\.settings: .*settings\.json: unknown settings 'prot', 'dashboard' kept as is "
    r"in the file but not used \(misspelt, or written by a newer wldesk\?\)$")
def test_unknown_key_is_kept_and_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "settings.json"
    dashboard = {"theme": "dark", "columns": ["Patient", "Zeit ü"], "refresh": 2.5, "pin": None}
    path.write_text(json.dumps({"port": 4242, "prot": 4243, "dashboard": dashboard}), encoding="utf-8")
    settings = load_settings(path)
    assert settings.port == 4242
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"{path}: unknown settings 'prot', 'dashboard' kept as is in the file but not used "
        "(misspelt, or written by a newer wldesk?)"]

    save_settings(settings.replace(ae_title="CHANGED"), path)  # the next save, of another setting
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["prot"] == 4243 and data["dashboard"] == dashboard
    assert list(data)[-2:] == ["prot", "dashboard"]
    assert data["ae_title"] == "CHANGED" and data["version"] == SETTINGS_VERSION
    again = load_settings(path)
    assert again.unknown_keys == settings.unknown_keys
    assert again == settings.replace(ae_title="CHANGED")


@pytest.mark.expect_log_warnings(r"settings version 7, written by a newer wldesk; this one \(.+\) "
                                 r"knows versions up to 1; using the settings it knows",
                                 r"unknown setting 'fhir_port' kept as is in the file but not used \("
                                 r"the file is settings version 7, written by a newer wldesk")
def test_file_of_a_newer_version_is_read_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 7, "port": 104}), encoding="utf-8")
    assert load_settings(path) == Settings(port=104)
    path.write_text(json.dumps({"version": 7, "port": 104, "fhir_port": 2575}), encoding="utf-8")
    settings = load_settings(path)
    assert settings.port == 104 and settings.unknown_keys == (("fhir_port", "2575"),)
    save_settings(settings, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["version"] == SETTINGS_VERSION and data["fhir_port"] == 2575


def test_file_without_version_is_upgraded_and_saved_with_it(tmp_path: Path) -> None:
    """The files of wldesk before the version key load as they are; saving adds the key."""
    path = tmp_path / "settings.json"
    old = full_settings(tmp_path).to_mapping()
    del old["version"]
    path.write_text(json.dumps(old, indent=2), encoding="utf-8")
    settings = load_settings(path)
    assert settings == full_settings(tmp_path) and settings.unknown_keys == ()
    save_settings(settings, path)
    assert json.loads(path.read_text(encoding="utf-8")) == {"version": 1, **old}
    path.write_text(json.dumps({"version": 0, "port": 104}), encoding="utf-8")
    assert load_settings(path) == Settings(port=104)


@pytest.mark.parametrize("version", ["1", 1.0, -1, True, None, [1]])
def test_wrong_version_is_named(tmp_path: Path, version: Any) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": version, "port": 104}), encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert str(info.value).startswith(f"{path}: key 'version': expected the settings format, "
                                      "a whole number from 0 up, got ")


def test_unknown_keys_never_shadow_a_setting() -> None:
    with pytest.raises(ValueError, match="known key"):
        Settings(unknown_keys=(("port", "104"),))
    with pytest.raises(ValueError, match="known key"):
        Settings(unknown_keys=(("version", "3"),))


def test_valid_values_are_normalised() -> None:
    settings = Settings().replace(ae_title=" CT1 ", port=65535, limit_answers=0, bind_address="::1")
    assert settings.ae_title == "CT1"
    assert settings.port == 65535
    assert Settings().replace(port=1).port == 1
    assert Settings().replace(bind_address="").bind_address == ""
    assert Settings().replace(ae_title="A" * 16).ae_title == "A" * 16


@pytest.mark.parametrize(("text", "expected"), [
    ("", "not valid JSON"),
    ('{"port": 4242', "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('"port"', "expected a JSON object"),
])
def test_unreadable_settings_file(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=expected):
        load_settings(path)


def test_settings_file_not_utf8_or_missing(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b'{"ae_title": "\xc4RZTE"}')
    with pytest.raises(SettingsError, match="not UTF-8"):
        load_settings(path)
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(tmp_path / "missing.json")


def test_utf8_bom_and_comments_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes('\ufeff{ // the port\n "port": 104, /* AE */ "ae_title": "A//B" }'.encode())
    settings = load_settings(path)
    assert settings.port == 104
    assert settings.ae_title == "A//B"


# --- the window's reading: what cannot be used is a problem, not an error -------------------------

def test_window_reading_keeps_the_good_values_and_names_the_bad_ones(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"ae_title": "CLINIC1", "port": "abc", "limit_answers": -3,
                                "settle_seconds": 9}), encoding="utf-8")
    loaded = read_settings_file(path)
    assert (loaded.source, loaded.path) == (path, path)
    assert loaded.settings == Settings(ae_title="CLINIC1", settle_seconds=9)  # defaults for the bad
    assert [p.key for p in loaded.problems] == ["port", "limit_answers"]
    assert loaded.problems[0].message == "setting 'port': expected an integer, got 'abc'"
    assert str(tmp_path) not in loaded.problems[1].message  # the key, without the file
    assert "limit_answers" in loaded.problems[1].message
    with pytest.raises(SettingsError, match=r"setting 'port'"):  # strictly, as `wldesk serve`
        load_settings(path)


def test_window_reading_of_a_wrong_version_reads_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": "one", "port": 104}), encoding="utf-8")
    loaded = read_settings_file(path)
    assert loaded.settings.port == 104
    assert [(p.key, p.message) for p in loaded.problems] == [
        ("version", "key 'version': expected the settings format, a whole number from 0 up, "
                    "got 'one'")]


@pytest.mark.parametrize(("data", "expected"), [
    (b'{"port": 104,', "not valid JSON (line 1, column 14"),
    (b"[1]", "expected a JSON object"),
    (b'{"ae_title": "\xc4RZTE"}', "the settings file is not UTF-8 text"),
])
def test_window_reading_of_an_unreadable_file_gives_the_defaults(tmp_path: Path, data: bytes,
                                                                 expected: str) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(data)
    loaded = read_settings_file(path)
    assert loaded.settings == Settings()
    [problem] = loaded.problems
    assert problem.key is None
    assert problem.message.startswith(expected), problem.message
    assert path.read_bytes() == data  # reading never writes


def test_window_reading_without_a_settings_file(isolated_home: Path) -> None:
    loaded = read_settings_file(None)
    assert loaded == SettingsFile(Settings(), (), paths.default_settings_path(),
                                  paths.default_settings_path())
    missing = isolated_home / "missing.json"
    [problem] = read_settings_file(missing).problems  # one named on the command line must exist
    assert problem.key is None and "cannot read the settings file" in problem.message


def test_window_reading_of_an_orthanc_configuration_saves_to_wldesks_own_file(
        tmp_path: Path) -> None:
    config = tmp_path / "orthanc.json"
    config.write_text('{ // Orthanc\n "DicomAet": "CLINIC_WL", "DicomPort": 4343 }', encoding="utf-8")
    loaded = read_settings_file(config)
    assert (loaded.settings.ae_title, loaded.settings.port, loaded.problems) == ("CLINIC_WL", 4343, ())
    assert (loaded.source, loaded.path) == (config, paths.default_settings_path())
    config.write_text('{ // Orthanc\n "DicomAet": "CLINIC_WL", "DicomPort": "abc" }', encoding="utf-8")
    loaded = read_settings_file(config)
    assert loaded.settings == Settings()
    [problem] = loaded.problems
    assert problem.key is None and "DicomPort" in problem.message
    assert loaded.path == paths.default_settings_path()  # never the Orthanc file


def test_backup_copies_the_file_and_never_replaces_one(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    original = b'{"port": "abc"} // as the user left it'
    path.write_bytes(original)
    when = datetime(2024, 3, 5, 14, 7, 9)
    first = backup_settings_file(path, when)
    second = backup_settings_file(path, when)
    assert first == tmp_path / "settings.json.bak-20240305-140709"
    assert second == tmp_path / "settings.json.bak-20240305-140709-2"
    assert first.read_bytes() == second.read_bytes() == path.read_bytes() == original
    with pytest.raises(OSError):
        backup_settings_file(tmp_path / "missing.json", when)


# --- Orthanc configuration -------------------------------------------------------------------------

ORTHANC_CONFIG = """\
/**
 * This is a configuration file for Orthanc, in the style of the one it ships:
 * C and C++ comments are allowed.
 **/

{
  /**
   * General configuration of Orthanc
   **/

  // The logical name of this instance of Orthanc. This one is
  // displayed in Orthanc Explorer and at the URI "/system".
  "Name" : "Clinic Orthanc",

  "StorageDirectory" : "OrthancStorage",   // relative to the working directory
  "Plugins" : [ "/usr/share/orthanc/plugins" ],

  /**
   * Configuration of the DICOM server
   **/
  "DicomServerEnabled" : true,
  "DicomAet" : "CLINIC_WL",
  "DicomCheckCalledAet" : false,
  "DicomPort" : 4343,
  "DicomCheckModalityHost" : %(check_host)s,

  "DicomModalities" : {
    // "sample" : [ "STORESCP", "127.0.0.1", 2000 ],
    "ct" : [ "CT_SCANNER", "192.168.1.20", 104 ],
    "us" : {
      "AET" : "US1",
      "Host" : "us1.clinic.local",
      "Port" : 11112,
      "AllowFind" : true   /* per-modality permission, not used by wldesk */
    }
  },
  "OrthancPeers" : { "peer" : { "Url" : "http://127.0.0.1:8043/" } },  // "//" inside a string
  "RemoteAccessAllowed" : true,
  %(allow)s
  "Worklists" : {
    "Enable" : true,
    "Database" : "WorklistsDatabase",   // relative to this file
    "FilterIssuerAet" : true,
    "LimitAnswers" : 10
  }
}
"""


def write_orthanc(folder: Path, check_host: str = "true", allow: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "orthanc.json"
    path.write_text(ORTHANC_CONFIG % {"check_host": check_host, "allow": allow}, encoding="utf-8")
    return path


def test_orthanc_import(tmp_path: Path) -> None:
    config = write_orthanc(tmp_path / "etc" / "orthanc")
    settings = load_settings(config)
    assert settings.ae_title == "CLINIC_WL"
    assert settings.port == 4343
    assert settings.modalities == (KnownModality("ct", "CT_SCANNER", "192.168.1.20"),
                                   KnownModality("us", "US1", "us1.clinic.local"))
    assert settings.allow_unknown_modalities is False  # DicomAlwaysAllowFindWorklist absent
    assert settings.database == str((tmp_path / "etc" / "orthanc" / "WorklistsDatabase").resolve())
    assert settings.filter_issuer_aet is True
    assert settings.limit_answers == 10
    assert settings.limit_final_status == "cancel"
    assert settings.bind_address == "0.0.0.0"
    assert settings.redact_patient_data is False


def test_orthanc_hosts_dropped_unless_checked(tmp_path: Path) -> None:
    settings = load_settings(write_orthanc(tmp_path, check_host="false"))
    assert settings.modalities == (KnownModality("ct", "CT_SCANNER", ""), KnownModality("us", "US1", ""))
    config = write_orthanc(tmp_path)
    config.write_text(config.read_text(encoding="utf-8").replace(
        '"DicomCheckModalityHost" : true,', ""), encoding="utf-8")
    assert [m.host for m in load_settings(config).modalities] == ["", ""]


def test_orthanc_always_allow_find_worklist(tmp_path: Path) -> None:
    allowed = load_settings(write_orthanc(tmp_path, allow='"DicomAlwaysAllowFindWorklist" : true,'))
    assert allowed.allow_unknown_modalities is True
    refused = load_settings(write_orthanc(tmp_path, allow='"DicomAlwaysAllowFindWorklist" : false,'))
    assert refused.allow_unknown_modalities is False


def test_orthanc_absolute_database_and_minimal_file(tmp_path: Path) -> None:
    config = tmp_path / "minimal.json"
    database = tmp_path / "elsewhere" / "wl"
    config.write_text(json.dumps({"Worklists": {"Enable": True, "Database": str(database)}}),
                      encoding="utf-8")
    settings = load_settings(config)
    assert settings.database == str(database)
    assert settings.ae_title == "WLDESK"
    assert settings.port == 4242
    assert settings.limit_answers == 0
    assert settings.allow_unknown_modalities is False


def test_orthanc_delete_worklists_delay_is_archive_after_hours(tmp_path: Path) -> None:
    config = tmp_path / "orthanc.json"
    config.write_text(json.dumps({"Worklists": {"Database": "wl", "DeleteWorklistsDelay": 24}}),
                      encoding="utf-8")
    assert load_settings(config).archive_after_hours == 24
    config.write_text(json.dumps({"Worklists": {"Database": "wl"}}), encoding="utf-8")
    assert load_settings(config).archive_after_hours == 0


def test_orthanc_dotdot_database_is_resolved(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "orthanc.json"
    config.parent.mkdir()
    config.write_text('{"DicomAet": "X", "Worklists": {"Database": "../data/wl"}}', encoding="utf-8")
    assert load_settings(config).database == str((tmp_path / "data" / "wl").resolve())


@pytest.mark.parametrize(("fragment", "orthanc_key", "expected"), [
    ('"DicomPort": "abc"', "DicomPort", "an integer"),
    ('"DicomPort": 0', "DicomPort", "1 to 65535"),
    ('"DicomAet": "THIS_TITLE_IS_TOO_LONG"', "DicomAet", "at most 16 characters"),
    ('"DicomAet": 5', "DicomAet", "a string"),
    ('"DicomAlwaysAllowFindWorklist": "yes"', "DicomAlwaysAllowFindWorklist", "true or false"),
    ('"Worklists": {"LimitAnswers": -5}', "Worklists.LimitAnswers", "positive number"),
    ('"Worklists": {"LimitAnswers": "10"}', "Worklists.LimitAnswers", "an integer"),
    ('"Worklists": {"FilterIssuerAet": "true"}', "Worklists.FilterIssuerAet", "true or false"),
    ('"Worklists": {"Database": 5}', "Worklists.Database", "a string"),
    ('"Worklists": []', "Worklists", "object"),
    ('"DicomModalities": []', "DicomModalities", "object"),
    ('"DicomModalities": {"ct": ["CT1"]}', "DicomModalities.ct", "[AET, host, port]"),
    ('"DicomModalities": {"ct": {"Host": "h"}}', "DicomModalities.ct", "[AET, host, port]"),
    ('"DicomModalities": {"ct": [5, "h", 104]}', "DicomModalities.ct", "strings"),
    ('"DicomModalities": {"ct": ["A\\\\B", "h", 104]}', "DicomModalities", "AE title"),
])
def test_orthanc_wrong_type_names_the_orthanc_key(tmp_path: Path, fragment: str, orthanc_key: str,
                                                  expected: str) -> None:
    config = tmp_path / "orthanc.json"
    config.write_text("{ // Orthanc\n  " + fragment + "\n}\n", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(config)
    message = str(info.value)
    assert orthanc_key in message, message
    assert expected in message, message
    assert str(config) in message, message


@pytest.mark.expect_log_warnings(r"Worklists.Enable is false")
def test_orthanc_disabled_worklists_still_imported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "orthanc.json"
    config.write_text('{"DicomAet": "X", "Worklists": {"Enable": false, "Database": "wl"}}',
                      encoding="utf-8")
    assert load_settings(config).database == str((tmp_path / "wl").resolve())
    assert any("Worklists.Enable is false" in r.getMessage() for r in caplog.records)


def test_machine_wide_install_keeps_templates_with_the_worklists(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WLDESK_MACHINE_DIR", raising=False)
    if paths.machine_dir() is None:  # a per-user setup: templates are the user's
        assert paths.templates_dir() == paths.data_dir() / "templates"
    monkeypatch.setenv("WLDESK_MACHINE_DIR", str(tmp_path))
    assert paths.templates_dir() == tmp_path / "templates"
    assert paths.default_worklist_dir() == tmp_path / "worklists"


def test_hidden_statuses_are_some_of_the_step_statuses_in_their_order() -> None:
    assert Settings().hidden_statuses == ("COMPLETED", "DISCONTINUED")
    read = Settings.from_mapping({"hidden_statuses": ["DISCONTINUED", "STARTED", "STARTED"]})
    assert read.hidden_statuses == ("STARTED", "DISCONTINUED")
    assert read.to_mapping()["hidden_statuses"] == ["STARTED", "DISCONTINUED"]
    assert Settings.from_mapping({"hidden_statuses": []}).hidden_statuses == ()
    for wrong in ("COMPLETED", ["DONE"], [1]):
        with pytest.raises(SettingsError, match="setting 'hidden_statuses': expected a list of "
                                                "'SCHEDULED', 'ARRIVED'"):
            Settings.from_mapping({"hidden_statuses": wrong})
