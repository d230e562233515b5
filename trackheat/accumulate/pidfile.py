"""Which recorders are running on a store, and how to ask one to stop.

Each recorder writes `<store>.recorder-<pid>.json` beside its store file (so the
default store's pid files are in the data directory, and a test's `--db` in its
temporary directory never touches a user's real recorders). Several recorders
on one store each have their own file. A file whose process is gone (kill -9,
power loss) is stale: readers say so and remove it.

Stopping is SIGTERM on POSIX. On Windows os.kill() would be TerminateProcess
(nothing flushed), so there `request_stop` drops a `.stop` file beside the pid
file that the recorder polls for; the recorder honours the file on every
platform.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RecorderInfo:
    """One pid file's content."""

    path: Path
    pid: int
    session: int
    db: str
    started: float
    host: str

    @property
    def stop_file(self) -> Path:
        return self.path.with_suffix(".stop")


def pid_path(db: Path, pid: int | None = None) -> Path:
    db = Path(db).absolute()
    return db.with_name(f"{db.name}.recorder-{os.getpid() if pid is None else pid}.json")


def write(db: Path, session: int, started: float) -> Path:
    """Announce this process as a recorder on `db` (written atomically, 0600).

    The temporary file gets a random name made with O_CREAT|O_EXCL (mkstemp) and is
    renamed over the pid file: a symlink planted at either name in a shared directory
    is never followed (rename replaces the link itself), so no recorder -- root's
    included -- can be made to write into somebody else's file."""
    import socket
    import tempfile

    path = pid_path(db)
    info = {"pid": os.getpid(), "session": session, "db": str(Path(db).absolute()), "started": started, "host": socket.gethostname()}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(info, f)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def ours(path: Path) -> bool:
    """A plain file (not a symlink) owned by this user: the only pid and stop files trusted.
    Anyone who can write a shared directory can drop files there; they stop nothing."""
    if not hasattr(os, "geteuid"):
        return True
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid()


def remove(path: Path) -> None:
    for p in (path, path.with_suffix(".stop")):
        try:
            p.unlink()
        except (FileNotFoundError, PermissionError):  # gone, or another user's in a sticky directory
            pass


def alive(pid: int) -> bool:
    """Is this process still running (a zombie counts as gone)?"""
    if sys.platform == "win32":
        return _win_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: an exited child its parent has not reaped yet is a zombie
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _win_alive(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]  # Windows only
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def _is_trackheat(pid: int) -> bool:
    """Guard against a recycled pid: on Linux the process must still be trackheat."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"trackheat" in f.read()
    except OSError:
        return True  # not Linux, or not ours to read: trust the pid file


def recorders(db: Path) -> tuple[list[RecorderInfo], list[RecorderInfo]]:
    """(running, stale) recorders of a store; stale pid files are removed."""
    db = Path(db).absolute()
    running, stale = [], []
    for path in sorted(db.parent.glob(f"{db.name}.recorder-*.json")):
        if not ours(path):
            continue  # another user's (or planted): neither trusted nor removed
        try:
            d = json.loads(path.read_text())
            info = RecorderInfo(path, int(d["pid"]), int(d["session"]), str(d["db"]), float(d["started"]), str(d.get("host", "")))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written right now, or not ours
        if alive(info.pid) and _is_trackheat(info.pid):
            running.append(info)
        else:
            stale.append(info)
            remove(path)
    return running, stale


def request_stop(info: RecorderInfo) -> None:
    """Ask a recorder to end cleanly (it flushes, writes its end time, removes its pid file)."""
    try:  # never through a symlink planted at the name
        os.close(os.open(info.stop_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0), 0o600))
    except FileExistsError:
        pass
    if sys.platform != "win32":
        try:
            os.kill(info.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def wait_gone(info: RecorderInfo, timeout: float) -> bool:
    """Wait until the recorder has exited or at least removed its pid file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(info.pid) or not info.path.exists():
            # The pid file goes last in a clean shutdown; give the exit a moment.
            end = time.monotonic() + 2.0
            while alive(info.pid) and time.monotonic() < end:
                time.sleep(0.02)
            return True
        time.sleep(0.05)
    return False
