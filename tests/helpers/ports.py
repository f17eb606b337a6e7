"""Free local ports and waiting for a DICOM server to answer (C-ECHO over a real socket)."""

from __future__ import annotations

import logging
import os
import socket
import ssl
import subprocess
import time
from pathlib import Path

from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

LOCALHOST = "127.0.0.1"

STARTUP_TIMEOUT = 20.0
"""Seconds to wait for a server to answer C-ECHO before giving up."""

STOP_TIMEOUT = 10.0
"""Seconds to wait for a server to exit after SIGTERM."""

POLL_INTERVAL = 0.05

# --------------------------------------------------------------------------------------------
# Small utilities
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (bind to port 0 and release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


# --------------------------------------------------------------------------------------------
# Readiness polling
# --------------------------------------------------------------------------------------------


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection((LOCALHOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def echo(port: int, called_aet: str, calling_aet: str = "ECHOPROBE", timeout: float = 5.0,
         tls: ssl.SSLContext | None = None) -> bool:
    """Send one C-ECHO with pynetdicom (over TLS with ``tls``, to "localhost"); True if the
    association was accepted and status 0x0000."""
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
        assoc = ae.associate(LOCALHOST, port, ae_title=called_aet,
                             tls_args=(tls, "localhost") if tls is not None else None)
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
    tls: ssl.SSLContext | None = None,
) -> None:
    """Poll C-ECHO on 127.0.0.1:port until it succeeds; bounded by ``timeout`` seconds.

    Raises RuntimeError (with the server log, if given) if the process exits or the deadline passes.
    """
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"{describe} exited with code {proc.returncode} before answering C-ECHO" + log_suffix(log)
            )
        if _tcp_open(port) and echo(port, called_aet, timeout=min(5.0, timeout), tls=tls):
            return
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"{describe} did not answer C-ECHO on {LOCALHOST}:{port} (called AE {called_aet!r})"
                f" within {timeout:g} s" + log_suffix(log)
            )
        time.sleep(POLL_INTERVAL)

def log_suffix(log: str | os.PathLike[str] | None) -> str:
    if log is None:
        return ""
    try:
        text = Path(log).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return f"\n--- {Path(log).name} ---\n{text}" if text else f"\n--- {Path(log).name}: empty ---"
