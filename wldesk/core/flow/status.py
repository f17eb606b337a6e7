"""An entry's state: the Scheduled Procedure Step Status (0040,0020) of its steps.

SCHEDULED (or empty), ARRIVED, READY, STARTED, COMPLETED, DISCONTINUED are the defined terms
(PS3.3 C.4.10). Every channel that changes a state (HL7 SC, MPPS, the window) changes it with
:func:`set_step_status` through the ledger, which rewrites the file keeping every other byte.
"""

from __future__ import annotations

from collections.abc import Callable

from pydicom.dataset import Dataset

from wldesk.core.settings import STEP_STATUSES

SPS_STATUSES = tuple(STEP_STATUSES)
FINAL_STATUSES = ("COMPLETED", "DISCONTINUED")


def step_status(ds: Dataset, index: int = 0) -> str:
    """The status of step ``index`` of ``ds`` ("" when it has no such step or no status)."""
    steps = ds.get("ScheduledProcedureStepSequence") or ()
    if index >= len(steps):
        return ""
    return str(steps[index].get("ScheduledProcedureStepStatus", "") or "").strip().upper()


def set_step_status(status: str, step_id: str | None = None) -> Callable[[Dataset], bool]:
    """A ledger change that sets the status of the entry's steps (only the step whose SPS ID is
    ``step_id``, when given) to ``status``; it says whether anything changed."""
    if status not in SPS_STATUSES:
        raise ValueError(f"{status!r} is not a step status ({', '.join(SPS_STATUSES)})")

    def change(ds: Dataset) -> bool:
        changed = False
        for step in ds.get("ScheduledProcedureStepSequence") or ():
            if step_id is not None and str(step.get("ScheduledProcedureStepID", "")) != step_id:
                continue
            if str(step.get("ScheduledProcedureStepStatus", "") or "").strip() != status:
                step.ScheduledProcedureStepStatus = status
                changed = True
        return changed

    return change
