"""The Python in docs/integrators.md runs: the workaround with wldesk's find and the standalone one
lose no answer against ``python -m wldesk serve`` (several clients on reused associations), and
the reproduction script to report upstream is valid Python."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]

from tests.helpers.ports import LOCALHOST
from tests.helpers.processes import REPO_ROOT, WldeskServe
from tests.helpers.samples import write_entry

DOC = REPO_ROOT / "docs" / "integrators.md"
ENTRIES = 5


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WldeskServe]:
    folder: Path = tmp_path_factory.mktemp("worklists")
    for number in range(1, ENTRIES + 1):
        write_entry(folder, f"e{number}.wl", accession=f"ACC{number}")
    with WldeskServe(folder) as server:
        yield server


def ct_query() -> Dataset:
    ds = Dataset()
    ds.AccessionNumber = ""
    step = Dataset()
    step.Modality = "CT"
    ds.ScheduledProcedureStepSequence = DicomSequence([step])
    return ds


def test_there_are_three_python_blocks() -> None:
    assert len(python_blocks()) == 3


def test_the_workaround_with_wldesks_find(serving: WldeskServe) -> None:
    code = python_blocks()[0].replace("4242", str(serving.port))
    namespace: dict[str, Any] = {"query": ct_query()}
    exec(compile(code, str(DOC), "exec"), namespace)
    assert len(namespace["result"].answers) == ENTRIES
    assert namespace["result"].final_status == 0x0000


def test_the_standalone_workaround_loses_no_answer(serving: WldeskServe) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(python_blocks()[1], str(DOC), "exec"), namespace)
    find_all = namespace["find_all"]
    results: list[tuple[int, int | None]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        ae = AE(ae_title=f"DOC{number}")
        ae.add_requested_context(ModalityWorklistInformationFind)
        ae.dimse_timeout = 20
        try:
            assoc = ae.associate(LOCALHOST, serving.port, ae_title="WLDESK")
            for index in range(30):
                answers, status = find_all(assoc, ct_query(), msg_id=index + 1)
                with lock:
                    results.append((len(answers), status))
            assoc.release()
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            ae.shutdown()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert len(results) == 240
    assert set(results) == {(ENTRIES, 0x0000)}


def test_the_reproduction_script_is_python() -> None:
    compile(python_blocks()[2], "repro.py", "exec")
