"""`trackheat import`: exact counts on real data, and one clear line for every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import MOUSE_DYNAMICS, ROOT, need, trackheat
from trackheat import importers
from trackheat.store import Store

EXCERPT = ROOT / "tests" / "data" / "mouse-dynamics-user12-excerpt.csv"


def count_straight(path: Path) -> dict:
    """The numbers the issue asks for, counted from the raw text with no trackheat code."""
    n = {"moves": 0, "clicks": 0, "scrolls": 0, "dropped": 0, "buttons": {}}
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    for line in lines[1:]:
        _, _, button, state, x, y = line.split(",")
        if x == "65535" or y == "65535":
            n["dropped"] += 1
        elif state in ("Move", "Drag"):
            n["moves"] += 1
        elif state == "Pressed":
            n["clicks"] += 1
            n["buttons"][button.lower()] = n["buttons"].get(button.lower(), 0) + 1
        elif button == "Scroll":
            n["scrolls"] += 1
    return n


def import_json(db: Path, *files: Path) -> list[dict]:
    out = trackheat("import", "--db", db, "--json", *files, check=True)
    return [json.loads(ln) for ln in out.stdout.splitlines()]


def test_excerpt_counts_match_the_file_and_stats_agree(db):
    want = count_straight(EXCERPT)
    assert want["dropped"] == 4 and want["clicks"] == 46 and want["scrolls"] == 18  # the excerpt has all kinds
    [got] = import_json(db, EXCERPT)
    assert {k: got[k] for k in ("moves", "clicks", "scrolls", "dropped")} == {k: want[k] for k in ("moves", "clicks", "scrolls", "dropped")}
    stats = json.loads(trackheat("stats", "--db", db, "--session", str(got["session"]), "--json", check=True).stdout)
    assert stats["moves"] == want["moves"]
    assert stats["clicks"] == want["clicks"]
    assert stats["clicks_by_button"] == {"left": want["buttons"]["left"]}
    assert stats["scrolls"] == want["scrolls"]
    assert stats["positions"] <= stats["moves"] and stats["positions"] > 0
    assert len(stats["hotspots"]) == 5 and stats["hotspots"][0][2] >= stats["hotspots"][-1][2]
    assert stats["distance_px"] > 0


@pytest.mark.parametrize("name", sorted(p.name for p in MOUSE_DYNAMICS.glob("*.csv")) or ["missing"])
def test_every_real_session_counts_exactly(name):
    path = need(MOUSE_DYNAMICS / name)
    want = count_straight(path)
    [s] = importers.read(path)
    assert (s.moves, len(s.clicks), len(s.scrolls), s.dropped) == (want["moves"], want["clicks"], want["scrolls"], want["dropped"])
    assert s.canvas.width <= 1920 and s.canvas.height <= 1080  # the 65535 rows did not stretch the canvas


def test_real_session_with_glitches_through_the_command(db):
    path = need(MOUSE_DYNAMICS / "user7_session_9017095287.csv")
    want = count_straight(path)
    [got] = import_json(db, path)
    assert got["dropped"] == want["dropped"] == 3
    assert (got["moves"], got["clicks"], got["scrolls"]) == (want["moves"], want["clicks"], want["scrolls"])
    stats = json.loads(trackheat("stats", "--db", db, "--json", check=True).stdout)
    assert (stats["moves"], stats["clicks"], stats["scrolls"]) == (want["moves"], want["clicks"], want["scrolls"])


def test_dwell_and_idle_from_timestamps(tmp_path, db):
    f = tmp_path / "s.csv"
    f.write_text(
        "record timestamp,client timestamp,button,state,x,y\n"
        "0,0,NoButton,Move,10,10\n"
        "2,2.0,NoButton,Move,20,10\n"  # rested 2 s at (10,10)
        "100,100.0,NoButton,Move,30,10\n"  # 98 s gap: idle, not dwell
        "101,100.5,Left,Pressed,30,10\n"
    )
    [s] = importers.read(f)
    with Store(db) as st:
        [sid] = st.save_imported([s])
        p = st.positions([sid])
        dwell = {(int(x), int(y)): float(d) for x, y, d in zip(p.x, p.y, p.dwell)}
        info = st.session(sid)
    assert dwell[(10, 10)] == pytest.approx(2.0)
    assert dwell[(20, 10)] == 0.0
    assert dwell[(30, 10)] == pytest.approx(0.5)
    assert info.active_seconds == pytest.approx(2.5) and info.idle_seconds == pytest.approx(98.0)
    assert info.distance == pytest.approx(20.0)


def test_positions_json_both_shapes_and_plain_csv(tmp_path, db):
    a = tmp_path / "a.json"
    a.write_text(json.dumps({"10,20": 3, "-5,7": 2}))
    b = tmp_path / "b.json"
    b.write_text(json.dumps([[10, 20, 4], [1, 1, 1]]))
    c = tmp_path / "c.csv"
    c.write_text("x,y,count\n10,20,5\n3,4,1\n")
    d = tmp_path / "d.csv"
    d.write_text("x,y\n10,20\n10,20\n")
    got = import_json(db, a, b, c, d)
    assert [g["moves"] for g in got] == [5, 5, 6, 2]
    stats = json.loads(trackheat("stats", "--db", db, "--session", "all", "--json", check=True).stdout)
    assert stats["hotspots"][0] == [10, 20, 3 + 4 + 5 + 2]
    assert stats["moves"] == 18


BAD = {
    "missing": (None, "no such file", None),
    "empty": ("", "empty file", None),
    "blank": ("\n\n  \n", "empty file", None),
    "header": ("when,where\n1,2\n", "unknown format", 1),
    "nonnumeric": ("x,y,count\n1,2,3\n4,five,6\n", "y is not a number: 'five'", 3),
    "md-nonnumeric": ("record timestamp,client timestamp,button,state,x,y\n0,0,NoButton,Move,1,2\n0.1,zz,NoButton,Move,1,2\n", "client timestamp is not a number", 3),
    "columns": ("x,y\n1,2\n3\n", "expected 2 columns, found 1", 3),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary data", None),
    "latin1": (b"x,y\n1,2\n3,\xe94\n", "not UTF-8", 3),
    "json": ('{"1,2": 3,\n "4,5": }\n', "invalid JSON", 2),
    "json-key": ('{"1;2": 3}', "is not \"x,y\"", 1),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_exit_2_and_nothing_imported(case, tmp_path, db):
    content, message, line = BAD[case]
    f = tmp_path / (f"{case}.json" if case.startswith("json") else f"{case}.csv")
    if content is not None:
        f.write_bytes(content if isinstance(content, bytes) else content.encode())
    good = tmp_path / "good.csv"
    good.write_text("x,y\n1,1\n")
    out = trackheat("import", "--db", db, good, f)  # the good file first: it must not land either
    assert out.returncode == 2, out
    assert out.stdout == ""
    err = out.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert str(f) in err and message in err, err
    if line is not None:
        assert f"{f}:{line}:" in err, err
    if db.exists():
        with Store(db) as s:
            assert s.sessions() == []


def test_unknown_header_points_at_the_formats_listing(tmp_path, db):
    f = tmp_path / "odd.csv"
    f.write_text("a,b,c\n1,2,3\n")
    err = trackheat("import", "--db", db, f).stderr
    assert "'a', 'b', 'c'" in err and "trackheat import --formats" in err
    listing = trackheat("import", "--formats", check=True).stdout
    for name in ("mouse-dynamics", "positions-json", "csv"):
        assert name in listing


def test_forced_format_that_does_not_fit(tmp_path, db):
    f = tmp_path / "p.csv"
    f.write_text("x,y\n1,2\n")
    out = trackheat("import", "--db", db, "--format", "nonsense", f)
    assert out.returncode == 2 and "unknown format 'nonsense'" in out.stderr
