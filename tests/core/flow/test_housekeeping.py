"""Expiry: housekeeping archives entries whose time has passed to archive/YYYY-MM/, with an
injected clock (no minutes of waiting), and leaves broken files alone."""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from tests.helpers.samples import write_entry
from wldesk.core.events import Event, EventBus, InputEvent
from wldesk.core.flow import housekeeping
from wldesk.core.flow.housekeeping import Housekeeping, sweep
from wldesk.core.flow.ledger import Ledger, OrderKey
from wldesk.core.flow.services import CHANNELS, Channels
from wldesk.core.flow.status import set_step_status
from wldesk.core.settings import Settings, SettingsError, modality_hours
from wldesk.core.settings_file import load_settings


class Recorder:
    def __init__(self) -> None:
        self.bus = EventBus()
        self.events: list[InputEvent] = []
        self.changed = threading.Condition()
        self.bus.subscribe(self._record)

    def _record(self, event: Event) -> None:
        if isinstance(event, InputEvent):
            with self.changed:
                self.events.append(event)
                self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[InputEvent]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.events) >= count, timeout), self.events
            return list(self.events)


def top_level(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file())


def touch(path: Path, moment: datetime) -> None:
    os.utime(path, (moment.timestamp(), moment.timestamp()))


def test_entries_are_archived_hours_after_their_scheduled_start(tmp_path: Path) -> None:
    write_entry(tmp_path, "early.wl", accession="E1", date="20261130", time="0800")
    write_entry(tmp_path, "later.wl", accession="L1", date="20261130", time="100000")
    write_entry(tmp_path, "no-time.wl", accession="N1", date="20261130", time="")
    (tmp_path / "broken.wl").write_bytes(b"this is not DICOM")
    settings = Settings(database=str(tmp_path), archive_after_hours=48)
    seen = Recorder()
    ledger = Ledger(tmp_path)
    assert sweep(ledger, settings, seen.bus, datetime(2026, 12, 2, 7, 59)) == 1  # midnight + 48 h
    assert sweep(ledger, settings, seen.bus, datetime(2026, 12, 2, 8, 0)) == 1
    assert top_level(tmp_path) == ["broken.wl", "later.wl"]
    assert sorted(p.name for p in (tmp_path / "archive" / "2026-12").iterdir()) == [
        "early.wl", "no-time.wl"]
    assert [(e.channel, e.action, e.order, e.file, e.detail) for e in seen.events] == [
        ("Housekeeping", "archived", "N1/S-N1", "archive/2026-12/no-time.wl",
         "scheduled 2026-11-30 00:00, archived 48 h after (archive_after_hours)"),
        ("Housekeeping", "archived", "E1/S-E1", "archive/2026-12/early.wl",
         "scheduled 2026-11-30 08:00, archived 48 h after (archive_after_hours)")]
    assert (tmp_path / "broken.wl").read_bytes() == b"this is not DICOM"  # never touched
    assert sweep(ledger, settings.replace(archive_after_hours=0), seen.bus,
                 datetime(2027, 1, 1)) == 0  # 0: never


def test_done_entries_are_archived_minutes_after_they_became_final(tmp_path: Path) -> None:
    for accession in ("D1", "C1", "S1"):
        write_entry(tmp_path, f"{accession}.wl", accession=accession, date="20991231")
    ledger = Ledger(tmp_path)
    ledger.update(OrderKey("D1"), set_step_status("COMPLETED"))
    ledger.update(OrderKey("C1"), set_step_status("DISCONTINUED"))
    ledger.update(OrderKey("S1"), set_step_status("STARTED"))
    done = datetime(2026, 12, 2, 9, 10)
    for name in ("D1.wl", "C1.wl", "S1.wl"):
        touch(tmp_path / name, done)
    settings = Settings(database=str(tmp_path), archive_done_after_minutes=60,
                        archive_after_hours=1)
    seen = Recorder()
    assert sweep(ledger, settings, seen.bus, datetime(2026, 12, 2, 10, 9)) == 0
    assert sweep(ledger, settings, seen.bus, datetime(2026, 12, 2, 10, 10)) == 2
    assert top_level(tmp_path) == ["S1.wl"]
    assert [e.detail for e in seen.events] == [
        "DISCONTINUED since 2026-12-02 09:10, archived 60 min after (archive_done_after_minutes)",
        "COMPLETED since 2026-12-02 09:10, archived 60 min after (archive_done_after_minutes)"]


def test_the_service_sweeps_at_start_and_every_period(tmp_path: Path) -> None:
    write_entry(tmp_path, "a.wl", accession="A1", date="20261130", time="0800")
    write_entry(tmp_path, "b.wl", accession="B1", date="20261201", time="0800")
    now = [datetime(2026, 12, 1, 9, 0)]
    seen = Recorder()
    service = Housekeeping(Settings(database=str(tmp_path), archive_after_hours=24),
                           Ledger(tmp_path), seen.bus, clock=lambda: now[0], period=0.05)
    service.start()
    try:
        assert [e.order for e in seen.wait_for(1)] == ["A1/S-A1"]  # at start
        now[0] = datetime(2026, 12, 2, 9, 0)  # a day later
        assert [e.order for e in seen.wait_for(2)] == ["A1/S-A1", "B1/S-B1"]  # a period later
    finally:
        service.stop()
    assert top_level(tmp_path) == []


def test_a_missing_folder_is_reported_once(tmp_path: Path) -> None:
    seen = Recorder()
    service = Housekeeping(Settings(database=str(tmp_path / "gone"), archive_after_hours=1),
                           Ledger(tmp_path / "gone"), seen.bus)
    service.run_once()
    service.run_once()
    [event] = seen.events
    assert (event.channel, event.action) == ("Housekeeping", "failed")
    assert "does not exist" in event.detail


def test_channels_run_housekeeping_only_when_a_setting_asks_for_it(tmp_path: Path) -> None:
    write_entry(tmp_path, "a.wl", accession="A1", date="20000101", time="0800")
    seen = Recorder()
    kinds = [k for k in CHANNELS if k.name == housekeeping.CHANNEL]
    channels = Channels(Settings(database=str(tmp_path)), seen.bus, kinds)
    channels.start()
    try:
        assert channels.running == {}
        channels.apply(channels.settings.replace(archive_after_hours=1))
        assert [e.file for e in seen.wait_for(1)] == [
            f"archive/{datetime.now():%Y-%m}/a.wl"]
    finally:
        channels.stop()


def test_a_modality_can_have_its_own_hours(tmp_path: Path) -> None:
    write_entry(tmp_path, "ct.wl", accession="C1", modality="CT", date="20261130", time="0800")
    write_entry(tmp_path, "us.wl", accession="U1", modality="US", date="20261130", time="0800")
    write_entry(tmp_path, "mr.wl", accession="M1", modality="MR", date="20261130", time="0800")
    write_entry(tmp_path, "nm.wl", accession="N1", modality="NM", date="20261101", time="0800")
    settings = Settings(database=str(tmp_path), archive_after_hours=48,
                        archive_after_hours_by_modality="CT=24, US=72, NM=0")
    seen = Recorder()
    ledger = Ledger(tmp_path)
    assert sweep(ledger, settings, seen.bus, datetime(2026, 12, 1, 7, 59)) == 0
    assert sweep(ledger, settings, seen.bus, datetime(2026, 12, 1, 8, 0)) == 1  # CT: 24 h
    assert sweep(ledger, settings, seen.bus, datetime(2026, 12, 2, 8, 0)) == 1  # MR: 48 h
    assert top_level(tmp_path) == ["nm.wl", "us.wl"]
    assert sweep(ledger, settings, seen.bus, datetime(2026, 12, 3, 8, 0)) == 1  # US: 72 h
    assert sweep(ledger, settings, seen.bus, datetime(2027, 12, 1)) == 0  # NM=0: never
    assert top_level(tmp_path) == ["nm.wl"]
    assert [(e.order, e.detail) for e in seen.events] == [
        ("C1/S-C1", "scheduled 2026-11-30 08:00, archived 24 h after "
                    "(CT in archive_after_hours_by_modality)"),
        ("M1/S-M1", "scheduled 2026-11-30 08:00, archived 48 h after (archive_after_hours)"),
        ("U1/S-U1", "scheduled 2026-11-30 08:00, archived 72 h after "
                    "(US in archive_after_hours_by_modality)")]
    # without archive_after_hours only the modalities named are archived
    write_entry(tmp_path, "mr2.wl", accession="M2", modality="MR", date="20261130", time="0800")
    write_entry(tmp_path, "ct2.wl", accession="C2", modality="CT", date="20261130", time="0800")
    only_ct = Settings(database=str(tmp_path), archive_after_hours_by_modality="CT=24")
    assert sweep(ledger, only_ct, seen.bus, datetime(2027, 12, 1)) == 1
    assert top_level(tmp_path) == ["mr2.wl", "nm.wl"]


def test_an_entry_goes_once_each_of_its_steps_is_past_its_own_hours(tmp_path: Path) -> None:
    path = write_entry(tmp_path, "two.wl", accession="T1", modality="CT", date="20261130",
                       time="0800")
    ledger = Ledger(tmp_path)

    def add_us_step(ds: Dataset) -> bool:
        item = Dataset()
        item.update(ds.ScheduledProcedureStepSequence[0])
        item.Modality = "US"
        item.ScheduledProcedureStepID = "S-T1-US"
        item.ScheduledProcedureStepStartTime = "070000"
        ds.ScheduledProcedureStepSequence.append(item)
        return True

    ledger.update_file(path, add_us_step)
    settings = Settings(database=str(tmp_path), archive_after_hours_by_modality="CT=24, US=48")
    seen = Recorder()
    assert sweep(ledger, settings, seen.bus, datetime(2026, 12, 1, 9, 0)) == 0  # US not yet
    assert sweep(ledger, settings, seen.bus, datetime(2026, 12, 2, 7, 0)) == 1
    [event] = seen.events
    assert event.detail == ("scheduled 2026-11-30 07:00, archived 48 h after "
                            "(US in archive_after_hours_by_modality)")


def test_the_modality_hours_setting_is_checked_and_normalised(tmp_path: Path) -> None:
    config = tmp_path / "settings.json"
    config.write_text('{"database": "wl", "archive_after_hours_by_modality": " ct = 48; us=0"}',
                      encoding="utf-8")
    assert load_settings(config).archive_after_hours_by_modality == "CT=48, US=0"
    for wrong, message in (("CT48", "expected MODALITY=HOURS"),
                           ("CT=two", "CT: the hours must be a whole number"),
                           ("CT=-1", "CT: the hours must be from 0"),
                           ("CT=1, ct=2", "CT is given twice")):
        config.write_text(json.dumps({"database": "wl", "archive_after_hours_by_modality": wrong}),
                          encoding="utf-8")
        with pytest.raises(SettingsError, match=f"'archive_after_hours_by_modality': {message}"):
            load_settings(config)
    assert modality_hours("") == {}


def test_channels_run_housekeeping_for_modality_hours_alone(tmp_path: Path) -> None:
    write_entry(tmp_path, "a.wl", accession="A1", modality="CT", date="20000101", time="0800")
    write_entry(tmp_path, "b.wl", accession="B1", modality="MR", date="20000101", time="0800")
    seen = Recorder()
    kinds = [k for k in CHANNELS if k.name == housekeeping.CHANNEL]
    channels = Channels(Settings(database=str(tmp_path)), seen.bus, kinds)
    channels.start()
    try:
        channels.apply(channels.settings.replace(archive_after_hours_by_modality="CT=0"))
        assert channels.running == {}  # 0 everywhere: nothing to do
        channels.apply(channels.settings.replace(archive_after_hours_by_modality="CT=1"))
        assert [e.file for e in seen.wait_for(1)] == [f"archive/{datetime.now():%Y-%m}/a.wl"]
    finally:
        channels.stop()
    assert top_level(tmp_path) == ["b.wl"]
