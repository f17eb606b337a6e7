"""Small, fast slices of the reliability scripts in benchmarks/ (the release runs are the scripts
themselves, see docs/reliability.md): malformed PDUs, many associations, folder faults, each
against a real ``wldesk serve`` process, whose log lines are checked here rather than by the
WARNING check of tests/conftest.py."""

from __future__ import annotations

import pytest

from benchmarks._reliability import Figure
from benchmarks.reliability_folder import FolderReport, run_folder
from benchmarks.reliability_load import run_load
from benchmarks.reliability_pdus import PduReport, run_pdus


def failing(figures: list[Figure], skip: tuple[str, ...] = ()) -> list[str]:
    return [f"{f.name}: {f.value}" for f in figures
            if not f.ok and not any(f.name.startswith(s) for s in skip)]


@pytest.fixture(scope="module")
def pdus() -> PduReport:
    return run_pdus(cases=50, seed=3, entries=20, workers=8, settle_seconds=45)


def test_malformed_pdus_leave_the_server_serving(pdus: PduReport) -> None:
    assert pdus.cases >= 50
    assert failing(pdus.figures(), skip=("tracebacks", "ERROR lines")) == []
    assert pdus.find_ok


def test_malformed_pdus_leave_no_errors_in_the_log(pdus: PduReport) -> None:
    assert (pdus.tracebacks, pdus.error_lines) == (0, [])


def test_load_answers_every_query_exactly() -> None:
    report = run_load(associations=4, queries=20, entries=200, seed=5, time_limit=60)
    assert report.queries == 4 * 20 + 5
    assert failing(report.figures(soak=False)) == [], report.examples


@pytest.fixture(scope="module")
def folder_faults() -> FolderReport:
    return run_folder(duration=4.0, entries=50, clients=4, seed=2)


def test_folder_faults_serve_no_stale_or_half_written_entries(folder_faults: FolderReport) -> None:
    assert folder_faults.queries > 4
    assert sum(folder_faults.faults.values()) >= 5
    assert failing(folder_faults.figures(), skip=("lost answers",)) == [], folder_faults.examples


def test_folder_faults_lose_no_answer(folder_faults: FolderReport) -> None:
    assert folder_faults.lost == 0, folder_faults.examples
