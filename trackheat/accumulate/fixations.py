"""Fixations from gaze samples: I-VT and I-DT, vectorised with numpy.

Heatmaps of eye-tracking studies are drawn from fixations (Pupil Cloud,
Tobii Pro Lab, PyGazeAnalyser); files that carry only samples get them here.

- I-VT (velocity threshold), as Tobii's I-VT fixation filter does it
  (Olsen 2012, "The Tobii I-VT Fixation Filter"): the velocity of each
  sample over a 20 ms window, samples under 30 deg/s are fixation samples,
  runs of them are fixations; neighbours less than 75 ms and 0.5 deg apart
  are merged, and fixations under 60 ms discarded.
- I-DT (dispersion threshold), Salvucci & Goldberg 2000: a window of at
  least the minimum duration (100 ms) whose dispersion
  D = (max x - min x) + (max y - min y) is at most the threshold (1 deg)
  starts a fixation, which grows while D stays under it; else the window
  moves on by one sample.

Positions are pixels and times seconds. Thresholds are given in degrees and
converted with the recording's pixels per degree when it is known (EyeLink
writes it); otherwise DEFAULT_PX_PER_DEGREE stands in (35 px/deg: a 24-inch
1920x1080 display seen from ~65 cm), which makes the I-VT default 1050 px/s
and the I-DT default 35 px. Samples further apart than MAX_GAP (a blink, lost
tracking) never share a fixation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trackheat.defaults import IDT_DISPERSION, IDT_MIN_FIXATION, IVT_MIN_FIXATION, IVT_VELOCITY
from trackheat.defaults import PX_PER_DEGREE as DEFAULT_PX_PER_DEGREE

IVT_WINDOW = 0.020  # s, velocity window (Tobii I-VT)
IVT_MIN_DURATION = IVT_MIN_FIXATION
MERGE_GAP = 0.075  # s (Tobii I-VT: merge adjacent fixations closer in time ...)
MERGE_ANGLE = 0.5  # deg (... and in space)
IDT_MIN_DURATION = IDT_MIN_FIXATION
MAX_GAP = 0.075  # s: a longer gap between samples ends any fixation
METHODS = ("ivt", "idt")
MODES = ("file", "none", "ivt", "idt")  # what a gaze map is drawn from: the file's fixations, its samples, or fixations found here


@dataclass
class Fixations:
    """Detected fixations: sample index range (inclusive), start time and duration (s), centroid (px)."""

    start: np.ndarray
    end: np.ndarray
    t: np.ndarray
    duration: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.start)


def _prepare(t, x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    t = np.asarray(t, np.float64)
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if not (len(t) == len(x) == len(y)):
        raise ValueError("t, x and y must have the same length")
    if len(t) > 1 and (np.diff(t) < 0).any():
        raise ValueError("samples must be in time order")
    if not (np.isfinite(t).all() and np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("samples must be finite (drop missing ones first)")
    gaps = np.diff(t)
    ok = gaps[(gaps > 0) & (gaps <= MAX_GAP)]
    period = float(np.median(ok)) if len(ok) else 0.0
    return t, x, y, period


def _segments(t: np.ndarray, max_gap: float) -> tuple[np.ndarray, np.ndarray]:
    """For each sample, the first and last index of its run without a gap over max_gap."""
    n = len(t)
    idx = np.arange(n)
    brk = np.zeros(n, bool)
    if n > 1:
        brk[1:] = np.diff(t) > max_gap
    brk[:1] = True
    first = np.maximum.accumulate(np.where(brk, idx, 0))
    last_flag = np.zeros(n, bool)
    last_flag[:-1] = brk[1:]
    last_flag[-1:] = True
    last = np.minimum.accumulate(np.where(last_flag, idx, n)[::-1])[::-1]
    return first, last


def _centroids(x: np.ndarray, y: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cx = np.concatenate(([0.0], np.cumsum(x)))
    cy = np.concatenate(([0.0], np.cumsum(y)))
    k = (end - start + 1).astype(np.float64)
    return (cx[end + 1] - cx[start]) / k, (cy[end + 1] - cy[start]) / k


def _result(t, x, y, start, end, period) -> Fixations:
    start = np.asarray(start, np.int64)
    end = np.asarray(end, np.int64)
    fx, fy = _centroids(x, y, start, end) if len(start) else (np.zeros(0), np.zeros(0))
    return Fixations(start, end, t[start], t[end] - t[start] + period, fx, fy)


def ivt(t, x, y, *, velocity: float, window: float = IVT_WINDOW, min_duration: float = IVT_MIN_DURATION,
        merge_gap: float = MERGE_GAP, merge_distance: float = 0.0, max_gap: float = MAX_GAP) -> Fixations:
    """I-VT: `velocity` in px/s, `merge_distance` in px (0: no merging), times in s."""
    t, x, y, period = _prepare(t, x, y)
    n = len(t)
    if n < 2:
        return _result(t, x, y, [], [], period)
    first, last = _segments(t, max_gap)
    idx = np.arange(n)
    a = np.searchsorted(t, t - window / 2, side="left")
    b = np.searchsorted(t, t + window / 2, side="right") - 1
    a = np.maximum(np.minimum(a, idx - 1), first)  # at least the neighbours, never across a gap
    b = np.minimum(np.maximum(b, idx + 1), last)
    dt = t[b] - t[a]
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.hypot(x[b] - x[a], y[b] - y[a]) / dt
    slow = np.where(dt > 0, v < velocity, True) & (b > a)
    begin = slow & (~np.concatenate(([False], slow[:-1])) | (first == idx))
    finish = slow & (~np.concatenate((slow[1:], [False])) | (last == idx))
    start, end = np.flatnonzero(begin), np.flatnonzero(finish)
    if len(start) > 1 and merge_gap > 0 and merge_distance > 0:
        fx, fy = _centroids(x, y, start, end)
        gap = t[start[1:]] - t[end[:-1]]
        near = np.hypot(fx[1:] - fx[:-1], fy[1:] - fy[:-1]) <= merge_distance
        join = (gap <= merge_gap) & near
        if join.any():
            group = np.concatenate(([0], np.cumsum(~join)))
            heads = np.flatnonzero(np.concatenate(([True], ~join)))
            tails = np.concatenate((heads[1:] - 1, [len(start) - 1]))
            # The merged centroid is the mean of the member fixations' samples (not of the saccade between).
            k = (end - start + 1).astype(np.float64)
            sx, sy = fx * k, fy * k
            gx = np.add.reduceat(sx, heads) / np.add.reduceat(k, heads)
            gy = np.add.reduceat(sy, heads) / np.add.reduceat(k, heads)
            start, end = start[heads], end[tails]
            del group
            dur = t[end] - t[start] + period
            keep = dur >= min_duration
            return Fixations(start[keep], end[keep], t[start][keep], dur[keep], gx[keep], gy[keep])
    dur = t[end] - t[start] + period
    keep = dur >= min_duration
    return _result(t, x, y, start[keep], end[keep], period)


def _range_extents(x: np.ndarray, y: np.ndarray, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(max x, min x, max y, min y) over each [i, j], by a sparse table built level by level.

    Each level's tables replace the previous one's, so memory stays at a few
    copies of x and y however long the windows are.
    """
    length = j - i + 1
    if len(i):
        lo_len, hi_len = int(length.min()), int(length.max())
        if lo_len > 1 and hi_len - lo_len <= 2:  # regular sampling: windows of one length, give or take a rounding
            return _sliding_extents(x, y, i, j, lo_len)
    hx, lx, hy, ly = (np.empty(len(i)) for _ in range(4))
    level = np.zeros(len(i), np.int64)
    if len(i):
        level = np.floor(np.log2(np.maximum(length, 1))).astype(np.int64)
        level = np.where((1 << (level + 1)) <= length, level + 1, level)  # guard float rounding
        level = np.where((1 << level) > length, level - 1, level)
    mx, mn, my, mny = x.copy(), x.copy(), y.copy(), y.copy()
    top = int(level.max()) if len(i) else -1
    for k in range(top + 1):
        sel = np.flatnonzero(level == k)
        if len(sel):
            a, b = i[sel], j[sel] - (1 << k) + 1
            hx[sel], lx[sel] = np.maximum(mx[a], mx[b]), np.minimum(mn[a], mn[b])
            hy[sel], ly[sel] = np.maximum(my[a], my[b]), np.minimum(mny[a], mny[b])
        if k < top:
            h = 1 << k
            mx = np.maximum(mx[:-h], mx[h:])
            mn = np.minimum(mn[:-h], mn[h:])
            my = np.maximum(my[:-h], my[h:])
            mny = np.minimum(mny[:-h], mny[h:])
    return hx, lx, hy, ly


def _sliding(a: np.ndarray, w: int, ufunc) -> np.ndarray:
    """ufunc (maximum or minimum) over every window a[i : i + w], van Herk / Gil-Werman: three passes, any w."""
    n = len(a)
    m = -(-n // w) * w
    fill = -np.inf if ufunc is np.maximum else np.inf
    flat = np.full(m, fill)
    flat[:n] = a
    blocks = flat.reshape(-1, w)
    prefix = ufunc.accumulate(blocks, axis=1).ravel()
    suffix = ufunc.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    return ufunc(suffix[: n - w + 1], prefix[w - 1 : n])


def _sliding_extents(x: np.ndarray, y: np.ndarray, i: np.ndarray, j: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """_range_extents when every window holds w to w + 2 samples (regular sampling: the usual case).

    Windows of w samples from sliding extremes; the one or two samples a
    longer window has beyond them are folded in one by one.
    """
    out = [_sliding(x, w, np.maximum)[i], _sliding(x, w, np.minimum)[i], _sliding(y, w, np.maximum)[i], _sliding(y, w, np.minimum)[i]]
    for extra in (1, 2):
        more = np.flatnonzero(j - i + 1 >= w + extra)
        if len(more):
            k = i[more] + w + extra - 1
            out[0][more] = np.maximum(out[0][more], x[k])
            out[1][more] = np.minimum(out[1][more], x[k])
            out[2][more] = np.maximum(out[2][more], y[k])
            out[3][more] = np.minimum(out[3][more], y[k])
    return out[0], out[1], out[2], out[3]


def _range_dispersion(x: np.ndarray, y: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """(max - min) of x plus (max - min) of y over each [i, j]."""
    hx, lx, hy, ly = _range_extents(x, y, i, j)
    return (hx - lx) + (hy - ly)


def _grow_together(x: np.ndarray, y: np.ndarray, starts: np.ndarray, ends: np.ndarray, stops: np.ndarray, extents, dispersion: float,
                   steps: int) -> np.ndarray:
    """Grow many fixations at once, one sample per step, vectorised across them.

    `ends` are windows known to fit (their extents given); each grows while
    the dispersion stays at most `dispersion` and the end stays <= its stop.
    Returns the final ends, or -1 where a fixation was still growing after
    `steps` samples (the caller finishes those one by one).
    """
    e = ends.copy()
    hx, lx, hy, ly = (a.copy() for a in extents)
    live = np.flatnonzero(e < stops)
    for _ in range(steps):
        if not len(live):
            break
        k = e[live] + 1
        nhx, nlx = np.maximum(hx[live], x[k]), np.minimum(lx[live], x[k])
        nhy, nly = np.maximum(hy[live], y[k]), np.minimum(ly[live], y[k])
        fits = (nhx - nlx) + (nhy - nly) <= dispersion
        grow = live[fits]
        e[grow] = k[fits]
        hx[grow], lx[grow], hy[grow], ly[grow] = nhx[fits], nlx[fits], nhy[fits], nly[fits]
        live = grow[e[grow] < stops[grow]]
    e[live] = -1
    return e


def idt(t, x, y, *, dispersion: float, min_duration: float = IDT_MIN_DURATION, max_duration: float | None = None,
        max_gap: float = MAX_GAP) -> Fixations:
    """I-DT (Salvucci & Goldberg 2000): `dispersion` in px (D = x extent + y extent), times in s.

    `max_duration` (None: unbounded) splits long fixations as Pupil Player's
    detector does (its default is 220 ms), for comparing with its output.
    """
    t, x, y, period = _prepare(t, x, y)
    n = len(t)
    if n == 0:
        return _result(t, x, y, [], [], period)
    first, last = _segments(t, max_gap)
    idx = np.arange(n)
    # The smallest window from each sample spanning min_duration (a sample stands for one period).
    j = np.searchsorted(t, t + (min_duration - period) - 1e-9, side="left")
    j = np.maximum(j, idx)
    inside = j <= last
    jc = np.minimum(j, n - 1)
    ok = inside.copy()
    cand = np.flatnonzero(inside)
    ext = _range_extents(x, y, cand, jc[cand])
    fit = (ext[0] - ext[1]) + (ext[2] - ext[3]) <= dispersion
    ok[cand] = fit
    nxt = np.minimum.accumulate(np.where(ok, idx, n)[::-1])[::-1]  # first window start at or after each index
    cap = np.inf if max_duration is None else max_duration - period + 1e-9
    # Most fixations start where a run of fitting windows starts (after a saccade): grow all of those
    # together, a sample per step across all of them; the rest (and very long ones) grow one by one below.
    head = ok & ~np.concatenate(([False], ok[:-1]))
    pick = np.flatnonzero(head[cand] & fit)
    heads = cand[pick]
    stops = last[heads]
    if max_duration is not None:
        stops = np.minimum(stops, np.searchsorted(t, t[heads] + cap, side="right") - 1)
    steps = int(min(max(4 * int(np.median(jc[heads] - heads + 1)) if len(heads) else 0, 64), 1024))
    grown = np.full(n, -1, np.int64)
    grown[heads] = _grow_together(x, y, heads, np.maximum(jc[heads], heads), stops, tuple(a[pick] for a in ext), dispersion, steps)
    xy = np.column_stack((x, y))
    # Scalar reads from the arrays (a few per fixation) beat converting four million-element arrays to lists.
    tl, nl, jl, ll = t, nxt, jc, last
    starts: list[int] = []
    ends: list[int] = []
    p = 0
    while p < n:
        s = int(nl[p])
        if s >= n:
            break
        if grown[s] >= 0:
            e = int(grown[s])
            starts.append(s)
            ends.append(e)
            p = e + 1
            continue
        e = int(jl[s])
        stop = int(ll[s])
        if max_duration is not None:
            stop = min(stop, int(np.searchsorted(t, tl[s] + cap, side="right")) - 1)
        # Grow [s, e] while the dispersion stays under the threshold, a chunk at a time.
        if e < stop:
            # The first chunk runs from s itself (the window is known to fit; its running extent comes for free).
            chunk = max(3 * (e - s + 1), 16)  # most fixations last a few minimum windows: one chunk usually ends it
            end = min(stop, e + chunk)
            seg = xy[s : end + 1]
            run_hi = np.maximum.accumulate(seg, axis=0)
            run_lo = np.minimum.accumulate(seg, axis=0)
            over = (run_hi - run_lo).sum(axis=1)[e - s + 1 :] > dispersion
            k = int(np.argmax(over))
            if over[k]:
                e += k
                stop = e  # done
            else:
                e = end
                hi, lo = run_hi[-1], run_lo[-1]
                chunk *= 2
            while e < stop:
                seg = xy[e + 1 : min(stop, e + chunk) + 1]
                run_hi = np.maximum(np.maximum.accumulate(seg, axis=0), hi)
                run_lo = np.minimum(np.minimum.accumulate(seg, axis=0), lo)
                d = (run_hi - run_lo).sum(axis=1)
                k = int(np.argmax(d > dispersion))
                if d[k] > dispersion:
                    e += k
                    break
                e += len(seg)
                hi, lo = run_hi[-1], run_lo[-1]
                chunk *= 2
        starts.append(s)
        ends.append(e)
        p = e + 1
    return _result(t, x, y, starts, ends, period)


def detect(method: str, t, x, y, *, px_per_degree: float | None = None, velocity: float | None = None, dispersion: float | None = None,
           min_duration: float | None = None, **overrides) -> Fixations:
    """I-VT or I-DT with the documented defaults; `velocity` (deg/s) and `dispersion` (deg) are converted to pixels."""
    ppd = float(px_per_degree or DEFAULT_PX_PER_DEGREE)
    if method == "ivt":
        kw = {"velocity": (velocity or IVT_VELOCITY) * ppd, "merge_distance": MERGE_ANGLE * ppd, "min_duration": IVT_MIN_DURATION if min_duration is None else min_duration}
        kw.update(overrides)
        return ivt(t, x, y, **kw)
    if method == "idt":
        kw = {"dispersion": (dispersion or IDT_DISPERSION) * ppd, "min_duration": IDT_MIN_DURATION if min_duration is None else min_duration}
        kw.update(overrides)
        return idt(t, x, y, **kw)
    raise ValueError(f"unknown fixation detection method {method!r} (expected one of {', '.join(METHODS)})")


def detect_sessions(sessions, method: str, *, px_per_degree: float | None = None, weight: str | None = None, velocity: float | None = None,
                    dispersion: float | None = None, min_duration: float | None = None) -> list:
    """Gaze-sample sessions -> fixation sessions (others pass through unchanged).

    Each fixation becomes one point at its centroid, weighed by its duration,
    exactly as a file's own fixations are; the session's meta says how it was
    found (`points`: "fixations (I-VT)", `px_per_degree_used`, `samples`);
    they weigh by duration unless `weight` says otherwise.
    Pixels per degree: the session's own (EyeLink's RES, the Pupil Core and
    Neon cameras), else the argument, else DEFAULT_PX_PER_DEGREE.
    """
    import dataclasses

    if method not in METHODS:
        raise ValueError(f"unknown fixation detection method {method!r} (expected one of {', '.join(METHODS)})")
    out = []
    for s in sessions:
        if s.kind != "gaze" or s.meta.get("points") != "gaze samples":
            out.append(s)
            continue
        if s.ts is None:
            raise ValueError(f"{s.source}: samples without times: fixations cannot be detected")
        ppd = float(s.meta.get("px_per_degree") or px_per_degree or DEFAULT_PX_PER_DEGREE)
        t = np.asarray(s.ts, np.float64)
        order = np.argsort(t, kind="stable")
        x = np.asarray(s.xs, np.float64)[order] + 0.5  # a stored pixel is the square [i, i+1): its centre
        y = np.asarray(s.ys, np.float64)[order] + 0.5
        t = t[order]
        f = detect(method, t - t[0] if len(t) else t, x, y, px_per_degree=ppd, velocity=velocity, dispersion=dispersion, min_duration=min_duration)
        b = s.canvas.bounds
        fx = np.clip(np.floor(f.x), b.left, b.left + b.width - 1).astype(np.int64)
        fy = np.clip(np.floor(f.y), b.top, b.top + b.height - 1).astype(np.int64)
        meta = {**s.meta, "points": f"fixations ({'I-VT' if method == 'ivt' else 'I-DT'})", "weight": weight or "duration",
                "default_weight": "duration", "samples": int(len(t)), "px_per_degree_used": round(ppd, 3)}
        out.append(dataclasses.replace(s, xs=fx, ys=fy, counts=np.ones(len(f), np.int64), dwell=f.duration.copy(),
                                       ts=(t[0] + f.t) if len(t) else None, active_seconds=float(f.duration.sum()), meta=meta))
    return out


def apply_mode(path, sessions: list, mode: str | None, weight: str | None = None, **thresholds) -> list:
    """What `mode` asks of one file's gaze sessions: its own fixations ("file"), its samples ("none"),
    or fixations detected in its samples ("ivt", "idt"); None takes the file as it was read.

    A file that cannot give what is asked is a UserError about `fixations`.
    `thresholds`: px_per_degree, velocity (deg/s), dispersion (deg), min_duration (s); None: the defaults.
    """
    from trackheat.errors import UserError

    if mode is None:
        return sessions
    if mode not in MODES:
        raise UserError(f"expected one of {', '.join(MODES)}, got {mode!r}", param="fixations")
    gaze = [s for s in sessions if s.kind == "gaze"]
    has_samples = all(s.meta.get("points") == "gaze samples" for s in gaze)
    if mode == "file" and gaze and has_samples:
        raise UserError(f"{path}: gaze samples only, no fixations of its own (detect them: ivt or idt)", param="fixations")
    if mode in ("none", "ivt", "idt") and gaze and not has_samples:
        raise UserError(f"{path}: holds fixations, not gaze samples (use its own: file)", param="fixations")
    if mode in METHODS:
        return detect_sessions(sessions, mode, weight=weight, **thresholds)
    return sessions
