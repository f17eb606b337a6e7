"""wldesk on Orthanc's worklist integration-test fixtures (orthanc-tests, Database/Worklists).

This reproduces Orthanc's runner (``Plugins/Worklists/Run.py``) against ``wldesk serve``:
worklists are converted with ``dump2dcm --write-xfer-little`` (``.wl`` files are copied), queries
are sent with ``findscu -v`` as calling AE ORTHANCTEST, and the answers are read from findscu's log
the way Run.py reads them: after the logged request, every line ``I: (gggg,eeee) ...`` is a
*top-level* element of the current answer (nested elements are indented and so left out), with the
``# ...`` comment and NUL padding removed.

``Dcmtk/``: each query Q (0..12) against each single worklist D (1..10) and against all ten must
give the answers of ``Expected/single-D-Q.json`` / ``Expected/all-Q.json``, ignoring the tags Run.py
ignores ((0008,0005), (0040,0004), (0040,0005), (0040,0020)). Differences made only of zero-length
elements are ignored too: wldesk returns a requested key that a file lacks as a zero-length element
(a sequence with no items), Orthanc omits it. The comparison is stricter than Run.py's, whose
``CompareAnswers`` is satisfied by equal answer counts plus any single equal answer pair: here every
expected answer must be matched by a distinct actual answer. How the transfer syntax encodes a
sequence's length (explicit or undefined, which findscu prints) is not compared.

``Sequences/``, ``private-creator-*`` and ``Encodings/`` reproduce the other Run.py cases (counts
of answers), and the encoding cases check that patient names come back intact, decoded with the
answer's own Specific Character Set.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from pydicom.multival import MultiValue

from tests.helpers.answers import raw_value, requested_keys_missing, summarize, unrequested_keys
from tests.helpers.dcmtk import (
    FindscuResult,
    TopLevelElement,
    convert_worklists,
    dump2dcm,
    findscu_answer_elements,
    missing_dcmtk_tools,
    parse_dataset,
    read_dataset,
    run_findscu,
)
from tests.helpers.processes import WldeskServe

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "peer-tests" / "orthanc-worklists"

if not FIXTURES.is_dir():
    pytest.skip(f"Orthanc worklist fixtures not found at {FIXTURES}", allow_module_level=True)
_missing_tools = missing_dcmtk_tools("findscu", "dump2dcm")
if _missing_tools:
    pytest.skip(f"DCMTK programs not on PATH: {', '.join(_missing_tools)}", allow_module_level=True)

DCMTK = FIXTURES / "Dcmtk"
SEQUENCES = FIXTURES / "Sequences"
ENCODINGS = FIXTURES / "Encodings"

CALLED_AET = "ORTHANC"  # Run.py: findscu --call ORTHANC -aet ORTHANCTEST
CALLING_AET = "ORTHANCTEST"
IGNORED_TAGS = frozenset({"0008,0005", "0040,0004", "0040,0005", "0040,0020"})  # as in Run.py

QUERY_NUMBERS = list(range(13))
DATABASE_VARIANTS = [f"single-{n}" for n in range(1, 11)] + ["all"]

PATIENT_NAME = 0x00100010
SPECIFIC_CHARACTER_SET = 0x00080005


def _check(result: FindscuResult, server: WldeskServe) -> None:
    """Fail unless findscu ran cleanly and the C-FIND completed with Success."""
    if result.returncode != 0 or result.final_status != "Success" or result.error_lines:
        pytest.fail(
            f"C-FIND did not complete cleanly (final status {result.final_status!r}):\n"
            f"{result.describe()}\n--- wldesk log ---\n{server.log_text()}"
        )


def query_wldesk(server: WldeskServe, query: Path, calling_aet: str = CALLING_AET) -> FindscuResult:
    result = run_findscu(server.port, query, server.aet, calling_aet)
    _check(result, server)
    return result


# --------------------------------------------------------------------------------------------
# Dcmtk/: answers compared with Expected/*.json
# --------------------------------------------------------------------------------------------


def _normalize_line(line: str) -> str:
    # findscu prints how the sequence length was encoded; Orthanc's answers used explicit lengths.
    return line.replace("(Sequence with undefined length", "(Sequence with explicit length").replace(
        "(SequenceDelimitationItem)", "(SequenceDelimitationItem for re-encod.)"
    )


def expected_elements(answer: Sequence[str]) -> list[TopLevelElement]:
    """An answer of an Expected/*.json file as top-level elements (sequences: header + delimiter)."""
    elements: list[TopLevelElement] = []
    for line in answer:
        tag = line[1:10].lower()
        if tag == "fffe,e0dd" and elements and elements[-1].lines[0][12:14] == "SQ":
            previous = elements[-1]
            elements[-1] = dataclasses.replace(previous, lines=(*previous.lines, line))
            continue
        elements.append(TopLevelElement(tag, (line,), line.endswith("(no value available)")))
    return elements


def comparable(elements: Sequence[TopLevelElement], other: Sequence[TopLevelElement]) -> tuple[str, ...]:
    """The lines of ``elements`` to compare with ``other``.

    Ignored tags are dropped, and so are zero-length elements whose tag ``other`` does not have.
    """
    other_tags = {e.tag for e in other}
    lines: list[str] = []
    for element in elements:
        if element.tag in IGNORED_TAGS or (element.empty and element.tag not in other_tags):
            continue
        lines += [_normalize_line(line) for line in element.lines]
    return tuple(lines)


def same_answer(expected: Sequence[TopLevelElement], actual: Sequence[TopLevelElement]) -> bool:
    return comparable(expected, actual) == comparable(actual, expected)


def compare_with_expected(
    expected: list[list[TopLevelElement]], actual: list[list[TopLevelElement]]
) -> list[str]:
    """Problems found (empty if each expected answer matches a distinct actual answer)."""
    unmatched = list(range(len(actual)))
    missing: list[list[TopLevelElement]] = []
    for answer in expected:
        found = next((i for i in unmatched if same_answer(answer, actual[i])), None)
        if found is None:
            missing.append(answer)
        else:
            unmatched.remove(found)
    problems = []
    if len(expected) != len(actual):
        problems.append(f"expected {len(expected)} answers, got {len(actual)}")
    problems += [f"expected answer not returned:\n    {_lines(a)}" for a in missing]
    problems += [f"unexpected answer:\n    {_lines(actual[i])}" for i in unmatched]
    return problems


def _lines(answer: Sequence[TopLevelElement]) -> str:
    return "\n    ".join(line for element in answer for line in element.lines)


@pytest.fixture(scope="module")
def dcmtk_queries(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("orthanc-dcmtk-queries")
    return {
        n: dump2dcm(DCMTK / "Queries" / f"wlistqry{n}.dump", folder / f"wlistqry{n}.dcm")
        for n in QUERY_NUMBERS
    }


@pytest.fixture(scope="module", params=DATABASE_VARIANTS)
def dcmtk_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, WldeskServe]]:
    """One wldesk per database variant: ``single-D`` (wklistD only) or ``all`` (the ten)."""
    variant: str = request.param
    numbers = range(1, 11) if variant == "all" else [int(variant.removeprefix("single-"))]
    folder = tmp_path_factory.mktemp(f"orthanc-dcmtk-{variant}")
    convert_worklists([DCMTK / "Database" / f"wklist{n}.dump" for n in numbers], folder)
    with WldeskServe(folder, aet=CALLED_AET) as server:
        yield variant, server


@pytest.mark.parametrize("query", QUERY_NUMBERS, ids=str)
def test_dcmtk_expected(
    dcmtk_server: tuple[str, WldeskServe], dcmtk_queries: dict[int, Path], query: int
) -> None:
    variant, server = dcmtk_server
    expected_file = DCMTK / "Expected" / f"{variant}-{query}.json"
    expected = [expected_elements(answer) for answer in json.loads(expected_file.read_text())]
    result = query_wldesk(server, dcmtk_queries[query])
    actual = findscu_answer_elements(result.output)
    problems = compare_with_expected(expected, actual)
    assert not problems, f"{expected_file.name} (wlistqry{query} against {variant}):\n  " + "\n  ".join(
        problems
    )


# --------------------------------------------------------------------------------------------
# Sequences/, private creator
# --------------------------------------------------------------------------------------------


class ServeFactory:
    """Starts wldesk servers on folders built from fixture files; stops (and checks) them all."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._servers: list[WldeskServe] = []

    def __call__(self, worklists: Sequence[Path], extra_args: Sequence[str] = ()) -> WldeskServe:
        folder = self.base / f"database{len(self._servers)}"
        convert_worklists(worklists, folder)
        server = WldeskServe(folder, aet=CALLED_AET, extra_args=extra_args)
        server.__enter__()
        self._servers.append(server)
        return server

    def __enter__(self) -> ServeFactory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        errors: list[BaseException] = []
        for server in reversed(self._servers):
            try:
                server.__exit__(None, None, None)
            except BaseException as exc:  # keep stopping the others
                errors.append(exc)
        if errors:
            raise errors[0]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeFactory]:
    """``serve(worklists, extra_args)`` starts wldesk; every server is stopped at teardown."""
    with ServeFactory(tmp_path) as factory:
        yield factory


VET_WORKLISTS = [
    SEQUENCES / "STATION_AET" / name
    for name in ("orig.7705.dump", "orig.7814.dump", "orig.7814.without.seq.dump")
]
VET_QUERIES = ["7814.without.length.dump", "7814.without.seq.dump", "orig.7814.dump"]


@pytest.fixture(scope="module")
def vet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WldeskServe]:
    """Run.py's test_vet database: the three STATION_AET worklists of the veterinary modality."""
    folder = tmp_path_factory.mktemp("orthanc-vet")
    convert_worklists(VET_WORKLISTS, folder)
    with WldeskServe(folder, aet=CALLED_AET) as server:
        yield server


@pytest.mark.parametrize("query", VET_QUERIES)
def test_sequences_vet(vet_server: WldeskServe, query: str) -> None:
    """Group lengths, PatientName "* ", empty PregnancyStatus, empty sequences, unknown tags: 2 answers."""
    result = query_wldesk(vet_server, SEQUENCES / "Queries" / query)
    assert len(result.answers) == 2, _answers_report(result, vet_server)


@pytest.mark.parametrize("query", VET_QUERIES)
def test_sequences_vet_requested_keys(vet_server: WldeskServe, query: str, tmp_path: Path) -> None:
    """The modality's real queries: every requested key comes back, and nothing else."""
    query_dataset = read_dataset(dump2dcm(SEQUENCES / "Queries" / query, tmp_path / "query.dcm"))
    result = query_wldesk(vet_server, SEQUENCES / "Queries" / query)
    problems = []
    for index, answer in enumerate(result.answers, 1):
        missing = requested_keys_missing(query_dataset, answer)
        extra = unrequested_keys(query_dataset, answer)
        if missing:
            problems.append(f"answer #{index} lacks: {', '.join(missing)}")
        if extra:
            problems.append(f"answer #{index} has unrequested: {', '.join(extra)}")
    assert not problems, "\n".join(problems)


def test_filter_issuer_aet(serve: ServeFactory) -> None:
    """With --filter-issuer-aet, a query without station AE title gets the caller's worklists only."""
    server = serve(
        [
            SEQUENCES / "STATION_AET" / "orig.7814.dump",
            SEQUENCES / "STATION_AET" / "orig.7814.other.station.dump",
        ],
        extra_args=["--filter-issuer-aet"],
    )
    result = query_wldesk(server, SEQUENCES / "Queries" / "7814.without.station.aet.dump")
    assert len(result.answers) == 1, _answers_report(result, server)
    steps = result.answers[0].get("ScheduledProcedureStepSequence", [])
    stations = {str(aet) for step in steps for aet in _values(step.get("ScheduledStationAETitle"))}
    assert stations == {CALLING_AET}, f"answer for another station: {summarize(result.answers[0])}"


def test_without_filter_issuer_aet_all_stations_match(serve: ServeFactory) -> None:
    """Run.py's test_filter_issuer_aet_from_lua, before its Lua filter: no station key, both match."""
    server = serve(
        [
            SEQUENCES / "STATION_AET" / "orig.7814.dump",
            SEQUENCES / "STATION_AET" / "orig.7814.other.station.dump",
        ]
    )
    result = query_wldesk(server, SEQUENCES / "Queries" / "7814.without.station.aet.dump")
    assert len(result.answers) == 2, _answers_report(result, server)


def test_other_station_does_not_match(serve: ServeFactory) -> None:
    """Run.py's test_remove_aet_from_query, before its Lua filter: STATION_AET != ORTHANCTEST."""
    server = serve([SEQUENCES / "NO_STATION_AET" / "orig.7814.other.station.dump"])
    result = query_wldesk(server, SEQUENCES / "Queries" / "orig.7814.dump")
    assert len(result.answers) == 0, _answers_report(result, server)


def test_private_creator(serve: ServeFactory) -> None:
    """A query on private tag (8001,1001) under private creator LIAC: 1 answer."""
    server = serve([FIXTURES / "private-creator-wl.dump"])
    result = query_wldesk(server, FIXTURES / "private-creator-query.dump")
    assert len(result.answers) == 1, _answers_report(result, server)


# --------------------------------------------------------------------------------------------
# Encodings/
# --------------------------------------------------------------------------------------------


def _name_answer(result: FindscuResult, server: WldeskServe) -> bytes:
    """The single answer of a PatientName-only query, checked to hold only requested keys."""
    assert len(result.answers) == 1, _answers_report(result, server)
    answer = result.answers[0]
    extra = sorted(f"{e.tag}" for e in answer if e.tag not in (PATIENT_NAME, SPECIFIC_CHARACTER_SET))
    assert not extra, f"unrequested keys {extra} in {summarize(answer)}"
    return result.answer_files[0]


def _check_name(answer_file: bytes, expected: str) -> None:
    answer = parse_dataset(answer_file)
    raw = raw_value(answer, PATIENT_NAME)
    charset = answer.get("SpecificCharacterSet")
    if not raw.isascii():
        assert charset, f"non-ASCII PatientName {raw!r} returned without (0008,0005)"
    name = str(answer.PatientName)
    assert name == expected, (
        f"PatientName came back as {name!r} (bytes {raw!r}, (0008,0005) {charset!r}), expected {expected!r}"
    )


def test_encoding_issue49_latin1(serve: ServeFactory) -> None:
    """Orthanc issue 49: a Latin-1 (ISO_IR 100) worklist; the name must come back intact."""
    worklist = ENCODINGS / "issue49-latin1.wl"
    expected = str(read_dataset(worklist).PatientName)
    assert expected == "VANILLÉ^LAURA^^^Mme"  # the fixture itself, decoded by pydicom
    server = serve([worklist])
    result = query_wldesk(server, ENCODINGS / "issue49-latin1.query")
    _check_name(_name_answer(result, server), expected)


def test_encoding_many_scripts_utf8(serve: ServeFactory, tmp_path: Path) -> None:
    """A UTF-8 worklist whose name mixes many scripts, matched by the wildcard query ``*ü*``."""
    database = ENCODINGS / "database.dump"
    expected = str(read_dataset(dump2dcm(database, tmp_path / "expected.dcm")).PatientName)
    assert expected == "Test-éüäöòДΘĝדصķћ๛ﾈİ"  # the fixture itself, as Run.py spells it
    server = serve([database])
    result = query_wldesk(server, ENCODINGS / "query.dump")
    _check_name(_name_answer(result, server), expected)


# --------------------------------------------------------------------------------------------


def _values(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, MultiValue)):
        return list(value)
    return [value]


def _answers_report(result: FindscuResult, server: WldeskServe) -> str:
    answers = "\n".join(f"  #{i}: {summarize(a)}" for i, a in enumerate(result.answers, 1))
    return f"{len(result.answers)} answer(s):\n{answers}\n--- wldesk log ---\n{server.log_text()}"
