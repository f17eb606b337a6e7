"""Per-modality profiles in the settings file: reading, wrong keys named by their path, round trip,
and a file without profiles read and written as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wldesk.core.profile import DEFAULT_PROFILE, Profile
from wldesk.core.settings import KnownModality, Settings, SettingsError
from wldesk.core.settings_file import load_settings, save_settings

US1 = {"name": "Ultrasound", "ae_title": "US1", "host": ""}


def test_profiles_are_read_per_modality_and_by_default(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({
        "version": 1,
        "modalities": [{**US1, "profile": {"charset": "ascii", "max_answers": 5}},
                       {"name": "CT", "ae_title": "CT1", "host": ""}],
        "default_profile": {"strict": True, "withhold_invalid": True},
    }), encoding="utf-8")
    settings = load_settings(path)
    assert settings.modalities[0].profile == Profile(charset="ascii", max_answers=5)
    assert settings.modalities[1].profile is None
    assert settings.default_profile == Profile(strict=True, withhold_invalid=True)
    assert settings.profile_for("US1") == Profile(charset="ascii", max_answers=5)
    assert settings.profile_for("CT1") == settings.default_profile  # known, without its own
    assert settings.profile_for("NOBODY") == settings.default_profile


def test_round_trip_keeps_every_profile(tmp_path: Path) -> None:
    own = Profile(charset="ISO_IR 100", strict=True, one_step_per_answer=True,
                  ignore_query_date=True, ignore_query_station=True, max_answers=3)
    settings = Settings(modalities=(KnownModality("US", "US1", "", own),
                                    KnownModality("CT", "CT1")),
                        default_profile=Profile(charset="ascii"))
    path = tmp_path / "settings.json"
    save_settings(settings, path)
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["modalities"][0]["profile"] == {
        "charset": "ISO_IR 100", "strict": True, "withhold_invalid": False,
        "one_step_per_answer": True, "ignore_query_date": True, "ignore_query_station": True,
        "max_answers": 3}
    assert "profile" not in written["modalities"][1]
    assert load_settings(path) == settings


def test_a_file_without_profiles_reads_and_writes_as_before(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 1, "modalities": [US1]}), encoding="utf-8")
    settings = load_settings(path)
    assert settings.default_profile == DEFAULT_PROFILE and DEFAULT_PROFILE.is_default()
    assert settings.modalities[0].profile is None
    assert settings.to_mapping()["modalities"] == [US1]
    assert settings.to_mapping()["version"] == 1


@pytest.mark.parametrize(("data", "expected"), [
    ({"modalities": [US1, {**US1, "ae_title": "US2", "profile": {"charset": "latin1"}}]},
     r"'modalities'\[1\]\.profile\.charset: expected one of 'as_is', 'ISO_IR 100', 'ISO_IR 192', "
     r"'ascii', got 'latin1'"),
    ({"modalities": [{**US1, "profile": {"stritc": True}}]},
     r"'modalities'\[0\]\.profile\.stritc: unknown key"),
    ({"modalities": [{**US1, "profile": {"strict": "yes"}}]},
     r"'modalities'\[0\]\.profile\.strict: expected true or false, got 'yes'"),
    ({"modalities": [{**US1, "profile": ["ascii"]}]},
     r"'modalities'\[0\]\.profile: expected an object"),
    ({"default_profile": {"max_answers": -1}},
     r"'default_profile'\.max_answers: must be 0 \(no limit\) or a positive number"),
    ({"default_profile": {"max_answers": True}},
     r"'default_profile'\.max_answers: expected a whole number, got True"),
    ({"default_profile": {"charset": 100}},
     r"'default_profile'\.charset: expected a string, got 100"),
    ({"default_profile": "ascii"}, r"'default_profile': expected an object"),
])
def test_a_wrong_profile_names_its_key_path(tmp_path: Path, data: dict[str, Any],
                                            expected: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SettingsError, match=expected):
        load_settings(path)


def test_the_window_reads_a_wrong_profile_leniently() -> None:
    settings, problems = Settings.from_mapping_leniently(
        {"default_profile": {"charset": "EBCDIC"}, "port": 104})
    assert settings.port == 104 and settings.default_profile == DEFAULT_PROFILE
    assert [p.key for p in problems] == ["default_profile"]


def test_profile_changes_need_a_restart() -> None:
    base = Settings(database="x", modalities=(KnownModality("US", "US1"),))
    assert base.restart_needed_for(base.replace(default_profile={"charset": "ascii"}))
    assert base.restart_needed_for(base.replace(
        modalities=[{**US1, "profile": {"strict": True}}]))


def test_summary_says_what_a_profile_changes() -> None:
    assert DEFAULT_PROFILE.summary() == "as stored"
    assert Profile(charset="ascii", strict=True, withhold_invalid=True, max_answers=4).summary() \
        == "ascii, strict, withholding invalid entries, at most 4 answers"
