"""The editor on a file with a 200 MB value, in processes of its own (so that their memory is theirs
alone): the file is read in the background while the event loop keeps turning, the value is shown
abbreviated and read-only, a small edit is saved with the large value's bytes unchanged, and the
process stays well under 1 GB. SIGTERM ends the real application while such a file, or one whose
reading never ends (a share that stopped answering), is being read."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.ports import free_port
from tests.helpers.processes import REPO_ROOT
from tests.helpers.samples import encode, worklist_dataset
from wldesk.core.settings import Settings
from wldesk.core.settings_file import save_settings

BIG = 200_000_000
BIG_TAG = 0x00991000  # private, after every key of the entry; its creator is (0099,0010)


def write_big_entry(path: Path, size: int = BIG) -> int:
    """A complete entry followed by a private OB value of ``size`` bytes (0, 1, ... 255, 0, ...),
    written a megabyte at a time; the offset of the value in the file."""
    path.write_bytes(encode(worklist_dataset()))
    creator = b"WLDESK TEST "
    with open(path, "ab") as f:
        f.write(struct.pack("<HH2sH", 0x0099, 0x0010, b"LO", len(creator)) + creator)
        f.write(struct.pack("<HH2sHI", BIG_TAG >> 16, BIG_TAG & 0xFFFF, b"OB", 0, size))
        offset = f.tell()
        piece = bytes(range(256)) * 4096
        for start in range(0, size, len(piece)):
            f.write(piece[:size - start])
    return offset


def digest(path: Path, offset: int, size: int) -> str:
    found = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(offset)
        while size:
            block = f.read(min(size, 1 << 20))
            assert block, "the file ends early"
            found.update(block)
            size -= len(block)
    return found.hexdigest()


def run_python(script: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False, cwd=REPO_ROOT)


OPEN_EDIT_SAVE = r"""
import json, sys, time
from pathlib import Path
from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication
from wldesk.core.libraries import configure_libraries
from wldesk.gui.editor.window import EditorWindow

def peak_mb():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) // 1024 for l in status if l.startswith("VmHWM:"))

app = QApplication([])
configure_libraries()
ticks = []
timer = QTimer()
timer.timeout.connect(lambda: ticks.append(time.monotonic()))
timer.start(10)
start = time.monotonic()
editor = EditorWindow.open_file(Path(sys.argv[1]))
editor.show()
loading_title = editor.windowTitle()
loop = QEventLoop()
editor.loaded.connect(loop.quit)
QTimer.singleShot(60000, loop.quit)
loop.exec()
end = time.monotonic()
during = [t for t in ticks if start < t < end]
model = editor.model
big = model.index_of(((), 0x00991000), model.VALUE)
model.setData(model.find("PatientID"), "EDITED")
moments = [start, *during, end]
report = {
    "loaded": not editor.loading, "loading_title": loading_title, "seconds": end - start,
    "ticks": len(during), "longest_pause": max(b - a for a, b in zip(moments, moments[1:])),
    "peak_after_load": peak_mb(), "shown": big.data(),
    "editable": bool(model.flags(big) & Qt.ItemFlag.ItemIsEditable),
    "tooltip": big.data(Qt.ItemDataRole.ToolTipRole), "saved": editor.save(),
}
report["peak"] = peak_mb()
print(json.dumps(report))
editor.close_discarding()
"""


def test_a_200_mb_value_is_read_in_the_background_shown_abbreviated_and_saved_unchanged(
        tmp_path: Path) -> None:
    path = tmp_path / "big.wl"
    offset = write_big_entry(path)
    before = digest(path, offset, BIG)
    result = run_python(OPEN_EDIT_SAVE, str(path))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["loaded"], report
    assert "Loading" in report["loading_title"]
    assert report["ticks"] >= 3 and report["longest_pause"] < 3.0, report  # the loop turned
    assert report["shown"] == "‹200.0 MB of OB data: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f …›"
    assert not report["editable"]
    assert "too large to show or edit as text" in report["tooltip"]
    assert report["saved"], result.stderr
    assert report["peak"] < 1024, report  # opening, editing and saving, in MB
    assert [p.name for p in tmp_path.iterdir()] == ["big.wl"]  # written atomically: no temporary left
    size = path.stat().st_size
    assert digest(path, size - BIG, BIG) == before  # the large value's bytes, unchanged
    with open(path, "rb") as f:
        head = f.read(size - BIG)
    assert head.endswith(struct.pack("<HH2sHI", 0x0099, 0x1000, b"OB", 0, BIG))
    assert b"EDITED" in head and b"PID1" not in head


OPEN_FROM_THE_WORKLIST_TAB = r"""
import sys
from pathlib import Path
from PySide6.QtCore import QTimer
import wldesk.gui.app as gui_app
from wldesk.cli import main

entry, config = sys.argv[1:3]

class Opening(gui_app.WldeskApp):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        QTimer.singleShot(0, self.open_entry)

    def open_entry(self):
        self.window.worklist.open_entry.emit(Path(entry))  # what a double-click in the list sends
        editor = self.window.editors[-1]
        editor.loaded.connect(lambda: print("loaded", flush=True))
        print("loading" if editor.loading else "loaded", flush=True)

gui_app.WldeskApp = Opening
sys.exit(main(["--config", config]))
"""


@pytest.mark.parametrize("kind", ["200 MB", "never ends"])
def test_sigterm_ends_the_application_while_an_entry_loads(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "worklists"
    folder.mkdir()
    config = tmp_path / "settings.json"
    save_settings(Settings(database=str(folder), port=free_port(), bind_address="127.0.0.1",
                           start_at_launch=True), config)
    entry = tmp_path / "entry.wl"
    if kind == "200 MB":
        write_big_entry(entry)
    else:
        os.mkfifo(entry)  # opening it waits for a writer that never comes
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", OPEN_FROM_THE_WORKLIST_TAB, str(entry),
                             str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=REPO_ROOT)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first == "loading", proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        code = proc.wait(timeout=10)
        assert time.monotonic() - sent < 5
        assert code == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
