"""A few thousand malformed CSV files through the import's core functions: random bytes, huge
fields, broken quoting, wrong encodings, mutated good files. Every file gets a report; every
entry written is complete (nothing half-written); nothing raises."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from wldesk.core.check import missing_keys
from wldesk.core.flow.csv_import import import_rows, load_mapping, read_csv, report_text
from wldesk.core.flow.ledger import Ledger
from wldesk.core.store import read_entry

FILES = 3000
GOOD = ("Patient name;Patient ID;Birth date;Sex;Accession;Modality;Station;Date;Time;Description\n"
        "Müller, José;P1;31.12.1970;M;A{n};CT;CT1;2026-05-04;09:30;CT head\n"
        'Roe^Jane;P2;;F;B{n};MR;MR1;04.05.2026;10:00;"MR knee; left"\n')


def malformed(rng: random.Random, n: int) -> bytes:
    good = GOOD.format(n=n % 50)
    kind = n % 6
    if kind == 0:  # random bytes
        return rng.randbytes(rng.randrange(0, 400))
    if kind == 1:  # a huge field
        return good.replace("CT head", "x" * rng.choice((70_000, 140_000, 1_000_000))).encode()
    if kind == 2:  # broken quoting
        return good.replace('"MR knee', rng.choice(('"MR knee"x"', 'MR "knee', '"""'))).encode()
    if kind == 3:  # a wrong encoding
        return good.encode(rng.choice(("utf-16-le", "utf-32", "cp1252", "latin-1", "cp437")))
    data = bytearray(good.encode())
    for _ in range(rng.randrange(1, 12)):  # bytes flipped, dropped, repeated
        at = rng.randrange(len(data))
        choice = rng.randrange(3)
        if choice == 0:
            data[at] = rng.randrange(256)
        elif choice == 1:
            del data[at]
        else:
            data[at:at] = data[at:at + rng.randrange(1, 20)]
    if kind == 5:
        data = data.replace(b";", rng.choice((b",", b"\t", b";;", b"\x00")))
    return bytes(data)


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
