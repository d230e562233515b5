"""The Balabit Mouse Dynamics Challenge CSV: one row per RDP mouse event.

Columns: record timestamp, client timestamp, button, state, x, y. Move and
Drag rows are pointer positions; Pressed rows are clicks; button Scroll with
state Up/Down is a wheel step. Real files hold x or y of 65535 (an unsigned
-1 from the RDP stream): those rows are impossible and are dropped and counted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trackheat.canvas import Canvas
from trackheat.errors import BadInput
from trackheat.activity import timeline_stats
from trackheat.importers.base import Format, ImportedSession, ImportOptions, csv_rows, parse_float

HEADER = ["record timestamp", "client timestamp", "button", "state", "x", "y"]
BUTTONS = {"Left": "left", "Right": "right", "Middle": "middle", "XButton": "x1", "XButton1": "x1", "XButton2": "x2"}
LIMIT = 32768  # |coordinate| at or past this is not a screen position


def _detect(header: str, path: Path) -> bool:
    return [c.strip().lower() for c in header.split(",")] == HEADER


def _read(path: Path, options: ImportOptions) -> list[ImportedSession]:
    ts: list[float] = []
    xs: list[int] = []
    ys: list[int] = []
    is_move: list[bool] = []
    clicks: list[tuple[float, int, int, str]] = []
    scrolls: list[tuple[float, int, int, int, int]] = []
    dropped = 0
    header = None
    for line, row in csv_rows(path):
        if header is None:
            header = row
            continue
        if len(row) != 6:
            raise BadInput(path, f"expected 6 columns ({','.join(HEADER)}), found {len(row)}", line)
        t = parse_float(row[1], path, line, "client timestamp")
        x = parse_float(row[4], path, line, "x")
        y = parse_float(row[5], path, line, "y")
        button, state = row[2].strip(), row[3].strip()
        if not (abs(x) < LIMIT and abs(y) < LIMIT):
            dropped += 1
            continue
        xi, yi = int(x), int(y)
        if state in ("Move", "Drag"):
            kind = True
        elif state == "Pressed":
            clicks.append((t, xi, yi, BUTTONS.get(button, button.lower())))
            kind = False
        elif button == "Scroll" and state in ("Up", "Down"):
            scrolls.append((t, xi, yi, 0, 1 if state == "Up" else -1))
            kind = False
        elif state == "Released":
            kind = False
        else:
            raise BadInput(path, f"unknown button/state {button!r}/{state!r}", line)
        ts.append(t)
        xs.append(xi)
        ys.append(yi)
        is_move.append(kind)
    if header is None:
        raise BadInput(path, "empty file")
    t_arr = np.asarray(ts, np.float64)
    x_arr = np.asarray(xs, np.int64)
    y_arr = np.asarray(ys, np.int64)
    # Timestamps are seconds from the session's start; order by them (rows are
    # mostly ordered, but the RDP stream interleaves a few) before measuring gaps.
    order = np.argsort(t_arr, kind="stable")
    t_arr, x_arr, y_arr = t_arr[order], x_arr[order], y_arr[order]
    moves = np.asarray(is_move, bool)[order]
    dwell, active, idle, distance = timeline_stats(t_arr, x_arr, y_arr, options.idle_after)
    # Every event carries its position's dwell; only moves add to the count.
    canvas = Canvas.covering(x_arr, y_arr)
    import time

    start = time.time() - (float(t_arr[-1]) if len(t_arr) else 0.0)
    return [
        ImportedSession(
            source=f"mouse-dynamics:{path.name}",
            canvas=canvas,
            xs=x_arr,
            ys=y_arr,
            counts=moves.astype(np.int64),
            dwell=dwell,
            ts=start + t_arr,
            started=start,
            ended=start + (float(t_arr[-1]) if len(t_arr) else 0.0),
            clicks=[(start + t, x, y, b) for t, x, y, b in clicks],
            scrolls=[(start + t, x, y, dx, dy) for t, x, y, dx, dy in scrolls],
            distance=distance,
            active_seconds=active,
            idle_seconds=idle,
            dropped=dropped,
            # The client timestamps count from the start of the recording, not from an epoch.
            meta={"time_source": "import time (the file's timestamps are relative to its start)"},
        )
    ]


FORMATS = [Format("mouse-dynamics", ",".join(HEADER), _detect, _read)]
