"""The activity rules every source of pointer data follows, so a recording and an import agree.

Dwell: the time from one event to the next belongs to the earlier event's
position; a gap longer than `idle_after` is idle time instead (the user was
away, not hovering). The recorder applies it event by event
(accumulate.recorder.Tally), importers to whole timelines at once
(`timeline_stats`); tests/test_record.py checks the two agree.
"""

from __future__ import annotations

import numpy as np

from trackheat.defaults import IDLE_AFTER, PERIOD

__all__ = ["IDLE_AFTER", "PERIOD", "timeline_stats"]


def timeline_stats(ts: np.ndarray, xs: np.ndarray, ys: np.ndarray, idle_after: float = IDLE_AFTER) -> tuple[np.ndarray, float, float, float]:
    """From time-ordered events: dwell per event, active and idle seconds, distance.

    The gap after an event is that event's position's dwell, unless it is longer
    than `idle_after`, when it counts as idle time instead (the recorder's rule).
    """
    n = len(ts)
    dwell = np.zeros(n, np.float64)
    if n < 2:
        return dwell, 0.0, 0.0, 0.0
    gaps = np.diff(ts)
    gaps = np.clip(gaps, 0.0, None)
    active = gaps <= idle_after
    dwell[:-1] = np.where(active, gaps, 0.0)
    dist = float(np.sum(np.hypot(np.diff(xs), np.diff(ys))))
    return dwell, float(gaps[active].sum()), float(gaps[~active].sum()), dist
