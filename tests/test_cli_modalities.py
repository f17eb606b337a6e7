"""``wldesk modalities`` against the figures a real ``wldesk serve`` keeps, with DCMTK findscu and
pynetdicom as the modalities."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]

from tests.helpers.dcmtk import run_findscu
from tests.helpers.ports import LOCALHOST
from tests.helpers.processes import WldeskServe, run_wldesk
from tests.helpers.samples import write_entry

QUERY = """\
(0008,0050) SH []
(0010,0010) PN []
(0040,0100) SQ (Sequence with explicit length #=1)
  (fffe,e000) na (Item with explicit length #=3)
    (0008,0060) CS [CT]
    (0040,0001) AE [CT1]
    (0040,0002) DA [20261127]
  (fffe,e00d) na (ItemDelimitationItem for re-encoding)
(fffe,e0dd) na (SequenceDelimitationItem for re-encoding)
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The worklist folder (one CT entry), a settings file (known CT1 and US1, no unknown AE
    titles) and the home of the server's and the command's private folders."""
    folder = tmp_path / "worklists"
    folder.mkdir()
    write_entry(folder, "ct.wl", station="CT1", modality="CT", date="20261127")
    config = tmp_path / "settings.json"
    config.write_text(json.dumps({
        "database": str(folder), "allow_unknown_modalities": False,
        "modalities": [{"name": "CT room 1", "ae_title": "CT1"},
                       {"name": "Ultrasound", "ae_title": "US1"},
                       # the C-ECHO of WldeskServe that waits for the server to answer
                       {"name": "readiness probe", "ae_title": "ECHOPROBE"}]}), encoding="utf-8")
    query = tmp_path / "query.dump"
    query.write_text(QUERY, encoding="utf-8")
    return config, query, tmp_path / "home"


def modalities(home: Path, config: Path) -> str:
    result = run_wldesk(home, "modalities", "--config", str(config))
    assert result.returncode == 0, result.stderr
    return result.stdout


def block(text: str, aet: str) -> str:
    """The lines of ``aet``'s block."""
    found = re.search(rf"^{aet}\b.*?(?=\n\n|\Z)", text, re.M | re.S)
    assert found, text
    return found.group(0)


@pytest.mark.expect_log_warnings(r"Association Rejected|Result: Rejected|Reason: ")
def test_modalities_shows_a_refusal_a_query_and_a_modality_that_never_asked(
        setup: tuple[Path, Path, Path]) -> None:
    config, query, home = setup
    with WldeskServe(config.parent / "worklists", extra_args=["--config", str(config)],
                     home=home) as server:
        ae = AE(ae_title="CT9")
        ae.add_requested_context(ModalityWorklistInformationFind)
        assert ae.associate(LOCALHOST, server.port, ae_title="WLDESK").is_rejected
        found = run_findscu(server.port, query, "WLDESK", calling_aet="CT1")
        assert found.returncode == 0 and len(found.answers) == 1
        # while it runs (the figures are written within a second)
        running = modalities(home, config)
        for _ in range(20):
            if "Answers sent: 1" in running:
                break
            running = modalities(home, config)
        assert "Answers sent: 1" in block(running, "CT1")
    after = modalities(home, config)
    ct1 = block(after, "CT1")
    assert ct1.startswith("CT1 — CT room 1")
    assert re.search(r"Last association: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d from 127\.0\.0\.1", ct1)
    assert re.search(r"Last query: .*: Modality CT, scheduled date 2026-11-27, station CT1", ct1)
    assert "Answers sent: 1" in ct1 and "Final status: Success (0x0000)" in ct1
    assert "Queries today: 1" in ct1 and re.search(r"Duration: \d+\.\d ms", ct1)
    assert re.search(r"Last query: never queried since \d{4}-\d\d-\d\d", block(after, "US1"))
    ct9 = block(after, "CT9")
    assert ct9.startswith("CT9 (unknown)")
    assert "unknown AE title CT9 from 127.0.0.1: add it to the known modalities" in ct9

    # a new server with the same state folder: the figures are there and keep counting
    with WldeskServe(config.parent / "worklists", extra_args=["--config", str(config)],
                     home=home) as server:
        assert "Queries today: 1" in block(modalities(home, config), "CT1")
        assert run_findscu(server.port, query, "WLDESK", calling_aet="CT1").returncode == 0
    assert "Queries today: 2" in block(modalities(home, config), "CT1")


def test_modalities_without_figures_yet(setup: tuple[Path, Path, Path]) -> None:
    config, _query, home = setup
    result = run_wldesk(home, "modalities", "--config", str(config))
    assert result.returncode == 0
    assert "US1 — Ultrasound\n  Last association: none\n  Last query: never queried (no figures " \
           "kept yet)" in result.stdout
    assert "no figures kept yet: a running server writes them to" in result.stderr


def test_modalities_says_when_the_figures_cannot_be_read(setup: tuple[Path, Path, Path]) -> None:
    config, _query, home = setup
    figures = home / "xdg_state_home" / "wldesk" / "modalities.json"
    figures.parent.mkdir(parents=True)
    figures.write_text("{broken", encoding="utf-8")
    result = run_wldesk(home, "modalities", "--config", str(config))
    assert result.returncode == 1
    assert "cannot read the modality figures" in result.stderr and "not JSON" in result.stderr
    assert figures.read_text(encoding="utf-8") == "{broken"  # read only: left as it was
