"""A FUSE bind mount (bindfs) of a folder: changes made in the source folder, behind the mount,
raise no events on the mount, as changes made by another computer on a network share."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def bindfs_missing() -> str | None:
    """Why a bindfs mount cannot be made here, or None."""
    if shutil.which("bindfs") is None:
        return "bindfs is not installed (apt-get install bindfs)"
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing (no FUSE in this machine or container)"
    return None


def _unmount(mount: Path) -> None:
    tool = shutil.which("fusermount") or shutil.which("fusermount3")
    command = [tool, "-u", str(mount)] if tool else ["umount", str(mount)]
    for attempt in range(50):
        done = subprocess.run(command, capture_output=True, check=False)
        if done.returncode == 0 or not os.path.ismount(mount):
            return
        time.sleep(0.02 * (attempt + 1))  # still busy: a thread of the test is closing a file
    subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


@contextmanager
def bindfs_mount(source: Path, mount: Path) -> Iterator[Path]:
    """Mount ``source`` at ``mount`` with bindfs; unmounted on exit, also after a failure."""
    mount.mkdir(parents=True, exist_ok=True)
    # --no-allow-other: bindfs asks for allow_other by default, which fusermount refuses to a user
    # who is not root unless /etc/fuse.conf says user_allow_other; only this user reads the mount
    done = subprocess.run(["bindfs", "--no-allow-other", str(source), str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bindfs could not mount {source} at {mount}: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        _unmount(mount)
