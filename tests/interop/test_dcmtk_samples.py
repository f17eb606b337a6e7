"""wldesk against DCMTK's reference worklist SCP on DCMTK's own sample worklists and queries.

The ten sample worklists (``wlistdb/OFFIS/wklist*.dump``) are converted once with dump2dcm and
served at the same time by ``wldesk serve`` (AE WLDESK) and by ``wlmscpfs -dfr`` (AE OFFIS). Each of
the thirteen sample queries (``wlistqry/wlistqry*.dump``) is sent to both with DCMTK's
``findscu -W``.

How answers are identified: the sample queries request few keys (wlistqry0 only PatientName and a
code sequence), so the (AccessionNumber, RequestedProcedureID, ScheduledProcedureStepID, PatientID)
tuple is often not returned. Instead every answer is resolved against the database: its
*candidates* are the worklist files whose values agree with every value the answer returns
(zero-length values agree with anything; a returned Scheduled Procedure Step item must agree with
one of the file's items, so returning only the matching items is fine). When the identifying keys
are returned this is exactly one file; otherwise it is the set of files that the returned values
cannot tell apart. The two servers must give the same multiset of candidate sets, i.e. the same
matched entries as far as the returned values can show.

wlmscpfs returns all Scheduled Procedure Step items of a matching file while wldesk returns only
the matching ones: SPS item counts are never compared. wlmscpfs also omits requested keys that a
file lacks, while wldesk returns them zero-length.

With DCMTK 3.6.7 wlmscpfs answers all thirteen queries with status Success (none fails with A900);
its matches also agree with PS3.4 C.2.2.2, which :data:`STANDARD_MATCHES` spells out per query and
which wldesk is checked against independently of wlmscpfs.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from tests.helpers.answers import (
    entry_candidates,
    match_answers_to_entries,
    requested_keys_missing,
    summarize,
    unrequested_keys,
)
from tests.helpers.dcmtk import (
    FindscuResult,
    convert_worklists,
    dump2dcm,
    missing_dcmtk_tools,
    read_dataset,
    run_findscu,
)
from tests.helpers.processes import WldeskServe, Wlmscpfs

EXAMPLES = Path("/usr/share/doc/dcmtk/examples")
DATABASE_DUMPS = sorted(
    (EXAMPLES / "wlistdb" / "OFFIS").glob("wklist*.dump"),
    key=lambda p: int(re.sub(r"\D", "", p.stem)),
)
QUERY_NUMBERS = list(range(13))
QUERY_DUMPS = {n: EXAMPLES / "wlistqry" / f"wlistqry{n}.dump" for n in QUERY_NUMBERS}

WLDESK_AET = "WLDESK"
WLMSCPFS_AET = "OFFIS"
CALLING_AET = "FINDSCU"

_missing_tools = missing_dcmtk_tools("findscu", "wlmscpfs", "dump2dcm")
if _missing_tools:
    pytest.skip(f"DCMTK programs not on PATH: {', '.join(_missing_tools)}", allow_module_level=True)
if len(DATABASE_DUMPS) != 10 or not all(p.is_file() for p in QUERY_DUMPS.values()):
    pytest.skip(f"DCMTK sample worklists/queries not found under {EXAMPLES}", allow_module_level=True)

ALL = frozenset(f"wklist{n}.wl" for n in range(1, 11))


def _files(*numbers: int) -> frozenset[str]:
    return frozenset(f"wklist{n}.wl" for n in numbers)


# What PS3.4 C.2.2.2 makes each sample query match in the ten sample worklists (one SPS each):
#   station AE titles  1 AA32\AA33  2 AB45  3 CC56\NN77  4 AA32  5 AB45\DD56  6 FG56\ER67\JJ56\TZ77
#                      7 AZ01  8 DS45\NN77\GH67  9 AA67  10 TT67   (so AA2 / AA4 match nothing)
#   modalities         MR CT CR US CR CT NM CT CT MR              (so DD matches nothing)
#   start times        085607 160700 135558 165709 094500 153600 140956 110856 075644 175609
STANDARD_MATCHES: dict[int, frozenset[str]] = {
    0: ALL,  # only universal (zero-length) keys
    1: ALL,  # only universal keys; the SPS key is one empty item
    2: frozenset(),  # ScheduledStationAETitle AA2 (and station name A2)
    3: ALL,  # only universal keys
    4: frozenset(),  # Modality DD
    5: _files(2, 3, 4, 6, 7, 10),  # ScheduledProcedureStepStartTime range 120000-
    6: frozenset(),  # ScheduledStationAETitle AA2
    7: frozenset(),  # ScheduledStationAETitle AA2
    8: frozenset(),  # ScheduledStationAETitle AA2, station name A2
    9: frozenset(),  # ScheduledStationAETitle AA2, station name A2
    10: ALL,  # only universal keys, incl. a ScheduledProtocolCodeSequence item of empty keys
    11: ALL,  # only universal keys
    12: frozenset(),  # ScheduledStationAETitle AA4
}


@dataclasses.dataclass
class Samples:
    """The served sample database, the converted queries and the two running servers."""

    entries: dict[str, Dataset]
    queries: dict[int, Path]
    wldesk: WldeskServe
    wlmscpfs: Wlmscpfs
    _results: dict[tuple[str, int], FindscuResult] = dataclasses.field(default_factory=dict)

    def query(self, number: int) -> Dataset:
        return read_dataset(self.queries[number])

    def result(self, server: str, number: int) -> FindscuResult:
        """findscu's result for one query against "wldesk" or "wlmscpfs" (run once, then cached)."""
        key = (server, number)
        if key not in self._results:
            if server == "wldesk":
                port, aet = self.wldesk.port, self.wldesk.aet
            else:
                port, aet = self.wlmscpfs.port, self.wlmscpfs.aet
            self._results[key] = run_findscu(port, self.queries[number], aet, CALLING_AET)
        return self._results[key]

    def answers(self, server: str, number: int) -> list[Dataset]:
        """The answers of a query that completed with status Success (otherwise the test fails)."""
        result = self.result(server, number)
        if result.returncode != 0 or result.final_status != "Success":
            log = f"\n--- {server} log ---\n{self._log(server)}"
            pytest.fail(
                f"{server}: wlistqry{number} did not complete with Success"
                f" (final status {result.final_status!r}):\n{result.describe()}{log}"
            )
        return result.answers

    def _log(self, server: str) -> str:
        return self.wldesk.log_text() if server == "wldesk" else self.wlmscpfs.log_text()

    def describe(self, answers: list[Dataset]) -> str:
        lines = []
        for index, answer in enumerate(answers, 1):
            names = sorted(entry_candidates(answer, self.entries)) or ["<no database entry>"]
            lines.append(f"  #{index}: {'|'.join(names)}  <- {summarize(answer)}")
        return "\n".join(lines) if lines else "  (no answers)"


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Samples]:
    base = tmp_path_factory.mktemp("dcmtk-samples")
    database = base / "database"
    written = convert_worklists(DATABASE_DUMPS, database)
    # wlmscpfs serves <root>/<called AE title>/*.wl (plus the lockfile it needs).
    wlmscpfs_root = base / "wlmscpfs"
    (wlmscpfs_root / WLMSCPFS_AET).mkdir(parents=True)
    for path in written:
        shutil.copyfile(path, wlmscpfs_root / WLMSCPFS_AET / path.name)
    (wlmscpfs_root / WLMSCPFS_AET / "lockfile").touch()

    (base / "queries").mkdir()
    queries = {n: dump2dcm(dump, base / "queries" / f"wlistqry{n}.dcm") for n, dump in QUERY_DUMPS.items()}
    entries = {path.name: read_dataset(path) for path in written}

    with (
        Wlmscpfs(wlmscpfs_root, aet=WLMSCPFS_AET) as reference,
        WldeskServe(database, aet=WLDESK_AET) as server,
    ):
        yield Samples(entries, queries, server, reference)


def _query_id(number: int) -> str:
    return f"wlistqry{number}"


@pytest.mark.parametrize("number", QUERY_NUMBERS, ids=_query_id)
def test_same_entries_as_wlmscpfs(samples: Samples, number: int) -> None:
    ours = samples.answers("wldesk", number)
    reference = samples.answers("wlmscpfs", number)

    reference_ids = [entry_candidates(a, samples.entries) for a in reference]
    assert all(reference_ids), (
        f"harness problem: a wlmscpfs answer matches no database file\n{samples.describe(reference)}"
    )
    ours_ids = [entry_candidates(a, samples.entries) for a in ours]
    report = (
        f"wlistqry{number}: wldesk and wlmscpfs matched different worklist entries\n"
        f"wldesk ({len(ours)} answers):\n{samples.describe(ours)}\n"
        f"wlmscpfs ({len(reference)} answers):\n{samples.describe(reference)}"
    )
    assert all(ours_ids), "some wldesk answers carry values of no database entry\n" + report
    assert collections.Counter(ours_ids) == collections.Counter(reference_ids), report


@pytest.mark.parametrize("number", QUERY_NUMBERS, ids=_query_id)
def test_entries_expected_by_the_standard(samples: Samples, number: int) -> None:
    expected = STANDARD_MATCHES[number]
    for server in ("wlmscpfs", "wldesk"):
        answers = samples.answers(server, number)
        candidates = [entry_candidates(a, samples.entries) for a in answers]
        assignment = match_answers_to_entries(candidates, expected)
        who = "harness/reference problem: wlmscpfs" if server == "wlmscpfs" else "wldesk"
        assert assignment is not None, (
            f"{who} does not return one answer per entry that PS3.4 matching selects for"
            f" wlistqry{number}: expected {sorted(expected) or 'no answers'}, got:\n"
            + samples.describe(answers)
        )


@pytest.mark.parametrize("number", QUERY_NUMBERS, ids=_query_id)
def test_wldesk_returns_every_requested_key(samples: Samples, number: int) -> None:
    query = samples.query(number)
    problems = []
    for index, answer in enumerate(samples.answers("wldesk", number), 1):
        missing = requested_keys_missing(query, answer)
        if missing:
            problems.append(f"  answer #{index} ({summarize(answer)}) lacks: {', '.join(missing)}")
    assert not problems, f"wlistqry{number}: requested keys missing from wldesk answers:\n" + "\n".join(
        problems
    )


@pytest.mark.parametrize("number", QUERY_NUMBERS, ids=_query_id)
def test_wldesk_returns_only_requested_keys(samples: Samples, number: int) -> None:
    query = samples.query(number)
    problems = []
    for index, answer in enumerate(samples.answers("wldesk", number), 1):
        extra = unrequested_keys(query, answer)
        if extra:
            problems.append(f"  answer #{index} ({summarize(answer)}) has: {', '.join(extra)}")
    assert not problems, f"wlistqry{number}: wldesk answers hold keys not requested:\n" + "\n".join(problems)
