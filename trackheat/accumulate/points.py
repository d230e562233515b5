"""The points a heatmap is drawn from, read and placed the one way every command does it.

`export` (one store), `gaze` (eye-tracker files) and `aggregate` (many of
either) all read their points here and place them on the output grid here,
so a sum of inputs lands on exactly the pixels that drawing them together
would.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from trackheat.canvas import Canvas, Rect
from trackheat.errors import UserError
from trackheat.importers import ImportedSession, ImportOptions

if TYPE_CHECKING:
    from trackheat.store import Store

KINDS = ("moves", "clicks", "dwell", "scrolls")
MOUSE_FORMATS = {"mouse-dynamics", "positions-json"}


def load_points(store: Store, ids: Sequence[int], kind: str, since: float | None, until: float | None,
                apps: Sequence[str | None] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xs, ys, weights) of what is drawn: moves weighted by count, dwell by seconds, one per click,
    scrolls by their steps (a three-notch flick weighs three)."""
    if kind not in KINDS:
        raise UserError(f"expected one of {', '.join(KINDS)}, got {kind!r}", param="kind")
    if kind == "clicks":
        rows = store.clicks(ids, since, until, apps)
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        a = np.array([(r[1], r[2]) for r in rows], np.int64)
        return a[:, 0], a[:, 1], np.ones(len(a))
    if kind == "scrolls":
        srows = store.scrolls(ids, since, until, apps)
        if not srows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        b = np.array([(r[1], r[2], abs(r[3]) + abs(r[4])) for r in srows], np.int64)
        return b[:, 0], b[:, 1], np.maximum(b[:, 2], 1).astype(np.float64)
    p = store.positions(ids, since, until, apps, dwell=kind == "dwell")  # a map of moves never reads dwell
    w = p.count.astype(np.float64) if kind == "moves" else p.dwell
    keep = w > 0
    if keep.all():  # the usual case: no copies of a month's columns
        return p.x, p.y, w
    return p.x[keep], p.y[keep], w[keep]


def place(xs: np.ndarray, ys: np.ndarray, region: Rect, sx: float = 1.0, sy: float = 1.0) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Canvas positions -> (x, y, origin) for the density grid of `region` scaled by (sx, sy).

    At scale 1 the integer positions go through untouched with the region's
    corner as origin (the renderer's exact integer path); scaled, a stored
    pixel i, which covers [i, i+1), is drawn at its centre.
    """
    if sx == 1.0 and sy == 1.0:
        return xs, ys, (region.left, region.top)
    return (xs - region.left + 0.5) * sx - 0.5, (ys - region.top + 0.5) * sy - 0.5, (0, 0)


def to_reference(xs, ys, canvas: Canvas, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Canvas pixels -> reference-image pixels. Stored pixel i covers [i, i+1): draw it at its centre."""
    b = canvas.bounds
    return (np.asarray(xs, np.float64) - b.left + 0.5) * (width / b.width), (np.asarray(ys, np.float64) - b.top + 0.5) * (height / b.height)


def join(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not parts:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    x, y, w = (np.concatenate(k) for k in zip(*parts))
    return x, y, w


def session_weights(s: ImportedSession, weight: str, normalize: str = "none") -> np.ndarray:
    """Each point's weight in the map: its count or duration (0 where a file has none), normalized per recording if asked."""
    if weight == "duration":
        w = np.zeros(len(s.xs)) if s.dwell is None else np.asarray(s.dwell, np.float64)
    else:
        w = np.ones(len(s.xs)) if s.counts is None else np.asarray(s.counts, np.float64)
    if normalize == "recording":
        total = float(w.sum())
        return w / total if total > 0 else w
    if normalize == "duration":
        length = (s.ended - s.started) if s.started is not None and s.ended is not None else 0.0
        if not length > 0:
            raise UserError(f"{s.meta.get('file', s.source)}: no recording time to divide by (the file carries no timestamps)", param="normalize")
        return w / length
    return w


def session_points(sessions: Sequence[ImportedSession], weight: str, width: int, height: int, normalize: str = "none") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xs, ys, weights) of gaze sessions in reference-image pixels, from memory.

    Exactly what a store would hold for them (saving only sums samples per
    pixel, and the histogram sums per bin anyway), without reading a million
    rows back through SQL (measured: longer than parsing and rendering together).
    """
    parts = []
    for s in sessions:
        if len(s.xs):
            x, y = to_reference(s.xs, s.ys, s.canvas, width, height)
            parts.append((x, y, session_weights(s, weight, normalize)))
    return join(parts)


def gaze_format(path: Path, options: ImportOptions) -> str:
    """The eye-tracker format of `path` (named in `options` or detected); a mouse log is refused."""
    from trackheat import importers

    name = importers.detect(path, options).name
    if name == "csv":  # "x,y" alone: the mouse CSV's header, here a gaze one
        return "gaze-csv"
    if name in MOUSE_FORMATS:
        raise UserError(f"{path}: a {name} file is mouse data; `trackheat gaze` reads eye-tracker exports (use `trackheat import` and `trackheat export`)")
    return name


def read_gaze_file(path: Path, options: ImportOptions, image_size: tuple[int, int]) -> list[ImportedSession]:
    """One eye-tracker export read to be drawn on a reference image of `image_size` (width, height).

    Files whose pixel space is not fixed by the device (reference image,
    surface, plain CSV) are read in the reference image's pixels. With
    `options.fixations` set, sample files become fixation sessions.
    """
    from trackheat import importers
    from trackheat.accumulate.fixations import apply_mode
    from trackheat.importers.gaze_plain import NATIVE_SIZE

    name = gaze_format(path, options)
    size = options.reference_size or (None if name in NATIVE_SIZE else image_size)
    sessions = importers.read(path, dataclasses.replace(options, format=name, reference_size=size))
    return apply_mode(path, sessions, options.fixations, options.weight, **options.detection)
