"""A few thousand malformed CSV files through the import's core functions: random bytes, huge
fields, broken quoting, wrong encodings, mutated good files. Every file gets a report; every
entry written is complete (nothing half-written); nothing raises."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from tests.helpers.csvfuzz import malformed
from wldesk.core.check import missing_keys
from wldesk.core.flow.csv_import import import_rows, load_mapping, read_csv, report_text
from wldesk.core.flow.ledger import Ledger
from wldesk.core.store import read_entry

FILES = 3000


def test_malformed_csv_files(tmp_path: Path) -> None:
    rng = random.Random(14)
    ledger = Ledger(tmp_path)
    mapping = load_mapping(None)
    outcomes: Counter[str] = Counter()
    refused_files = 0
    for n in range(FILES):
        found = read_csv(malformed(rng, n), f"f{n}.csv", mapping)
        results = import_rows(found, ledger)
        report = report_text(found, results)
        assert report.startswith(f"wldesk import of f{n}.csv")
        if found.error:
            refused_files += 1
            assert "Not imported" in report and not results
        else:
            assert "Summary:" in report and len(results) == len(found.rows)
            for result in results:
                assert f"row {result.row}: {result.action}" in report
        outcomes.update(result.action for result in results)
    written = sorted(tmp_path.glob("*.wl"))
    for path in written:
        assert missing_keys(read_entry(path).node) == [], path.name  # complete entries only
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
    assert outcomes["failed"] == 0
    assert outcomes["created"] == len(written)
    assert refused_files > FILES // 6 and outcomes["created"] > 0 and outcomes["refused"] > 0
    print(f"\n{FILES} files: {refused_files} refused whole, rows: {dict(outcomes)}, "
          f"{len(written)} entries")
