#!/usr/bin/env python3
"""Many associations querying at once, and a soak: every answer set checked, memory watched.

Starts ``python -m wldesk serve`` on a free port of 127.0.0.1 with a folder of ``--entries``
entries (accession numbers known from the files written). Load: ``--associations`` threads, each
on its own association, send ``--queries`` C-FINDs (lossless ``find``), seeded: one accession
number, a patient-name wildcard (``RELIABILITY^PATIENT12*``) or, one in 50, every entry. Each
answer set must equal the expected set, with status Success, every answer complete. Soak
(``--soak N``): N more queries from 4 threads, two keeping their association, two opening a fresh
one per query; the server's VmRSS is sampled at the start, after the first 10 % (warm-up) and at
the end: growth after warm-up must be <= 10 %.

    PYTHONPATH=. python benchmarks/reliability_load.py [--associations 20] [--queries 100]
        [--entries 1000] [--seed 1] [--soak 10000]

Exit code 1 when any figure that must be zero is not.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydicom.dataset import Dataset

from benchmarks._reliability import (
    Figure,
    accession,
    associate,
    client_ae,
    complete,
    log_problems,
    print_table,
    proc_stats,
    settle,
    worklist_query,
    write_folder,
)
from tests.helpers.processes import WldeskServe
from wldesk.core.net.scu import find


def pick_query(rng: random.Random, entries: int) -> tuple[Dataset, set[str]]:
    """A query and the accession numbers it must return."""
    query = worklist_query()
    roll = rng.random()
    if roll < 0.02:
        return query, {accession(n) for n in range(1, entries + 1)}
    if roll < 0.55:
        number = rng.randint(1, entries)
        query.AccessionNumber = accession(number)
        return query, {accession(number)}
    prefix = str(rng.randint(10, 99) if entries >= 100 else rng.randint(1, 9))
    query.PatientName = f"RELIABILITY^PATIENT{prefix}*"
    return query, {accession(n) for n in range(1, entries + 1) if str(n).startswith(prefix)}


@dataclass
class LoadReport:
    queries: int = 0
    answers: int = 0
    wrong_sets: int = 0  # answer set other than expected (missing, extra or stale)
    incomplete: int = 0  # an answer without its accession number or scheduled step
    error_statuses: int = 0
    no_association: int = 0
    client_errors: int = 0
    crashes: int = 0
    tracebacks: int = 0
    error_lines: list[str] = field(default_factory=list)
    threads: tuple[int, int] = (0, 0)
    fds: tuple[int, int] = (0, 0)
    rss_kib: list[int] = field(default_factory=list)  # start, after warm-up, end
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, result_status: int | None, answers: list[Dataset], expected: set[str],
              timed_out: bool) -> None:
        got = [str(a.get("AccessionNumber", "") or "") for a in answers]
        with self.lock:
            self.queries += 1
            self.answers += len(answers)
            self.incomplete += sum(not complete(a) for a in answers)
            if result_status != 0:
                self.error_statuses += 1
                self.examples.append(f"status {result_status} (timed out: {timed_out})")
            elif sorted(got) != sorted(expected):
                self.wrong_sets += 1
                self.examples.append(f"expected {len(expected)} answers, got {len(got)}")

    def figures(self, soak: bool) -> list[Figure]:
        figures = [
            Figure("queries", self.queries, None),
            Figure("answers", self.answers, None),
            Figure("crashes (server died or did not stop cleanly)", self.crashes),
            Figure("answer sets not the expected set", self.wrong_sets),
            Figure("incomplete answers", self.incomplete),
            Figure("error statuses / no final status", self.error_statuses),
            Figure("associations refused or failed", self.no_association),
            Figure("client errors", self.client_errors),
            Figure("tracebacks in the server log", self.tracebacks),
            Figure("ERROR lines in the server log", len(self.error_lines)),
            Figure(f"threads above baseline ({self.threads[0]} -> {self.threads[1]})",
                   max(0, self.threads[1] - self.threads[0])),
            Figure(f"open fds above baseline ({self.fds[0]} -> {self.fds[1]})",
                   max(0, self.fds[1] - self.fds[0])),
        ]
        if len(self.rss_kib) == 3:
            start, warm, end = self.rss_kib
            figures.append(Figure(f"RSS MiB at start / after warm-up / end ({start // 1024} / "
                                  f"{warm // 1024} / {end // 1024}): growth % after warm-up",
                                  100.0 * (end - warm) / max(1, warm), 10))
        figures.append(Figure("seconds", self.seconds, None))
        return figures


def _persistent_client(port: int, count: int, seed: int, entries: int, report: LoadReport) -> None:
    rng = random.Random(seed)
    ae = client_ae()
    try:
        assoc = associate(ae, port)
        if assoc is None:
            with report.lock:
                report.no_association += 1
            return
        for _ in range(count):
            query, expected = pick_query(rng, entries)
            result = find(assoc, query)
            report.check(result.final_status, result.answers, expected, result.timed_out)
            if not assoc.is_established:
                with report.lock:
                    report.no_association += 1
                return
        assoc.release()
    except Exception as exc:
        with report.lock:
            report.client_errors += 1
            report.examples.append(repr(exc))
    finally:
        ae.shutdown()


def _fresh_client(port: int, count: int, seed: int, entries: int, report: LoadReport) -> None:
    rng = random.Random(seed)
    ae = client_ae()
    try:
        for _ in range(count):
            assoc = associate(ae, port)
            if assoc is None:
                with report.lock:
                    report.no_association += 1
                continue
            query, expected = pick_query(rng, entries)
            result = find(assoc, query)
            report.check(result.final_status, result.answers, expected, result.timed_out)
            if assoc.is_established:
                assoc.release()
    except Exception as exc:
        with report.lock:
            report.client_errors += 1
            report.examples.append(repr(exc))
    finally:
        ae.shutdown()


def _run_threads(threads: list[threading.Thread], limit: float) -> bool:
    for thread in threads:
        thread.daemon = True
        thread.start()
    end = time.monotonic() + limit
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)


def run_load(associations: int = 20, queries: int = 100, entries: int = 1000, *, seed: int = 1,
             soak: int = 0, time_limit: float = 1800.0) -> LoadReport:
    start = time.monotonic()
    report = LoadReport()
    with tempfile.TemporaryDirectory(prefix="wldesk-load-") as tmp:
        folder = Path(tmp) / "worklists"
        write_folder(folder, entries)
        server = WldeskServe(folder, startup_timeout=60)
        try:
            with server:
                warm = random.Random(seed - 1)
                _persistent_client(server.port, 5, warm.randrange(1 << 30), entries, report)
                time.sleep(0.5)
                baseline = proc_stats(server.pid)
                report.rss_kib.append(baseline.rss_kib)
                threads = [threading.Thread(target=_persistent_client,
                                            args=(server.port, queries, seed * 1000 + i, entries, report))
                           for i in range(associations)]
                if not _run_threads(threads, time_limit):
                    report.client_errors += 1
                    report.examples.append("load threads still running at the time limit")
                if soak:
                    warm_count = soak // 10
                    per = (soak - warm_count) // 4
                    _persistent_client(server.port, warm_count, seed + 7, entries, report)
                    report.rss_kib.append(proc_stats(server.pid).rss_kib)
                    threads = [threading.Thread(target=_persistent_client,
                                                args=(server.port, per, seed * 77 + i, entries, report))
                               for i in range(2)]
                    threads += [threading.Thread(target=_fresh_client,
                                                 args=(server.port, per, seed * 99 + i, entries, report))
                                for i in range(2)]
                    if not _run_threads(threads, time_limit):
                        report.client_errors += 1
                        report.examples.append("soak threads still running at the time limit")
                    report.rss_kib.append(proc_stats(server.pid).rss_kib)
                end = settle(server.pid, baseline, 15)
                report.threads = (baseline.threads, end.threads)
                report.fds = (baseline.fds, end.fds)
                log = server.log_text()
        except AssertionError as exc:
            report.crashes += 1
            log = str(exc)
        report.tracebacks, report.error_lines = log_problems(log)
    report.seconds = time.monotonic() - start
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--associations", type=int, default=20)
    parser.add_argument("--queries", type=int, default=100, help="queries per association")
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--soak", type=int, default=0, metavar="N", help="N soak queries after the load")
    parser.add_argument("--time-limit", type=float, default=1800.0, help="seconds per phase at most")
    args = parser.parse_args()
    report = run_load(args.associations, args.queries, args.entries, seed=args.seed, soak=args.soak,
                      time_limit=args.time_limit)
    for line in report.examples[:10] + report.error_lines[:10]:
        print("example:", line)
    title = (f"load: {args.associations} associations x {args.queries} queries, {args.entries} entries, "
             f"seed {args.seed}" + (f", soak {args.soak}" if args.soak else ""))
    return print_table(title, report.figures(bool(args.soak)))


if __name__ == "__main__":
    sys.exit(main())
