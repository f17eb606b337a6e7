"""``wldesk.selftest.run()`` passes on this machine, run as its own process like an installer would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.processes import REPO_ROOT


def test_selftest_passes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "QT_QPA_"))}
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[name] = str(tmp_path / name.lower())
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "runtime")
    (tmp_path / "runtime").mkdir(mode=0o700)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-c", "import sys, wldesk.selftest as s; sys.exit(s.run())"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    lines = result.stdout.splitlines()
    for check in ("environment", "server", "C-ECHO", "MWL C-FIND", "GUI"):
        assert any(line.startswith(f"ok   {check}:") for line in lines), output
    assert "FAIL" not in result.stdout
    assert lines[-1] == "selftest: all checks passed"
    # nothing of the (private) user's folders was created or written
    assert not (tmp_path / "xdg_config_home").exists(), output
    assert not (tmp_path / "xdg_data_home").exists(), output
