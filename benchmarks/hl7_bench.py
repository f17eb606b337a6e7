"""HL7 orders per second: 1,000 ORM^O01 NW orders sent over one MLLP connection to a running
``wldesk serve --hl7-port`` (a child process, as in a clinic), each acknowledged before the next;
then the latency from an order's ACK to its entry being served (a C-FIND by its accession number
until it answers). Prints a table. With ``--fuzz N``, N malformed inputs follow (random bytes,
broken segments, wrong framing, huge fields, byte flips, wrong character sets, truncated
messages): the ACK code each kind got, whether the listener still takes an order and whether
every file in the folder is a whole entry.

    PYTHONPATH=. python3 benchmarks/hl7_bench.py [--orders 1000] [--latency 50] [--fuzz 3000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hl7.client import MLLPClient

from benchmarks._reliability import served
from tests.helpers.hl7fuzz import VALID, run
from tests.helpers.ports import free_port
from tests.helpers.processes import WldeskServe
from wldesk.core.flow.ledger import Ledger

MWL = "1.2.840.10008.5.1.4.31"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--latency", type=int, default=50, help="orders timed to being served")
    parser.add_argument("--fuzz", type=int, default=0, help="malformed inputs to send after")
    args = parser.parse_args()
    fuzz = ""
    with tempfile.TemporaryDirectory(prefix="hl7-bench-") as tmp:
        folder = Path(tmp) / "worklists"
        folder.mkdir()
        hl7_port = free_port()
        with WldeskServe(folder, extra_args=["--hl7-port", str(hl7_port)], home=Path(tmp) / "home") as server:
            deadline = time.monotonic() + 10
            while "HL7 (MLLP) listener on" not in server.log_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            acks: list[float] = []
            with MLLPClient("127.0.0.1", hl7_port) as client:
                start = time.perf_counter()
                for number in range(args.orders):
                    sent = time.perf_counter()
                    ack = client.send_message(VALID.format(n=number))
                    acks.append(time.perf_counter() - sent)
                    assert b"MSA|AA|" in ack, ack
                elapsed = time.perf_counter() - start
                latencies: list[float] = []
                for number in range(args.orders, args.orders + args.latency):
                    ack = client.send_message(VALID.format(n=number))
                    acked = time.perf_counter()
                    assert b"MSA|AA|" in ack, ack
                    while not served(server.port, f"FZ{number}"):
                        pass
                    latencies.append(time.perf_counter() - acked)
            entries = len(list(folder.glob("*.wl")))
            if args.fuzz:
                outcomes = run(hl7_port, args.fuzz)
                with MLLPClient("127.0.0.1", hl7_port) as client:
                    alive = b"MSA|AA|Fend" in client.send_message(VALID.format(n="end"))
                files = sorted(folder.glob("*.wl"))
                whole = len(Ledger(folder).keys()) == len(files) and not list(folder.glob(".*"))
                totals = {code: sum(n for k, n in outcomes.items() if k.endswith(f": {code}"))
                          for code in ("AA", "AE", "AR", "-")}
                fuzz = (f"\nfuzz: {args.fuzz} malformed inputs: "
                        + ", ".join(f"{code}: {n}" for code, n in totals.items())
                        + f" ({len(files) - entries - 1} new entries from the valid orders "
                        f"among them); still taking orders: {alive}; every file a whole entry: "
                        f"{whole}\nby kind: "
                        + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))
    rows = [
        ("orders sent (NW, one connection)", f"{args.orders}"),
        ("entries in the folder", f"{entries}"),
        ("orders per second", f"{args.orders / elapsed:.0f}"),
        ("ACK round trip, median / p95 (ms)",
         f"{statistics.median(acks) * 1000:.1f} / {percentile(acks, 0.95) * 1000:.1f}"),
        (f"ACK to served by C-FIND, median / p95 / max (ms), {args.latency} orders",
         f"{statistics.median(latencies) * 1000:.1f} / {percentile(latencies, 0.95) * 1000:.1f}"
         f" / {max(latencies) * 1000:.1f}"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"| {'what':<{width}} | value |\n|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")
    print(fuzz)
    return 0 if entries == args.orders + args.latency else 1


if __name__ == "__main__":
    sys.exit(main())
