"""Issue 11, reproduced for real: a recorder that never hangs, a store nothing can poison,
files nobody else can redirect, hostile input that costs bounded time and memory.

Every case is the attack itself: a real Xvfb at its `-maxclients` limit with held
connections, a display killed during start-up, two recorders started at once, real
symlinks planted in shared directories by another user, a real full disk (`ulimit -f`),
generated hostile files. Trials run in parallel with short timeouts to keep CI time low.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import IN_CI, ROOT, headless_env, start_xvfb

TRIALS = 50  # per start-up failure mode (issue 11: 50 trials each, 0 hangs)
HANG = 25.0  # seconds after which a trial counts as a hang (start-up gives up after 5 s)
WORKERS = 4


def _xvfb(maxclients: int = 64) -> tuple[subprocess.Popen, str]:
    """A private Xvfb with a client limit; returns (process, ':N') once it accepts connections."""
    x = start_xvfb(640, 480, "-maxclients", str(maxclients))
    return x.proc, x.display


def _kill(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(10)


def _record(display: str, db: Path, *extra: str, timeout: float = HANG) -> tuple[int | None, str, float]:
    """Run `trackheat record` to its end; (exit status or None for a hang, stderr, seconds)."""
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, "-m", "trackheat", "record", "--db", str(db), "--quiet", *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                         env=headless_env(DISPLAY=display))
    try:
        _out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        _out, err = p.communicate()
        return None, err, time.monotonic() - t0
    return p.returncode, err, time.monotonic() - t0


def _check_outcome(rc: int | None, err: str, what: str) -> None:
    assert rc is not None, f"{what}: hung (no exit after {HANG} s): {err}"
    assert "Traceback" not in err, f"{what}: {err}"
    if rc != 0:
        assert rc == 2, f"{what}: exit {rc}: {err}"
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("trackheat record: "), f"{what}: {err!r}"


def _sessions(db: Path) -> int:
    if not db.exists():
        return 0
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        try:
            return c.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


# -- 1. the recorder never hangs ---------------------------------------------------------

def _maxclients_trial(i: int, tmp: Path) -> tuple[int | None, str, int, int]:
    """Xvfb at its client limit with 0..3 connections left: every stage of start-up fails somewhere."""
    from Xlib import display as xdisplay

    proc, disp = _xvfb(64)
    held = []
    try:
        while True:
            try:
                held.append(xdisplay.Display(disp))
            except Exception:
                break
        free = i % 4
        for c in held[len(held) - free:]:
            c.close()
        del held[len(held) - free:]
        db = tmp / f"max{i}.db"
        rc, err, _ = _record(disp, db, "--duration", "0.5")
        return rc, err, free, _sessions(db)
    finally:
        for c in held:
            try:
                c.close()
            except Exception:
                pass
        _kill(proc)


def test_recorder_at_the_client_limit_never_hangs(tmp_path):
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda i: _maxclients_trial(i, tmp_path), range(TRIALS)))
    failed = 0
    for i, (rc, err, free, sessions) in enumerate(results):
        _check_outcome(rc, err, f"trial {i} ({free} connections free)")
        if rc != 0:
            failed += 1
            assert sessions == 0, f"trial {i}: a failed start left {sessions} session(s): {err}"
        else:
            assert sessions == 1, f"trial {i}: {err}"
    # With no connection left the recorder cannot even look at the display: those must fail.
    assert failed >= TRIALS // 4, [r[:3] for r in results]
    assert any("client limit" in r[1] or "Maximum number of clients" in r[1] or "cannot connect" in r[1] for r in results)


def _xvfb_at(number: int) -> tuple[subprocess.Popen, str]:
    """An Xvfb on a display number of our choosing (far above what -displayfd hands out), so
    that no other Xvfb -- a parallel trial's, another test run's -- ever reuses it while a
    recorder of a killed one is still starting (it would then connect to the wrong server)."""
    sock = Path(f"/tmp/.X11-unix/X{number}")
    proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "640x480x24", "-nolisten", "tcp", "-noreset"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"Xvfb :{number} did not start")
        time.sleep(0.02)
    return proc, f":{number}"


_DISPLAY_BASE = 2000 + (os.getpid() % 40) * 200  # per test run; trial i uses base + i


def _display_dies_trial(i: int, tmp: Path) -> tuple[int | None, str, float]:
    """Kill the X server somewhere in the recorder's first three seconds (start-up is 1-3 s here)."""
    number = _DISPLAY_BASE + i
    while Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
        number += TRIALS  # left over from elsewhere: the next free one of this trial's residue class
    proc, disp = _xvfb_at(number)
    db = tmp / f"die{i}.db"
    delay = random.Random(i).uniform(0.0, 3.0)
    try:
        t0 = time.monotonic()
        p = subprocess.Popen([sys.executable, "-m", "trackheat", "record", "--db", str(db), "--quiet", "--duration", "8"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=headless_env(DISPLAY=disp))
        time.sleep(delay)
        _kill(proc)
        try:
            _out, err = p.communicate(timeout=HANG)
            return p.returncode, err, time.monotonic() - t0
        except subprocess.TimeoutExpired:
            p.kill()
            return None, p.communicate()[1], time.monotonic() - t0
    finally:
        if proc.poll() is None:
            _kill(proc)
        Path(f"/tmp/.X{number}-lock").unlink(missing_ok=True)
        Path(f"/tmp/.X11-unix/X{number}").unlink(missing_ok=True)


def test_display_closing_during_start_up_never_hangs(tmp_path):
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda i: _display_dies_trial(i, tmp_path), range(TRIALS)))
    for i, (rc, err, secs) in enumerate(results):
        _check_outcome(rc, err, f"trial {i}")
        # The display died before --duration ran out: no run may claim a clean finish.
        assert rc == 2, f"trial {i}: exit {rc} although the display died after {secs:.1f} s: {err}"
        assert secs < 15, f"trial {i}: took {secs:.1f} s to notice"


def _two_at_once_trial(i: int, tmp: Path, disp: str) -> list[tuple[int | None, str, float]]:
    db = tmp / f"two{i}.db"  # both on one new store: first opens race too
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda _: _record(disp, db, "--duration", "0.5"), range(2)))


def test_two_recorders_started_at_once(tmp_path):
    proc, disp = _xvfb(256)
    try:
        with ThreadPoolExecutor(WORKERS // 2) as pool:
            results = list(pool.map(lambda i: _two_at_once_trial(i, tmp_path, disp), range(TRIALS)))
    finally:
        _kill(proc)
    for i, pair in enumerate(results):
        for rc, err, _secs in pair:
            _check_outcome(rc, err, f"trial {i}")
            assert rc == 0, f"trial {i}: two recorders at once must both record: {err}"
        assert _sessions(tmp_path / f"two{i}.db") == 2


_INTERNALS_CHECK = r"""
import inspect, sys, time
from importlib.metadata import version
from pynput import mouse
from pynput._util import xorg
from trackheat.sources import pointer

v = tuple(int(p) for p in version("pynput").split(".")[:2])
lo, hi = pointer.PYNPUT_TESTED
assert lo <= v < hi, f"pynput {v} is outside the range trackheat.sources.pointer was tested with ({lo}..<{hi})"
lst = pointer._listener_class(mouse)(on_move=lambda *a: None, on_click=lambda *a: None, on_scroll=lambda *a: None)
assert lst.__class__.__name__ == "Listener" and lst.__class__ is not mouse.Listener, "the fast Xorg listener was not built"
for name in pointer.PYNPUT_INTERNALS:
    assert hasattr(lst, name), f"pynput's listener lost `{name}`, which trackheat.sources.pointer uses"
assert lst._ready is False and lst._running is False
# The hang of issue 11 in pynput itself: stop() before ready waits on _ready. Ours must not.
pl = pointer.PointerListener(lambda x, y: None)
pl._listener = lst  # a listener whose thread never started: never ready
t0 = time.monotonic()
pl.stop()
assert time.monotonic() - t0 < 1.0
assert "self.wait()" in inspect.getsource(xorg.ListenerMixin._stop_platform), \
    "pynput's Xorg stop no longer waits for ready: re-check PointerListener.stop"
print("ok")
"""


def test_pynput_internals_are_the_ones_tested(xvfb):
    """pointer.py reaches into pynput's listener (its ready flag, XRecord context, emitter):
    a pynput outside the tested range, or one without these attributes, must fail here, loudly.
    (In a subprocess: importing pynput binds it to a display, which must not leak into other tests.)"""
    p = subprocess.run([sys.executable, "-c", _INTERNALS_CHECK], capture_output=True, text=True, env=xvfb.env, cwd=ROOT, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-2000:]


# -- helpers: another user, real permissions ---------------------------------------------

ATTACKER = "trackheat-attacker"


def _attacker() -> tuple[int, int]:
    """(uid, gid) of a second local user, made with useradd when running as root (CI)."""
    import pwd

    if os.geteuid() != 0:
        msg = "needs root to act as a second user (CI runs make test as root)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    try:
        pw = pwd.getpwnam(ATTACKER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ATTACKER], check=True,
                       capture_output=True)
        pw = pwd.getpwnam(ATTACKER)
    return pw.pw_uid, pw.pw_gid


# Root ignores file modes; without these capabilities it is held to them like any user.
_NO_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def _th(*args, env=None, limit_fsize: int | None = None, modes_apply: bool = False, timeout: float = 120):
    """`python -m trackheat ...`, optionally under `ulimit -f`, or (modes_apply) with root's
    power to ignore file modes dropped, so a read-only file is read-only for it too."""
    import resource
    import signal

    def pre() -> None:
        if limit_fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_fsize, limit_fsize))

    prefix = _NO_OVERRIDE if modes_apply and os.geteuid() == 0 else []
    e = env if env is not None else headless_env()
    return subprocess.run([*prefix, sys.executable, "-m", "trackheat", *map(str, args)], capture_output=True, text=True, env=e,
                          cwd=ROOT, timeout=timeout, preexec_fn=pre)


def _one_line(p: subprocess.CompletedProcess, status: int = 2) -> str:
    assert p.returncode == status, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    return lines[0]


def _mouse_csv(path: Path, rows: list[tuple]) -> Path:
    path.write_text("record timestamp,client timestamp,button,state,x,y\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


# -- 2. nothing poisons the store --------------------------------------------------------

@pytest.mark.parametrize("stamp", ["Infinity", "1e308", "nan", "-inf", "1e999"])
def test_non_finite_timestamp_imports_nothing(tmp_path, stamp):
    db = tmp_path / "s.db"
    good = _mouse_csv(tmp_path / "good.csv", [(0.0, 0.0, "NoButton", "Move", 10, 10), (0.1, 0.1, "NoButton", "Move", 11, 10)])
    bad = _mouse_csv(tmp_path / "bad.csv", [(0.0, 0.0, "NoButton", "Move", 10, 10), (0.1, stamp, "NoButton", "Move", 11, 10)])
    p = _th("import", "--db", db, good, bad)
    line = _one_line(p)
    assert "bad.csv" in line and "nothing" in line.lower() or "bad.csv:3" in line, line
    assert "RuntimeWarning" not in p.stderr
    assert _sessions(db) == 0  # not even good.csv, given first: one transaction across files
    # the store stays usable
    assert _th("import", "--db", db, good).returncode == 0
    for cmd in (["sessions"], ["stats", "--session", "all"]):
        q = _th(*cmd, "--db", db)
        assert q.returncode == 0 and "Traceback" not in q.stderr, q.stderr


def test_store_refuses_out_of_range_values_directly(tmp_path):
    import numpy as np

    from trackheat.canvas import Canvas, Rect
    from trackheat.errors import UserError
    from trackheat.importers.base import ImportedSession
    from trackheat.store import Store

    canvas = Canvas.desktop([Rect(0, 0, 100, 100)])
    ok = ImportedSession("test:ok", canvas, np.array([1, 2]), np.array([3, 4]), ts=np.array([1.7e9, 1.7e9 + 1]))
    for bad in (ImportedSession("test:t", canvas, np.array([1]), np.array([1]), ts=np.array([np.inf])),
                ImportedSession("test:x", canvas, np.array([1e300]), np.array([1.0])),
                ImportedSession("test:d", canvas, np.array([1]), np.array([1]), dwell=np.array([np.nan])),
                ImportedSession("test:s", canvas, np.array([1]), np.array([1]), started=float("-inf")),
                ImportedSession("test:c", canvas, np.array([1]), np.array([1]), clicks=[(float("nan"), 1, 1, "left")])):
        with Store(tmp_path / "s.db") as store:
            with pytest.raises(UserError, match="out of range"):
                store.save_imported([ok, bad])
            assert store.sessions() == []
    with Store(tmp_path / "s.db") as store:
        assert len(store.save_imported([ok])) == 1


# -- 4. foreign SQLite files are never written; errors name their cause ------------------

def _foreign(path: Path, **pragmas) -> bytes:
    import sqlite3

    c = sqlite3.connect(path)
    c.execute("CREATE TABLE contacts(name TEXT, phone TEXT)")
    c.execute("INSERT INTO contacts VALUES ('a', '1')")
    for k, v in pragmas.items():
        c.execute(f"PRAGMA {k}={v}")
    c.commit()
    c.close()
    return path.read_bytes()


@pytest.mark.parametrize("cmd", [["sessions"], ["stats"], ["export", "-o", "OUT"], ["import", "FILE"]])
@pytest.mark.parametrize("version", [0, -5, 7])
def test_foreign_sqlite_file_is_never_written(tmp_path, cmd, version):
    import hashlib
    import sqlite3

    db = tmp_path / "other.db"
    before = hashlib.sha256(_foreign(db, user_version=version)).hexdigest()
    good = _mouse_csv(tmp_path / "m.csv", [(0.0, 0.0, "NoButton", "Move", 10, 10)])
    args = [str(tmp_path / "out") if a == "OUT" else str(good) if a == "FILE" else a for a in cmd]
    line = _one_line(_th(*args, "--db", db))
    assert "not a trackheat store" in line, line
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not (tmp_path / "other.db-wal").exists()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert c.execute("PRAGMA user_version").fetchone()[0] == version


def test_garbage_file_is_not_a_store(tmp_path):
    db = tmp_path / "x.db"
    db.write_bytes(b"hello, I am a text file\n" * 100)
    before = db.read_bytes()
    assert "not a trackheat store" in _one_line(_th("sessions", "--db", db))
    assert db.read_bytes() == before


def test_read_only_store_and_directory_still_read(tmp_path):
    """stats/export/sessions on a read-only store in a read-only directory (really read-only:
    as root the run drops the capabilities that ignore modes); import says read-only."""
    d = tmp_path / "ro"
    d.mkdir()
    db = d / "s.db"
    good = _mouse_csv(tmp_path / "m.csv", [(0.0, 0.0, "NoButton", "Move", 10, 10), (0.1, 0.1, "NoButton", "Move", 20, 10)])
    assert _th("import", "--db", db, good).returncode == 0
    # As a recorder's crash leaves it: the -wal/-shm files gone with the process that held them.
    os.chmod(db, 0o400)
    os.chmod(d, 0o500)
    try:
        for cmd in (["sessions"], ["stats", "--session", "all"]):
            p = _th(*cmd, "--db", db, modes_apply=True)
            assert p.returncode == 0, p.stderr
        p = _th("export", "--db", db, "--session", "all", "-o", tmp_path / "out", modes_apply=True)
        assert p.returncode == 0, p.stderr
        line = _one_line(_th("import", "--db", db, good, modes_apply=True))
        assert "read-only" in line, line
        assert sorted(f.name for f in d.iterdir()) == ["s.db"]  # nothing created beside it
    finally:
        os.chmod(d, 0o700)


def test_concurrent_first_opens_wait_for_each_other(tmp_path):
    """Eight processes opening one new store at once, 30 rounds (240 opens; 21 of 240 failed
    before): all succeed."""
    code = ("import sys; from trackheat.store import Store\n"
            "with Store(sys.argv[1]) as s: s.sessions()\n")
    for rnd in range(30):
        db = tmp_path / f"new{rnd}.db"
        procs = [subprocess.Popen([sys.executable, "-c", code, str(db)], stderr=subprocess.PIPE, text=True, cwd=ROOT)
                 for _ in range(8)]
        for p in procs:
            _out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err


def test_locked_store_names_the_process(tmp_path):
    import sqlite3

    from trackheat.store import Store, describe_error

    db = tmp_path / "s.db"
    Store(db).close()
    holder = subprocess.Popen([sys.executable, "-c", "import sqlite3, sys, time\n"
                               "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                               "c.execute('BEGIN EXCLUSIVE'); print('held', flush=True); time.sleep(60)", str(db)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        c = sqlite3.connect(db, timeout=0.1)
        with pytest.raises(sqlite3.OperationalError) as e:
            c.execute("BEGIN IMMEDIATE")
        msg = str(describe_error(e.value, db))
        assert f"PID {holder.pid}" in msg and "locked" in msg, msg
    finally:
        holder.kill()
        holder.wait()


def test_disk_full_during_import_is_one_line_and_rolls_back(tmp_path):
    """A real write limit (ulimit -f): the import fails with the cause, the store stays whole."""
    import sqlite3

    db = tmp_path / "s.db"
    small = _mouse_csv(tmp_path / "small.csv", [(0.0, 0.0, "NoButton", "Move", 10, 10)])
    assert _th("import", "--db", db, small).returncode == 0
    rows = [(i * 0.01, i * 0.01, "NoButton", "Move", i % 1900, (i * 7) % 1000) for i in range(200_000)]
    big = _mouse_csv(tmp_path / "big.csv", rows)
    limit = db.stat().st_size + 64 * 1024
    line = _one_line(_th("import", "--db", db, big, limit_fsize=limit))
    assert "full" in line or "too large" in line.lower() or "I/O" in line, line
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert c.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1


# -- 3. files nobody else can redirect ---------------------------------------------------

def _shared_dir(tmp_path: Path, sticky: bool) -> Path:
    d = tmp_path / ("sticky" if sticky else "shared")
    d.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(d, 0o1777 if sticky else 0o777)
    return d


@pytest.mark.parametrize("sticky", [True, False])
def test_planted_symlinks_are_not_followed(tmp_path, sticky):
    uid, gid = _attacker()
    d = _shared_dir(tmp_path, sticky)
    victim = tmp_path / "victim-secret"
    victim.write_text("precious\n")
    os.chmod(victim, 0o600)
    good = _mouse_csv(tmp_path / "m.csv", [(0.0, 0.0, "NoButton", "Move", 10, 10)])
    # The attacker's part: symlinks owned by the second user (made by root, then lchown'ed:
    # the same files the attacker would make, without needing this checkout readable by them).
    first_pid = os.getpid() + 1
    links = [(d / "store.db", victim), (d / "dangling.db", d / "nowhere")]
    links += [(d / f"mine.db.recorder-{pid}.{ext}", victim) for pid in range(first_pid, first_pid + 400) for ext in ("json", "tmp", "stop")]
    for link, target in links:
        os.symlink(target, link)
        os.lchown(link, uid, gid)
    # A store path that is the attacker's symlink: refused, the victim's file untouched.
    line = _one_line(_th("import", "--db", d / "store.db", good))
    assert "symlink" in line, line
    line = _one_line(_th("import", "--db", d / "dangling.db", good))
    assert "symlink" in line and not (d / "nowhere").exists(), line
    # Pid files: written as root in the shared directory, never through the planted links.
    from trackheat.accumulate import pidfile

    for pid in range(first_pid, first_pid + 3):
        path = d / f"mine.db.recorder-{pid}.json"
        try:
            written = _write_pidfile_as(d / "mine.db", pid)
        except PermissionError:  # sticky: root may replace it, a user may not -- never follows it either way
            written = None
        if written is not None:
            assert written == path and not path.is_symlink() and (path.stat().st_mode & 0o777) == 0o600
            pidfile.remove(path)
    assert victim.read_text() == "precious\n" and (victim.stat().st_mode & 0o777) == 0o600


def _write_pidfile_as(db: Path, pid: int) -> Path:
    """pidfile.write for a given pid (what a recorder with that pid would do)."""
    code = ("import os, sys; from pathlib import Path; from trackheat.accumulate import pidfile\n"
            "os.getpid = lambda: int(sys.argv[2])\n"
            "print(pidfile.write(Path(sys.argv[1]), 1, 0.0))")
    r = subprocess.run([sys.executable, "-c", code, str(db), str(pid)], capture_output=True, text=True, cwd=ROOT)
    if "PermissionError" in r.stderr:
        raise PermissionError(r.stderr)
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip())


@pytest.mark.parametrize("mode, owner_other", [(0o666, True), (0o666, False), (0o620, False), (0o600, True)])
def test_store_of_another_user_or_writable_by_others_is_refused(tmp_path, mode, owner_other):
    from trackheat.store import Store

    db = tmp_path / "s.db"
    Store(db).close()
    before = db.read_bytes()
    if owner_other:
        uid, gid = _attacker()
        os.chown(db, uid, gid)
    os.chmod(db, mode)
    good = _mouse_csv(tmp_path / "m.csv", [(0.0, 0.0, "NoButton", "Move", 10, 10)])
    line = _one_line(_th("import", "--db", db, good))
    if owner_other:
        assert "another user" in line, line
    else:
        assert f"chmod 600 {db}" in line, line
    assert db.read_bytes() == before


def test_new_files_are_private_whatever_the_umask(tmp_path):
    db = tmp_path / "deep" / "s.db"
    good = _mouse_csv(tmp_path / "m.csv", [(0.0, 0.0, "NoButton", "Move", 10, 10)])
    old = os.umask(0)
    try:
        p = _th("import", "--db", db, good)
    finally:
        os.umask(old)
    assert p.returncode == 0, p.stderr
    for f in db.parent.iterdir():
        assert (f.stat().st_mode & 0o077) == 0, (f, oct(f.stat().st_mode))
    assert (db.parent.stat().st_mode & 0o077) == 0


# -- 5. hostile parsing is bounded -------------------------------------------------------

def _bounded(*args, memory: int = 2 << 30, seconds: float = 30.0):
    """`trackheat ...` under an address-space ceiling; (process, seconds)."""
    import resource

    def pre() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "trackheat", *map(str, args)], capture_output=True, text=True,
                       env=headless_env(), cwd=ROOT, timeout=seconds * 4, preexec_fn=pre)
    return p, time.monotonic() - t0


@pytest.mark.parametrize("name, make", [
    ("100 MB of commas after a gaze header", lambda f: f.write_bytes(b"x,y,duration\n" + b"," * (100 << 20) + b"\n")),
    ("one 100 MB field", lambda f: f.write_bytes(b"x,y,duration\n1,2," + b"7" * (100 << 20) + b"\n")),
    ("a 1 MB cell in a Pupil export", lambda f: f.write_bytes(
        b"world_timestamp,world_index,gaze_timestamp,x_norm,y_norm,x_scaled,y_scaled,on_surf,confidence\n"
        + b"".join(b"1.0,1,%d.5,0.5,0.5,10,10,True,0.9\n" % i for i in range(100)) + b"1.0,1,2.0,0.5," + b"9" * (1 << 20) + b",1,1,True,1\n")),
    ("a 50 KB cell on every row", lambda f: f.write_bytes(b"x,y,duration\n" + b"".join(b"1,2," + b"5" * 50_000 + b"\n" for _ in range(6)))),
    ("CR-only line ends", lambda f: f.write_bytes(b"x,y,duration\r1,2,100\r3,4,200\r")),
    ("20-digit timestamps", lambda f: f.write_bytes(b"section id,recording id,timestamp [ns],gaze x [px],gaze y [px],worn,fixation id,blink id\n"
                                                    b"s,r,12345678901234567890,10,10,1,,\ns,r,12345678901234567891,11,10,1,,\n")),
    ("JSON nested 100,000 deep", lambda f: f.write_bytes(b"[" * 100_000 + b"]" * 100_000)),
    ("a 5000-digit JSON number", lambda f: f.write_bytes(b'{"1,2": ' + b"9" * 5000 + b"}")),
])
def test_hostile_files_are_bounded(tmp_path, name, make):
    f = tmp_path / ("in.json" if "JSON" in name else "in.csv")
    make(f)
    p, secs = _bounded("import", "--db", tmp_path / "s.db", f)
    assert p.returncode in (0, 2), (name, p.returncode, p.stderr[-1500:])
    assert "Traceback" not in p.stderr, p.stderr[-1500:]
    assert secs < 90, f"{name}: {secs:.1f} s"  # linear: ~1 s per 100 MB on an idle core; this machine is shared
    if p.returncode == 2:
        _one_line(p)


def test_gigapixel_reference_is_refused_from_its_header(tmp_path):
    from fuzz_corpus import _png_header

    ref = tmp_path / "giga.png"
    ref.write_bytes(_png_header(30000, 20000))  # 1.7 MB in the issue; the header is what matters
    fix = ROOT / "sample_logs" / "gaze" / "plain" / "fixations.csv"
    p, secs = _bounded("gaze", fix, "--reference", ref, "-o", tmp_path / "o", memory=2 << 30)
    line = _one_line(p)
    assert "30000x20000" in line and "100 MP" in line and secs < 30, line


# -- 6. a full disk: the backlog lands in bounded pieces as space allows -------------------

def test_backlog_is_written_in_bounded_pieces_as_space_allows(tmp_path):
    """SQLite's own 'database or disk is full' (max_page_count): while full nothing is lost;
    when a little space comes back, pieces of the backlog land; then all of it, exactly once."""
    from trackheat.accumulate.recorder import BACKLOG_ROWS, Flusher, Tally
    from trackheat.canvas import Canvas, Rect
    from trackheat.store import Store

    db = tmp_path / "s.db"
    store = Store(db)
    sid = store.create_session("test", Canvas.desktop([Rect(0, 0, 4000, 4000)]), started=1.7e9)
    t = [1.7e9]

    def clock() -> float:
        t[0] += 0.001
        return t[0]

    tally = Tally(start=1.7e9, clock=clock)
    n = 4 * BACKLOG_ROWS
    for i in range(n):  # n distinct positions: n rows
        tally.on_move(i % 4000, i // 4000)
    said: list[str] = []
    fl = Flusher(db, sid, tally, 1.0, said.append)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count={pages + 2}")  # full: not even one piece fits
    assert fl.flush(store, 1.7e9 + 60) is False and fl.backlog and "full" in said[-1]
    assert fl.moves == 0
    store._db.execute(f"PRAGMA max_page_count={pages + 60}")  # room for a piece or two, not for all
    assert fl.flush(store, 1.7e9 + 61) is False
    assert 0 < fl.moves < n, fl.moves  # some pieces landed while the disk stayed nearly full
    store._db.execute("PRAGMA max_page_count=1073741823")
    assert fl.flush(store, 1.7e9 + 62) is True and not fl.backlog
    assert fl.moves == n
    p = store.positions([sid])
    assert int(p.count.sum()) == n and len(p) == n  # every move once
    assert store.integrity_check() == "ok"
    store.close()


# -- 7. costly options are range-checked up front ------------------------------------------

@pytest.mark.parametrize("cmd, flag", [
    (["export", "--sigma", "1e9"], "--sigma"),
    (["export", "--sigma", "inf"], "--sigma"),
    (["export", "--since", "9999999d"], "--since"),
    (["export", "--size", "100000x100000"], "--size"),
    (["gaze", "--bins", "100000"], "--bins"),
    (["gaze", "--sigma", "1e9"], "--sigma"),
])
def test_costly_options_are_refused_up_front(tmp_path, cmd, flag):
    db = tmp_path / "s.db"
    assert _th("import", "--db", db, ROOT / "sample_logs" / "browser.csv").returncode == 0
    if cmd[0] == "gaze":
        args = ["gaze", ROOT / "sample_logs" / "gaze" / "plain" / "fixations.csv", "--reference",
                ROOT / "sample_logs" / "gaze" / "reference.png", "-o", tmp_path / "o", *cmd[1:]]
    else:
        args = [*cmd, "--db", db, "-o", tmp_path / "o"]
    t0 = time.monotonic()
    line = _one_line(_th(*args))
    assert line.split(": ")[1] == flag, line
    assert time.monotonic() - t0 < 60


def test_outputs_are_private_and_density_path_is_real(tmp_path):
    db = tmp_path / "s.db"
    assert _th("import", "--db", db, ROOT / "sample_logs" / "browser.csv").returncode == 0
    old = os.umask(0)
    try:
        p = _th("export", "--db", db, "-o", tmp_path / "o", "--density", tmp_path / "dens.bin")
    finally:
        os.umask(old)
    assert p.returncode == 0, p.stderr
    assert str(tmp_path / "dens.bin") in p.stdout + p.stderr
    assert (tmp_path / "dens.bin").exists() and not (tmp_path / "dens.bin.npy").exists()
    import numpy as np

    assert np.load(tmp_path / "dens.bin").ndim == 2
    for f in [tmp_path / "dens.bin", *(tmp_path / "o").iterdir()]:
        assert (f.stat().st_mode & 0o777) == 0o600, (f, oct(f.stat().st_mode))
