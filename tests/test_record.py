"""`trackheat record` and `trackheat stop`, for real: a private Xvfb, xdotool moving the pointer,
the recorder as a subprocess and the store read back afterwards.

Each test starts the real command and waits for its "recording session" line (printed once
the listener hears the pointer) before xdotool moves anything.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import ROOT, headless_env, start_xvfb, stop_xvfb, trackheat
from trackheat.store import Store

pytestmark = pytest.mark.display


class Rec:
    """A recorder subprocess whose stdout/stderr go to files (no pipe to fill up)."""

    def __init__(self, xvfb, db: Path, *args: str, ready: bool = True) -> None:
        self.out = db.with_name(f"{db.name}.{time.monotonic_ns()}.out")
        self.err = self.out.with_suffix(".err")
        with open(self.out, "w") as o, open(self.err, "w") as e:
            self.proc = subprocess.Popen([sys.executable, "-m", "trackheat", "record", "--db", str(db), *args],
                                         stdout=o, stderr=e, env=xvfb.env, cwd=ROOT)
        if ready:
            self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while "recording session" not in self.stderr:
            if self.proc.poll() is not None:
                raise AssertionError(f"recorder exited {self.proc.returncode}: {self.stderr}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"recorder not ready after {timeout} s: {self.stderr}")
            time.sleep(0.05)

    @property
    def stdout(self) -> str:
        return self.out.read_text()

    @property
    def stderr(self) -> str:
        return self.err.read_text()

    def finish(self, sig: int | None = signal.SIGTERM, timeout: float = 30) -> int:
        if sig is not None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


def moves(xvfb, points) -> None:
    """One xdotool process for a whole path (an event per step, as fast as X takes them).

    Each move waits (`--sync`, one round trip) until the server has moved the pointer:
    XTest motion events queued faster than a starved X server processes them are merged
    in its input queue (mieq keeps only the newest of consecutive motions), so under load
    a free-running path lost about one position in 500 before pynput could hear it.
    Returns once the X server has taken the last move (the pointer is there).
    """
    args: list = []
    for x, y in points:
        args += ["mousemove", "--sync", x, y]
    xvfb.xdotool(*args)
    last = tuple(points[-1])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        loc = dict(kv.split(":", 1) for kv in xvfb.xdotool("getmouselocation").split())
        if (int(loc["x"]), int(loc["y"])) == last:
            return
        time.sleep(0.02)
    raise AssertionError(f"the X server did not take the moves up to {last} within 10 s")


def stored(db: Path, sid: int | None = None) -> dict:
    with Store(db, create=False) as s:
        ids = [sid] if sid is not None else s.resolve("last")
        p = s.positions(ids)
    return {(int(x), int(y)): (int(c), float(d)) for x, y, c, d in zip(p.x, p.y, p.count, p.dwell)}


def counts(db: Path, sid: int | None = None) -> dict:
    return {k: c for k, (c, _) in stored(db, sid).items() if c}


def test_exact_positions_and_counts_then_sigterm(xvfb, db):
    """Acceptance: 500 xdotool moves, SIGTERM, exactly 500 moves at exactly those positions."""
    xvfb.xdotool("mousemove", 5, 5)
    path = [(20 + 2 * i, 30 + (i * 7) % 600) for i in range(250)]
    path = path + path  # each position twice, never twice in a row
    expected = Counter(path)
    assert len(path) == 500 and all(a != b for a, b in zip(path, path[1:]))
    rec = Rec(xvfb, db)
    moves(xvfb, path)
    assert rec.finish() == 0, rec.stderr
    assert "Traceback" not in rec.stderr
    with Store(db, create=False) as s:
        assert s.session(s.resolve("last")[0]).meta["stopped_by"] == "SIGTERM"
    assert counts(db) == dict(expected)
    st = trackheat("stats", "--db", db, "--json", check=True)
    s = json.loads(st.stdout)
    assert s["moves"] == 500 and s["positions"] == len(expected)
    # one summary line: moves, distinct positions, clicks, scrolls, duration
    summary = rec.stdout.strip().splitlines()
    assert len(summary) == 1 and f"500 moves over {len(expected)} distinct positions, 0 clicks, 0 scrolls" in summary[0]
    with Store(db, create=False) as store:
        info = store.session(store.resolve("last")[0])
        (t0, canvas), = store.layouts(info.id)
    assert info.ended is not None and info.ended >= info.started
    assert (canvas.width, canvas.height) == (xvfb.width, xvfb.height) and canvas.origin == (0, 0)
    assert info.distance and info.distance > 500  # the path zigzags over the screen
    assert not list(db.parent.glob("*.recorder-*.json")), "the pid file outlived the recorder"


def test_clicks_and_scrolls_with_button_position_direction(xvfb, db):
    rec = Rec(xvfb, db)
    t_before = time.time()
    xvfb.xdotool("mousemove", 100, 110, "click", 1, "mousemove", 200, 120, "click", 2, "mousemove", 300, 130, "click", 3,
                 "mousemove", 400, 140, "click", 4, "click", 4, "mousemove", 500, 150, "click", 5)
    t_after = time.time()
    assert rec.finish(signal.SIGINT) == 0, rec.stderr
    with Store(db, create=False) as s:
        sid = s.resolve("last")
        clicks = s.clicks(sid)
        scrolls = s.scrolls(sid)
    assert [(x, y, b) for _, x, y, b in clicks] == [(100, 110, "left"), (200, 120, "middle"), (300, 130, "right")]
    assert [(x, y, dx, dy) for _, x, y, dx, dy in scrolls] == [(400, 140, 0, 1), (400, 140, 0, 1), (500, 150, 0, -1)]
    times = [c[0] for c in clicks] + [r[0] for r in scrolls]
    assert all(t_before - 0.5 <= t <= t_after + 0.5 for t in times) and times == sorted(times)
    # clicks and scrolls are not moves
    assert counts(db) == {(100, 110): 1, (200, 120): 1, (300, 130): 1, (400, 140): 1, (500, 150): 1}
    assert "3 clicks, 3 scrolls" in rec.stdout


def test_kill_9_keeps_every_event_older_than_one_flush_interval(xvfb, db):
    xvfb.xdotool("mousemove", 5, 5)
    rec = Rec(xvfb, db, "--flush-interval", "0.5")
    early = [(10 + i, 400) for i in range(200)]
    moves(xvfb, early)
    time.sleep(2.0)  # four flush intervals
    late = [(10 + i, 500) for i in range(200)]
    moves(xvfb, late)
    assert rec.finish(signal.SIGKILL) == -signal.SIGKILL
    with Store(db, create=False) as s:
        assert s.integrity_check() == "ok"
        info = s.session(s.resolve("last")[0])
    got = counts(db)
    assert {k: got.get(k) for k in early} == {k: 1 for k in early}
    assert set(got) <= set(early) | set(late) and 200 <= info.moves <= 400
    assert info.ended is not None and info.ended - info.started >= 1.5  # advanced by every flush
    # The dead recorder's pid file is stale: --status says nothing runs and cleans it up.
    st = trackheat("record", "--status", "--db", db)
    assert st.returncode == 1 and "gone without stopping cleanly" in st.stdout and "no recorder running" in st.stdout
    assert not list(db.parent.glob("*.recorder-*.json"))


def test_kill_9_last_day_is_rolled_up_by_the_next_recorder(xvfb, db, tmp_path):
    """A recorder killed with -9 never rolls its last day up: reads stay exact (they read that day's rows),
    and the next recorder on the store rolls it up; stats and export equal the raw rows before and after."""
    import sqlite3

    xvfb.xdotool("mousemove", 5, 5)
    rec = Rec(xvfb, db, "--flush-interval", "0.5")
    moves(xvfb, [(40 + i, 300 + (i * 13) % 200) for i in range(300)])
    time.sleep(2.0)  # four flush intervals: everything is written
    assert rec.finish(signal.SIGKILL) == -signal.SIGKILL

    def raw(sid: int) -> tuple[Counter, int]:
        with sqlite3.connect(db) as c:
            got: Counter = Counter()
            for x, y, n in c.execute("SELECT x, y, count FROM positions WHERE session_id=?", (sid,)):
                got[(x, y)] += n
            rolled = c.execute("SELECT rolled_until FROM sessions WHERE id=?", (sid,)).fetchone()[0]
        return +got, rolled

    def read(sid: int) -> tuple[Counter, int, str]:
        st = json.loads(trackheat("stats", "--db", db, "--session", str(sid), "--json", check=True).stdout)
        ex = trackheat("export", "--db", db, "--session", str(sid), "-o", tmp_path / f"x{time.monotonic_ns()}", check=True).stdout
        return +Counter(counts(db, sid)), st["moves"], ex

    with Store(db, create=False) as s:
        sid = s.resolve("last")[0]
    rows, rolled = raw(sid)
    today = int(time.time()) // 86400 * 86400
    assert sum(rows.values()) >= 290 and rolled <= today  # its day is not rolled up
    got, moves_, ex = read(sid)
    assert got == rows and moves_ == sum(rows.values()) and f"{sum(rows.values()):,} moves at {len(rows):,} positions" in ex, ex

    rec2 = Rec(xvfb, db, "--flush-interval", "0.5")  # the next recorder finishes the killed session's roll-ups
    assert rec2.finish() == 0
    rows2, rolled2 = raw(sid)
    assert rows2 == rows and rolled2 > today
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT SUM(moves) FROM rollups WHERE session_id=?", (sid,)).fetchone()[0] == sum(rows.values())
    got, moves_, ex = read(sid)
    assert got == rows and moves_ == sum(rows.values()) and f"{sum(rows.values()):,} moves at {len(rows):,} positions" in ex, ex


def test_duration_ends_by_itself_with_summary_and_screenshots(xvfb, db):
    t0 = time.monotonic()
    p = trackheat("record", "--db", db, "--duration", "1.5", "--quiet", "--screenshot", "both", env=xvfb.env, timeout=60)
    elapsed = time.monotonic() - t0
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""  # --quiet: no start or status lines
    assert len(p.stdout.strip().splitlines()) == 1 and "0 moves over 0 distinct positions, 0 clicks, 0 scrolls" in p.stdout
    assert 1.5 <= elapsed < 15
    with Store(db, create=False) as s:
        info = s.session(s.resolve("last")[0])
        shots = s.screenshots(info.id)
    assert 1.4 <= info.duration < 5
    assert info.meta["stopped_by"] == "duration"
    assert [m for m, _, _ in shots] == [1, 1] and shots[0][1] < shots[1][1]
    img = cv2.imdecode(np.frombuffer(shots[1][2], np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (xvfb.height, xvfb.width, 3)


def test_stop_ends_two_background_recorders_on_one_store(xvfb, db):
    xvfb.xdotool("mousemove", 5, 5)
    a = Rec(xvfb, db)
    b = Rec(xvfb, db)  # a second recorder on the same store is its own session
    st = trackheat("record", "--status", "--db", db, "--json")
    assert st.returncode == 0
    running = json.loads(st.stdout)
    assert sorted(r["pid"] for r in running) == sorted([a.proc.pid, b.proc.pid])
    assert len({r["session"] for r in running}) == 2
    moves(xvfb, [(50 + i, 60) for i in range(30)])
    assert trackheat("stats", "--db", db, "--session", "all").returncode == 0  # readers work meanwhile
    stop = trackheat("stop", "--db", db, timeout=60)
    assert stop.returncode == 0, stop.stderr
    assert a.proc.wait(5) == 0 and b.proc.wait(5) == 0
    assert stop.stdout.count("stopped pid") == 2 and "30 moves over 30 distinct positions" in stop.stdout
    with Store(db, create=False) as s:
        infos = s.sessions()
    assert len(infos) == 2 and all(i.moves == 30 and i.ended and i.meta["stopped_by"] == "trackheat stop" for i in infos)
    assert trackheat("record", "--status", "--db", db).returncode == 1
    again = trackheat("stop", "--db", db)
    assert again.returncode == 1 and "no recorder running" in again.stderr


def test_dwell_close_to_rest_and_not_past_idle_after(xvfb, db):
    xvfb.xdotool("mousemove", 5, 5)
    rec = Rec(xvfb, db, "--idle-after", "1.5", "--flush-interval", "0.25")
    xvfb.xdotool("mousemove", 100, 100)
    time.sleep(1.0)  # a rest shorter than --idle-after: dwell
    xvfb.xdotool("mousemove", 200, 200)
    time.sleep(2.5)  # longer than --idle-after: idle, not dwell
    xvfb.xdotool("mousemove", 300, 300)
    assert rec.finish() == 0, rec.stderr
    got = stored(db)
    assert got[(100, 100)][0] == 1 and abs(got[(100, 100)][1] - 1.0) < 0.25, got
    assert got[(200, 200)] == (1, 0.0)
    with Store(db, create=False) as s:
        info = s.session(s.resolve("last")[0])
    assert 2.3 <= info.idle_seconds <= 3.5 and info.active_seconds >= 0.9


def test_periods_split_a_run_by_event_time(xvfb, db):
    rec = Rec(xvfb, db, "--period", "2", "--flush-interval", "5")
    first = [(700 + i, 100) for i in range(20)]
    moves(xvfb, first)
    t_first = time.time()
    time.sleep(2.2)
    t_second = time.time()
    second = [(700 + i, 300) for i in range(20)]
    moves(xvfb, second)
    assert rec.finish() == 0, rec.stderr  # one flush holds both periods
    with Store(db, create=False) as s:
        sid = s.resolve("last")
        info = s.session(sid[0])
        per = {}
        for p in range(int(info.started) // 2 * 2, int(info.ended) + 2, 2):
            pos = s.positions(sid, since=p, until=p + 1)
            if len(pos):
                per[p] = {(int(x), int(y)) for x, y in zip(pos.x, pos.y)} - {(5, 5)}
    assert len(per) >= 2
    for p, keys in per.items():
        if keys & set(first):
            assert p <= t_first
        if keys & set(second):
            assert p + 2 > t_second
    assert set().union(*per.values()) >= set(first) | set(second)


def resize_screen(display_name: str, width: int, height: int) -> None:
    """Change an Xvfb's screen size through RandR, as plugging in a monitor would."""
    from Xlib import display

    d = display.Display(display_name)
    try:
        root = d.screen().root
        res = root.xrandr_get_screen_resources()._data
        name = f"{width}x{height}-test"
        mode = root.xrandr_create_mode(dict(id=0, width=width, height=height, dot_clock=0, h_sync_start=0, h_sync_end=0, h_total=width,
                                            h_skew=0, v_sync_start=0, v_sync_end=0, v_total=height, name_length=len(name), flags=0), name)._data["mode"]
        d.xrandr_add_output_mode(res["outputs"][0], mode)
        res = root.xrandr_get_screen_resources()._data
        d.xrandr_set_crtc_config(res["crtcs"][0], res["config_timestamp"], 0, 0, mode, 1, [res["outputs"][0]], res["config_timestamp"])
        root.xrandr_set_screen_size(width, height, width * 254 // 960, height * 254 // 960)
        d.sync()
    finally:
        d.close()


def test_layout_change_while_recording_is_stored(db):
    x = start_xvfb()  # private: this test changes the screen size
    try:
        rec = Rec(x, db)
        resize_screen(x.display, 1024, 600)
        deadline = time.monotonic() + 15
        while "layout changed" not in rec.stderr and time.monotonic() < deadline:
            time.sleep(0.1)
        x.xdotool("mousemove", 1000, 590)
        assert rec.finish() == 0, rec.stderr
    finally:
        stop_xvfb(x)
    assert "monitor layout changed: 1 monitor(s), 1024x600" in rec.stderr
    with Store(db, create=False) as s:
        sid = s.resolve("last")[0]
        layouts = [(c.width, c.height) for _, c in s.layouts(sid)]
    assert layouts == [(1280, 720), (1024, 600)]
    assert counts(db) == {(1000, 590): 1}


def test_no_display_is_one_line_and_status_2(db):
    p = trackheat("record", "--db", db)
    assert p.returncode == 2
    assert p.stderr.startswith("trackheat record: ") and len(p.stderr.strip().splitlines()) == 1
    assert "DISPLAY" in p.stderr and "X11" in p.stderr and "Traceback" not in p.stderr
    assert not db.exists()


def test_wayland_is_one_line_and_status_2(db):
    p = trackheat("record", "--db", db, env=headless_env(WAYLAND_DISPLAY="wayland-0", XDG_SESSION_TYPE="wayland"))
    assert p.returncode == 2
    assert "Wayland" in p.stderr and len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_tally_dwell_idle_periods_and_restore_without_a_display():
    """The in-memory side on a controlled clock: exact seconds, hour boundaries, a failed flush put back."""
    from trackheat.accumulate.recorder import Tally

    now = [7190.0]  # 10 s before the 7200 period boundary
    t = Tally(idle_after=5, period=3600, start=7190.0, position=(0, 0), clock=lambda: now[0])
    now[0] = 7192.0
    t.on_move(3, 4)  # 2 s at (0, 0): dwell; 5 px
    now[0] = 7201.0
    t.on_move(3, 4)  # 9 s > idle_after: idle; the move belongs to the new period
    now[0] = 7203.5
    t.on_click(3, 4, "left", True)
    t.on_click(3, 4, "left", False)  # a release ends a gap but is not a click
    now[0] = 7204.0
    t.on_scroll(3, 4, 0, -1)
    b = t.take()
    assert [(p.period, p.counts, p.dwell) for p in b.periods] == [(3600, {(3, 4): 1}, {(0, 0): 2.0}), (7200, {(3, 4): 1}, {(3, 4): 3.0})]
    assert (b.moves, b.active, b.idle, b.distance) == (2, 5.0, 9.0, 5.0)
    assert b.clicks == [(7203.5, 3, 4, "left", None)] and b.scrolls == [(7204.0, 3, 4, 0, -1, None)]
    t.restore(b)  # a write failed: the next take() has it all again, plus what came meanwhile
    now[0] = 7205.0
    t.on_move(5, 5)
    again = t.take()
    assert sorted((p.period, sorted(p.counts.items())) for p in again.periods) == [(3600, [((3, 4), 1)]), (7200, [((3, 4), 1), ((5, 5), 1)])]
    assert again.moves == 3 and again.clicks == b.clicks and again.active == 6.0
    now[0] = 7300.0
    t.close()  # 95 s since the last event: idle, no dwell
    last = t.take()
    assert last.idle == 95.0 and not any(p.dwell for p in last.periods)


def test_the_recorder_and_the_importers_apply_the_same_dwell_rule():
    """Tally (event by event) and activity.timeline_stats (a whole timeline) give the same dwell,
    active, idle and distance for the same moves: the rule is one rule in two shapes."""
    import numpy as np

    from trackheat.accumulate.recorder import Tally
    from trackheat.activity import timeline_stats

    rng = np.random.default_rng(7)
    gaps = rng.choice([0.01, 0.2, 3.0, 12.0, 45.0], size=400)  # some longer than idle_after
    ts = 1000.0 + np.concatenate([[0.0], np.cumsum(gaps)])
    xs = rng.integers(0, 50, len(ts))
    ys = rng.integers(0, 50, len(ts))
    now = [ts[0]]
    tally = Tally(idle_after=30.0, period=10 ** 9, start=ts[0], position=None, clock=lambda: now[0])
    for t, x, y in zip(ts, xs, ys):
        now[0] = float(t)
        tally.on_move(int(x), int(y))
    b = tally.take()
    dwell, active, idle, distance = timeline_stats(ts, xs, ys, 30.0)
    per_pixel: dict = {}
    for x, y, d in zip(xs.tolist(), ys.tolist(), dwell.tolist()):
        if d:
            per_pixel[(x, y)] = per_pixel.get((x, y), 0.0) + d
    [period] = b.periods
    assert period.dwell.keys() == per_pixel.keys()
    assert all(abs(period.dwell[k] - v) < 1e-9 for k, v in per_pixel.items())
    assert abs(b.active - active) < 1e-9 and abs(b.idle - idle) < 1e-9 and abs(b.distance - distance) < 1e-9
    assert b.idle > 0 and b.active > 0  # both branches of the rule were taken
