"""The store's indexes only narrow the candidates: a query finds exactly what a full scan finds."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.helpers.samples import write_entry
from wldesk.core.query.matching import compile_query
from wldesk.core.store import FolderStore

MODALITIES = ["CT", "MR", "US", " CT", "ct"]
STATIONS = ["CT1", "CT2", "MR1", "US1"]
DATES = ["20261125", "20261126", "20261127", "2026.11.28", ""]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FolderStore:
    folder = tmp_path_factory.mktemp("index")
    rng = random.Random(7)
    for number in range(300):
        write_entry(folder, f"{number:03}.wl", accession=f"A{number % 120}",
                    modality=rng.choice(MODALITIES), station=rng.choice(STATIONS),
                    date=rng.choice(DATES), time=rng.choice(["0800", "1200", "170000"]))
    multi = write_entry(folder, "multi.wl", accession="MULTI")
    store = FolderStore(Path(folder), watch=False)
    store.refresh()
    assert multi.name in {e.name for e in store.candidates()}
    return store


def _query(top: dict[str, Any], step: dict[str, Any] | None) -> Dataset:
    query = Dataset()
    query.PatientName = ""
    for keyword, value in top.items():
        setattr(query, keyword, value)
    if step is not None:
        item = Dataset()
        for keyword, value in step.items():
            setattr(item, keyword, value)
        query.ScheduledProcedureStepSequence = Sequence([item])
    return query


STEP_KEYS: list[dict[str, Any]] = [
    {}, {"Modality": "CT"}, {"Modality": "C*"}, {"Modality": ["CT", "MR"]},
    {"ScheduledStationAETitle": "CT2"}, {"ScheduledStationAETitle": "CT1", "Modality": "CT"},
    {"ScheduledProcedureStepStartDate": "20261127"},
    {"ScheduledProcedureStepStartDate": "20261127-20261127", "Modality": "CT"},
    {"ScheduledProcedureStepStartDate": "20261126-"},
    {"ScheduledProcedureStepStartDate": "-20261126", "ScheduledProcedureStepStartTime": "-1000"},
    {"ScheduledProcedureStepStartDate": "20261126-20261128",
     "ScheduledProcedureStepStartTime": "1000-1300"},
]
TOP_KEYS: list[dict[str, Any]] = [
    {}, {"AccessionNumber": "A7"}, {"AccessionNumber": "A7 "}, {"AccessionNumber": "A1*"},
    {"PatientID": "ID-A3"}, {"AccessionNumber": ["A1", "A2"]},
]


@pytest.mark.parametrize(("top", "step"), list(itertools.product(TOP_KEYS, [*STEP_KEYS, None])))
def test_prefilter_finds_what_a_full_scan_finds(store: FolderStore, top: dict[str, Any],
                                                step: dict[str, Any] | None) -> None:
    for issuer in (None, "CT2"):
        query = compile_query(_query(top, step), issuer_aet=issuer)
        everything = [e.name for e in store.candidates() if query.match(e.node) is not None]
        narrowed = [e.name for e in store.candidates(query.prefilter())
                    if query.match(e.node) is not None]
        assert narrowed == everything


def test_prefilter_narrows(store: FolderStore) -> None:
    query = compile_query(_query({"AccessionNumber": "A7"}, None))
    assert len(store.candidates(query.prefilter())) < 10
    query = compile_query(_query({}, {"Modality": "MR", "ScheduledStationAETitle": "MR1"}))
    assert len(store.candidates(query.prefilter())) < len(store.candidates())
