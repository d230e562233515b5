"""Session management, re-imports, honest time ranges and `dump`, through the real command."""

from __future__ import annotations

import json
import sqlite3
import time

import numpy as np
import pytest

from conftest import ROOT, trackheat
from trackheat.canvas import Canvas, Rect
from trackheat.store import Store

LOGS = sorted((ROOT / "sample_logs").glob("*.csv"))


def snapshot(db) -> dict:
    """Everything a command could have changed, table by table."""
    with sqlite3.connect(db) as c:
        return {t: c.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                for t in ("sessions", "positions", "clicks", "scrolls", "session_apps", "rollups", "apps")}


@pytest.fixture
def three(db):
    trackheat("import", "--db", db, *LOGS, check=True)
    return db


def test_reimport_is_refused_unless_again(three):
    before = snapshot(three)
    out = trackheat("import", "--db", three, LOGS[1], check=True)
    assert "already imported as session 2; nothing imported" in out.stdout
    assert snapshot(three) == before
    trackheat("import", "--db", three, "--again", LOGS[1], check=True)
    with Store(three) as s:
        assert [i.id for i in s.sessions()] == [1, 2, 3, 4]
        assert s.session(4).moves == s.session(2).moves
        assert "import time" in s.session(4).meta["time_source"]  # mouse-dynamics times are relative: said so


def test_rename_is_shown_everywhere(three, tmp_path):
    trackheat("sessions", "--db", three, "rename", "2", "my editor", check=True)
    assert '"my editor"' in trackheat("sessions", "--db", three, check=True).stdout
    assert json.loads(trackheat("sessions", "--db", three, "--json", check=True).stdout)[1]["name"] == "my editor"
    assert trackheat("stats", "--db", three, "--session", "2", check=True).stdout.startswith('session 2 "my editor":')
    from trackheat.outputs.export import export_session

    with Store(three) as s:
        info = s.infos([2])[0]
    assert info.label == 'session 2 "my editor"'
    with Store(three) as s:
        r = export_session(s, tmp_path / "out", session="2")
    assert r.heatmap.exists()


def test_merge_then_export_equals_export_of_both(three, tmp_path):
    trackheat("export", "--db", three, "--session", "1,3", "--density", tmp_path / "both.npy", "-o", tmp_path / "both", check=True)
    stats_before = json.loads(trackheat("stats", "--db", three, "--session", "1,3", "--json", check=True).stdout)
    out = trackheat("sessions", "--db", three, "merge", "1", "3", "--name", "browse+sheet", check=True)
    assert "merged 3 into session 1" in out.stdout
    trackheat("export", "--db", three, "--session", "1", "--density", tmp_path / "merged.npy", "-o", tmp_path / "merged", check=True)
    assert np.array_equal(np.load(tmp_path / "both.npy"), np.load(tmp_path / "merged.npy"))
    after = json.loads(trackheat("stats", "--db", three, "--session", "1", "--json", check=True).stdout)
    for k in ("moves", "positions", "clicks", "clicks_by_button", "scrolls", "active_seconds", "hotspots", "apps"):
        assert after[k] == stats_before[k], k
    assert [s["id"] for s in json.loads(trackheat("sessions", "--db", three, "--json", check=True).stdout)] == [1, 2]


def test_delete_is_one_transaction(three):
    before = snapshot(three)
    bad = trackheat("sessions", "--db", three, "delete", "2", "9", "--yes")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "no session 9" in bad.stderr
    assert snapshot(three) == before
    trackheat("sessions", "--db", three, "delete", "1", "3", "--yes", check=True)
    with Store(three) as s:
        assert [i.id for i in s.sessions()] == [2]
    after = snapshot(three)
    assert {r[0] for r in after["positions"]} == {2} and {r[1] for r in after["clicks"]} == {2}


def test_dump_round_trips_through_pandas_to_stats(three, tmp_path):
    import pandas as pd  # the test extra installs it, with pyarrow

    stats = json.loads(trackheat("stats", "--db", three, "--session", "all", "--json", check=True).stdout)
    for fmt in ("parquet", "csv"):
        out = tmp_path / f"counts.{fmt}"
        trackheat("dump", "--db", three, "--session", "all", "--format", fmt, "-o", out, check=True)
        read = pd.read_parquet if fmt == "parquet" else pd.read_csv
        df = read(out)
        assert list(df.columns) == ["session", "period_start", "app", "x", "y", "count", "dwell"]
        assert int(df["count"].sum()) == stats["moves"]
        assert int((df.groupby(["x", "y"])["count"].sum() > 0).sum()) == stats["positions"]
        assert round(float(df["dwell"].sum()), 3) == pytest.approx(stats["active_seconds"], abs=0.01)
        clicks = read(out.with_name(f"counts.clicks.{fmt}"))
        assert len(clicks) == stats["clicks"] and clicks["button"].value_counts().to_dict() == stats["clicks_by_button"]
        assert len(read(out.with_name(f"counts.scrolls.{fmt}"))) == stats["scrolls"]
    trackheat("dump", "--db", three, "--session", "2", "--format", "json", "-o", tmp_path / "j.json", check=True)
    js = json.loads((tmp_path / "j.json").read_text())
    assert sum(r["count"] for r in js["positions"]) == json.loads(trackheat("stats", "--db", three, "--session", "2", "--json", check=True).stdout)["moves"]


def test_since_on_a_ten_minute_recording_draws_the_last_minutes_and_says_so(db, tmp_path):
    now = time.time()
    with Store(db) as s:
        sid = s.create_session("record", Canvas.desktop([Rect(0, 0, 800, 600)]), started=now - 600, period_seconds=60)
        for k in range(10):  # one minute each, 10 minutes up to now, 10*(k+1) moves at x = 50 k
            p = int((now - 600 + 60 * k) // 60 * 60)
            s.add_position_arrays(sid, p, [50 * k + 10], [100], [10 * (k + 1)], [1.0], app="Code")
        s.update_session(sid, ended=now)
        rows = {int(p): int(c) for p, c in s._db.execute("SELECT period, count FROM positions")}
    out = trackheat("export", "--db", db, "--since", "2m", "-o", tmp_path / "two", check=True)
    cut = now - 120
    expected = sum(c for p, c in rows.items() if p + 60 > cut)
    assert f"moves: {expected:,} moves" in out.stdout or f"{expected:,} moves" in out.stdout, out.stdout
    assert "range:" in out.stdout and ("per 1 min" in out.stdout or "to end" in out.stdout)
    st = json.loads(trackheat("stats", "--db", db, "--since", "2m", "--json", check=True).stdout)
    assert st["moves"] == expected and st["range"]["positions_since"] <= cut
    assert st["apps"] == [{"app": "Code", "moves": expected, "clicks": 0, "scrolls": 0, "active_seconds": float(len([p for p in rows if p + 60 > cut]))}]


@pytest.mark.parametrize("args", [
    ("stats", "--session", "9"),
    ("export", "--session", "9", "-o", "OUT"),
    ("export", "--app", "nope", "-o", "OUT"),
    ("dump", "--app", "nope", "-o", "OUT/x.csv"),
    ("dump", "-o", "/proc/nope/x.csv"),
    ("dump", "--since", "yesterday-ish", "-o", "OUT/x.csv"),
    ("stats", "--since", "2h", "--until", "3h"),
    ("sessions", "rename", "9", "x"),
    ("sessions", "merge", "1", "9"),
    ("sessions", "merge", "2"),
    ("record", "--period", "0", "--duration", "1"),
])
def test_every_bad_input_is_one_line_and_changes_nothing(three, tmp_path, args):
    before = snapshot(three)
    args = [str(tmp_path / "out") if a == "OUT" else a.replace("OUT", str(tmp_path)) for a in args]
    r = trackheat(*args[:1], "--db", three, *args[1:])
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert snapshot(three) == before
