#!/usr/bin/env python3
"""Malformed PDUs at the socket level against a real ``python -m wldesk serve``.

Starts the server on a free port of 127.0.0.1 with a folder of ``--entries`` entries, takes its
baseline (threads, open files, resident memory from /proc/PID), then sends ``--cases`` seeded
cases on raw sockets, ``--workers`` at a time: garbage bytes, A-ASSOCIATE-RQ PDUs cut short or
closed mid-PDU, PDUs whose length runs past their data, oversized PDUs (a declared length of 1 GB
and a few bytes), unknown PDU types, P-DATA-TF before any association, A-ASSOCIATE-RQ PDUs with
broken items, malformed P-DATA-TF and unknown PDUs on an established association, and a few slow
clients (a byte every 100 ms, which the A-ASSOCIATE deadline must close). A case where the server
owes a reaction (an answer PDU or closing the connection) and gives none within 3 s (7 s before an
association: the server may keep a connection that sent no A-ASSOCIATE-RQ until its 5 s deadline;
those are counted apart) is a hang. Afterwards the server must still answer a C-FIND for every
entry with all of them, its threads and open files must be back to the baseline (they get up to
``--settle`` s, default 45: pynetdicom's 30 s ARTIM timer can hold an aborted association's
thread that long), its memory within 10 %, its log free of tracebacks and ERROR lines, and it must
stop cleanly on SIGTERM.

    PYTHONPATH=. python benchmarks/reliability_pdus.py [--cases 300] [--seed 1] [--entries 50]

Exit code 1 when any figure that must be zero is not.
"""

from __future__ import annotations

import argparse
import random
import socket
import struct
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._reliability import (
    Figure,
    accessions,
    client_ae,
    log_problems,
    print_table,
    proc_stats,
    query_all,
    settle,
    write_folder,
)
from tests.helpers.processes import WldeskServe
from tests.helpers.rawdicom import A_ASSOCIATE_AC, associate_rq, connect, read_pdu

GIGABYTE = 1 << 30
DEADLINE = 5.0  # association_request_timeout: a connection without A-ASSOCIATE-RQ is closed then
SETTLE = 45.0  # pynetdicom's ARTIM timer (30 s) can hold an aborted association's thread that long
PDU_NAMES = {1: "A-ASSOCIATE-RQ", 2: "A-ASSOCIATE-AC", 3: "A-ASSOCIATE-RJ", 4: "P-DATA-TF",
             5: "A-RELEASE-RQ", 6: "A-RELEASE-RP", 7: "A-ABORT"}


@dataclass
class Outcome:
    """What the server did in one case: "answer <PDU>", "closed", "silent" (the client gave up,
    as the case allows) or "hang" (the server owed a reaction and gave none)."""

    kind: str
    result: str


def _pdu(kind: int, body: bytes, length: int | None = None) -> bytes:
    return struct.pack(">BBL", kind, 0, len(body) if length is None else length) + body


def _pdata(context: int, control: int, data: bytes) -> bytes:
    return _pdu(4, struct.pack(">LBB", len(data) + 2, context, control) + data)


def _reaction(sock: socket.socket, seconds: float) -> str:
    """The server's reaction within ``seconds``: its first PDU's name, "closed", or "" (none)."""
    sock.settimeout(seconds)
    try:
        pdu = read_pdu(sock)
    except TimeoutError:
        return ""
    except OSError:
        return "closed"
    if not pdu:
        return "closed"
    return "answer " + PDU_NAMES.get(pdu[0], f"0x{pdu[0]:02X}")


def _associated(port: int) -> socket.socket:
    sock = connect(port, timeout=10)
    sock.sendall(associate_rq())
    answer = read_pdu(sock)
    if answer[:1] != bytes([A_ASSOCIATE_AC]):
        sock.close()
        raise RuntimeError(f"no A-ASSOCIATE-AC for a good A-ASSOCIATE-RQ: {answer[:10]!r}")
    return sock


def _broken_items(rng: random.Random) -> bytes:
    """A-ASSOCIATE-RQ with its variable items damaged: item lengths changed, bytes flipped, an
    item cut out, or an unknown item type; the PDU length stays consistent with the data."""
    pdu = bytearray(associate_rq())
    body = pdu[6:]
    fixed = 68  # protocol version .. reserved, before the first item
    how = rng.randrange(4)
    if how == 0:  # one item length field (bytes 2-3 of an item) gets a random value
        offsets, at = [], fixed
        while at + 4 <= len(body):
            offsets.append(at)
            at += 4 + struct.unpack(">H", body[at + 2:at + 4])[0]
        at = rng.choice(offsets)
        body[at + 2:at + 4] = struct.pack(">H", rng.randrange(0x10000))
    elif how == 1:
        for _ in range(rng.randint(1, 8)):
            body[rng.randrange(fixed, len(body))] = rng.randrange(256)
    elif how == 2:
        cut = rng.randrange(fixed, len(body))
        body = body[:cut] + body[cut + rng.randint(1, 30):]
    else:
        body[fixed] = rng.choice([0x00, 0x11, 0x99, 0xFF])
    return _pdu(1, bytes(body))


def make_cases(count: int, seed: int) -> list[tuple[str, Callable[[int], Outcome]]]:
    """``count`` cases (name, run(port)) drawn with ``seed``."""
    rng = random.Random(seed)
    good = associate_rq()
    cases: list[tuple[str, Callable[[int], Outcome]]] = []

    def owed(kind: str, data: bytes, react: float, chunks: int = 1) -> Callable[[int], Outcome]:
        """Send ``data``; the server owes an answer PDU or a close within ``react`` s."""
        def run(port: int) -> Outcome:
            with connect(port, timeout=10) as sock:
                step = max(1, len(data) // chunks)
                for at in range(0, len(data), step):
                    try:
                        sock.sendall(data[at:at + step])
                    except OSError:
                        return Outcome(kind, "closed")
                start = time.monotonic()
                reaction = _reaction(sock, react)
                if reaction == "closed" and time.monotonic() - start > DEADLINE - 1:
                    reaction = "closed by the A-ASSOCIATE deadline"
                return Outcome(kind, reaction or "hang")
        return run

    def dropped(kind: str, data: bytes, wait: float) -> Callable[[int], Outcome]:
        """Send ``data`` (an incomplete PDU), look for a reaction for ``wait`` s, then close."""
        def run(port: int) -> Outcome:
            with connect(port, timeout=10) as sock:
                try:
                    sock.sendall(data)
                except OSError:
                    return Outcome(kind, "closed")
                return Outcome(kind, _reaction(sock, wait) or "silent")
        return run

    def after_association(kind: str, data: bytes, owes: bool, react: float) -> Callable[[int], Outcome]:
        def run(port: int) -> Outcome:
            with _associated(port) as sock:
                try:
                    sock.sendall(data)
                except OSError:
                    return Outcome(kind, "closed")
                reaction = _reaction(sock, 3.0 if owes else 0.2)
                return Outcome(kind, reaction or ("hang" if owes else "silent"))
        return run

    def slow(kind: str, deadline: float) -> Callable[[int], Outcome]:
        """A byte every 100 ms of a good A-ASSOCIATE-RQ: the A-ASSOCIATE deadline must close it."""
        def run(port: int) -> Outcome:
            with connect(port, timeout=10) as sock:
                sock.settimeout(0.1)
                end = time.monotonic() + deadline
                for byte in good:
                    if time.monotonic() > end:
                        return Outcome(kind, "hang")
                    try:
                        sock.sendall(bytes([byte]))
                        if not sock.recv(1):
                            return Outcome(kind, "closed")
                    except TimeoutError:
                        continue
                    except OSError:
                        return Outcome(kind, "closed")
                return Outcome(kind, _reaction(sock, 2) or "hang")
        return run

    react = DEADLINE + 2.0  # before an association, the server may wait for its deadline
    for index in range(count):
        what = index % 12
        if what == 0:
            data = rng.randbytes(rng.randint(1, 2000))
            cases.append(("garbage bytes", dropped("garbage bytes", data, 0.3)))
        elif what == 1:
            cut = rng.randrange(1, len(good))
            cases.append(("A-ASSOCIATE-RQ cut, closed mid-PDU",
                          dropped("A-ASSOCIATE-RQ cut, closed mid-PDU", good[:cut], 0.1)))
        elif what == 2:
            body = good[6:]
            data = _pdu(1, body, len(body) + rng.randint(1, 5000))
            cases.append(("length past the data", dropped("length past the data", data, 0.2)))
        elif what == 3:
            kind_byte = rng.choice([1, 4, 5, 7])
            data = _pdu(kind_byte, rng.randbytes(rng.randint(0, 64)), GIGABYTE)
            cases.append(("declared length 1 GB", dropped("declared length 1 GB", data, 0.3)))
        elif what == 4:
            kind_byte = rng.choice([0x00, 0x08, 0x10, 0x55, 0x80, 0xFF])
            data = _pdu(kind_byte, rng.randbytes(rng.randint(0, 64)))
            cases.append(("unknown PDU type", owed("unknown PDU type", data, react)))
        elif what == 5:
            data = _pdata(1, 3, rng.randbytes(rng.randint(0, 200)))
            cases.append(("P-DATA-TF before association", owed("P-DATA-TF before association", data, react)))
        elif what in (6, 7):
            cases.append(("A-ASSOCIATE-RQ, broken items",
                          owed("A-ASSOCIATE-RQ, broken items", _broken_items(rng), react)))
        elif what == 8:
            control = rng.choice([0, 1, 2, 3])
            context = rng.choice([1, 3, 99])
            data = _pdata(context, control, rng.randbytes(rng.randint(0, 300)))
            name = "garbage P-DATA-TF after association"
            cases.append((name, after_association(name, data, owes=False, react=react)))
        elif what == 9:
            name = "PDV length past its PDU after association"
            data = _pdu(4, struct.pack(">LBB", 5000, 1, 3) + rng.randbytes(20))
            cases.append((name, after_association(name, data, owes=True, react=react)))
        elif what == 10:
            name = "unknown PDU type after association"
            data = _pdu(rng.choice([0x00, 0x08, 0x42, 0xFF]), rng.randbytes(rng.randint(0, 40)))
            cases.append((name, after_association(name, data, owes=True, react=react)))
        else:
            name = "P-DATA-TF closed mid-PDU after association"
            data = _pdu(4, rng.randbytes(100), 400)
            cases.append((name, after_association(name, data, owes=False, react=react)))
    slow_count = max(1, count // 100)
    cases += [("slow client (a byte per 100 ms)", slow("slow client (a byte per 100 ms)", 12.0))
              for _ in range(slow_count)]
    return cases


@dataclass
class PduReport:
    cases: int
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    hangs: int = 0
    client_errors: int = 0
    crashes: int = 0
    find_ok: bool = False
    missing_answers: int = 0
    find_status: str = ""
    tracebacks: int = 0
    error_lines: list[str] = field(default_factory=list)
    threads: tuple[int, int] = (0, 0)
    fds: tuple[int, int] = (0, 0)
    rss_kib: tuple[int, int] = (0, 0)
    settled_after: float = 0.0
    seconds: float = 0.0

    def figures(self) -> list[Figure]:
        growth = 100.0 * (self.rss_kib[1] - self.rss_kib[0]) / max(1, self.rss_kib[0])
        return [
            Figure("cases sent", self.cases, None),
            Figure("crashes (server died or did not stop cleanly)", self.crashes),
            Figure("hangs (no answer and no close where one was due)", self.hangs),
            Figure("cases the client could not run (e.g. no A-ASSOCIATE-AC)", self.client_errors),
            Figure("C-FIND afterwards: " + self.find_status, 0 if self.find_ok else 1),
            Figure("answers missing from that C-FIND", self.missing_answers),
            Figure("tracebacks in the server log", self.tracebacks),
            Figure("ERROR lines in the server log", len(self.error_lines)),
            Figure(f"threads above baseline ({self.threads[0]} -> {self.threads[1]})",
                   max(0, self.threads[1] - self.threads[0])),
            Figure(f"open fds above baseline ({self.fds[0]} -> {self.fds[1]})",
                   max(0, self.fds[1] - self.fds[0])),
            Figure(f"RSS growth % ({self.rss_kib[0] // 1024} -> {self.rss_kib[1] // 1024} MiB)",
                   growth, 10),
            Figure("seconds until threads and fds were back (at most the settle time)",
                   self.settled_after, None),
            Figure("seconds", self.seconds, None),
        ]


def run_pdus(cases: int = 300, seed: int = 1, entries: int = 50, workers: int = 8,
             settle_seconds: float = SETTLE) -> PduReport:
    """Run the cases against a fresh ``wldesk serve`` and measure what is left of them."""
    start = time.monotonic()
    report = PduReport(cases=0)
    with tempfile.TemporaryDirectory(prefix="wldesk-pdus-") as tmp:
        folder = Path(tmp) / "worklists"
        expected = write_folder(folder, entries)
        server = WldeskServe(folder)
        try:
            with server:
                ae = client_ae()
                try:
                    first = query_all(ae, server.port)  # warm-up: index loaded, threads made
                    if first is None or set(accessions(first)) != expected:
                        raise RuntimeError("the server does not answer its folder before the test")
                    time.sleep(0.5)
                    baseline = proc_stats(server.pid)
                    todo = make_cases(cases, seed)
                    report.cases = len(todo)
                    lock = threading.Lock()

                    def one(case: tuple[str, Callable[[int], Outcome]]) -> None:
                        name, run = case
                        try:
                            outcome = run(server.port)
                        except Exception as exc:
                            outcome = Outcome(name, f"client error {type(exc).__name__}")
                        with lock:
                            report.outcomes[(outcome.kind, outcome.result)] += 1
                            report.hangs += outcome.result == "hang"
                            report.client_errors += outcome.result.startswith("client error")

                    with ThreadPoolExecutor(max_workers=workers) as pool:
                        list(pool.map(one, todo))
                    if server.returncode is not None:
                        report.crashes += 1
                    else:
                        result = query_all(ae, server.port)
                        got = set(accessions(result)) if result is not None else set()
                        report.missing_answers = len(expected - got)
                        report.find_status = ("no association" if result is None else
                                              f"status 0x{result.final_status or 0:04X}, "
                                              f"{len(result.answers)} answers")
                        report.find_ok = (result is not None and result.final_status == 0
                                          and got == expected and len(result.answers) == len(expected))
                        settling = time.monotonic()
                        end = settle(server.pid, baseline, settle_seconds)
                        report.settled_after = time.monotonic() - settling
                        report.threads = (baseline.threads, end.threads)
                        report.fds = (baseline.fds, end.fds)
                        report.rss_kib = (baseline.rss_kib, end.rss_kib)
                finally:
                    ae.shutdown()
                log = server.log_text()
        except AssertionError as exc:  # died on its own, or did not stop cleanly on SIGTERM
            report.crashes += 1
            log = str(exc)
        report.tracebacks, report.error_lines = log_problems(log)
    report.seconds = time.monotonic() - start
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=300, help="malformed cases (default 300)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--entries", type=int, default=50, help="entries in the folder (default 50)")
    parser.add_argument("--workers", type=int, default=8, help="cases at the same time (default 8)")
    parser.add_argument("--settle", type=float, default=SETTLE,
                        help=f"seconds for threads and fds to come back (default {SETTLE:g})")
    args = parser.parse_args()
    report = run_pdus(args.cases, args.seed, args.entries, args.workers, args.settle)
    print("| case | server's reaction | count |\n|---|---|---:|")
    for (kind, result), count in sorted(report.outcomes.items()):
        print(f"| {kind} | {result} | {count} |")
    for line in report.error_lines[:20]:
        print("log:", line)
    return print_table(f"malformed PDUs: {report.cases} cases, seed {args.seed}", report.figures())


if __name__ == "__main__":
    sys.exit(main())
