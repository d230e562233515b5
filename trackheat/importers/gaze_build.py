"""From parsed gaze columns to `ImportedSession`s: the rules every gaze format shares.

Kept in one place so every format answers the same questions the same way:
which rows count (skipped: no usable sample; dropped: a sample off the
reference), how normalized coordinates become pixels, what a sample or a
fixation weighs, and how a file holding several recordings splits up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trackheat.canvas import Canvas
from trackheat.errors import BadInput, UserError
from trackheat.importers.base import ImportedSession, ImportOptions

NEON_SCENE = (1600, 1200)  # Neon scene camera, px
CORE_WORLD = (1280, 720)  # Pupil Core world camera default, px
# Pixels per degree of those cameras, for fixation detection in degrees: Neon's scene camera is
# 1600 px over 103 deg; Pupil Core's world camera at 1280x720, measured on the Pupil tutorial
# recording's 3-D gaze (angle between gaze_point_3d vectors vs. norm_pos distance): 14.1
# (its nominal 99 x 53 deg field gives 12.9 and 13.6).
NEON_PX_PER_DEGREE = 15.5
CORE_PX_PER_DEGREE = 14.1
GAP_LIMIT = 0.1  # s; a longer gap between gaze samples is lost tracking, not dwell
REFERENCE_NAMES = ("reference_image.jpeg", "reference_image.jpg", "reference_image.png")


@dataclass
class Points:
    """One file's points before they are split into sessions.

    xs/ys are pixels (or 0..1 when `normalized`); `skip` marks rows with no
    usable sample; `t` is seconds (epoch when `epoch`, else any clock);
    `duration` is seconds per fixation (None for gaze samples).
    """

    xs: np.ndarray
    ys: np.ndarray
    skip: np.ndarray | None = None
    t: np.ndarray | None = None
    epoch: bool = False
    t0: float = 0.0  # epoch seconds of t == 0 when `epoch` (t stays small: float64 keeps microseconds)
    duration: np.ndarray | None = None
    group: np.ndarray | None = None  # row -> index into `labels`
    labels: list[str] | None = None


def reference_size(path: Path, options: ImportOptions, default: tuple[int, int] | None, what: str) -> tuple[int, int]:
    """The pixel space of a file: --reference-size, else a reference image beside it, else the device default."""
    if options.reference_size:
        return options.reference_size
    if default:
        return default
    for name in REFERENCE_NAMES:
        ref = path.parent / name
        if ref.exists():
            size = image_size(ref)
            if size:
                return size
    raise UserError(f"{path}: {what}; give `reference_size` WIDTHxHEIGHT (or a `reference` image)")


def image_size(path: Path) -> tuple[int, int] | None:
    import cv2

    from trackheat.imagesize import check_image

    size = check_image(path)  # from the header; refused past the pixel limit before decoding
    if size is not None:
        return size
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        return None
    return int(img.shape[1]), int(img.shape[0])


def sample_dwell(t: np.ndarray) -> tuple[np.ndarray, float]:
    """Seconds each gaze sample stands for: the gap to the next one.

    Gaps over GAP_LIMIT (blinks, lost tracking) and the last sample get the
    median interval instead, so a sample always weighs about one period.
    """
    n = len(t)
    if n == 0:
        return np.zeros(0), 0.0
    if n == 1:
        return np.zeros(1), 0.0
    gaps = np.diff(t)
    ok = (gaps >= 0) & (gaps <= GAP_LIMIT)
    typical = float(np.median(gaps[ok])) if ok.any() else 0.0
    dwell = np.empty(n)
    dwell[:-1] = np.where(ok, gaps, typical)
    dwell[-1] = typical
    return dwell, float(dwell.sum())


def build(path: Path, fmt: str, points: Points, size: tuple[int, int], options: ImportOptions, *, normalized: bool = False, flip_y: bool = False, space: str = "scene camera") -> list[ImportedSession]:
    """Apply the shared rules and split into one session per recording."""
    w, h = int(size[0]), int(size[1])
    if w <= 0 or h <= 0:
        raise UserError(f"{path}: reference size must be positive, got {w}x{h}")
    xs = np.asarray(points.xs, np.float64)
    ys = np.asarray(points.ys, np.float64)
    n = len(xs)
    skip = ~(np.isfinite(xs) & np.isfinite(ys))
    if points.skip is not None:
        skip |= points.skip
    if points.duration is not None:
        skip |= ~np.isfinite(points.duration)
    if normalized:
        # (1 - 0.9) * 200 is 19.999999999999996: nudge by a millionth of a pixel so
        # round-looking inputs land on the pixel they name.
        px = xs * w
        py = (1.0 - ys) * h if flip_y else ys * h
        nudge = 1e-6
    else:
        px, py = xs, ys
        nudge = 0.0
    # A pixel (i, j) holds [i, i+1) x [j, j+1); the far edges belong to the last pixel.
    with np.errstate(invalid="ignore"):
        inside = (px >= 0) & (px <= w) & (py >= 0) & (py <= h)
    drop = ~skip & ~inside
    use = ~skip & inside
    ix = np.zeros(n, np.int64)
    iy = np.zeros(n, np.int64)
    ix[use] = np.minimum(np.floor(px[use] + nudge), w - 1).astype(np.int64)
    iy[use] = np.minimum(np.floor(py[use] + nudge), h - 1).astype(np.int64)

    fixations = points.duration is not None
    default_weight = "duration" if fixations else "count"
    weight = options.weight or default_weight
    groups = [np.arange(n)] if points.group is None else [np.flatnonzero(points.group == g) for g in range(len(points.labels or []))]
    labels: list[str | None] = list(points.labels or [])
    if points.group is None and not labels:
        labels = [None]  # one session, unnamed
    now = time.time()
    out: list[ImportedSession] = []
    for rows, label in zip(groups, labels):
        t = None if points.t is None else np.asarray(points.t, np.float64)[rows]
        keep = rows[use[rows]]
        if t is not None:
            t_keep = np.asarray(points.t, np.float64)[keep]
            if len(t_keep) > 1 and np.any(np.diff(t_keep) < 0):
                order = np.argsort(t_keep, kind="stable")
                keep, t_keep = keep[order], t_keep[order]
        else:
            t_keep = None
        if fixations:
            dwell = np.asarray(points.duration, np.float64)[keep]
            active = float(dwell.sum())
        elif t_keep is not None:
            dwell, active = sample_dwell(t_keep)
        else:
            dwell, active = np.zeros(len(keep)), 0.0
        # Time: epoch clocks (Neon, ns UTC) are kept; other clocks (Pupil time,
        # Tobii recording time) are placed so the recording ends at import time.
        ts: np.ndarray | None = None
        started: float | None = None
        ended: float | None = None
        if t is not None and len(t) and np.isfinite(t).any():
            t_lo, t_hi = float(np.nanmin(t)), float(np.nanmax(t))
            if fixations:
                d_all = np.asarray(points.duration, np.float64)[rows]
                t_hi = max(t_hi, float(np.nanmax(t + np.nan_to_num(d_all))))
            shift = points.t0 if points.epoch else now - t_hi
            started, ended = t_lo + shift, t_hi + shift
            ts = None if t_keep is None else t_keep + shift
        meta = {
            "format": fmt,
            "file": str(path),
            "points": "fixations" if fixations else "gaze samples",
            "weight": weight,
            "default_weight": default_weight,
            "space": space,
            "reference_size": [w, h],
        }
        if label is not None:
            meta["recording id"] = label
        source = f"{fmt}:{path.name}" + (f"#{label[:8]}" if label and points.group is not None else "")
        out.append(
            ImportedSession(
                source=source,
                canvas=Canvas.image(w, h),
                xs=ix[keep],
                ys=iy[keep],
                counts=np.ones(len(keep), np.int64),
                dwell=dwell,
                ts=ts,
                kind="gaze",
                started=started,
                ended=ended,
                active_seconds=active,
                dropped=int(drop[rows].sum()),
                skipped=int(skip[rows].sum()),
                meta=meta,
            )
        )
    if not out:
        raise BadInput(path, "no data rows")
    return out
