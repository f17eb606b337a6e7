"""Whether a folder's change events can be trusted: not on network shares and FUSE mounts.

A folder on a network share (NFS, SMB/CIFS, ...) or a FUSE mount (sshfs, bindfs, ...) reports the
changes made through this computer, the store's barrier file included, but not those made by other
computers behind the mount: the barrier would prove nothing. Such a folder is listed per query.

Such file systems also cache a file's attributes (FUSE for 1 s, NFS for 3 s or more), so a stat
may show a file rewritten behind the mount as unchanged: :func:`fresh_stat` asks the file system
for them (``statx`` with ``AT_STATX_FORCE_SYNC``, which FUSE, NFS and CIFS honour).

Linux: the folder's file system type from ``/proc/self/mountinfo`` (the mount whose device is the
folder's, else the longest mount point containing it). Windows: UNC paths and drives that
``GetDriveTypeW`` calls remote (not testable on Linux; kept small). Other systems: trusted.
"""

from __future__ import annotations

import ctypes
import os
import stat
import struct
import sys
from collections.abc import Callable
from pathlib import Path

from wldesk.core.watch import Seen, seen

FOLDER_EVENTS = ("auto", "trust", "relist")
"""The ``folder_events`` setting: detect, trust the events, or list the folder per query."""

# File systems whose remote changes raise no local events ("fuse*" is matched by its prefix).
REMOTE_TYPES = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "davfs", "afs", "ncpfs",
    "lustre", "gpfs", "beegfs", "virtiofs", "vboxsf", "vmhgfs", "orangefs", "ocfs2", "gfs2",
    "sshfs", "coda",
})

MOUNTINFO = Path("/proc/self/mountinfo")


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in paths as octal escapes."""
    for code in ("\\040", "\\011", "\\012", "\\134"):
        field = field.replace(code, chr(int(code[1:], 8)))
    return field


def mount_type(folder: Path, mountinfo: Path = MOUNTINFO) -> str | None:
    """The file system type of the mount holding ``folder`` (Linux), or None when unknown."""
    try:
        text = mountinfo.read_text(encoding="utf-8", errors="surrogateescape")
        resolved = os.path.realpath(folder)
        st = os.stat(resolved)
    except OSError:
        return None
    device = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    by_device: str | None = None
    best: tuple[int, str] | None = None
    for line in text.splitlines():
        head, sep, tail = line.partition(" - ")
        fields, rest = head.split(), tail.split()
        if not sep or len(fields) < 5 or not rest:
            continue
        fstype, point = rest[0], _unescape(fields[4])
        if fields[2] == device:
            by_device = fstype  # the last mount of this device wins, as the last mount does
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= best[0]):
            best = (len(point), fstype)
    return by_device or (best[1] if best is not None else None)


def _statx() -> Callable[[str], os.stat_result] | None:
    """``stat`` through statx(2) with AT_STATX_FORCE_SYNC; None without it (not Linux, old libc)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).statx
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]
    function.restype = ctypes.c_int
    at_fdcwd, force_sync, basic_stats = -100, 0x2000, 0x7FF

    def fresh(path: str) -> os.stat_result:
        buffer = ctypes.create_string_buffer(256)  # struct statx
        if function(at_fdcwd, os.fsencode(path), force_sync, basic_stats, buffer) != 0:
            number = ctypes.get_errno()
            raise OSError(number, os.strerror(number), path)
        nlink, uid, gid, mode, ino, size = struct.unpack_from("<3IH2xQQ", buffer, 16)
        times = [struct.unpack_from("<qI", buffer, offset) for offset in (64, 112, 96)]  # a, m, c
        dev = os.makedev(*struct.unpack_from("<2I", buffer, 136))
        return os.stat_result((mode, ino, dev, nlink, uid, gid, size, *(sec for sec, _ in times),
                               *(sec + nsec * 1e-9 for sec, nsec in times),  # as os.stat does
                               *(sec * 1_000_000_000 + nsec for sec, nsec in times)))

    return fresh


fresh_stat: Callable[[str], os.stat_result] = _statx() or os.stat
"""A file's attributes as the file system has them now, not as cached (where the system can)."""


def fresh_listing(folder: Path, wanted: Callable[[str], bool]) -> dict[str, Seen]:
    """The regular files of ``folder`` whose names are ``wanted``, with their fresh identity.

    One attribute round trip to the file system (FUSE daemon, file server) per file. Asking from
    several threads at once was no faster on a bindfs mount here (2 cores, the daemon's own CPU
    time is the limit); on a slow network it may be: not measured.
    """
    found: dict[str, Seen] = {}
    with os.scandir(folder) as it:
        for item in it:
            if not wanted(item.name):
                continue
            try:
                st = fresh_stat(item.path)
            except OSError:
                continue  # vanished between listing and stat
            if stat.S_ISREG(st.st_mode):
                found[item.name] = seen(st)
    return found


def is_remote_type(fstype: str) -> bool:
    base = fstype.partition(".")[0]  # "fuse.sshfs", "nfs4"
    return base.startswith("fuse") or base in REMOTE_TYPES or fstype in REMOTE_TYPES


if sys.platform == "win32":
    import ctypes

    def _remote_reason(folder: Path) -> str | None:
        path = os.path.abspath(folder)
        if path.startswith("\\\\?\\"):
            path = "\\\\" + path[8:] if path[4:8].upper() == "UNC\\" else path[4:]
        drive = os.path.splitdrive(path)[0]
        if drive.startswith("\\\\"):
            return f"folder on the network path {drive}"
        kernel32 = ctypes.windll.kernel32
        if drive and kernel32.GetDriveTypeW(drive + "\\") == 4:  # DRIVE_REMOTE
            return f"folder on the network drive {drive}"
        return None
elif sys.platform.startswith("linux"):
    def _remote_reason(folder: Path) -> str | None:
        fstype = mount_type(folder)
        if fstype is not None and is_remote_type(fstype):
            return f"folder on a {fstype} file system"
        return None
else:
    def _remote_reason(folder: Path) -> str | None:
        return None


def relist_reason(folder: Path, folder_events: str = "auto") -> str | None:
    """Why the folder must be listed per query (its events cannot be trusted), or None."""
    if folder_events == "relist":
        return "folder_events is set to relist"
    if folder_events == "trust":
        return None
    reason = _remote_reason(folder)
    if reason is None:
        return None
    return f"{reason}: changes made by other computers raise no events"
