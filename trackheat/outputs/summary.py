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


def summarize(store: Store, ids: Sequence[int], since: float | None = None, until: float | None = None,
              apps: Sequence[str | None] | None = None) -> dict:
    """The `stats` object: totals, clicks per button, hot spots and `apps` (per-application totals).

    `apps` keeps only those applications (None in it: events with no application), as export's
    and dump's `app` do, with the same error for a name the selection does not have. Idle time
    and distance are kept per session, not per application: a filtered summary leaves them out
    rather than show the whole sessions' figures as the applications'.
    """
    check_range(since, until)
    ids = list(ids)
    apps = None if apps is None else list(dict.fromkeys(apps))
    store.app_filter(ids, apps)  # an unknown application fails first, listing those the selection has
    infos = store.infos(ids)
    positions = store.positions(ids, since, until, apps)
    totals = store.app_totals(ids, since, until, apps)
    whole = since is None and until is None
    out: dict = {"sessions": ids}
    if apps is not None:
        out["only_apps"] = apps
    if whole and apps is None:
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
        out.update({
            "moves": int(positions.count.sum()),
            "positions": store.distinct_positions(ids, positions),
            "clicks": sum(a.clicks for a in totals),
            "clicks_by_button": store.clicks_by_button(ids, since, until) if apps is None else _buttons(store.clicks(ids, since, until, apps)),
            "scrolls": sum(a.scrolls for a in totals),
            "active_seconds": round(sum(a.active_seconds for a in totals), 3),
        })
        if not whole:
            r = store.time_range(ids, since, until)
            out["range"] = {"since": r.asked_since, "until": r.asked_until, "positions_since": r.since, "positions_until": r.until,
                            "resolution_seconds": r.resolution, "exact": r.exact, "text": describe_range(r)}
    out["hotspots"] = hot_spots_of(infos, positions)
    out["apps"] = [a.as_dict() for a in totals]
    return out


def _buttons(clicks: Sequence[tuple]) -> dict[str, int]:
    """Clicks per button, by button name (as the store's clicks_by_button orders them)."""
    from collections import Counter

    return dict(sorted(Counter(str(c[3]) for c in clicks).items()))
