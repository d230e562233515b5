"""`trackheat view` on a store written by trackheat's schema-1 code (tests/fixtures/store_v1.py): served
read-only, the pictures and stats those of `export` and `stats` (run on a copy), and the file unchanged."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import ROOT, trackheat
from test_store_v2 import DESK, T0, v1_module
from test_view import Viewer, browser, choose, export_args, wait, wait_shown  # noqa: F401  (browser: the module's Chromium)


def fill(db: Path) -> None:
    """Two v1 sessions: a recording with clicks, scrolls and a real screenshot, and an imported log."""
    import random

    v1 = v1_module()
    rng = random.Random(3)
    with v1.Store(db) as s:
        a = s.create_session("record", DESK, started=T0 + 3600, period_seconds=3600)
        for h in range(1, 30, 3):
            s.add_counts(a, {(rng.randrange(1920), rng.randrange(1080)): rng.randrange(1, 9) for _ in range(400)},
                         {(rng.randrange(1920), rng.randrange(1080)): rng.random() for _ in range(100)}, period=T0 + h * 3600)
        s.add_clicks(a, [(T0 + 3600 + i * 977.0, rng.randrange(1920), rng.randrange(1080), "left" if i % 3 else "right") for i in range(60)])
        s.add_scrolls(a, [(T0 + 4000 + i * 1000.0, i, 2 * i, 0, -1) for i in range(7)])
        s.update_session(a, ended=T0 + 30 * 3600, add_active=1000.0, add_idle=50.0, add_distance=12345.0)
        s.add_screenshot(a, 1, (ROOT / "sample_logs" / "editor.png").read_bytes(), T0 + 3601)
        from trackheat.canvas import Canvas

        b = s.create_session("mouse-dynamics:x.csv", Canvas.image(800, 600), started=T0 + 2 * 86400, period_seconds=3600)
        s.add_counts(b, {(rng.randrange(800), rng.randrange(600)): rng.randrange(1, 5) for _ in range(300)}, period=T0 + 2 * 86400)
        s.update_session(b, ended=T0 + 2 * 86400 + 100)


def test_view_serves_a_v1_store_without_changing_it(browser, tmp_path):  # noqa: F811
    db = tmp_path / "v1.db"
    fill(db)
    copy = tmp_path / "copy" / "v1.db"  # export and stats are run on a copy: the original is the viewer's alone
    copy.parent.mkdir()
    copy.write_bytes(db.read_bytes())
    before = db.read_bytes()
    files = sorted(p.name for p in tmp_path.iterdir())
    v = Viewer(db)
    try:
        drv = browser
        drv.get(v.url)
        wait(drv, lambda d: len(d.find_elements("css selector", "#sessions tbody tr")) == 2)
        drv.find_element("css selector", "tr[data-id='2'] .pick-a").click()
        drv.find_element("css selector", "tr[data-id='1'] .pick-a").click()
        url, png = wait_shown(drv, "sessions=1&")
        out = tmp_path / f"export-{time.monotonic_ns()}"
        trackheat("export", "--db", copy, *export_args(url), "--stored-screenshot", "-o", out, check=True)
        assert png == (out / "overlay.png").read_bytes()
        assert drv.find_element("css selector", "#bg-a").text == "Drawn over: the screenshot stored with it."
        choose(drv, "#kind", "clicks")
        url, png = wait_shown(drv, "kind=clicks")
        out = tmp_path / f"export-{time.monotonic_ns()}"
        trackheat("export", "--db", copy, *export_args(url), "--stored-screenshot", "-o", out, check=True)
        assert png == (out / "overlay.png").read_bytes()
        want = json.loads(trackheat("stats", "--db", copy, "--session", "1", "--json", check=True).stdout)
        wait(drv, lambda d: json.loads(d.execute_script("return document.querySelector('#stats').dataset.json || 'null'") or "null") == want)
        assert want["moves"] > 0 and want["clicks"] == 60
        # the timeline of a v1 session: its stored periods, every move in one
        wait(drv, lambda d: d.execute_script("return state.periods.length") >= 10)
        assert drv.execute_script("return state.periods.reduce((n, p) => n + p.moves, 0)") == want["moves"]
        status, _, body = v.get(f"/api/counts.csv?sessions=1&token={v.token}")
        assert status == 200 and body.count(b"\n") > 100
    finally:
        assert v.stop() == 0, v.err.read_text()
    assert "Traceback" not in v.err.read_text()
    assert db.read_bytes() == before
    # Beside it, at most SQLite's own -shm and an empty -wal: what any reader of a WAL file leaves; nothing written.
    new = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(("view.", "export-")))
    assert set(new) - set(files) <= {"v1.db-wal", "v1.db-shm"}, new
    wal = tmp_path / "v1.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
