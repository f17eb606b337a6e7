"""Step status changes through the ledger: only the status changes, per step when asked."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from tests.helpers.samples import worklist_dataset
from wldesk.core.editing.document import load_document
from wldesk.core.flow.ledger import Ledger, OrderKey
from wldesk.core.flow.status import set_step_status, step_status


def two_steps() -> Dataset:
    ds = worklist_dataset("DOE^JANE", AccessionNumber="ACC7")
    first = ds.ScheduledProcedureStepSequence[0]
    first.ScheduledProcedureStepID = "S1"
    second = copy.deepcopy(first)
    second.ScheduledProcedureStepID = "S2"
    ds.ScheduledProcedureStepSequence.append(second)
    return ds


def test_statuses_change_by_step_and_nothing_else(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    path = ledger.put(two_steps()).path
    before = load_document(path).dataset
    [written] = ledger.update(OrderKey("ACC7"), set_step_status("STARTED", step_id="S2"))
    assert written.action == "updated"
    after = load_document(path).dataset
    assert (step_status(after, 0), step_status(after, 1)) == ("", "STARTED")
    del after.ScheduledProcedureStepSequence[1].ScheduledProcedureStepStatus
    assert after == before  # only the status changed
    assert ledger.update(OrderKey("ACC7"), set_step_status("STARTED", "S2"))[0].action == "unchanged"
    ledger.update(OrderKey("ACC7"), set_step_status("COMPLETED"))
    done = load_document(path).dataset
    assert (step_status(done, 0), step_status(done, 1), step_status(done, 5)) == (
        "COMPLETED", "COMPLETED", "")
    with pytest.raises(ValueError, match="not a step status"):
        set_step_status("DONE")
