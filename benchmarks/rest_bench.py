"""The REST API's throughput: orders created per second, and how long after the HTTP answer the
entry is served to a modality; with ``--fuzz N`` also N malformed requests (their outcomes).

Starts an in-process worklist server and the REST API on a fresh folder, creates ``--orders``
entries one after another with ``requests`` (one keep-alive connection), and for every
``--every``-th one polls the server with a C-FIND (``wldesk.core.net.scu.find``) for its
accession number until it is served. Prints a table.

    python3 benchmarks/rest_bench.py --orders 1000 --every 50 --fuzz 3000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from benchmarks._reliability import served
from tests.helpers.ports import free_port
from tests.helpers.restfuzz import cases, run
from wldesk.core.events import EventBus
from wldesk.core.flow.ledger import Ledger
from wldesk.core.flow.rest import RestChannel
from wldesk.core.libraries import configure_libraries
from wldesk.core.net.server import WorklistServer
from wldesk.core.settings import Settings


def body(number: int) -> dict[str, Any]:
    return {"Tags": {"PatientName": f"BENCH^{number}", "PatientID": f"P{number}",
                     "AccessionNumber": f"B{number:06d}",
                     "ScheduledProcedureStepSequence": [{
                         "Modality": "CT", "ScheduledProcedureStepStartDate": "20261127",
                         "ScheduledProcedureStepStartTime": "090000",
                         "ScheduledStationAETitle": "CT1",
                         "ScheduledProcedureStepID": f"S{number}"}]}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--every", type=int, default=50, help="measure the serving latency of "
                                                              "every Nth order")
    parser.add_argument("--fuzz", type=int, default=0, help="malformed requests to send after")
    args = parser.parse_args()
    configure_libraries()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = Settings(database=tmp, port=free_port(), bind_address="127.0.0.1",
                            rest_port=free_port())
        bus = EventBus()
        server = WorklistServer(settings, bus)
        server.start()
        rest = RestChannel(settings, Ledger(folder), bus)
        rest.start()
        url = f"http://127.0.0.1:{rest.port}/worklists/create"
        session = requests.Session()
        answers, latencies = [], []
        started = time.perf_counter()
        for number in range(args.orders):
            sent = time.perf_counter()
            answer = session.post(url, json=body(number), timeout=30)
            answered = time.perf_counter()
            answer.raise_for_status()
            answers.append(answered - sent)
            if number % args.every == 0:
                while not served(server.port, f"B{number:06d}"):
                    pass
                latencies.append(time.perf_counter() - answered)
        total = time.perf_counter() - started
        files = len(list(folder.glob("*.wl")))
        measured = total - sum(latencies)
        print(f"| orders | files | orders/s | answer median | answer p95 | answer → served "
              f"median | max |\n|---|---|---|---|---|---|---|\n"
              f"| {args.orders} | {files} | {args.orders / measured:.0f} | "
              f"{statistics.median(answers) * 1000:.1f} ms | "
              f"{statistics.quantiles(answers, n=20)[-1] * 1000:.1f} ms | "
              f"{statistics.median(latencies) * 1000:.1f} ms | {max(latencies) * 1000:.1f} ms |")
        if args.fuzz:
            before = {p: p.read_bytes() for p in folder.rglob("*")}
            outcomes = run(rest.port, cases(seed=1, count=args.fuzz))
            alive = requests.get(f"http://127.0.0.1:{rest.port}/system", timeout=10).ok
            same = before == {p: p.read_bytes() for p in folder.rglob("*")}
            print(f"\nfuzz: {args.fuzz} malformed requests: "
                  + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items()))
                  + f"; still answering: {alive}; folder unchanged: {same}")
        rest.stop()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
