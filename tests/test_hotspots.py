"""`stats` hot spots are separate blobs with real counts, not neighbouring pixels of one spot."""

from __future__ import annotations

import json
import math

import numpy as np

from trackheat.accumulate.peaks import hot_spots
from trackheat.canvas import Canvas, Rect
from trackheat.store import Store

from conftest import trackheat


def test_neighbouring_pixels_are_one_spot_and_zero_counts_never_show(tmp_path):
    db = tmp_path / "s.db"
    st = Store(db)
    sid = st.create_session("test", Canvas((Rect(0, 0, 1280, 720),)), started=1.79e9)
    rng = np.random.default_rng(1)
    counts = {}
    for cx, cy, n in [(269, 54, 400), (900, 500, 250), (600, 300, 120)]:  # three places, each a tight cluster
        for x, y in zip(rng.normal(cx, 2, n).round().astype(int), rng.normal(cy, 2, n).round().astype(int)):
            counts[(int(x), int(y))] = counts.get((int(x), int(y)), 0) + 1
    counts[(1200, 700)] = 0  # a row with no move (dwell only, or cut short by kill -9)
    st.add_counts(sid, counts, {(1200, 700): 30.0})
    st.close()
    spots = json.loads(trackheat("stats", "--db", db, "--json", check=True).stdout)["hotspots"]
    assert len(spots) == 3 and all(c > 0 for _, _, c in spots)
    sigma = math.hypot(1280, 720) / 100
    for i, a in enumerate(spots):
        for b in spots[i + 1:]:
            assert math.hypot(a[0] - b[0], a[1] - b[1]) >= 2 * sigma
    assert math.hypot(spots[0][0] - 269, spots[0][1] - 54) < 4 and spots[0][2] > 300
    assert [c for _, _, c in spots] == sorted((c for _, _, c in spots), reverse=True)


def test_hot_spots_follow_the_canvas_origin():
    xs, ys = np.array([-500, -500, 100]), np.array([-20, -20, 50])
    spots = hot_spots(xs, ys, None, width=1000, height=200, origin=(-600, -50), n=5)
    assert (spots[0].x, spots[0].y, spots[0].count) == (-500, -20, 2.0)
    assert hot_spots(xs, ys, np.zeros(3), width=1000, height=200, origin=(-600, -50)) == []
