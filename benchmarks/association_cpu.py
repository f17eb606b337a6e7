#!/usr/bin/env python3
"""The server's own CPU time per association (open, C-ECHO, release), side by side.

Starts, on free ports of 127.0.0.1 with empty worklist folders, ``python -m wldesk serve``,
DCMTK's ``wlmscpfs`` (a child process forked per association) and stock pynetdicom (an ``AE``
serving Verification and Modality Worklist with ``ae.start_server``: no wldesk transport, DUL or
handlers), so that what is pynetdicom's and what is wldesk's can be told apart. Then, per server:

* ``sequential``: ``--associations`` associations one after the other, each a new connection with
  an A-ASSOCIATE-RQ (Verification), one C-ECHO, A-RELEASE, from raw sockets in this process
  (``tests/helpers/rawdicom``: a client that costs next to nothing);
* ``echoscu``: the same with DCMTK's ``echoscu`` per association (``--echoscu`` of them);
* ``burst``: ``--clients`` raw clients released at the same moment, each doing the same
  exchange, ``--rounds`` times; also the A-ASSOCIATE-AC times (median, maximum) from the moment
  all clients start, as ``burst_bench.py`` prints them.

The server's CPU time is its utime + stime from ``/proc/PID/stat`` (all its threads, in clock
ticks), plus its children's (the reaped ones' cutime + cstime, and those not reaped yet: wlmscpfs's
per-association processes), read before and after; minus what the same server spends idle over
the same wall time (measured over ``--idle`` seconds first, shown in its own column).

    PYTHONPATH=. python benchmarks/association_cpu.py [--associations 300] [--echoscu 100]
        [--clients 40] [--rounds 3] [--servers wldesk wlmscpfs pynetdicom]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.burst_bench import at_once
from tests.helpers.dcmtk import require_tool
from tests.helpers.ports import LOCALHOST, free_port, wait_until_echo
from tests.helpers.processes import WldeskServe, Wlmscpfs
from tests.helpers.rawdicom import (
    A_ASSOCIATE_AC,
    A_RELEASE_RP,
    RELEASE_RQ,
    VERIFICATION,
    associate_rq,
    connect,
    echo_rq,
    echo_status,
    read_pdu,
)

TICK = os.sysconf("SC_CLK_TCK")
SETTLE = 0.3  # seconds after the last release, for the server's threads to end

STOCK_SERVER = """
import sys
from pynetdicom import AE, evt
from pynetdicom.sop_class import ModalityWorklistInformationFind, Verification
ae = AE(ae_title="STOCK")
ae.maximum_associations = 160
ae.add_supported_context(Verification)
ae.add_supported_context(ModalityWorklistInformationFind)
ae.start_server(("127.0.0.1", int(sys.argv[1])), block=True,
                evt_handlers=[(evt.EVT_C_ECHO, lambda event: 0x0000)])
"""


def _ticks(pid: int) -> tuple[int, int, int]:
    """(own utime + stime, reaped children's cutime + cstime, parent pid) of ``pid``."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # after the command: state, ppid, ... utime is field 14 of stat(5), i.e. fields[11]
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]), int(fields[1])


def cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid``, its threads and its children (reaped or not yet)."""
    own, reaped = _ticks(pid)[:2]
    unreaped = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != pid:
            try:
                child, _, parent = _ticks(int(entry))
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            if parent == pid:
                unreaped += child
    return (own + reaped + unreaped) / TICK


def raw_echo(port: int, called: bytes) -> float:
    """One association (A-ASSOCIATE-RQ, C-ECHO, A-RELEASE) from a raw socket; the moment
    (``time.perf_counter``) its A-ASSOCIATE-AC arrived."""
    with connect(port, timeout=60) as sock:
        sock.sendall(associate_rq(calling=b"CPUBENCH", called=called,
                                  abstract_syntaxes=(VERIFICATION,)))
        answer = read_pdu(sock)
        accepted = time.perf_counter()
        if answer[:1] != bytes([A_ASSOCIATE_AC]):
            raise RuntimeError(f"association not accepted: {answer[:10]!r}")
        sock.sendall(echo_rq())
        status = echo_status(read_pdu(sock))
        if status != 0x0000:
            raise RuntimeError(f"C-ECHO status {status}")
        sock.sendall(RELEASE_RQ)
        if read_pdu(sock)[:1] != bytes([A_RELEASE_RP]):
            raise RuntimeError("no A-RELEASE-RP")
    return accepted


def echoscu(port: int, called: bytes) -> None:
    subprocess.run([require_tool("echoscu"), "-aet", "CPUBENCH", "-aec", called.decode(),
                    LOCALHOST, str(port)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def burst(port: int, called: bytes, clients: int) -> list[float]:
    """``clients`` raw associations released at once; their A-ASSOCIATE-AC times."""
    times, failures = at_once(clients, lambda start: raw_echo(port, called) - start)
    if failures:
        print(f"  {len(failures)} of {clients} failed, first: {failures[0]!r}", file=sys.stderr)
    return times


class Measure:
    """The CPU seconds a server spends on something, its idle rate taken out."""

    def __init__(self, pid: int, idle: float) -> None:
        self.pid = pid
        self.idle_rate = self._idle(idle)

    def _idle(self, seconds: float) -> float:
        before, started = cpu_seconds(self.pid), time.perf_counter()
        time.sleep(seconds)
        return (cpu_seconds(self.pid) - before) / (time.perf_counter() - started)

    def run(self, work: Callable[[], object]) -> float:
        before, started = cpu_seconds(self.pid), time.perf_counter()
        work()
        time.sleep(SETTLE)
        elapsed = time.perf_counter() - started
        return cpu_seconds(self.pid) - before - self.idle_rate * elapsed


class StockServer(AbstractContextManager["StockServer"]):
    """Stock pynetdicom serving C-ECHO on a free port, as its own process."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> StockServer:
        self.proc = subprocess.Popen([sys.executable, "-c", STOCK_SERVER, str(self.port)],
                                     stdin=subprocess.DEVNULL)
        wait_until_echo(self.port, "STOCK", proc=self.proc, describe="stock pynetdicom")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(10)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


@contextmanager
def server(name: str, tmp: Path) -> Iterator[tuple[int, int, bytes]]:
    """(pid, port, called AE title) of the server ``name``, running for the block."""
    if name == "wldesk":
        folder = tmp / "worklists"
        folder.mkdir(exist_ok=True)
        with WldeskServe(folder) as wldesk:
            yield wldesk.pid, wldesk.port, b"WLDESK"
    elif name == "wlmscpfs":
        (tmp / "root" / "OFFIS").mkdir(parents=True, exist_ok=True)
        with Wlmscpfs(tmp / "root") as wlmscpfs:
            yield wlmscpfs.pid, wlmscpfs.port, b"OFFIS"
    else:
        with StockServer() as stock:
            yield stock.pid, stock.port, b"STOCK"


Row = tuple[object, ...]


def measure_server(name: str, tmp: Path, args: argparse.Namespace) -> list[Row]:
    """The table's rows of one server."""
    rows: list[Row] = []
    with server(name, tmp) as (pid, port, called):
        for _ in range(20):  # warm-up: imports, caches, first threads
            raw_echo(port, called)
        measure = Measure(pid, args.idle)
        idle = f"{1000 * measure.idle_rate:.1f}"
        clients: list[tuple[int, Callable[[int, bytes], object]]] = [(args.associations, raw_echo)]
        if args.echoscu:
            clients.append((args.echoscu, echoscu))
        for count, one in clients:
            def work(count: int = count, one: Callable[[int, bytes], object] = one) -> None:
                for _ in range(count):
                    one(port, called)
            started = time.perf_counter()
            cpu = measure.run(work)
            wall = time.perf_counter() - started - SETTLE
            rows.append((name, f"sequential, {one.__name__}", count, f"{1000 * wall / count:.1f}",
                         f"{1000 * cpu / count:.2f}", "-", "-", idle))
        acs: list[float] = []
        cpu = 0.0
        for _ in range(args.rounds):
            cpu += measure.run(lambda: acs.extend(burst(port, called, args.clients)))
            time.sleep(0.5)
        total = args.clients * args.rounds
        rows.append((name, f"burst of {args.clients}", f"{len(acs)}/{total}", "-",
                     f"{1000 * cpu / total:.2f}",
                     f"{1000 * statistics.median(acs):.0f}" if acs else "-",
                     f"{1000 * max(acs):.0f}" if acs else "-", idle))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", nargs="+", default=["wldesk", "wlmscpfs", "pynetdicom"],
                        choices=["wldesk", "wlmscpfs", "pynetdicom"])
    parser.add_argument("--associations", type=int, default=300)
    parser.add_argument("--echoscu", type=int, default=100)
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=float, default=3.0)
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.servers:
            rows += measure_server(name, Path(tmp), args)
    print("\nserver CPU ms per association (open, C-ECHO, release), the idle rate taken out; "
          "AC times in ms from the moment all clients start\n")
    print("| server | clients | associations | wall ms/assoc | server CPU ms/assoc | AC median "
          "| AC max | idle CPU ms/s |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
