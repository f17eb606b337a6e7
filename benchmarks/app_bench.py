#!/usr/bin/env python3
"""The window app next to ``wldesk serve``: cold start, query times, memory and a burst, side by side.

For each ``--entries`` count one folder is generated (or reused) by ``worklist_bench``'s
generator; ``python -m wldesk serve`` and the window app (``python -m wldesk``, a real window on
Qt's offscreen platform or under Xvfb, start at launch, its own settings, state and cache folders)
serve it on two ports of 127.0.0.1. Launches, in order:

1. serve with an empty cache folder, then again with the snapshot that launch saved: the seconds
   from launch to the first answered C-FIND (one accession number, a new association per try,
   ``coldstart_bench.answered``); the second serve keeps running for the rest;
2. the window with an empty cache folder, on the Worklist tab: its first answer, then DCMTK
   ``findscu -W`` queries in alternation with serve right away, while the window loads its tables
   (d); then, once its CPU is quiet, the same with the Worklist tab showing (b);
3. the window with its snapshot, on the Activity tab: its first answer, (c) once quiet, the memory
   of both processes (VmRSS, VmHWM from /proc) and the association burst against both
   (``burst_bench.burst``);
4. the window with its snapshot, on the Settings tab (nothing live shown): (a).

The window is put on a tab the way a user leaves it: it reopens on the tab it showed when it was
last closed, remembered in its state folder, which this benchmark writes before each launch.
Each query time is the median of ``--runs`` findscu runs per program; the queries are "CT +
today" (a modality's typical query) and one accession number. The page cache is not emptied.

    PYTHONPATH=. python benchmarks/app_bench.py [--entries 10000 100000] [--runs 15]
        [--platform offscreen|xvfb] [--work /tmp/wldesk-app-bench]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.burst_bench import burst
from benchmarks.coldstart_bench import answered, environment, wait_for_snapshot
from benchmarks.worklist_bench import (
    REPO_ROOT,
    WLDESK_AET,
    Folder,
    Query,
    Server,
    build_queries,
    load_or_generate,
    run_find,
)
from tests.helpers.ports import free_port
from wldesk.core.settings import Settings
from wldesk.core.settings_file import save_settings
from wldesk.gui.controller import WINDOW_STATE_FILE

QUIET_SHARE = 0.10  # a process using less CPU than this share of one core is quiet
QUIET_SECONDS = 1.0  # ... over this long
QUIET_TIMEOUT = 900.0
BURST_CLIENTS = 40
BURST_ROUNDS = 3
TARGET_RATIO = 1.15  # window query time / serve query time
TARGET_FIRST_ANSWER = 3.0  # seconds from launch, with the snapshot
TARGET_SERVE_MB = 200.0  # serve's resident memory at 100,000 files
TARGET_MEMORY_RATIO = 1.2  # window / serve resident memory
TARGET_BURST_MS = 500.0  # every association of the burst accepted within this
TARGET_SERVE_QUERY_MS = 100.0  # serve's typical query at 100,000 files


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_quiet(server: Server) -> float:
    """Seconds until ``server`` uses less than QUIET_SHARE of a core over QUIET_SECONDS."""
    assert server.proc is not None
    started = time.perf_counter()
    while time.perf_counter() - started < QUIET_TIMEOUT:
        before = cpu_seconds(server.proc.pid)
        time.sleep(QUIET_SECONDS)
        if cpu_seconds(server.proc.pid) - before < QUIET_SHARE * QUIET_SECONDS:
            return time.perf_counter() - started - QUIET_SECONDS
    raise SystemExit(f"{server.name} still busy after {QUIET_TIMEOUT:.0f} s")


@dataclass
class Program:
    """One of the two programs: how it is launched and where its folders are."""

    name: str
    xdg: Path
    port: int
    window: bool
    display_env: dict[str, str]

    def server(self, folder: Folder, log: Path) -> Server:
        env = environment(self.xdg)
        if self.window:
            env.update(self.display_env)
            # the single-instance channel lives in the temporary folder: one of its own, so that
            # another wldesk window of this user is not asked to show itself instead
            tmp = self.xdg / "tmp"
            tmp.mkdir(exist_ok=True)
            env["TMPDIR"] = os.fspath(tmp)
            argv = [sys.executable, "-m", "wldesk"]
        else:
            argv = [sys.executable, "-m", "wldesk", "serve", "--database",
                    os.fspath(folder.worklists), "--port", str(self.port), "--aet", WLDESK_AET,
                    "--bind", "127.0.0.1"]
        return Server(self.name, WLDESK_AET, self.port, argv, log, env=env, cwd=REPO_ROOT)

    def prepare(self, folder: Folder, *, fresh_cache: bool, tab: str = "") -> None:
        """The settings (window), the tab it was left on, and an empty cache folder if asked."""
        if fresh_cache:
            shutil.rmtree(self.xdg / "cache", ignore_errors=True)
        if not self.window:
            return
        settings = Settings(database=os.fspath(folder.worklists), port=self.port,
                            bind_address="127.0.0.1", ae_title=WLDESK_AET, start_at_launch=True)
        save_settings(settings, self.xdg / "config" / "wldesk" / "settings.json")
        state = self.xdg / "state" / "wldesk"
        state.mkdir(parents=True, exist_ok=True)
        (state / WINDOW_STATE_FILE).write_text(json.dumps({"tab": tab}), "utf-8")


def launch(program: Program, folder: Folder, work: Path, label: str) -> tuple[Server, float]:
    """Start ``program``; the seconds from launch to its first answer."""
    server = program.server(folder, work / f"{program.name}-{folder.n}-{label}.log")
    server.start()
    assert server.proc is not None
    try:
        seconds = answered(server.proc, program.port, folder.probe_accession, server.started_at,
                           server.log_path)
    except BaseException:
        server.stop()
        raise
    print(f"  {program.name} ({label}): first answer after {seconds:.1f} s", file=sys.stderr)
    return server, seconds


def stop_after_snapshot(server: Server, program: Program) -> None:
    if not wait_for_snapshot(program.xdg / "cache"):
        print(f"  {program.name}: no index snapshot saved", file=sys.stderr)
    server.stop()


@dataclass
class Times:
    """Query times (ms) of both programs in one state of the window."""

    serve: dict[str, list[float]] = field(default_factory=dict)
    window: dict[str, list[float]] = field(default_factory=dict)
    window_cpu_s: float = 0.0  # the window process's CPU during these queries
    seconds: float = 0.0  # how long the queries took, in all


def alternate(serve: Server, window: Server, queries: list[Query], runs: int) -> Times:
    """``runs`` findscu runs of each query against each program, in alternation."""
    assert window.proc is not None
    times = Times()
    cpu, started = cpu_seconds(window.proc.pid), time.perf_counter()
    for run in range(runs):
        for query in queries:
            assert query.path is not None
            pair = (serve, window) if run % 2 == 0 else (window, serve)
            answers = set()
            for server in pair:
                outcome = run_find(server, query.path, 120)
                if not outcome.ok:
                    raise SystemExit(f"{query.key} against {server.name}: {outcome.detail}")
                answers.add(outcome.answers)
                mine = times.serve if server is serve else times.window
                mine.setdefault(query.key, []).append(outcome.ms)
            if len(answers) != 1:
                raise SystemExit(f"{query.key}: serve and the window answered differently "
                                 f"({sorted(a or 0 for a in answers)} answers)")
    times.window_cpu_s = cpu_seconds(window.proc.pid) - cpu
    times.seconds = time.perf_counter() - started
    return times


def memory_mb(server: Server) -> dict[str, float]:
    return {key: kb / 1024 for key, kb in server.memory_kb().items()}


def burst_figures(port: int) -> tuple[int, int, float]:
    """(accepted, asked, slowest A-ASSOCIATE-AC in ms) of BURST_ROUNDS bursts."""
    accepted, slowest = 0, 0.0
    for _ in range(BURST_ROUNDS):
        count, _connected, acs = burst(port, WLDESK_AET.encode(), BURST_CLIENTS)
        accepted += count
        slowest = max([slowest, *acs])
        time.sleep(0.5)
    return accepted, BURST_CLIENTS * BURST_ROUNDS, slowest * 1000


@dataclass
class Result:
    n: int
    query_labels: dict[str, str]
    first: dict[str, tuple[float, float]] = field(default_factory=dict)  # label -> serve, window
    busy_after_first_s: float = 0.0
    states: dict[str, Times] = field(default_factory=dict)
    memory: dict[str, dict[str, float]] = field(default_factory=dict)
    bursts: dict[str, tuple[int, int, float]] = field(default_factory=dict)


STATES = (("a", "(a) window idle (Settings tab)"),
          ("b", "(b) Worklist tab showing"),
          ("c", "(c) Activity tab showing"),
          ("d", "(d) window loading its tables, right after start"))


def bench(folder: Folder, work: Path, runs: int, display_env: dict[str, str]) -> Result:
    queries = [q for q in build_queries(folder, work) if q.key in ("ct-today", "accession")]
    result = Result(folder.n, {q.key: q.label for q in queries})
    serve_program = Program("serve", work / f"xdg-serve-{folder.n}", free_port(), False, {})
    window_program = Program("window", work / f"xdg-window-{folder.n}", free_port(), True,
                             display_env)
    serve_program.prepare(folder, fresh_cache=True)
    server, cold = launch(serve_program, folder, work, "no-snapshot")
    stop_after_snapshot(server, serve_program)
    serve, warm = launch(serve_program, folder, work, "snapshot")
    try:
        window_program.prepare(folder, fresh_cache=True, tab="worklist")
        window, window_cold = launch(window_program, folder, work, "no-snapshot")
        result.first["without a snapshot (empty cache folder)"] = (cold, window_cold)
        try:
            result.states["d"] = alternate(serve, window, queries, runs)
            result.busy_after_first_s = result.states["d"].seconds + wait_quiet(window)
            wait_quiet(serve)
            result.states["b"] = alternate(serve, window, queries, runs)
        finally:
            stop_after_snapshot(window, window_program)
        for tab, state in (("activity", "c"), ("settings", "a")):
            window_program.prepare(folder, fresh_cache=False, tab=tab)
            window, window_warm = launch(window_program, folder, work, f"snapshot-{tab}")
            try:
                if state == "c":
                    result.first["with the snapshot of the previous launch"] = (warm,
                                                                                window_warm)
                wait_quiet(window)
                result.states[state] = alternate(serve, window, queries, runs)
                if state == "c":
                    result.memory = {"serve": memory_mb(serve), "window": memory_mb(window)}
                    result.bursts = {"serve": burst_figures(serve.port),
                                     "window": burst_figures(window.port)}
            finally:
                window.stop()
    finally:
        serve.stop()
    return result


def _ratio(serve: float, window: float) -> str:
    return f"{window / serve:.2f}x" if serve > 0 else "-"


def report(result: Result, runs: int) -> tuple[list[str], list[tuple[str, bool]]]:
    """The table's rows and the targets (what, met) of one folder size."""
    n = f"{result.n:,}"
    rows = [f"| {n} | **launch → first answer** | | | |"]
    targets: list[tuple[str, bool]] = []
    for label, (serve, window) in result.first.items():
        rows.append(f"| {n} | {label} | {serve:.1f} s | {window:.1f} s | {_ratio(serve, window)} |")
    warm = result.first.get("with the snapshot of the previous launch")
    if warm is not None:
        targets.append((f"{n}: first answer within {TARGET_FIRST_ANSWER:.0f} s of launch with the "
                        f"snapshot (serve {warm[0]:.1f} s, window {warm[1]:.1f} s)",
                        max(warm) <= TARGET_FIRST_ANSWER))
    rows.append(f"| {n} | window busy (CPU) after its first answer | | "
                f"{result.busy_after_first_s:.1f} s | |")
    for key, label in result.query_labels.items():
        rows.append(f"| {n} | **median of {runs} findscu: {label}** | | | |")
        for state, state_label in STATES:
            times = result.states.get(state)
            if times is None:
                continue
            serve = statistics.median(times.serve[key])
            window = statistics.median(times.window[key])
            rows.append(f"| {n} | {state_label} | {serve:.0f} ms | {window:.0f} ms | "
                        f"{_ratio(serve, window)} |")
            if state in ("b", "c"):
                targets.append((f"{n}: {label}, {state_label[4:]}: window within "
                                f"{TARGET_RATIO}x of serve ({_ratio(serve, window)})",
                                window <= TARGET_RATIO * serve))
            if state == "b" and key == "ct-today" and result.n >= 100_000:
                targets.append((f"{n}: serve's typical query ≤ {TARGET_SERVE_QUERY_MS:.0f} ms "
                                f"({serve:.0f} ms)", serve <= TARGET_SERVE_QUERY_MS))
    for state, state_label in STATES:
        times = result.states.get(state)
        if times is not None:
            rows.append(f"| {n} | window CPU during {state_label[:3]} ({times.seconds:.0f} s of "
                        f"queries) | | {times.window_cpu_s:.1f} s | |")
    if result.memory:
        for key in ("VmRSS", "VmHWM"):
            serve = result.memory["serve"].get(key, 0.0)
            window = result.memory["window"].get(key, 0.0)
            rows.append(f"| {n} | {key} after indexing and the queries | {serve:.0f} MB | "
                        f"{window:.0f} MB | {_ratio(serve, window)} |")
        serve_rss = result.memory["serve"].get("VmRSS", 0.0)
        window_rss = result.memory["window"].get("VmRSS", 0.0)
        targets.append((f"{n}: window's resident memory within {TARGET_MEMORY_RATIO}x of "
                        f"serve's ({_ratio(serve_rss, window_rss)})",
                        window_rss <= TARGET_MEMORY_RATIO * serve_rss))
        if result.n >= 100_000:
            targets.append((f"{n}: serve's resident memory ≤ {TARGET_SERVE_MB:.0f} MB "
                            f"({serve_rss:.0f} MB)", serve_rss <= TARGET_SERVE_MB))
    if result.bursts:
        cells = []
        for name in ("serve", "window"):
            accepted, asked, slowest = result.bursts[name]
            cells.append(f"{accepted}/{asked}, slowest {slowest:.0f} ms")
            targets.append((f"{n}: {name}: {BURST_CLIENTS} associations at once all accepted "
                            f"within {TARGET_BURST_MS:.0f} ms ({cells[-1]})",
                            accepted == asked and slowest <= TARGET_BURST_MS))
        rows.append(f"| {n} | burst of {BURST_CLIENTS} associations x {BURST_ROUNDS}: accepted, "
                    f"slowest A-ASSOCIATE-AC | {cells[0]} | {cells[1]} | |")
    return rows, targets


@contextlib.contextmanager
def display(kind: str, work: Path) -> Iterator[dict[str, str]]:
    """The environment that gives the window a screen: Qt's offscreen platform, or an Xvfb."""
    if kind == "offscreen":
        yield {"QT_QPA_PLATFORM": "offscreen"}
        return
    read, write = os.pipe()
    with open(work / "xvfb.log", "wb") as log:
        xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0",
                                 "1280x1024x24", "-nolisten", "tcp"],
                                pass_fds=(write,), stdout=log, stderr=subprocess.STDOUT)
    os.close(write)
    try:
        with os.fdopen(read) as numbers:
            number = numbers.readline().strip()
        if not number:
            raise SystemExit(f"Xvfb did not start; see {work / 'xvfb.log'}")
        yield {"QT_QPA_PLATFORM": "xcb", "DISPLAY": f":{number}"}
    finally:
        xvfb.terminate()
        xvfb.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--platform", choices=("offscreen", "xvfb"), default="offscreen")
    parser.add_argument("--work", type=Path, default=Path("/tmp/wldesk-app-bench"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    with display(args.platform, args.work) as display_env:
        for count in args.entries:
            folder = load_or_generate(args.work / "folders", count, args.seed)
            print(f"{count:,} entries: {folder.note}", file=sys.stderr)
            results.append(bench(folder, args.work, args.runs, display_env))
    print(f"wldesk serve and the window app ({args.platform} platform) side by side; "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}\n")
    print("| files | figure | `wldesk serve` | window app | window / serve |")
    print("|---|---|---|---|---|")
    all_targets: list[tuple[str, bool]] = []
    for result in results:
        rows, targets = report(result, args.runs)
        print("\n".join(rows))
        all_targets += targets
    print("\nTargets:")
    for what, met in all_targets:
        print(f"- {'met' if met else 'NOT met'}: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
