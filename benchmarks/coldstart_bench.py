#!/usr/bin/env python3
"""Launch of ``wldesk serve`` to its first answered query, without and with an index snapshot.

For each ``--entries`` count a folder of that many entries is written once under ``--work``
(``_reliability.write_folder``; kept for later runs). Each run starts ``python -m wldesk serve`` on
a free port of 127.0.0.1 with its own XDG folders, then asks for one accession number (on a new
association each try) until an answer comes: the seconds from launch are the figure. "without":
the cache folder is emptied first (the whole folder is read and parsed); "with": the snapshot
the previous run saved after indexing is there. The page cache is not emptied (that needs root
and slows every process on the machine): the files' metadata and bytes are usually cached, as
they are not right after a restart of the PC, where reading them costs more.

    PYTHONPATH=. python benchmarks/coldstart_bench.py [--entries 10000 100000] [--runs 2]
        [--work /tmp/wldesk-coldstart]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._reliability import accession, entry_name, served, write_folder
from tests.helpers.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT_WAIT = 600.0  # seconds for the first run to save its snapshot


def folder_of(work: Path, count: int) -> Path:
    folder = work / f"worklists-{count}"
    if not (folder / entry_name(count)).is_file():
        started = time.perf_counter()
        write_folder(folder, count)
        print(f"wrote {count} entries in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return folder


def environment(xdg: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        (xdg / name.lower()).mkdir(parents=True, exist_ok=True)
        env[f"XDG_{name}_HOME"] = os.fspath(xdg / name.lower())
    env["PYTHONPATH"] = os.pathsep.join(
        [os.fspath(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def answered(proc: subprocess.Popen[bytes], port: int, accession: str, started: float,
             log: Path) -> float:
    """Seconds from ``started`` (perf_counter) to the first answer of ``proc``'s server on
    ``port`` to a C-FIND for ``accession``, asked on a new association each try."""
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"wldesk exited ({proc.returncode}); see {log}")
        try:
            if served(port, accession):
                return time.perf_counter() - started
        except (ConnectionError, RuntimeError, TimeoutError):
            pass
        time.sleep(0.05)


def wait_for_snapshot(cache: Path, timeout: float = SNAPSHOT_WAIT) -> bool:
    """Wait until an index snapshot is saved in the cache folder ``cache``; False if none came."""
    deadline = time.monotonic() + timeout
    while not any(cache.rglob("*.snapshot")):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def first_answer(folder: Path, count: int, xdg: Path) -> float:
    """Seconds from launching ``wldesk serve`` on ``folder`` to its first answer."""
    port = free_port()
    argv = [sys.executable, "-m", "wldesk", "serve", "--database", os.fspath(folder),
            "--port", str(port), "--bind", "127.0.0.1"]
    started = time.perf_counter()
    env = environment(xdg)
    with open(xdg / "serve.log", "ab") as log:
        proc = subprocess.Popen(argv, env=env, cwd=REPO_ROOT, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        return answered(proc, port, accession(count), started, xdg / "serve.log")
    finally:
        wait_for_snapshot(xdg / "cache")  # the next run's snapshot
        proc.terminate()
        proc.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/wldesk-coldstart"))
    args = parser.parse_args()
    print("| files | without a snapshot | with a snapshot | snapshot size |")
    print("|---|---|---|---|")
    for count in args.entries:
        folder = folder_of(args.work, count)
        xdg = args.work / f"xdg-{count}"
        without, with_ = [], []
        for _ in range(args.runs):
            shutil.rmtree(xdg / "cache", ignore_errors=True)
            without.append(first_answer(folder, count, xdg))
            with_.append(first_answer(folder, count, xdg))
        size = sum(p.stat().st_size for p in (xdg / "cache").rglob("*.snapshot"))
        print(f"| {count:,} | {' / '.join(f'{s:.1f} s' for s in without)} | "
              f"{' / '.join(f'{s:.1f} s' for s in with_)} | {size / 2**20:.0f} MiB |", flush=True)


if __name__ == "__main__":
    main()
