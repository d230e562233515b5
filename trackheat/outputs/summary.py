"""Numbers about a selection of sessions, as `stats` prints them and the viewer shows them.

The totals of whole sessions come from what the store keeps at write time
(a few rows however long the sessions are); a time range is read from the
per-period rows and day roll-ups, widened to whole periods, and the result
says which range that was (`range`).
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Sequence

from trackheat.errors import UserError

if TYPE_CHECKING:
    from trackheat.store import Store, TimeRange


def _fmt(t: float) -> str:
    return _dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def describe_range(r: TimeRange) -> str:
    """One line for a time range: what was asked and, when different, what positions could cover."""
    if r.asked_since is None and r.asked_until is None:
        return "all recorded time"
    drawn = f"{_fmt(r.since) if r.since is not None else 'start'} to {_fmt(r.until) if r.until is not None else 'end'}"
    if r.exact:
        return drawn
    return (f"{drawn} (positions are stored per {r.resolution // 60} min" if r.resolution % 60 == 0 else f"{drawn} (positions are stored per {r.resolution} s") + \
        "; clicks and scrolls exactly as asked)"


def check_range(since: float | None, until: float | None) -> None:
    if since is not None and until is not None and until <= since:
        raise UserError("`until` must be later than `since`", param="until")


def hot_spots_of(infos, positions) -> list[list]:
    """[x, y, moves within a blob] of the busiest places: peaks of the density export draws
    (accumulate/peaks.py), never two pixels of one spot, never a count of zero."""
    from trackheat.accumulate.peaks import hot_spots
    from trackheat.canvas import union

    monitors = [m for s in infos for m in s.canvas.monitors]
    if not monitors or not len(positions.x):
        return []
    b = union(monitors)
    return [h.as_list() for h in hot_spots(positions.x, positions.y, positions.count, width=b.width, height=b.height, origin=(b.left, b.top))]


def summarize(store: Store, ids: Sequence[int], since: float | None = None, until: float | None = None) -> dict:
    """The `stats` object: totals, clicks per button, hot spots and `apps` (per-application totals)."""
    check_range(since, until)
    ids = list(ids)
    infos = store.infos(ids)
    positions = store.positions(ids, since, until)
    apps = store.app_totals(ids, since, until)
    whole = since is None and until is None
    out: dict = {"sessions": ids}
    if whole:
        out.update({
            "moves": sum(s.moves for s in infos),
            "positions": store.distinct_positions(ids, positions),
            "clicks": sum(s.clicks for s in infos),
            "clicks_by_button": store.clicks_by_button(ids),
            "scrolls": sum(s.scrolls for s in infos),
            "active_seconds": round(sum(s.active_seconds for s in infos), 3),
            "idle_seconds": round(sum(s.idle_seconds for s in infos), 3),
        })
        distances = [s.distance for s in infos]
        if all(d is not None for d in distances):
            out["distance_px"] = round(sum(d for d in distances if d is not None), 1)
    else:
        r = store.time_range(ids, since, until)
        out.update({
            "moves": int(positions.count.sum()),
            "positions": store.distinct_positions(ids, positions),
            "clicks": sum(a.clicks for a in apps),
            "clicks_by_button": store.clicks_by_button(ids, since, until),
            "scrolls": sum(a.scrolls for a in apps),
            "active_seconds": round(sum(a.active_seconds for a in apps), 3),
            "range": {"since": r.asked_since, "until": r.asked_until, "positions_since": r.since, "positions_until": r.until,
                      "resolution_seconds": r.resolution, "exact": r.exact, "text": describe_range(r)},
        })
    out["hotspots"] = hot_spots_of(infos, positions)
    out["apps"] = [a.as_dict() for a in apps]
    return out
