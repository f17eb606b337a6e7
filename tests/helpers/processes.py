"""Servers under test as real processes: ``python -m wldesk serve`` in a private environment,
and DCMTK's wlmscpfs."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from tests.helpers.dcmtk import require_tool
from tests.helpers.ports import (
    LOCALHOST,
    STARTUP_TIMEOUT,
    STOP_TIMEOUT,
    free_port,
    wait_until_echo,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository root (the parent of ``tests/``)."""


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


def private_env(home: Path) -> dict[str, str]:
    """The environment of a wldesk process with nothing of the user's: no WLDESK_* variables, its
    XDG directories under ``home`` (made when missing), this repository's wldesk."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("WLDESK")}
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        directory = home / var.lower()
        directory.mkdir(parents=True, exist_ok=True)
        env[var] = os.fspath(directory)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.fspath(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_wldesk(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m wldesk ARGS`` in :func:`private_env` ``(home)``; its output as text."""
    return subprocess.run([sys.executable, "-m", "wldesk", *args], cwd=REPO_ROOT,
                          env=private_env(home), capture_output=True, text=True,
                          encoding="utf-8", timeout=timeout, check=False)


# --------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------


class WldeskServe:
    """Run ``python -m wldesk serve`` for the duration of a ``with`` block.

    The server gets private XDG_CONFIG_HOME / XDG_DATA_HOME / XDG_STATE_HOME / XDG_CACHE_HOME
    directories (and no ``WLDESK*`` environment variables), so the user's own settings are never
    read or written; with ``home``, those directories are made there and kept (a later server, or
    :func:`run_wldesk` with :func:`private_env`, finds what this one left). Its stderr goes to a
    file (see :meth:`log_text`). Entering waits (at most ``startup_timeout`` s) until it answers C-ECHO;
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
        tls: ssl.SSLContext | None = None,
        home: Path | None = None,
    ) -> None:
        self.database = Path(database)
        self.home = home
        self.aet = aet
        self.extra_args = tuple(extra_args)
        self.port = port if port is not None else free_port()
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.tls = tls  # the client side, for the readiness C-ECHO of a server speaking TLS
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

    def stdout_text(self) -> str:
        """The server's stdout so far (the connection card it prints once listening)."""
        if self._stdout_path is None or not self._stdout_path.exists():
            return ""
        return self._stdout_path.read_text(encoding="utf-8", errors="replace")

    def _diagnostics(self) -> str:
        out = self.stdout_text()
        text = f"\ncommand: {self.command}\n--- wldesk stderr ---\n{self.log_text()}"
        if out:
            text += f"\n--- wldesk stdout ---\n{out}"
        return text

    def __enter__(self) -> WldeskServe:
        self._tmp = tempfile.TemporaryDirectory(prefix="wldesk-serve-")
        base = Path(self._tmp.name)
        env = private_env(self.home if self.home is not None else base)
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
                tls=self.tls,
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

    @property
    def pid(self) -> int:
        """The server process's ID (for its /proc entries)."""
        assert self._proc is not None, "WldeskServe was not entered"
        return self._proc.pid


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
            require_tool("wlmscpfs"), "-dfr", "-dfp", os.fspath(self.root),
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

    @property
    def pid(self) -> int:
        """The listening process's ID (its per-association children have their own)."""
        assert self._proc is not None, "Wlmscpfs was not entered"
        return self._proc.pid
