"""Helpers for interoperability tests against real DICOM peers.

Everything here talks to real processes over real sockets on 127.0.0.1:

* :class:`WldeskServe` runs ``python -m wldesk serve`` (the server under test) in an isolated
  environment (private XDG directories), waits until it answers a C-ECHO, and on exit checks that
  it stops cleanly (exit code 0) on SIGTERM.
* :class:`Wlmscpfs` runs DCMTK's reference worklist SCP ``wlmscpfs``.
* :func:`run_findscu` / :func:`findscu_worklist` run DCMTK's ``findscu -W`` and return the answers
  (as pydicom datasets, and as the text that ``findscu -v`` logged).
* :func:`dump2dcm` converts DCMTK dump files.

DCMTK tools are looked up with :func:`dcmtk_tool`, which skips same-named programs that are not
DCMTK's (pynetdicom installs its own ``findscu``/``echoscu``/``storescu`` scripts, which may come
first on PATH).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import pydicom
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The repository root (the parent of ``tests/``)."""

LOCALHOST = "127.0.0.1"

STARTUP_TIMEOUT = 20.0
"""Seconds to wait for a server to answer C-ECHO before giving up."""

STOP_TIMEOUT = 10.0
"""Seconds to wait for a server to exit after SIGTERM."""

FINDSCU_TIMEOUT = 60.0
"""Upper bound for one findscu run (it normally takes a few tens of milliseconds)."""

POLL_INTERVAL = 0.05

_log = logging.getLogger(__name__)


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


def _require_tool(name: str) -> str:
    path = dcmtk_tool(name)
    if path is None:
        raise FileNotFoundError(f"DCMTK program {name!r} not found on PATH")
    return path


# --------------------------------------------------------------------------------------------
# Small utilities
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (bind to port 0 and release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


def dump2dcm(dump_path: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> Path:
    """Convert a DCMTK dump file to a DICOM file (explicit VR little endian), like Orthanc's runner.

    Raises RuntimeError with dump2dcm's output if the conversion fails.
    """
    out = Path(out_path)
    result = subprocess.run(
        [_require_tool("dump2dcm"), "--write-xfer-little", os.fspath(dump_path), os.fspath(out)],
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
# Readiness polling
# --------------------------------------------------------------------------------------------


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection((LOCALHOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def echo(port: int, called_aet: str, calling_aet: str = "ECHOPROBE", timeout: float = 5.0) -> bool:
    """Send one C-ECHO with pynetdicom; True if the association was accepted and status 0x0000."""
    ae = AE(ae_title=calling_aet)
    ae.add_requested_context(Verification)
    ae.acse_timeout = timeout
    ae.dimse_timeout = timeout
    ae.network_timeout = timeout
    ae.connection_timeout = timeout
    pynetdicom_logger = logging.getLogger("pynetdicom")
    previous = pynetdicom_logger.level
    pynetdicom_logger.setLevel(logging.CRITICAL)  # refused connections while polling are expected
    try:
        assoc = ae.associate(LOCALHOST, port, ae_title=called_aet)
        if not assoc.is_established:
            return False
        try:
            status = assoc.send_c_echo()
            return bool(status) and int(status.Status) == 0
        finally:
            assoc.release()
    finally:
        pynetdicom_logger.setLevel(previous)
        ae.shutdown()


def wait_until_echo(
    port: int,
    called_aet: str,
    *,
    proc: subprocess.Popen[bytes] | None = None,
    timeout: float = STARTUP_TIMEOUT,
    describe: str = "server",
    log: str | os.PathLike[str] | None = None,
) -> None:
    """Poll C-ECHO on 127.0.0.1:port until it succeeds; bounded by ``timeout`` seconds.

    Raises RuntimeError (with the server log, if given) if the process exits or the deadline passes.
    """
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"{describe} exited with code {proc.returncode} before answering C-ECHO" + _log_suffix(log)
            )
        if _tcp_open(port) and echo(port, called_aet, timeout=min(5.0, timeout)):
            return
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"{describe} did not answer C-ECHO on {LOCALHOST}:{port} (called AE {called_aet!r})"
                f" within {timeout:g} s" + _log_suffix(log)
            )
        time.sleep(POLL_INTERVAL)


def _log_suffix(log: str | os.PathLike[str] | None) -> str:
    if log is None:
        return ""
    try:
        text = Path(log).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return f"\n--- {Path(log).name} ---\n{text}" if text else f"\n--- {Path(log).name}: empty ---"


def _stop(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    """SIGTERM the process and wait; SIGKILL it if it is still alive after ``timeout``.

    Returns the exit code after SIGTERM, or None if it had to be killed.
    """
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
        return None


# --------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------


class WldeskServe:
    """Run ``python -m wldesk serve`` for the duration of a ``with`` block.

    The server gets private XDG_CONFIG_HOME / XDG_DATA_HOME / XDG_STATE_HOME / XDG_CACHE_HOME
    directories (and no ``WLDESK*`` environment variables), so the user's own settings are never
    read or written. Its stderr goes to a file
    (see :meth:`log_text`). Entering waits (at most ``startup_timeout`` s) until it answers C-ECHO;
    leaving sends SIGTERM, waits (at most ``stop_timeout`` s) and asserts exit code 0 — unless the
    block is left by an exception, in which case the server is just stopped.
    """

    def __init__(
        self,
        database: str | os.PathLike[str],
        aet: str = "WLDESK",
        extra_args: Sequence[str] = (),
        *,
        port: int | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        stop_timeout: float = STOP_TIMEOUT,
    ) -> None:
        self.database = Path(database)
        self.aet = aet
        self.extra_args = tuple(extra_args)
        self.port = port if port is not None else free_port()
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_path: Path | None = None
        self._stdout_path: Path | None = None

    @property
    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "wldesk", "serve",
            "--database", os.fspath(self.database),
            "--port", str(self.port),
            "--aet", self.aet,
            "--bind", LOCALHOST,
            *self.extra_args,
        ]  # fmt: skip

    def log_text(self) -> str:
        """The server's stderr so far."""
        if self._stderr_path is None or not self._stderr_path.exists():
            return ""
        return self._stderr_path.read_text(encoding="utf-8", errors="replace")

    def _stdout_text(self) -> str:
        if self._stdout_path is None or not self._stdout_path.exists():
            return ""
        return self._stdout_path.read_text(encoding="utf-8", errors="replace")

    def _diagnostics(self) -> str:
        out = self._stdout_text()
        text = f"\ncommand: {self.command}\n--- wldesk stderr ---\n{self.log_text()}"
        if out:
            text += f"\n--- wldesk stdout ---\n{out}"
        return text

    def __enter__(self) -> WldeskServe:
        self._tmp = tempfile.TemporaryDirectory(prefix="wldesk-serve-")
        base = Path(self._tmp.name)
        # Nothing of the user's: no WLDESK_* variables, private XDG directories.
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("WLDESK")}
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            directory = base / var.lower()
            directory.mkdir()
            env[var] = os.fspath(directory)
        env["PYTHONPATH"] = os.pathsep.join(
            [os.fspath(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        env["PYTHONUNBUFFERED"] = "1"
        self._stderr_path = base / "stderr.log"
        self._stdout_path = base / "stdout.log"
        with open(self._stderr_path, "wb") as err, open(self._stdout_path, "wb") as out:
            self._proc = subprocess.Popen(
                self.command,
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        try:
            wait_until_echo(
                self.port,
                self.aet,
                proc=self._proc,
                timeout=self.startup_timeout,
                describe="wldesk serve",
            )
        except BaseException as exc:
            _stop(self._proc, self.stop_timeout)
            diagnostics = self._diagnostics()
            self._cleanup()
            if isinstance(exc, Exception):
                raise RuntimeError(f"{exc}{diagnostics}") from None
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc = self._proc
        assert proc is not None, "WldeskServe was not entered"
        died_early = proc.poll() is not None
        code = _stop(proc, self.stop_timeout)
        diagnostics = self._diagnostics()
        self._cleanup()
        if exc_type is not None:
            return  # keep the original error; the server has been stopped
        if died_early:
            raise AssertionError(
                f"wldesk serve exited on its own (code {proc.returncode}) while in use{diagnostics}"
            )
        if code is None:
            raise AssertionError(
                f"wldesk serve did not exit within {self.stop_timeout:g} s of SIGTERM (killed){diagnostics}"
            )
        assert code == 0, f"wldesk serve exited with code {code} after SIGTERM{diagnostics}"

    def _cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        self._stderr_path = None
        self._stdout_path = None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()


class Wlmscpfs:
    """Run DCMTK's ``wlmscpfs -dfr -dfp ROOT PORT`` for the duration of a ``with`` block.

    wlmscpfs serves ``ROOT/<called AE title>/*.wl``; the folder ``ROOT/<aet>`` must exist (an
    empty ``lockfile``, which wlmscpfs needs, is created there if missing). Ready-polled with C-ECHO
    like :class:`WldeskServe`; terminated at exit.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        aet: str = "OFFIS",
        extra_args: Sequence[str] = (),
        *,
        port: int | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
    ) -> None:
        self.root = Path(root)
        self.aet = aet
        self.extra_args = tuple(extra_args)
        self.port = port if port is not None else free_port()
        self.startup_timeout = startup_timeout
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    @property
    def command(self) -> list[str]:
        return [
            _require_tool("wlmscpfs"), "-dfr", "-dfp", os.fspath(self.root),
            *self.extra_args, str(self.port),
        ]  # fmt: skip

    def log_text(self) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        return self._log_path.read_text(encoding="utf-8", errors="replace")

    def __enter__(self) -> Wlmscpfs:
        folder = self.root / self.aet
        if not folder.is_dir():
            raise FileNotFoundError(f"wlmscpfs needs the folder {folder} (one per called AE title)")
        (folder / "lockfile").touch(exist_ok=True)
        self._tmp = tempfile.TemporaryDirectory(prefix="wlmscpfs-")
        self._log_path = Path(self._tmp.name) / "wlmscpfs.log"
        with open(self._log_path, "wb") as log:
            self._proc = subprocess.Popen(
                self.command,
                cwd=self._tmp.name,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until_echo(
                self.port,
                self.aet,
                proc=self._proc,
                timeout=self.startup_timeout,
                describe="wlmscpfs",
                log=self._log_path,
            )
        except BaseException:
            _stop(self._proc, STOP_TIMEOUT)
            self._tmp.cleanup()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            _stop(self._proc, STOP_TIMEOUT)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


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
            _require_tool("findscu"),
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


# --------------------------------------------------------------------------------------------
# Dataset inspection
# --------------------------------------------------------------------------------------------


def is_group_length(tag: int) -> bool:
    return (tag & 0xFFFF) == 0


SPECIFIC_CHARACTER_SET = 0x00080005


def _is_empty_value(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, (str, bytes, list, MultiValue, PersonName)):
        return len(str(value) if isinstance(value, PersonName) else value) == 0
    return False


def normalized_value(value: object) -> object:
    """A comparable form of an element value (padding stripped, multi-values as tuples)."""
    if isinstance(value, (list, MultiValue)):
        return tuple(normalized_value(v) for v in value)
    if isinstance(value, PersonName):
        return str(value).strip(" \0")
    if isinstance(value, str):
        return value.strip(" \0")
    return value


def is_empty_dataset(ds: Dataset) -> bool:
    """True if no element of ``ds`` (recursively) carries a value."""
    for elem in ds:
        if elem.VR == "SQ":
            if not all(is_empty_dataset(item) for item in elem.value):
                return False
        elif not _is_empty_value(elem.value):
            return False
    return True


def consistent_with(answer: Dataset, entry: Dataset) -> bool:
    """True if every value ``answer`` returns agrees with worklist entry ``entry``.

    Empty values agree with anything (a requested key the entry lacks comes back empty). A
    returned sequence item must agree with at least one item of the entry's sequence, so returning
    only some items of a sequence (the matching scheduled procedure steps) is fine.
    """
    for elem in answer:
        if is_group_length(elem.tag) or elem.tag == SPECIFIC_CHARACTER_SET:
            continue
        if elem.VR == "SQ":
            entry_items = list(entry[elem.tag].value) if elem.tag in entry else []
            for item in elem.value:
                if is_empty_dataset(item):
                    continue
                if not any(consistent_with(item, candidate) for candidate in entry_items):
                    return False
        elif not _is_empty_value(elem.value):
            if elem.tag not in entry:
                return False
            if normalized_value(entry[elem.tag].value) != normalized_value(elem.value):
                return False
    return True


def requested_keys_missing(query: Dataset, answer: Dataset, path: str = "") -> list[str]:
    """Keys of ``query`` absent from ``answer`` (recursing into sequence items the query details).

    Group lengths and (0008,0005) are not counted as requested keys.
    """
    missing: list[str] = []
    for elem in query:
        if is_group_length(elem.tag) or elem.tag == SPECIFIC_CHARACTER_SET:
            continue
        name = f"{path}{elem.tag} {elem.keyword or '?'}"
        if elem.tag not in answer:
            missing.append(name)
            continue
        if elem.VR == "SQ" and len(elem.value) == 1 and not _only_group_lengths(elem.value[0]):
            answer_elem = answer[elem.tag]
            if answer_elem.VR != "SQ":
                missing.append(f"{name} (returned as {answer_elem.VR}, not SQ)")
                continue
            for index, item in enumerate(answer_elem.value):
                missing += requested_keys_missing(elem.value[0], item, f"{name}[{index}] > ")
    return missing


def unrequested_keys(query: Dataset, answer: Dataset, path: str = "") -> list[str]:
    """Keys of ``answer`` that ``query`` did not request ((0008,0005) is always allowed).

    Inside a sequence that the query requests with one non-empty item, the answer's items may only
    hold the attributes of that item; a sequence requested with zero items or one empty item may
    be returned whole.
    """
    extra: list[str] = []
    for elem in answer:
        if elem.tag == SPECIFIC_CHARACTER_SET:
            continue
        name = f"{path}{elem.tag} {elem.keyword or '?'}"
        if elem.tag not in query:
            extra.append(name)
            continue
        query_elem = query[elem.tag]
        if (
            elem.VR == "SQ"
            and query_elem.VR == "SQ"
            and len(query_elem.value) == 1
            and not _only_group_lengths(query_elem.value[0])
        ):
            for index, item in enumerate(elem.value):
                extra += unrequested_keys(query_elem.value[0], item, f"{name}[{index}] > ")
    return extra


def _only_group_lengths(ds: Dataset) -> bool:
    return all(is_group_length(elem.tag) for elem in ds)


def summarize(ds: Dataset, keys: Iterable[str] = ()) -> str:
    """A one-line description of a dataset's top-level values (or only of ``keys``)."""
    wanted = set(keys)
    parts: list[str] = []
    for elem in ds:
        if wanted and elem.keyword not in wanted:
            continue
        if elem.VR == "SQ":
            parts.append(f"{elem.keyword or elem.tag}=<{len(elem.value)} item(s)>")
        else:
            parts.append(f"{elem.keyword or elem.tag}={normalized_value(elem.value)!r}")
    return ", ".join(parts) if parts else "<empty>"


def raw_value(ds: Dataset, tag: int) -> bytes:
    """The undecoded bytes of a top-level element as received.

    ``ds`` must be freshly parsed: pydicom decodes an element the first time it is accessed (also
    by iterating over the dataset).
    """
    elem = ds.get_item(tag)
    if elem is None:
        raise KeyError(f"{tag:08x} not in dataset")
    value = elem.value
    if isinstance(value, bytes):
        return value
    raise TypeError(f"{tag:08x} was already decoded; read the dataset afresh to see its bytes")


def entry_candidates(answer: Dataset, entries: Mapping[str, Dataset]) -> frozenset[str]:
    """Names of the worklist entries whose values agree with everything ``answer`` returns."""
    return frozenset(name for name, entry in entries.items() if consistent_with(answer, entry))


def match_answers_to_entries(
    candidates: Sequence[Collection[str]], entries: Collection[str]
) -> dict[int, str] | None:
    """Give each answer a distinct entry among its candidates so that every entry is used.

    A bipartite perfect matching (augmenting paths). Returns {answer index: entry name}, or None
    when no such assignment exists (wrong count, or answers that cannot all be told apart).
    """
    wanted = set(entries)
    if len(candidates) != len(wanted):
        return None
    owner: dict[str, int] = {}

    def augment(index: int, seen: set[str]) -> bool:
        for name in sorted(set(candidates[index]) & wanted):
            if name in seen:
                continue
            seen.add(name)
            if name not in owner or augment(owner[name], seen):
                owner[name] = index
                return True
        return False

    for index in range(len(candidates)):
        if not augment(index, set()):
            return None
    return {index: name for name, index in owner.items()}
