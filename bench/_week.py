"""A one-week store for the viewer's benchmark: 7 days x 8 hours of realistic pointer use.

What a recorder left running for a working week writes: one session per day
(09:00-17:00 local time), counts per (period, x, y), clicks and scrolls, on a
1920x1080 desktop. Moves are strokes between targets (Fitts-like durations,
a bell-shaped speed profile, a slight curve and hand tremor, sampled at the
125 Hz of a common mouse), separated by pauses; the targets belong to five
applications, each in its own window with its own hot areas (tabs, a text
area, a terminal prompt, a sidebar), and the user switches application every
few minutes. About 2.2 million moves over ~1.8 million (period, x, y) rows:
the scale issue 12's month-long store has, cut to a week.

Not a benchmark itself (bench/run.py skips files starting with "_"):
bench/view.py builds it, and so can anyone who wants to try the viewer on
something bigger than the demo: `python bench/_week.py week.db`.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trackheat.canvas import Canvas, Rect  # noqa: E402
from trackheat.store import Store  # noqa: E402

# Hourly periods, as the week was designed (the viewer's tests count its stored periods); the
# recorder's default is a minute since issue 12.
DEFAULT_PERIOD = 3600

WIDTH, HEIGHT = 1920, 1080
DAYS, HOURS = 7, 8
RATE = 125.0  # Hz: events per second while the pointer moves
ACTIVE_SHARE = 0.11  # share of a working hour the pointer is moving (~50k moves an hour)

# name, window (x, y, w, h), hot areas inside it (x, y, w, h, weight), share of the day
APPS = [
    ("firefox", (0, 0, 1920, 1040), [(20, 8, 900, 30, 3), (200, 120, 1500, 850, 6), (1880, 120, 30, 850, 1), (60, 40, 700, 30, 2)], 0.35),
    ("code", (0, 0, 1400, 1040), [(0, 30, 48, 600, 1), (50, 30, 250, 900, 2), (320, 60, 1060, 800, 6), (320, 880, 1060, 150, 1)], 0.30),
    ("gnome-terminal", (1400, 0, 520, 1040), [(1410, 900, 500, 120, 5), (1410, 40, 500, 840, 2)], 0.15),
    ("libreoffice", (100, 60, 1600, 960), [(110, 70, 1580, 60, 3), (130, 180, 1400, 780, 5), (130, 960, 600, 40, 1)], 0.12),
    ("nautilus", (300, 150, 1100, 700), [(310, 200, 200, 600, 3), (520, 200, 870, 620, 4)], 0.08),
]


def _target(rng: np.random.Generator, app: int) -> tuple[float, float]:
    areas = APPS[app][2]
    w = np.array([a[4] for a in areas], float)
    x, y, aw, ah, _ = areas[rng.choice(len(areas), p=w / w.sum())]
    # Targets cluster inside an area (buttons, lines of text), not uniformly.
    return float(np.clip(rng.normal(x + aw / 2, aw / 4), x, x + aw - 1)), float(np.clip(rng.normal(y + ah / 2, ah / 4), y, y + ah - 1))


def hour_of_use(rng: np.random.Generator, start: float, app: int) -> tuple[dict, list, list, float, int]:
    """One hour: ({"x","y","t","app"} arrays of move events, clicks, scrolls, active seconds, last app)."""
    xs, ys, ts, apps = [], [], [], []
    clicks: list[tuple[float, int, int, str, str]] = []
    scrolls: list[tuple[float, int, int, int, int, str]] = []
    t, end = start, start + 3600.0
    px, py = _target(rng, app)
    moving = 0.0
    shares = np.array([a[3] for a in APPS])
    while t < end:
        if rng.random() < 0.01:  # switch application every ~100 strokes (a few minutes)
            app = int(rng.choice(len(APPS), p=shares))
        tx, ty = _target(rng, app)
        dist = float(np.hypot(tx - px, ty - py))
        dur = 0.12 + 0.11 * np.log2(1 + dist / 12.0)  # Fitts' law, ~0.2-0.9 s
        n = max(2, int(dur * RATE))
        s = np.linspace(0, 1, n)
        prog = s * s * (3 - 2 * s)  # bell-shaped speed profile
        bow = np.sin(np.pi * s) * rng.normal(0, 0.08) * dist  # a slight curve
        nx, ny = (-(ty - py) / (dist + 1e-9), (tx - px) / (dist + 1e-9))
        x = px + (tx - px) * prog + nx * bow + rng.normal(0, 0.6, n)
        y = py + (ty - py) * prog + ny * bow + rng.normal(0, 0.6, n)
        xs.append(x)
        ys.append(y)
        ts.append(t + s * dur)
        apps.append(np.full(n, app))
        t += dur
        moving += dur
        px, py = tx, ty
        if rng.random() < 0.55:
            clicks.append((t, int(px), int(py), "left" if rng.random() < 0.9 else "right", APPS[app][0]))
        if rng.random() < 0.08:
            scrolls.append((t, int(px), int(py), 0, int(rng.choice([-3, -1, 1, 3])), APPS[app][0]))
        t += float(rng.exponential(dur * (1 - ACTIVE_SHARE) / ACTIVE_SHARE))  # reading, typing
    x = np.clip(np.rint(np.concatenate(xs)), 0, WIDTH - 1).astype(np.int64)
    y = np.clip(np.rint(np.concatenate(ys)), 0, HEIGHT - 1).astype(np.int64)
    tt = np.concatenate(ts)
    keep = tt < end
    ev = {"x": x[keep], "y": y[keep], "t": tt[keep], "app": np.concatenate(apps)[keep]}
    dt = np.diff(ev["t"], append=ev["t"][-1])
    dt[dt > 30.0] = 0.0  # a pause past the recorder's idle threshold is idle, not dwell
    ev["dt"] = dt
    return ev, [c for c in clicks if c[0] < end], [s for s in scrolls if s[0] < end], moving, app


def aggregate(ev: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Events -> distinct (x, y) with counts and dwell (the time until the next event, 0 past the idle threshold)."""
    dt = ev["dt"]
    key = ev["y"] * WIDTH + ev["x"]
    uk, inv = np.unique(key, return_inverse=True)
    return uk % WIDTH, uk // WIDTH, np.bincount(inv).astype(np.int64), np.bincount(inv, weights=dt)


def make_week_store(path: str | Path, *, days: int = DAYS, hours: int = HOURS, seed: int = 7) -> dict:
    """Write the week into a new store at `path`; returns its totals."""
    rng = np.random.default_rng(seed)
    path = Path(path)
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)
    canvas = Canvas.desktop([Rect(0, 0, WIDTH, HEIGHT)])
    first = datetime.now().replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=days + 1)
    totals = {"moves": 0, "rows": 0, "clicks": 0, "scrolls": 0}
    app = 0
    with Store(path) as store:
        for d in range(days):
            day0 = (first + timedelta(days=d)).timestamp()
            sid = store.create_session("record", canvas, started=day0, period_seconds=DEFAULT_PERIOD)
            active = 0.0
            for h in range(hours):
                start = day0 + h * 3600
                ev, clicks, scrolls, moving, app = hour_of_use(rng, start, app)
                with store.transaction():
                    for p0 in range(int(start // DEFAULT_PERIOD) * DEFAULT_PERIOD, int(start + 3600), DEFAULT_PERIOD):
                        for a, (name, *_rest) in enumerate(APPS):
                            sel = (ev["t"] >= p0) & (ev["t"] < p0 + DEFAULT_PERIOD) & (ev["app"] == a)
                            if sel.any():
                                x, y, c, dw = aggregate({k: v[sel] for k, v in ev.items()})
                                store.add_position_arrays(sid, p0, x, y, c, dw, app=name)
                                totals["rows"] += len(x)
                    store.add_clicks(sid, clicks)
                    store.add_scrolls(sid, scrolls)
                totals["moves"] += len(ev["x"])
                totals["clicks"] += len(clicks)
                totals["scrolls"] += len(scrolls)
                active += moving
            store.update_session(sid, ended=day0 + hours * 3600, add_active=active, add_idle=hours * 3600 - active)
            store.roll_up(sid, day0 + 86400)  # the day is over: its roll-ups, as the recorder makes them
    return totals


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "week.db")
    t0 = time.monotonic()
    tot = make_week_store(out)
    print(f"{out}: {tot['moves']:,} moves in {tot['rows']:,} rows, {tot['clicks']:,} clicks, {tot['scrolls']:,} scrolls ({time.monotonic() - t0:.0f} s)")
