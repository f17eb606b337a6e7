#!/usr/bin/env python3
"""Folder faults under load: the worklist folder misbehaves while modalities query.

Starts ``python -m wldesk serve`` on a free port of 127.0.0.1 with a folder of ``--entries``
entries; ``--clients`` threads query every entry continuously (lossless ``find``, one association
each) for ``--duration`` seconds while one thread, seeded, does to the folder in turn: rewrite a
file in place (truncate, write half, pause, write the rest: a half-written file must never be
served), rename a file away and back, rename it to another ``.wl`` name and back, delete it and
write it again (atomically), chmod 000 (skipped when running as root, whom permissions do not
stop from reading), a 200 MB non-DICOM ``.wl`` (a sparse file), a symlink loop (two ``.wl`` links
to each other and a link to the folder itself), the folder renamed away and back, and the folder
deleted and made again. Every fault is timed, and every query is judged by what had happened when
it started and when it ended:

- stale answer: an entry answered that was gone during the whole query;
- lost answer: an entry not answered that was there during the whole query (status Success);
- half-written answer: an answer without its accession number or its scheduled step;
- duplicate answer: one entry answered twice in one query;
- error status: anything but Success, except 0xC001 for a query that overlapped the folder
  being away (conformance section 1).

    PYTHONPATH=. python benchmarks/reliability_folder.py [--duration 30] [--entries 200] [--seed 1]

Exit code 1 when any figure that must be zero is not.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._reliability import (
    Figure,
    accession,
    associate,
    client_ae,
    complete,
    entry_bytes,
    entry_name,
    log_problems,
    print_table,
    proc_stats,
    settle,
    worklist_query,
)
from tests.helpers.processes import WldeskServe
from wldesk.core.net.scu import find

BIG = 200 * 1024 * 1024
FOLDER_MISSING = 0xC001


@dataclass
class Timeline:
    """When each entry was away: (start of its going, end of its coming back), both in
    ``time.monotonic()``; when the folder itself was away."""

    absent: dict[int, list[list[float]]] = field(default_factory=dict)
    # for stale answers: (gone for sure from, back at the earliest)
    gone: dict[int, list[list[float]]] = field(default_factory=dict)
    folder_away: list[list[float]] = field(default_factory=list)
    touched: dict[int, list[tuple[str, float, float]]] = field(default_factory=dict)  # for examples
    lock: threading.Lock = field(default_factory=threading.Lock)

    def faults_on(self, number: int, start: float, end: float) -> str:
        """The faults done to entry ``number`` around a query, timed relative to its start."""
        with self.lock:
            return "; ".join(f"{kind} {a - start:+.3f}..{b - start:+.3f} s"
                             for kind, a, b in self.touched.get(number, []) if a < end + 1 and b > start - 1)

    def leaving(self, number: int) -> None:
        with self.lock:
            self.absent.setdefault(number, []).append([time.monotonic(), float("inf")])

    def left(self, number: int) -> None:
        with self.lock:
            self.gone.setdefault(number, []).append([time.monotonic(), float("inf")])

    def coming(self, number: int) -> None:
        with self.lock:
            self.gone[number][-1][1] = time.monotonic()

    def came(self, number: int) -> None:
        with self.lock:
            self.absent[number][-1][1] = time.monotonic()

    def stale(self, number: int, start: float, end: float) -> bool:
        """Gone before the query started and not back before it ended."""
        with self.lock:
            return any(gone < start and back > end for gone, back in self.gone.get(number, []))

    def maybe_absent(self, number: int, start: float, end: float) -> bool:
        with self.lock:
            return any(a < end and b > start for a, b in self.absent.get(number, []))

    def folder_overlap(self, start: float, end: float) -> bool:
        with self.lock:
            return any(a < end and b > start for a, b in self.folder_away)


@dataclass
class FolderReport:
    queries: int = 0
    answers: int = 0
    stale: int = 0
    lost: int = 0
    half_written: int = 0
    duplicates: int = 0
    error_statuses: int = 0
    folder_away_failures: int = 0  # 0xC001 while the folder was away: expected
    client_errors: int = 0
    crashes: int = 0
    tracebacks: int = 0
    error_lines: list[str] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    threads: tuple[int, int] = (0, 0)
    fds: tuple[int, int] = (0, 0)
    rss_kib: tuple[int, int] = (0, 0)
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def figures(self) -> list[Figure]:
        growth = 100.0 * (self.rss_kib[1] - self.rss_kib[0]) / max(1, self.rss_kib[0])
        return [
            Figure("faults done (" + ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) + ")",
                   sum(self.faults.values()), None),
            Figure("queries", self.queries, None),
            Figure("answers", self.answers, None),
            Figure("0xC001 while the folder was away (expected)", self.folder_away_failures, None),
            Figure("crashes (server died or did not stop cleanly)", self.crashes),
            Figure("stale answers", self.stale),
            Figure("lost answers", self.lost),
            Figure("half-written answers", self.half_written),
            Figure("duplicate answers", self.duplicates),
            Figure("error statuses / no final status", self.error_statuses),
            Figure("client errors", self.client_errors),
            Figure("tracebacks in the server log", self.tracebacks),
            Figure("ERROR lines in the server log", len(self.error_lines)),
            Figure(f"threads above baseline ({self.threads[0]} -> {self.threads[1]})",
                   max(0, self.threads[1] - self.threads[0])),
            Figure(f"open fds above baseline ({self.fds[0]} -> {self.fds[1]})",
                   max(0, self.fds[1] - self.fds[0])),
            Figure(f"RSS growth % ({self.rss_kib[0] // 1024} -> {self.rss_kib[1] // 1024} MiB)",
                   growth, 10),
            Figure("seconds", self.seconds, None),
        ]


def _atomic_write(folder: Path, number: int) -> None:
    tmp = folder / f".{entry_name(number)}.tmp"
    tmp.write_bytes(entry_bytes(number))
    os.replace(tmp, folder / entry_name(number))


class Faults:
    """The folder's misbehaviour, one fault at a time."""

    def __init__(self, folder: Path, entries: int, seed: int, timeline: Timeline,
                 report: FolderReport) -> None:
        self.folder, self.entries, self.timeline, self.report = folder, entries, timeline, report
        self.rng = random.Random(seed)
        self.current = 0  # the entry the fault in progress is done to
        self.kinds = ["rewrite in place", "rename away and back", "rename to another .wl name",
                      "delete and write again", "chmod 000", "200 MB non-DICOM .wl",
                      "symlink loop", "folder renamed away and back", "folder deleted and made again"]

    def run(self, stop: threading.Event) -> None:
        index = 0
        while not stop.is_set():
            kind = self.kinds[index % len(self.kinds)] if index < len(self.kinds) else \
                self.rng.choice(self.kinds[:5] * 3 + self.kinds[5:])
            index += 1
            method = "_" + kind.split()[0].replace("200", "big").replace("chmod", "chmod_")
            self.current = 0
            began = time.monotonic()
            if getattr(self, method)(kind) is not False:
                self.report.faults[kind] += 1
            if self.current:
                with self.timeline.lock:
                    self.timeline.touched.setdefault(self.current, []).append((kind, began, time.monotonic()))
            stop.wait(self.rng.uniform(0.05, 0.3))

    def _number(self) -> int:
        self.current = self.rng.randint(1, self.entries)
        return self.current

    def _rewrite(self, _kind: str) -> None:
        number = self._number()
        data = entry_bytes(number, padding=self.rng.choice([0, 10, 100, 1000]))
        half = self.rng.randrange(1, len(data))
        with open(self.folder / entry_name(number), "r+b") as f:
            f.truncate(0)
            f.write(data[:half])
            f.flush()
            time.sleep(self.rng.uniform(0.01, 0.2))
            f.write(data[half:])

    def _rename(self, kind: str) -> None:
        number = self._number()
        path = self.folder / entry_name(number)
        if kind == "rename away and back":
            away = path.with_suffix(".bak")
            self.timeline.leaving(number)
            path.rename(away)
            self.timeline.left(number)
            time.sleep(self.rng.uniform(0.05, 0.3))
            self.timeline.coming(number)
            away.rename(path)
            self.timeline.came(number)
        else:  # to another name served just the same: the entry is never away
            other = self.folder / f"renamed-{entry_name(number)}"
            path.rename(other)
            time.sleep(self.rng.uniform(0.05, 0.3))
            other.rename(path)

    def _delete(self, _kind: str) -> None:
        number = self._number()
        self.timeline.leaving(number)
        (self.folder / entry_name(number)).unlink()
        self.timeline.left(number)
        time.sleep(self.rng.uniform(0.05, 0.3))
        self.timeline.coming(number)
        _atomic_write(self.folder, number)
        self.timeline.came(number)

    def _chmod_(self, _kind: str) -> bool:
        if os.geteuid() == 0:
            self.report.faults["chmod 000 skipped (root reads anyway)"] += 1
            return False
        number = self._number()
        path = self.folder / entry_name(number)
        self.timeline.leaving(number)  # may or may not be served meanwhile
        path.chmod(0)
        time.sleep(self.rng.uniform(0.05, 0.3))
        path.chmod(0o644)
        self.timeline.came(number)
        return True

    def _big(self, _kind: str) -> None:
        path = self.folder / "big-not-dicom.wl"
        with open(path, "wb") as f:
            f.write(b"not a DICOM file\n" * 64)
            f.truncate(BIG)
        time.sleep(self.rng.uniform(0.3, 1.0))
        path.unlink()

    def _symlink(self, _kind: str) -> None:
        a, b, me = self.folder / "loop-a.wl", self.folder / "loop-b.wl", self.folder / "loop-dir"
        a.symlink_to(b.name)
        b.symlink_to(a.name)
        me.symlink_to(".")
        time.sleep(self.rng.uniform(0.3, 1.0))
        for link in (a, b, me):
            link.unlink()

    def _everyone_away(self, start: float) -> None:
        with self.timeline.lock:
            for number in range(1, self.entries + 1):
                self.timeline.absent.setdefault(number, []).append([start, float("inf")])
            self.timeline.folder_away.append([start, float("inf")])

    def _folder(self, kind: str) -> None:
        away = self.folder.with_name(self.folder.name + ".away")
        self._everyone_away(time.monotonic())
        if kind == "folder renamed away and back":
            self.folder.rename(away)
            gone = time.monotonic()
            with self.timeline.lock:
                for number in range(1, self.entries + 1):
                    self.timeline.gone.setdefault(number, []).append([gone, float("inf")])
            time.sleep(self.rng.uniform(0.2, 1.0))
            with self.timeline.lock:
                for number in range(1, self.entries + 1):
                    self.timeline.gone[number][-1][1] = time.monotonic()
            away.rename(self.folder)
        else:
            shutil.rmtree(self.folder)
            gone = time.monotonic()
            with self.timeline.lock:
                for number in range(1, self.entries + 1):
                    self.timeline.gone.setdefault(number, []).append([gone, float("inf")])
            time.sleep(self.rng.uniform(0.2, 1.0))
            self.folder.mkdir()
            for number in range(1, self.entries + 1):
                self.timeline.coming(number)
                _atomic_write(self.folder, number)
        done = time.monotonic()
        with self.timeline.lock:
            for number in range(1, self.entries + 1):
                self.timeline.absent[number][-1][1] = done
                self.timeline.gone[number][-1][1] = min(self.timeline.gone[number][-1][1], done)
            self.timeline.folder_away[-1][1] = done


def _client(port: int, entries: int, timeline: Timeline, report: FolderReport, *,
            stop: threading.Event, max_queries: int) -> None:
    ae = client_ae(timeout=60)
    assoc = None
    try:
        for _ in range(max_queries):
            if stop.is_set():
                break
            if assoc is None or not assoc.is_established:
                assoc = associate(ae, port)
                if assoc is None:
                    with report.lock:
                        report.client_errors += 1
                        report.examples.append("association refused")
                    stop.wait(0.2)
                    continue
            start = time.monotonic()
            result = find(assoc, worklist_query())
            end = time.monotonic()
            numbers = Counter(int(str(a.get("AccessionNumber", "") or "REL0")[3:] or 0)
                              for a in result.answers)
            with report.lock:
                report.queries += 1
                report.answers += len(result.answers)
                report.half_written += sum(not complete(a) for a in result.answers)
                report.duplicates += sum(count - 1 for count in numbers.values())
                stale = [n for n in numbers if timeline.stale(n, start, end)]
                report.stale += len(stale)
                if stale:
                    report.examples.append(f"stale: {[accession(n) for n in stale[:5]]}")
                if result.final_status == 0:
                    lost = [n for n in range(1, entries + 1)
                            if n not in numbers and not timeline.maybe_absent(n, start, end)]
                    report.lost += len(lost)
                    report.examples += [f"lost: {accession(n)} in a query of {end - start:.3f} s; "
                                        f"{timeline.faults_on(n, start, end)}" for n in lost[:5]]
                elif result.final_status == FOLDER_MISSING and timeline.folder_overlap(start, end):
                    report.folder_away_failures += 1
                else:
                    report.error_statuses += 1
                    report.examples.append(f"status {result.final_status}: {result.error_comment}")
        if assoc is not None and assoc.is_established:
            assoc.release()
    except Exception as exc:
        with report.lock:
            report.client_errors += 1
            report.examples.append(repr(exc))
    finally:
        ae.shutdown()


def run_folder(duration: float = 30.0, entries: int = 200, clients: int = 4, seed: int = 1) -> FolderReport:
    start = time.monotonic()
    report = FolderReport()
    timeline = Timeline()
    with tempfile.TemporaryDirectory(prefix="wldesk-folder-") as tmp:
        folder = Path(tmp) / "worklists"
        folder.mkdir()
        for number in range(1, entries + 1):
            (folder / entry_name(number)).write_bytes(entry_bytes(number))
        server = WldeskServe(folder, startup_timeout=60)
        try:
            with server:
                warm = Timeline()
                _client(server.port, entries, warm, report, stop=threading.Event(), max_queries=2)
                time.sleep(0.5)
                baseline = proc_stats(server.pid)
                stop = threading.Event()
                faults = Faults(folder, entries, seed, timeline, report)
                threads = [threading.Thread(target=_client, daemon=True,
                                            args=(server.port, entries, timeline, report),
                                            kwargs={"stop": stop, "max_queries": 100_000})
                           for _ in range(clients)]
                fault_thread = threading.Thread(target=faults.run, args=(stop,), daemon=True)
                for thread in [*threads, fault_thread]:
                    thread.start()
                stop.wait(duration)
                stop.set()
                for thread in [fault_thread, *threads]:
                    thread.join(120)
                    if thread.is_alive():
                        report.client_errors += 1
                        report.examples.append("a thread did not finish within 120 s (hang)")
                end = settle(server.pid, baseline, 15)
                report.threads = (baseline.threads, end.threads)
                report.fds = (baseline.fds, end.fds)
                report.rss_kib = (baseline.rss_kib, end.rss_kib)
                log = server.log_text()
        except AssertionError as exc:
            report.crashes += 1
            log = str(exc)
        report.tracebacks, report.error_lines = log_problems(log)
    report.seconds = time.monotonic() - start
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of faults (default 30)")
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    report = run_folder(args.duration, args.entries, args.clients, args.seed)
    for line in report.examples[:15] + report.error_lines[:10]:
        print("example:", line)
    return print_table(f"folder faults: {args.duration:g} s, {args.entries} entries, {args.clients} clients, "
                       f"seed {args.seed}", report.figures())


if __name__ == "__main__":
    sys.exit(main())
