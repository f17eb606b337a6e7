"""DCMTK, the reference peer: finding its tools (not pynetdicom's same-named scripts), dump2dcm,
findscu -W and its -v text."""

from __future__ import annotations

import dataclasses
import functools
import io
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from tests.helpers.ports import LOCALHOST

FINDSCU_TIMEOUT = 60.0
"""Upper bound for one findscu run (it normally takes a few tens of milliseconds)."""
# --------------------------------------------------------------------------------------------
# Tool discovery
# --------------------------------------------------------------------------------------------


@functools.cache
def dcmtk_tool(name: str) -> str | None:
    """Return the path of the DCMTK program ``name`` on PATH, or None if it is not installed.

    The first ``name`` on PATH whose ``--version`` output identifies DCMTK (``$dcmtk: name
    v3.x.y ...$``) wins, so pynetdicom's Python scripts of the same name are skipped. Scripts (such
    as pyenv shims) are only probed after the real executables, since starting them is slow.
    """
    candidates: list[str] = []
    seen: set[str] = set()
    for directory in os.get_exec_path():
        candidate = os.path.join(directory, name)
        real = os.path.realpath(candidate)
        if real not in seen and os.path.isfile(real) and os.access(real, os.X_OK):
            seen.add(real)
            candidates.append(candidate)
    candidates.sort(key=_is_script)  # stable: PATH order within each group
    for candidate in candidates:
        try:
            probe = subprocess.run(
                [candidate, "--version"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=15,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if b"$dcmtk:" in probe.stdout + probe.stderr:
            return candidate
    return None


def _is_script(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return True


def missing_dcmtk_tools(*names: str) -> list[str]:
    """The subset of ``names`` for which no DCMTK program is installed."""
    return [name for name in names if dcmtk_tool(name) is None]


def require_tool(name: str) -> str:
    path = dcmtk_tool(name)
    if path is None:
        raise FileNotFoundError(f"DCMTK program {name!r} not found on PATH")
    return path


def dump2dcm(dump_path: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> Path:
    """Convert a DCMTK dump file to a DICOM file (explicit VR little endian), like Orthanc's runner.

    Raises RuntimeError with dump2dcm's output if the conversion fails.
    """
    out = Path(out_path)
    result = subprocess.run(
        [require_tool("dump2dcm"), "--write-xfer-little", os.fspath(dump_path), os.fspath(out)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0 or not out.is_file():
        raise RuntimeError(
            f"dump2dcm failed for {dump_path} (exit {result.returncode}):\n"
            + _text(result.stdout + result.stderr)
        )
    return out


def looks_like_dump(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is a DCMTK text dump rather than a DICOM file.

    A file with the DICM magic is DICOM; otherwise a file whose non-blank lines all start with
    ``(`` or ``#`` is taken as a dump (whatever its extension: Orthanc's ``*.query`` files are
    dumps).
    """
    head = Path(path).read_bytes()[:8192]
    if head[128:132] == b"DICM":
        return False
    if b"\0" in head:
        return False
    text = head.decode("latin-1")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return bool(lines) and all(line.startswith(("(", "#")) for line in lines)


def as_dicom_file(path: str | os.PathLike[str], workdir: str | os.PathLike[str]) -> Path:
    """``path`` itself if it is a DICOM file, otherwise its dump2dcm conversion in ``workdir``."""
    source = Path(path)
    if not looks_like_dump(source):
        return source
    return dump2dcm(source, Path(workdir) / (source.name + ".dcm"))


def convert_worklists(
    sources: Iterable[str | os.PathLike[str]], folder: str | os.PathLike[str]
) -> list[Path]:
    """Put worklist files into ``folder`` the way Orthanc's runner does.

    A dump ``x.dump`` becomes ``folder/x.wl`` (via dump2dcm), a DICOM file is copied and given a
    ``.wl`` extension if it has none. Returns the written paths.
    """
    dest = Path(folder)
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for item in sources:
        source = Path(item)
        if looks_like_dump(source):
            target = dest / (source.stem + ".wl")
            dump2dcm(source, target)
        else:
            target = dest / (source.name if source.suffix.lower() == ".wl" else source.name + ".wl")
            shutil.copyfile(source, target)
        written.append(target)
    return written


def read_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Read a DICOM file (file meta optional) with pydicom."""
    return pydicom.dcmread(os.fspath(path), force=True)


def parse_dataset(data: bytes) -> Dataset:
    """Parse the bytes of a DICOM file (file meta optional) with pydicom."""
    return pydicom.dcmread(io.BytesIO(data), force=True)


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------------------------
# findscu
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FindscuResult:
    """One findscu run: its exit code, its combined output and the extracted answers."""

    command: list[str]
    returncode: int
    output: bytes
    """stdout and stderr of ``findscu -v +sr``, interleaved (like Orthanc's runner reads it)."""
    answers: list[Dataset]
    """The answers findscu extracted (rsp0001.dcm, ...), in order, read with pydicom."""
    answer_files: list[bytes]
    """The bytes of those files (``parse_dataset`` gives a fresh, still undecoded dataset)."""

    @property
    def text(self) -> str:
        return _text(self.output)

    @property
    def final_status(self) -> str | None:
        """What findscu printed for the final C-FIND response, e.g. ``"Success"``; None if none."""
        found = re.findall(r"Received Final Find Response \((.*)\)", self.text)
        return found[-1] if found else None

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.text.splitlines() if line.startswith(("E:", "F:"))]

    def describe(self) -> str:
        return f"$ {' '.join(self.command)}\n(exit {self.returncode})\n{self.text}"


def run_findscu(
    port: int,
    query: str | os.PathLike[str],
    called_aet: str,
    calling_aet: str = "FINDSCU",
    extra: Sequence[str] = (),
) -> FindscuResult:
    """Run ``findscu -v +sr -W -X`` once against 127.0.0.1:port and collect everything.

    ``query`` is a DCMTK dump (converted with dump2dcm first) or a DICOM file. Never raises for
    C-FIND failures; see :func:`findscu_worklist` for the checked variant.
    """
    with tempfile.TemporaryDirectory(prefix="findscu-") as tmp:
        work = Path(tmp)
        query_file = as_dicom_file(query, work)
        out_dir = work / "answers"
        out_dir.mkdir()
        command = [
            require_tool("findscu"),
            "-v", "+sr",  # log requests and every response (Orthanc's runner parses this)
            "-W",
            "-to", "10", "-ta", "10", "-td", "30", "-ts", "30",
            "-aet", calling_aet, "-aec", called_aet,
            "-X", "-od", os.fspath(out_dir),
            *extra,
            LOCALHOST, str(port), os.fspath(query_file),
        ]  # fmt: skip
        result = subprocess.run(
            command,
            cwd=out_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=FINDSCU_TIMEOUT,
            check=False,
        )
        files = sorted(out_dir.glob("rsp*.dcm"), key=lambda p: int(re.sub(r"\D", "", p.stem)))
        raw = [f.read_bytes() for f in files]
        return FindscuResult(command, result.returncode, result.stdout, [parse_dataset(r) for r in raw], raw)


def findscu_worklist(
    port: int,
    query_dump_or_dcm_path: str | os.PathLike[str],
    called_aet: str,
    calling_aet: str = "FINDSCU",
    extra: Sequence[str] = (),
    *,
    require_success: bool = True,
) -> list[Dataset]:
    """Query a worklist SCP with DCMTK ``findscu -W`` and return the answers, in order.

    Raises RuntimeError with findscu's output if it exits non-zero or, with ``require_success``,
    if the final C-FIND status is not Success.
    """
    result = run_findscu(port, query_dump_or_dcm_path, called_aet, calling_aet, extra)
    if result.returncode != 0:
        raise RuntimeError(f"findscu failed:\n{result.describe()}")
    if require_success and result.final_status != "Success":
        raise RuntimeError(
            f"findscu: final C-FIND status {result.final_status!r}, not Success:\n" + result.describe()
        )
    return result.answers


# --------------------------------------------------------------------------------------------
# findscu -v text, parsed like Orthanc's Plugins/Worklists/Run.py
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TopLevelElement:
    """One top-level element of an answer as findscu printed it.

    ``lines`` are the printed lines without the ``I: `` prefix, the ``# ...`` comment and NUL
    bytes (exactly what Orthanc's runner compares); a sequence has two lines, its header and its
    top-level ``(fffe,e0dd)`` delimiter. ``empty`` is True for zero-length elements and for
    sequences with zero items.
    """

    tag: str
    lines: tuple[str, ...]
    empty: bool


_COMMENT = re.compile(rb"\s*#.*")


def findscu_answer_elements(output: bytes) -> list[list[TopLevelElement]]:
    """Split ``findscu -v +sr`` output into answers of top-level elements, like Orthanc's runner.

    Lines after the first ``---`` separator (before it, findscu logs the request) that start with
    ``I: (`` or ``W: (`` are top-level elements (nested ones are indented); each further ``---``
    line starts a new answer.
    """
    answers: list[list[TopLevelElement]] = []
    current: list[TopLevelElement] = []
    is_query = True
    for line in output.splitlines():
        ascii_line = line.decode("ascii", errors="ignore")
        if ascii_line.startswith(("E:", "F:")):
            raise RuntimeError("findscu reported an error:\n" + _text(output))
        if ascii_line.startswith(("I: ---", "W: ---")):
            if is_query:
                is_query = False
            elif current:
                answers.append(current)
                current = []
        elif ascii_line.startswith(("I: (", "W: (")) and not is_query:
            tag = ascii_line[4:13].lower()
            printed = _text(_COMMENT.sub(b"", line).replace(b"\0", b"")[3:])
            if tag == "fffe,e0dd" and current and current[-1].lines[0][12:14] == "SQ":
                previous = current[-1]
                current[-1] = dataclasses.replace(previous, lines=(*previous.lines, printed))
                continue
            # empty: a sequence without items, or a zero-length value
            is_sequence = printed[12:14] == "SQ"
            empty = b"#=0)" in line if is_sequence else printed.endswith("(no value available)")
            current.append(TopLevelElement(tag, (printed,), empty))
    if current:
        answers.append(current)
    return answers
