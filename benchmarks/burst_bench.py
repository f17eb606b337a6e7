#!/usr/bin/env python3
"""Connection bursts: N associations opened at the same moment, against wldesk and wlmscpfs.

Starts ``python -m wldesk serve`` and DCMTK's ``wlmscpfs`` on free ports of 127.0.0.1 (empty
worklist folders) and, per round, opens N TCP connections at once from N threads (a barrier
releases them together); each sends an A-ASSOCIATE-RQ (Modality Worklist), reads the answer and
releases. It prints, per server, how many were accepted and the median and maximum of the time
from the barrier to the TCP connection being up and to the A-ASSOCIATE-AC. A connect time of 1 s
or more is a SYN the server's listen queue dropped and the client's kernel sent again.

    python benchmarks/burst_bench.py [--clients 40 60] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.processes import WldeskServe, Wlmscpfs
from tests.helpers.rawdicom import (
    A_ASSOCIATE_AC,
    RELEASE_RQ,
    associate_rq,
    connect,
    read_pdu,
)

T = TypeVar("T")

def at_once(clients: int, exchange: Callable[[float], T]) -> tuple[list[T], list[BaseException]]:
    """Run ``exchange(start)`` on ``clients`` threads released at the same moment (``start``, a
    ``time.perf_counter`` value); what they returned and what they raised (OSError, RuntimeError)."""
    barrier = threading.Barrier(clients + 1)
    results: list[T] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    start = [0.0]

    def client() -> None:
        barrier.wait()
        try:
            result = exchange(start[0])
        except (OSError, RuntimeError) as exc:
            with lock:
                failures.append(exc)
            return
        with lock:
            results.append(result)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start[0] = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join(120)
    return results, failures


def burst(port: int, called: bytes, clients: int) -> tuple[int, list[float], list[float]]:
    """(accepted, connect times, A-ASSOCIATE-AC times) of one burst, times in seconds."""

    def associate(start: float) -> tuple[float, float] | None:
        with connect(port, timeout=60) as sock:
            up = time.perf_counter() - start
            sock.sendall(associate_rq(called=called))
            pdu = read_pdu(sock)
            done = time.perf_counter() - start
            if pdu[:1] != bytes([A_ASSOCIATE_AC]):
                return None
            sock.sendall(RELEASE_RQ)
            read_pdu(sock)
            return up, done

    accepted = [times for times in at_once(clients, associate)[0] if times is not None]
    return len(accepted), [up for up, _ in accepted], [done for _, done in accepted]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[40, 60])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "worklists"
        (Path(tmp) / "root" / "OFFIS").mkdir(parents=True)
        folder.mkdir()
        rows = []
        with WldeskServe(folder) as wldesk, Wlmscpfs(Path(tmp) / "root") as wlmscpfs:
            for clients in args.clients:
                for name, port, called in (("wldesk", wldesk.port, b"WLDESK"),
                                           ("wlmscpfs", wlmscpfs.port, b"OFFIS")):
                    accepted, ups, acs = 0, [], []
                    for _ in range(args.rounds):
                        count, up, ac = burst(port, called, clients)
                        accepted += count
                        ups += up
                        acs += ac
                        time.sleep(0.5)
                    rows.append((clients, name, f"{accepted}/{clients * args.rounds}",
                                 *(f"{1000 * f(v):.0f}" if v else "-"
                                   for v in (ups, acs) for f in (statistics.median, max))))
    print(f"{args.rounds} rounds per line; times in ms from the moment all clients start\n")
    print("| clients | server | accepted | connect median | connect max | AC median | AC max |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
