"""Fuzz wldesk's C-FIND handling: mutated worklist identifiers over real associations.

Starts an in-process wldesk server on a small folder, sends ``--cases`` mutated identifiers
(``tests/helpers/fuzz.py``: byte flips, lengths that run past the data, cuts, garbage, random
bytes) half in implicit, half in explicit VR little endian, and prints how many got each final
status, how many got none, and how many ERROR log records (tracebacks) the server wrote. An
undecodable query must get 0xA900 with a plain reason; 0xC000 (internal error) is a bug.

    python3 benchmarks/fuzz_queries.py --cases 10000 --seed 1 [--fresh]

By default one association carries all cases (renewed after an abort); ``--fresh`` opens one per
case. "no final status" counts C-FINDs that got no final response within 3 s.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers.fuzz import ErrorRecords, FuzzResult, cases, run_cases
from tests.helpers.ports import free_port
from tests.helpers.samples import write_entry
from wldesk.core.net.server import WorklistServer
from wldesk.core.settings import Settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fresh", action="store_true",
                        help="a new association for every case (default: one, renewed after an abort)")
    args = parser.parse_args()
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
    errors = ErrorRecords()
    logging.getLogger("wldesk").addHandler(errors)
    with tempfile.TemporaryDirectory(prefix="wldesk-fuzz-") as tmp:
        folder = Path(tmp)
        write_entry(folder, "a.wl", patient="DOE^JOHN", accession="A1")
        write_entry(folder, "b.wl", charset="ISO_IR 100", patient="Müller^Zoë", accession="A2")
        server = WorklistServer(Settings(database=str(folder), port=free_port(),
                                         bind_address="127.0.0.1"))
        server.start()
        started = time.perf_counter()
        try:
            half = args.cases // 2
            results = [run_cases(server.port, cases(args.seed, half, True), True, fresh=args.fresh),
                       run_cases(server.port, cases(args.seed + 1, args.cases - half, False), False,
                                 fresh=args.fresh)]
        finally:
            server.stop()
    total = FuzzResult(statuses=sum((r.statuses for r in results), Counter()),
                       no_answer=sum(r.no_answer for r in results))
    print(f"{total.cases} cases in {time.perf_counter() - started:.1f} s (seed {args.seed})")
    for code, count in sorted(total.statuses.items()):
        print(f"  0x{code:04X}: {count}")
    print(f"  no final status: {total.no_answer}")
    print(f"  ERROR log records: {len(errors.errors)}")
    for result in results:
        for code, (data, comment) in sorted(result.examples.items()):
            if code >= 0xC000 or code < 0:
                label = "no final status" if code < 0 else f"0x{code:04X} {comment!r}"
                print(f"  e.g. {label} for {len(data)} bytes: {data.hex()}")
    for record in errors.errors[:5]:
        print(f"  log: {record.getMessage()}")
    return 1 if total.statuses.get(0xC000) or total.no_answer or errors.errors else 0


if __name__ == "__main__":
    sys.exit(main())
