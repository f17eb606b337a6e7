#!/usr/bin/env python3
"""What a per-modality profile costs: the same query answered with no profile and with each one.

An in-process wldesk server serves the benchmark's synthetic folder (``worklist_bench.py``'s,
generated or reused from its cache); DCMTK's ``findscu -W`` asks for every entry with the keys a
strict CT asks for, once per calling AE title, each AE title with its own profile, in alternation,
``--repeat`` times (each round starting with the next profile). It prints a Markdown table: the
median time of the whole findscu run per profile and its ratio to no profile.

    python benchmarks/profile_bench.py [--size 10000] [--repeat 9] [--keep DIR] [--two-steps]

The synthetic folder's entries have one step each and times already as HHMMSS, so there "one step
per answer" splits nothing and "strict" rewrites nothing. ``--two-steps`` serves instead a folder
where every entry has two steps with four-digit start times ("0930") and a non-ASCII name: every
profile then rewrites every answer, and "one step per answer" sends twice the answers (the table's
last column is the time per answer against no profile's).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pydicom.sequence import Sequence

from benchmarks.worklist_bench import load_or_generate
from tests.helpers.samples import step, worklist_dataset, write_wl
from wldesk.core.events import EventBus
from wldesk.core.libraries import configure_libraries
from wldesk.core.net.server import WorklistServer
from wldesk.core.profile import Profile
from wldesk.core.query.profiles import PREVIEW_KEYS, PREVIEW_STEP_KEYS
from wldesk.core.settings import KnownModality, Settings

PROFILES = {
    "NONE": Profile(),
    "ASCII": Profile(charset="ascii"),
    "LATIN1": Profile(charset="ISO_IR 100"),
    "STRICT": Profile(strict=True),
    "ONESTEP": Profile(one_step_per_answer=True),
    "ALL": Profile(charset="ascii", strict=True, one_step_per_answer=True),
}
WHAT = {"NONE": "no profile", "ASCII": "charset ascii", "LATIN1": "charset ISO_IR 100",
        "STRICT": "strict", "ONESTEP": "one step per answer",
        "ALL": "ascii + strict + one step"}


FINDSCU = "/usr/bin/findscu"  # by absolute path: pynetdicom has an application of that name


def query_keys() -> list[str]:
    """findscu's -k options: every entry, with the keys a strict CT asks for (the Settings tab's
    preview query)."""
    keys = [*PREVIEW_KEYS, *(f"ScheduledProcedureStepSequence[0].{k}" for k in PREVIEW_STEP_KEYS)]
    return [arg for key in keys for arg in ("-k", key)]


def run_findscu(port: int, title: str) -> tuple[float, int]:
    """Seconds of one whole findscu run, and the answers it counted (-v prints one line each)."""
    started = time.perf_counter()
    done = subprocess.run([FINDSCU, "-v", "-W", "-aet", title, "-aec", "WLDESK", *query_keys(),
                           "127.0.0.1", str(port)], capture_output=True, check=False, timeout=600)
    elapsed = time.perf_counter() - started
    text = (done.stdout + done.stderr).decode("utf-8", "replace")
    if done.returncode != 0 or "Received Final Find Response (Success)" not in text:
        raise RuntimeError(f"findscu as {title} failed:\n{text[-2000:]}")
    return elapsed, len(re.findall(r"Find Response: \d+ \(Pending\)", text))


def two_step_folder(cache: Path, size: int) -> Path:
    """``size`` entries of two steps each, start times "0930" and "1015", names in UTF-8 (made
    once in ``cache``)."""
    folder = cache / f"two-steps-{size}"
    done = folder / ".complete"
    if done.is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(size):
        ds = worklist_dataset("Ødegård^Åse" if number % 2 else "Müller^Hans",
                              AccessionNumber=f"A{number:06}", PatientID=f"P{number:06}",
                              ScheduledProcedureStepSequence=Sequence([
                                  step(ScheduledProcedureStepID="S1",
                                       ScheduledProcedureStepStartTime="0930"),
                                  step(ScheduledProcedureStepID="S2",
                                       ScheduledProcedureStepStartTime="1015")]))
        ds.SpecificCharacterSet = "ISO_IR 192"
        write_wl(folder / f"e{number:06}.wl", ds)
    done.touch()
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="folder cache (default: worklist_bench's)")
    parser.add_argument("--two-steps", action="store_true",
                        help="entries of two steps with four-digit times (see above)")
    args = parser.parse_args()
    configure_libraries()
    cache = args.keep or Path(tempfile.gettempdir()) / "wldesk-bench-cache"
    if args.two_steps:
        worklists = two_step_folder(cache, args.size)
    else:
        folder = load_or_generate(cache, args.size, args.seed)
        print(f"folder: {folder.note}", file=sys.stderr)
        worklists = folder.worklists
    settings = Settings(database=str(worklists), port=0, bind_address="127.0.0.1",
                        modalities=tuple(KnownModality(t, t, "", p) for t, p in PROFILES.items()))
    server = WorklistServer(settings, EventBus())
    server.start()
    times: dict[str, list[float]] = {title: [] for title in PROFILES}
    answers: dict[str, int] = {}
    try:
        server.store.wait_ready(600)
        titles = list(PROFILES)
        for round_ in range(args.repeat + 1):
            # each round starts with another profile: the first query after a pause is not
            # always the same profile's
            for title in titles[round_ % len(titles):] + titles[:round_ % len(titles)]:
                elapsed, answers[title] = run_findscu(server.port, title)
                if round_:  # the first round warms up
                    times[title].append(elapsed)
            print(f"round {round_}/{args.repeat}", file=sys.stderr)
    finally:
        server.stop()
    base = statistics.median(times["NONE"])
    per_answer = base / answers["NONE"]
    kind = "two steps each, four-digit times" if args.two_steps else "the synthetic folder"
    print(f"{args.size:,} files ({kind}), every entry asked for, median of {args.repeat} "
          f"queries\n")
    print("| profile | answers | median | vs no profile | per answer |")
    print("|---|---:|---:|---:|---:|")
    for title, samples in times.items():
        median = statistics.median(samples)
        print(f"| {WHAT[title]} | {answers[title]:,} | {median * 1000:,.0f} ms "
              f"| {median / base:.2f}x | {median / answers[title] / per_answer:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
