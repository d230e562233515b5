"""Schema 2: migration of a real v1 file, roll-ups that agree with their rows, applications,
time ranges, and session management (delete, rename, merge)."""

from __future__ import annotations

import importlib.util
import json
import random
import sqlite3
import sys

import numpy as np
import pytest

from conftest import ROOT
from trackheat.canvas import Canvas, Rect
from trackheat.errors import UserError
from trackheat.store import DAY, SCHEMA_VERSION, Store

DESK = Canvas.desktop([Rect(0, 0, 1920, 1080)])
T0 = 1_700_000_000 // DAY * DAY  # a UTC midnight


def v1_module():
    """trackheat/store.py as of the commit before schema 2 (tests/fixtures/store_v1.py, verbatim)."""
    spec = importlib.util.spec_from_file_location("store_v1", ROOT / "tests" / "fixtures" / "store_v1.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["store_v1"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


class Counts(dict):
    """{(x, y): (count, dwell)}; equal when the keys and counts are and dwell agrees to 0.1 ms
    (roll-ups keep dwell as float32: 7 significant digits)."""

    def __eq__(self, other) -> bool:
        return self.keys() == other.keys() and all(self[k][0] == other[k][0] and abs(self[k][1] - other[k][1]) <= 1e-4 for k in self)

    __hash__ = None  # type: ignore[assignment]


def as_dict(p) -> Counts:
    return Counts({(int(x), int(y)): (int(c), float(d)) for x, y, c, d in zip(p.x, p.y, p.count, p.dwell)})


def brute(db, ids, since=None, until=None, apps=None) -> dict:
    """Positions straight from the rows with plain SQL: what every read must agree with."""
    with sqlite3.connect(db) as c:
        out: dict = {}
        for sid in ids:
            plen = c.execute("SELECT period_seconds FROM sessions WHERE id=?", (sid,)).fetchone()[0]
            q = "SELECT x, y, count, dwell, app, period FROM positions WHERE session_id=?"
            for x, y, n, d, a, p in c.execute(q, (sid,)):
                if since is not None and p + plen <= since or until is not None and p >= until:
                    continue
                if apps is not None:
                    name = c.execute("SELECT name FROM apps WHERE id=?", (a,)).fetchone() if a else None
                    if (name[0] if name else None) not in apps:
                        continue
                o = out.setdefault((x, y), [0, 0.0])
                o[0] += n
                o[1] += d
    return Counts({k: (c, d) for k, (c, d) in out.items() if c or d})


def fill_v1(db):
    """A v1 store written by the v1 code: two sessions over three days, clicks, scrolls, a layout, a screenshot."""
    v1 = v1_module()
    rng = random.Random(1)
    with v1.Store(db) as s:
        a = s.create_session("record", DESK, started=T0 + 3600, period_seconds=3600)
        for h in range(1, 60, 7):  # 1 h .. 2.5 days
            s.add_counts(a, {(rng.randrange(1920), rng.randrange(1080)): rng.randrange(1, 9) for _ in range(50)},
                         {(rng.randrange(1920), rng.randrange(1080)): rng.random() for _ in range(20)}, period=T0 + h * 3600)
        s.add_clicks(a, [(T0 + 3600 + i * 977.0, i, i, "left" if i % 3 else "right") for i in range(40)])
        s.add_scrolls(a, [(T0 + 4000 + i * 1000.0, i, 2 * i, 0, -1) for i in range(7)])
        s.update_session(a, ended=T0 + 60 * 3600, add_active=1000.0, add_idle=50.0, add_distance=12345.0)
        s.add_layout(a, Canvas.desktop([Rect(0, 0, 1920, 1080), Rect(1920, 0, 1280, 1024)]), T0 + 7200)
        s.add_screenshot(a, 1, b"\x89PNG v1", T0 + 3601)
        b = s.create_session("mouse-dynamics:x.csv", Canvas.image(800, 600), started=T0 + 5 * DAY, period_seconds=3600)
        s.add_counts(b, {(5, 5): 3, (6, 5): 1}, {(5, 5): 1.5}, period=T0 + 5 * DAY)
        s.update_session(b, ended=T0 + 5 * DAY + 100)
        before = {i.id: i for i in s.sessions()}
        pos = {sid: as_dict(s.positions([sid])) for sid in before}
        ranged = as_dict(s.positions([a], since=T0 + DAY, until=T0 + DAY + 5 * 3600))
        clicks = s.clicks([a])
    return v1, before, pos, ranged, clicks


def test_v1_file_migrates_in_place_with_every_count_kept(db):
    v1, before, pos, ranged, clicks = fill_v1(db)
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == 1
    with Store(db) as s:
        after = {i.id: i for i in s.sessions()}
        assert after.keys() == before.keys()
        for sid, old in before.items():
            new = s.session(sid)
            for f in ("source", "kind", "started", "ended", "active_seconds", "idle_seconds", "distance", "period_seconds", "canvas", "meta",
                      "moves", "positions", "clicks", "scrolls"):
                assert getattr(new, f) == getattr(old, f), (sid, f)
            assert after[sid].moves == old.moves and after[sid].clicks == old.clicks
            assert as_dict(s.positions([sid])) == pos[sid]
        a = min(before)
        assert as_dict(s.positions([a], since=T0 + DAY, until=T0 + DAY + 5 * 3600)) == ranged
        assert s.clicks([a]) == clicks
        assert s.screenshots(a) == [(1, T0 + 3601, b"\x89PNG v1")]
        assert len(s.layouts(a)) == 2
        assert [t.as_dict() for t in s.app_totals([a])] == [{"app": None, "moves": before[a].moves, "clicks": 40, "scrolls": 7,
                                                              "active_seconds": round(sum(d for _, d in pos[a].values()), 3)}]
        assert s.integrity_check() == "ok"
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        # The finished days were rolled up during the migration.
        assert c.execute("SELECT COUNT(DISTINCT day) FROM rollups WHERE session_id=?", (min(before),)).fetchone()[0] == 3
    # An older trackheat refuses the newer file instead of writing into it.
    with pytest.raises(UserError, match="newer trackheat"):
        v1.Store(db)


def test_rollups_agree_with_rows_for_any_range_and_app(db):
    rng = random.Random(7)
    with Store(db) as s:
        sid = s.create_session("record", DESK, started=T0, period_seconds=600)
        for k in range(0, 4 * DAY, 1800):  # four days, a period every half hour
            for app in ("Firefox", "Code", None):
                pts = {(rng.randrange(0, 200), rng.randrange(0, 100)): rng.randrange(1, 5) for _ in range(30)}
                xs, ys = zip(*pts)
                s.add_position_arrays(sid, T0 + k, xs, ys, list(pts.values()), [rng.random() for _ in pts], app=app)
            s.roll_up(sid, T0 + k)  # what the recorder does at every flush
        assert as_dict(s.positions([sid])) == brute(db, [sid])
        for _ in range(25):
            a = T0 + rng.uniform(-DAY, 5 * DAY)
            b = a + rng.uniform(60, 3 * DAY)
            apps = rng.choice([None, ["Code"], ["Firefox", None]])
            assert as_dict(s.positions([sid], since=a, until=b, apps=apps)) == brute(db, [sid], a, b, apps), (a, b, apps)
        # A late write into a rolled-up day (a clock stepped back) rebuilds that day.
        s.add_position_arrays(sid, T0 + 600, [1], [1], [1000], [0.0], app="Code")
        assert as_dict(s.positions([sid], apps=["Code"])) == brute(db, [sid], apps=["Code"])
        assert as_dict(s.positions([sid], until=T0 + DAY)) == brute(db, [sid], until=T0 + DAY)


def test_time_range_says_what_is_drawn(db):
    with Store(db) as s:
        sid = s.create_session("record", DESK, started=T0, period_seconds=600)
        r = s.time_range([sid], T0 + 125, T0 + 1300)
        assert (r.since, r.until, r.resolution, r.exact) == (T0, T0 + 1800, 600, False)
        assert s.time_range([sid], T0 + 600, T0 + 1200).exact


def test_app_totals_and_unknown_app(db):
    with Store(db) as s:
        sid = s.create_session("record", DESK, started=T0, period_seconds=600)
        s.add_position_arrays(sid, T0, [1, 2], [1, 2], [3, 4], [0.5, 0.25], app="Code")
        s.add_position_arrays(sid, T0 + 600, [1], [1], [10], [2.0], app="Firefox")
        s.add_clicks(sid, [(T0 + 1.0, 1, 1, "left", "Code"), (T0 + 700.0, 1, 1, "left", "Firefox"), (T0 + 701.0, 1, 1, "right", "Firefox")])
        s.add_scrolls(sid, [(T0 + 2.0, 1, 1, 0, 1, "Code")])
        assert [t.as_dict() for t in s.app_totals([sid])] == [
            {"app": "Firefox", "moves": 10, "clicks": 2, "scrolls": 0, "active_seconds": 2.0},
            {"app": "Code", "moves": 7, "clicks": 1, "scrolls": 1, "active_seconds": 0.75}]
        assert [t.as_dict() for t in s.app_totals([sid], since=T0 + 600)] == [{"app": "Firefox", "moves": 10, "clicks": 2, "scrolls": 0, "active_seconds": 2.0}]
        assert as_dict(s.positions([sid], apps=["Code"])) == {(1, 1): (3, 0.5), (2, 2): (4, 0.25)}
        assert len(s.clicks([sid], apps=["Firefox"])) == 2
        with pytest.raises(UserError, match="no application 'vim'.*it has: Code, Firefox"):
            s.positions([sid], apps=["vim"])
        assert s.session(sid).moves == 17 and s.session(sid).clicks == 3


def test_delete_rename_merge(db):
    with Store(db) as s:
        a = s.create_session("record", DESK, started=T0, period_seconds=600)
        b = s.create_session("record", Canvas.desktop([Rect(1920, 0, 1280, 1024)]), started=T0 + DAY, period_seconds=3600)
        c = s.create_session("record", DESK, started=T0 + 2 * DAY)
        s.add_position_arrays(a, T0, [1, 2], [1, 2], [3, 4], [0.5, 0.25], app="Code")
        s.add_position_arrays(b, T0 + DAY, [1, 2000], [1, 5], [5, 1], [1.0, 0.0], app="Firefox")
        s.add_clicks(b, [(T0 + DAY + 5.0, 2000, 5, "left", "Firefox")])
        s.update_session(a, ended=T0 + 100, add_active=10.0)
        s.update_session(b, ended=T0 + DAY + 50, add_active=5.0)
        s.roll_up(a, T0 + 3 * DAY)
        both = as_dict(s.positions([a, b]))
        s.rename_session(b, "browser")
        assert s.session(b).name == "browser" and s.session(b).label == 'session 2 "browser"'
        with pytest.raises(UserError):
            s.rename_session(b, "two\nlines")
        s.merge_sessions(a, [b], name="week")
        m = s.session(a)
        assert as_dict(s.positions([a])) == both == brute(db, [a])
        assert (m.moves, m.clicks, m.name, m.period_seconds, m.started, m.ended, m.active_seconds) == (13, 1, "week", 3600, T0, T0 + DAY + 50, 15.0)
        assert Rect(1920, 0, 1280, 1024) in m.canvas.monitors
        assert {t.app: t.moves for t in s.app_totals([a])} == {"Code": 7, "Firefox": 6}
        assert [i.id for i in s.sessions()] == [a, c]
        with pytest.raises(UserError, match="no session 99"):
            s.delete_sessions([c, 99])
        assert [i.id for i in s.sessions()] == [a, c]  # one transaction: nothing deleted
        s.delete_sessions([a, c])
        assert s.sessions() == []
    with sqlite3.connect(db) as con:
        for table in ("positions", "clicks", "session_apps", "rollups", "layouts"):
            assert con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table


def test_month_positions_equal_rows_and_are_dense_merged(db):
    """Many roll-ups (30 days x 3 apps) merge into the same totals as the rows."""
    rng = np.random.default_rng(3)
    with Store(db) as s:
        sid = s.create_session("record", DESK, started=T0, period_seconds=600)
        for day in range(30):
            for app in ("a", "b", "c"):
                x = rng.integers(0, 1920, 500)
                y = rng.integers(0, 1080, 500)
                key = np.unique(x * 2000 + y)
                s.add_position_arrays(sid, T0 + day * DAY + 3600, key // 2000, key % 2000, np.ones(len(key), np.int64), np.full(len(key), 0.5), app=app)
            s.roll_up(sid, T0 + (day + 1) * DAY)
        p = s.positions([sid])
        assert as_dict(p) == brute(db, [sid])
        assert int(p.count.sum()) == s.session(sid).moves


def test_v1_file_is_read_as_it_is_without_writing(db, tmp_path):
    """Every command that only reads takes a v1 file as it is: same counts as the v1 code, the file's bytes unchanged,
    still schema 1 (an older trackheat keeps using it); a writable v1 file is not upgraded by a read either."""
    from conftest import trackheat

    v1, before, pos, ranged, clicks = fill_v1(db)
    a = min(before)
    raw = db.read_bytes()
    for readonly_file in (False, True):
        if readonly_file:
            db.chmod(0o400)
        with Store(db, readonly=True) as s:
            assert s.readonly and s.schema == 1
            got = {i.id: i for i in s.sessions()}
            assert got.keys() == before.keys()
            for sid, old in before.items():
                new = s.session(sid)
                for f in ("source", "started", "ended", "active_seconds", "period_seconds", "canvas", "meta", "moves", "positions", "clicks", "scrolls"):
                    assert getattr(new, f) == getattr(old, f), (sid, f)
                assert got[sid].moves == old.moves and got[sid].clicks == old.clicks and got[sid].scrolls == old.scrolls
                assert as_dict(s.positions([sid])) == pos[sid]
            assert as_dict(s.positions([a], since=T0 + DAY, until=T0 + DAY + 5 * 3600)) == ranged
            assert as_dict(s.positions([a], apps=[None])) == pos[a]
            assert s.clicks([a]) == clicks
            assert s.apps([a]) == [None]
            assert [t.as_dict() for t in s.app_totals([a])] == [{"app": None, "moves": before[a].moves, "clicks": 40, "scrolls": 7,
                                                                  "active_seconds": round(sum(d for _, d in pos[a].values()), 3)}]
            assert sum(t.clicks for t in s.app_totals([a], since=T0 + DAY)) == sum(1 for c in clicks if c[0] >= T0 + DAY)
            with pytest.raises(UserError, match="no application 'Code'"):
                s.positions([a], apps=["Code"])
            with pytest.raises(UserError, match="readonly.*nothing was written"):
                s.delete_session(a)
        # The commands themselves (sessions, stats, export, dump) on the v1 file.
        out = tmp_path / f"out{int(readonly_file)}"
        listed = json.loads(trackheat("sessions", "--db", db, "--json", check=True).stdout)
        assert [(r["id"], r["moves"], r["clicks"]) for r in listed] == [(i.id, i.moves, i.clicks) for i in before.values()]
        st = json.loads(trackheat("stats", "--db", db, "--session", str(a), "--json", check=True).stdout)
        assert (st["moves"], st["clicks"]) == (before[a].moves, 40)
        p = trackheat("export", "--db", db, "--session", str(max(before)), "-o", out, check=True)  # session 1's screenshot is no real PNG
        assert "4 moves at 2 positions" in p.stdout and (out / "overlay.png").stat().st_size > 0, p.stdout
        trackheat("dump", "--db", db, "--session", "all", "--format", "csv", "-o", out / "rows.csv", check=True)
        assert db.read_bytes() == raw
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
            assert c.execute("PRAGMA user_version").fetchone()[0] == 1
    db.chmod(0o600)
    with v1.Store(db) as s:  # the older trackheat still opens it
        assert len(s.sessions()) == len(before)
    # A newer schema is refused in one line, read-only or not.
    with sqlite3.connect(db) as c:
        c.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    for args in (("sessions",), ("stats",), ("export", "-o", tmp_path / "x")):
        p = trackheat(*args, "--db", db)
        assert p.returncode == 2 and "newer trackheat" in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_totals_agree_with_rows_for_every_session_and_after_changes(db):
    """The cross-session totals (a month of `--session all` in one blob per application) equal the rows,
    for any range and application, after a late write, a delete and a merge; a change of the roll-ups they
    did not see (another trackheat) makes them unused, never wrong."""
    rng = random.Random(3)
    with Store(db) as s:
        ids = []
        for k in range(3):
            sid = s.create_session("record", DESK, started=T0 + k * DAY, period_seconds=600)
            ids.append(sid)
            for t in range(0, DAY + DAY // 2, 3600):
                for app in ("Firefox", None) if k else ("Code",):
                    pts = {(rng.randrange(0, 300), rng.randrange(0, 200)): rng.randrange(1, 5) for _ in range(40)}
                    s.add_position_arrays(sid, T0 + k * DAY + t, *zip(*pts), list(pts.values()), [rng.random() for _ in pts], app=app)
                s.roll_up(sid, T0 + k * DAY + t)
            s.finish_rollups(sid)
        blobs, ranges = s._plan(ids, None, None, None)
        assert s._totals_current() and blobs and all(b[0] is None for b in blobs) and all(lo >= T0 + DAY for _, lo, _ in ranges)
        assert as_dict(s.positions(ids)) == brute(db, ids)
        moves_only = s.positions(ids, dwell=False)  # a map of moves: the same counts, dwell not read
        assert {k: c for k, (c, _) in as_dict(moves_only).items() if c} == {k: c for k, (c, _) in brute(db, ids).items() if c}
        assert not moves_only.dwell.any()
        for _ in range(12):
            a = rng.choice([None, T0 - DAY, T0 + rng.uniform(0, 3 * DAY)])
            b = rng.choice([None, T0 + 9 * DAY, T0 + rng.uniform(DAY, 5 * DAY)])
            if a is not None and b is not None and b <= a:
                continue
            apps = rng.choice([None, ["Code"], ["Firefox", None]])
            assert as_dict(s.positions(ids, since=a, until=b, apps=apps)) == brute(db, ids, a, b, apps), (a, b, apps)
            assert as_dict(s.positions(ids[1:], since=a, until=b, apps=None)) == brute(db, ids[1:], a, b)
        s.add_position_arrays(ids[0], T0 + 600, [7], [7], [500], [1.0], app="Code")  # a late write into a rolled-up day
        assert s._totals_current() and as_dict(s.positions(ids)) == brute(db, ids)
        s.delete_sessions([ids[1]])
        ids.remove(ids[1])
        assert s._totals_current() and as_dict(s.positions(ids)) == brute(db, ids)
        s.merge_sessions(ids[0], [ids[1]])
        assert s._totals_current() and as_dict(s.positions(ids[:1])) == brute(db, ids[:1])
        sid = s.create_session("record", DESK, started=T0 + 20 * DAY, period_seconds=600)
        s.add_position_arrays(sid, T0 + 20 * DAY, [1, 2], [3, 4], [5, 6], [0.5, 0.5], app="Code")  # running: rows, no roll-up
        both = [ids[0], sid]
        assert s._plan(both, None, None, None)[0][0][0] is None  # totals plus the running session's rows
        assert as_dict(s.positions(both)) == brute(db, both)
    with sqlite3.connect(db) as c:  # a roll-up changed behind the totals' back
        c.execute("UPDATE rollups SET dwell = dwell WHERE rowid = (SELECT MIN(rowid) FROM rollups)")
    with Store(db, readonly=True) as s:
        assert not s._totals_current() and s._plan(both, None, None, None)[0][0][0] is not None
        assert as_dict(s.positions(both)) == brute(db, both)
