"""The store: counts add up, negative coordinates survive, WAL lets readers and writers share."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap

import pytest

from trackheat.canvas import Canvas, Rect
from trackheat.errors import UserError
from trackheat.store import SCHEMA_VERSION, Store

DESK = Canvas.desktop([Rect(-1920, 0, 1920, 1080), Rect(0, 0, 2560, 1440)])


def as_dict(p) -> dict:
    return {(int(x), int(y)): (int(c), float(d)) for x, y, c, d in zip(p.x, p.y, p.count, p.dwell)}


def test_counts_add_up_across_batches_and_sessions(db):
    with Store(db) as s:
        a = s.create_session("test", DESK)
        b = s.create_session("test", DESK)
        s.add_counts(a, {(10, 20): 3, (-500, 7): 2}, {(10, 20): 1.5})
        s.add_counts(a, {(10, 20): 4}, {(10, 20): 0.25, (-500, 7): 2.0})
        s.add_positions(b, [(10, 20, 5, 0.5)])
        assert as_dict(s.positions([a])) == {(10, 20): (7, 1.75), (-500, 7): (2, 2.0)}
        assert as_dict(s.positions([a, b])) == {(10, 20): (12, 2.25), (-500, 7): (2, 2.0)}
        assert s.session(a).moves == 9 and s.session(a).positions == 2
        assert s.hotspots([a, b], 1) == [[10, 20, 12]]


def test_negative_coordinates_and_canvas_round_trip(db):
    with Store(db) as s:
        sid = s.create_session("test", DESK)
        s.add_counts(sid, {(-1920, -5): 1})
        info = s.session(sid)
    assert info.canvas == DESK
    assert info.canvas.origin == (-1920, 0)
    assert info.canvas.width == 4480 and info.canvas.height == 1440
    with Store(db) as s:
        p = s.positions([sid])
    assert (p.x[0], p.y[0]) == (-1920, -5)


def test_periods_select_time_ranges(db):
    with Store(db) as s:
        sid = s.create_session("test", DESK, started=7200, period_seconds=3600)
        s.add_counts(sid, {(1, 1): 1}, period=7200)
        s.add_counts(sid, {(2, 2): 1}, period=10800)
        assert len(s.positions([sid])) == 2
        assert as_dict(s.positions([sid], since=10800)) == {(2, 2): (1, 0.0)}
        assert as_dict(s.positions([sid], until=10800)) == {(1, 1): (1, 0.0)}


def test_clicks_scrolls_screenshots_layouts(db):
    with Store(db) as s:
        sid = s.create_session("test", DESK, started=100.0)
        s.add_clicks(sid, [(101.0, 5, 6, "left"), (102.0, -7, 8, "right"), (103.0, 1, 1, "left")])
        s.add_scrolls(sid, [(104.0, 3, 4, 0, -1)])
        s.add_screenshot(sid, 1, b"\x89PNG fake", t=105.0)
        s.add_layout(sid, Canvas.desktop([Rect(0, 0, 800, 600)]), t=106.0)
        assert s.clicks([sid], since=101.5) == [(102.0, -7, 8, "right"), (103.0, 1, 1, "left")]
        assert s.clicks_by_button([sid]) == {"left": 2, "right": 1}
        assert s.scrolls([sid]) == [(104.0, 3, 4, 0, -1)]
        assert s.screenshots(sid) == [(1, 105.0, b"\x89PNG fake")]
        layouts = s.layouts(sid)
        assert len(layouts) == 2 and layouts[-1][1].monitors == (Rect(0, 0, 800, 600),)
        # The session's canvas grows to hold every layout seen, so export knows every position.
        assert Rect(0, 0, 800, 600) in s.session(sid).canvas.monitors


def test_file_is_private_and_versioned(db):
    Store(db).close()
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_is_refused_not_clobbered(db):
    Store(db).close()
    with sqlite3.connect(db) as c:
        c.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(UserError, match="newer trackheat"):
        Store(db)


def test_not_a_store(tmp_path):
    bad = tmp_path / "junk.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UserError, match="not a trackheat store"):
        Store(bad)


def test_transaction_is_all_or_nothing(db):
    with Store(db) as s:
        with pytest.raises(RuntimeError):
            with s.transaction():
                sid = s.create_session("test", DESK)
                s.add_counts(sid, {(1, 1): 1})
                raise RuntimeError("boom")
        assert s.sessions() == []


def test_reader_sees_committed_data_while_writer_holds_file(db):
    """WAL: a reader in another process reads while a writer holds an open write transaction."""
    with Store(db) as w:
        sid = w.create_session("test", DESK)
        w.add_counts(sid, {(1, 2): 3})
        with w.transaction():
            w.add_counts(sid, {(1, 2): 100})  # not committed yet
            code = textwrap.dedent(f"""
                from trackheat.store import Store
                s = Store({str(db)!r}, create=False)
                print(int(s.positions([{sid}]).count.sum()))
            """)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, out.stderr
            assert out.stdout.strip() == "3"
        assert int(w.positions([sid]).count.sum()) == 103


def test_two_writers_on_one_file_both_succeed(db):
    """Two processes writing 200 batches each at the same time: both finish, nothing lost."""
    Store(db).close()
    code = textwrap.dedent(f"""
        import sys
        from trackheat.canvas import Canvas
        from trackheat.store import Store
        s = Store({str(db)!r})
        sid = s.create_session("writer", Canvas.image(100, 100))
        for i in range(200):
            s.add_counts(sid, {{(i % 10, int(sys.argv[1])): 1}})
        print(sid)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in (1, 2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    with Store(db) as s:
        assert sorted(i.moves for i in s.sessions()) == [200, 200]
        assert s.integrity_check() == "ok"
