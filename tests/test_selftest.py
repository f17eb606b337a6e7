"""``wldesk.selftest.run()`` passes on this machine, run as its own process like an installer would;
and, in-process, what it says about the fast answer path."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from pynetdicom.association import Association

from tests.conftest import LogWarnings
from tests.helpers.processes import REPO_ROOT
from wldesk import selftest
from wldesk.core.net.fastfind import BatchingDUL


def test_selftest_passes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "QT_QPA_"))}
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[name] = str(tmp_path / name.lower())
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "runtime")
    (tmp_path / "runtime").mkdir(mode=0o700)
    old_audit = tmp_path / "xdg_state_home" / "wldesk" / "audit" / "2020-01-01.jsonl"
    old_audit.parent.mkdir(parents=True)
    old_audit.write_text("", encoding="utf-8")
    figures = tmp_path / "xdg_state_home" / "wldesk" / "modalities.json"
    figures.write_bytes(b"the user's figures, which a self-test must not read or touch")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-c", "import sys, wldesk.selftest as s; sys.exit(s.run())"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    lines = result.stdout.splitlines()
    for check in ("environment", "server", "C-ECHO", "MWL C-FIND", "fast answer path", "GUI"):
        assert any(line.startswith(f"ok   {check}:") for line in lines), output
    assert "FAIL" not in result.stdout
    assert "fast path off" not in result.stdout
    assert lines[-1] == "selftest: all checks passed"
    # nothing of the (private) user's folders was created or written
    assert not (tmp_path / "xdg_config_home").exists(), output
    assert not (tmp_path / "xdg_data_home").exists(), output
    assert not (tmp_path / "xdg_cache_home" / "wldesk" / "index").exists(), output
    assert old_audit.exists(), output  # the user's audit log is the user's settings' to prune
    assert figures.read_bytes() == b"the user's figures, which a self-test must not read or touch"
    assert sorted(p.name for p in figures.parent.iterdir()) == ["audit", "modalities.json"]


def broken_install(cls: type[BatchingDUL], assoc: Association) -> None:
    """What the DUL swap does once pynetdicom's DULServiceProvider has ``__slots__``."""
    raise TypeError("__class__ assignment: 'BatchingDUL' object layout differs from "
                    "'DULServiceProvider'")


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path-on", "fast-path-off"])
def test_selftest_reports_when_the_fast_path_is_off(
        fast: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], log_warnings: LogWarnings) -> None:
    """In-process (the window check aside): with the fast path off the selftest says so in a
    warning line, and still passes, since the query was answered."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(selftest.SelfTest, "gui", lambda self: "not run in-process")
    if not fast:
        log_warnings.expect(r"wldesk\.core\.net\.fastfind: fast answer path off: wldesk could not "
                            r"attach its answer batching")
        monkeypatch.setattr(BatchingDUL, "install", classmethod(broken_install))
    assert selftest.run() == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("ok   MWL C-FIND: 1 answer (SELFTEST^WLDESK, accession SELFTEST1)")
               for line in lines), lines
    [path_line] = [line for line in lines if "fast answer path" in line]
    if fast:
        assert path_line.startswith("ok   fast answer path: on "), lines
        assert not any("fast path off" in line for line in lines), lines
        assert lines[-1] == "selftest: all checks passed"
    else:
        assert path_line.startswith(
            "warn fast answer path: fast path off: wldesk could not attach its answer batching to "
            "a pynetdicom "), lines
        assert "(TypeError: __class__ assignment: 'BatchingDUL' object layout differs" in path_line
        assert "queries are answered through pynetdicom's standard path" in path_line
        assert lines[-1] == "selftest: all checks passed, 1 warning(s)"
    assert not any(line.startswith("FAIL") for line in lines), lines


def test_the_fast_path_check_without_a_query(tmp_path: Path) -> None:
    """Asked before any C-FIND went through it, the check fails rather than claim it works."""
    test = selftest.SelfTest(tmp_path)
    assert test.check("server", test.start_server)
    try:
        assert not test.check("fast answer path", test.fast_path)
    finally:
        test.stop_server()
    assert test.failures == 1
