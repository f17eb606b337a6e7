#!/usr/bin/env python3
"""Lost C-FIND answers: pynetdicom's ``send_c_find`` against wldesk's lossless ``find``.

pynetdicom 3.0.4's ``Association.send_c_find`` can lose an answer of a server that answers within
about a millisecond, on an association used for more than one query (its reactor takes a
C-FIND-RSP off the DIMSE queue and drops it with the warning "Received unexpected C-FIND service
message"; see docs/integrators.md). This script shows it: it starts ``python -m wldesk serve`` on a
free port of 127.0.0.1 with a folder of ``--entries`` worklist entries (or asks ``--host/--port``,
any worklist SCP with that many entries, e.g. wlmscpfs or Orthanc), then runs ``--clients``
threads, each sending ``--queries`` C-FINDs for every entry on one association it keeps, once
with ``send_c_find`` ("plain") and once with :func:`wldesk.core.net.scu.find` ("lossless"), and
prints a table: queries, queries that came back short (with Success), answers lost, pynetdicom's
"unexpected C-FIND" warnings, and the time taken.

    PYTHONPATH=. python benchmarks/find_race.py [--clients 8] [--queries 40] [--rounds 3]

Exit code 0 when the lossless path lost nothing (whatever the plain path did), 1 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.association import Association

from benchmarks._reliability import MWL, worklist_query, write_folder
from tests.helpers.processes import WldeskServe
from wldesk.core.net.scu import find


@contextmanager
def wldesk_serve(entries: int) -> Iterator[tuple[str, int, str]]:
    """``python -m wldesk serve`` on a temporary folder of ``entries`` entries, with private
    settings and logs."""
    with tempfile.TemporaryDirectory(prefix="wldesk-race-") as tmp:
        folder = Path(tmp) / "worklists"
        write_folder(folder, entries)
        with WldeskServe(folder) as server:
            yield "127.0.0.1", server.port, server.aet


def plain(assoc: Association, identifier: Dataset) -> tuple[int, int | None]:
    """Answers and final status as pynetdicom's send_c_find yields them."""
    answers, final = 0, None
    for status, answer in assoc.send_c_find(identifier, MWL):
        if not status or "Status" not in status:
            return answers, None
        if status.Status in (0xFF00, 0xFF01):
            answers += answer is not None
        else:
            final = int(status.Status)
    return answers, final


def lossless(assoc: Association, identifier: Dataset) -> tuple[int, int | None]:
    """Answers and final status as wldesk's find collects them."""
    result = find(assoc, identifier)
    return len(result.answers), result.final_status


METHODS: dict[str, Callable[[Association, Dataset], tuple[int, int | None]]] = {
    "plain send_c_find": plain, "lossless find": lossless}


@dataclass
class Tally:
    queries: int = 0
    short: int = 0  # queries that ended with Success but fewer answers than expected
    lost: int = 0
    failed: int = 0  # queries without a Success final status
    warnings: int = 0
    seconds: float = 0.0


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.lock_ = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if "unexpected" in record.getMessage():
            with self.lock_:
                self.count += 1


def run(method: Callable[[Association, Dataset], tuple[int, int | None]], host: str, port: int,
        aet: str, *, expected: int, clients: int, queries: int) -> Tally:
    """``clients`` threads, each ``queries`` C-FINDs on one association of its own."""
    tally = Tally()
    lock = threading.Lock()
    counter = _Counter()
    pynetdicom_log = logging.getLogger("pynetdicom")
    pynetdicom_log.addHandler(counter)
    barrier = threading.Barrier(clients)
    errors: list[str] = []

    def client(number: int) -> None:
        ae = AE(ae_title=f"RACE{number}")
        ae.add_requested_context(MWL)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = 20
        try:
            assoc = ae.associate(host, port, ae_title=aet)
            barrier.wait()
            if not assoc.is_established:
                errors.append(f"client {number}: no association")
                return
            identifier = worklist_query()
            for _ in range(queries):
                answers, final = method(assoc, identifier)
                with lock:
                    tally.queries += 1
                    if final != 0x0000:
                        tally.failed += 1
                    elif answers < expected:
                        tally.short += 1
                        tally.lost += expected - answers
            assoc.release()
        except Exception as exc:
            errors.append(f"client {number}: {exc!r}")
        finally:
            ae.shutdown()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.seconds = time.perf_counter() - started
    pynetdicom_log.removeHandler(counter)
    tally.warnings = counter.count
    for error in errors:
        print(error, file=sys.stderr)
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--queries", type=int, default=40, help="queries per client and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--entries", type=int, default=5)
    parser.add_argument("--host", help="ask this server instead of starting wldesk")
    parser.add_argument("--port", type=int)
    parser.add_argument("--aec", default="WLDESK", help="called AE title (with --host)")
    args = parser.parse_args()
    pynetdicom_log = logging.getLogger("pynetdicom")
    pynetdicom_log.setLevel(logging.WARNING)  # the warnings go to the counter, not to stderr
    pynetdicom_log.propagate = False

    totals = {name: Tally() for name in METHODS}

    def measure(host: str, port: int, aet: str) -> None:
        for _ in range(args.rounds):
            for name, method in METHODS.items():
                tally = run(method, host, port, aet, expected=args.entries, clients=args.clients,
                            queries=args.queries)
                total = totals[name]
                for key in ("queries", "short", "lost", "failed", "warnings"):
                    setattr(total, key, getattr(total, key) + getattr(tally, key))
                total.seconds += tally.seconds

    if args.host:
        measure(args.host, args.port, args.aec)
    else:
        with wldesk_serve(args.entries) as (host, port, aet):
            measure(host, port, aet)

    print(f"{args.clients} clients x {args.queries} queries x {args.rounds} rounds, "
          f"{args.entries} answers expected per query")
    print(f"| {'client path':<20} | queries | short queries | lost answers | failed | "
          f"'unexpected C-FIND' warnings | seconds |")
    print(f"|{'-' * 22}|---------|---------------|--------------|--------|"
          f"------------------------------|---------|")
    for name, t in totals.items():
        print(f"| {name:<20} | {t.queries:>7} | {t.short:>13} | {t.lost:>12} | {t.failed:>6} | "
              f"{t.warnings:>28} | {t.seconds:>7.1f} |")
    good = totals["lossless find"]
    return 0 if good.lost == 0 and good.failed == 0 and good.short == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
