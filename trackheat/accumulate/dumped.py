"""Positions from a `trackheat dump --format parquet` file, for `aggregate`.

The file holds the rows a heatmap is drawn from: session, period_start, app,
x, y, count, dwell. It carries no monitor layout, so its canvas is the
smallest one holding its points, read from the column statistics without
reading the data (as a mouse log's inferred canvas). pyarrow is the optional
extra `trackheat[parquet]`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from trackheat.canvas import Canvas, Rect
from trackheat.errors import UserError

COLUMNS = ("session", "period_start", "app", "x", "y", "count", "dwell")
MISSING = "reading Parquet files needs pyarrow, an optional extra: pip install 'trackheat[parquet]'"


def _pq():
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError(MISSING) from None
    return pq


def _open(path: Path | str, source: Any = None):
    """The Parquet file at `path`, or read from `source` (a seekable file object: a URL's, through fsspec)."""
    pq = _pq()
    try:
        f = pq.ParquetFile(str(path) if source is None else source)
    except (OSError, ValueError) as e:  # (pyarrow's ArrowInvalid is a ValueError; so is fsspec's "no range requests")
        raise UserError(f"{path}: not a readable Parquet file ({str(e).splitlines()[0]})") from None
    names = set(f.schema_arrow.names)
    missing = [c for c in ("x", "y", "count", "dwell") if c not in names]
    if missing:
        raise UserError(f"{path}: not a trackheat dump (no {', '.join(missing)} column)")
    return f


def describe(path: Path | str, kind: str, want_apps: bool = False, source: Any = None) -> tuple[Canvas, int, list[str | None]]:
    """(inferred canvas, rows, applications), the first two from the footer's statistics alone
    where the writer kept them; the applications (None: rows with none) only if `want_apps`."""
    if kind in ("clicks", "scrolls"):
        raise UserError(f"{path}: a positions dump holds moves and dwell, not {kind}")
    f = _open(path, source)
    apps = _apps(path, f) if want_apps else []
    canvas, rows = _extent(path, f)
    return canvas, rows, apps


def _apps(path: Path | str, f) -> list[str | None]:
    if "app" not in f.schema_arrow.names:
        return [None]  # a dump without the column: nothing in it belongs to an application
    names = set(f.read(columns=["app"]).column("app").unique().to_pylist())
    return sorted(names, key=lambda n: (n is not None, n or ""))


def _extent(path: Path | str, f) -> tuple[Canvas, int]:
    md = f.metadata
    ix, iy = f.schema_arrow.get_field_index("x"), f.schema_arrow.get_field_index("y")
    lo: list[int] = [0, 0]  # as Canvas.covering: the canvas holds (0, 0)
    hi: list[int | None] = [None, None]
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        if rg.num_rows == 0:
            continue
        for axis, col in enumerate((ix, iy)):
            st = rg.column(col).statistics
            if st is None or not st.has_min_max:
                return _covering(path, f), md.num_rows  # no statistics: read the two columns
            lo[axis] = min(lo[axis], int(st.min))
            top = hi[axis]
            hi[axis] = int(st.max) if top is None else max(top, int(st.max))
    if hi[0] is None or hi[1] is None:
        return Canvas((Rect(0, 0, 1, 1),), extra={"inferred": True}), 0
    return Canvas((Rect(lo[0], lo[1], hi[0] + 1 - lo[0], hi[1] + 1 - lo[1]),), extra={"inferred": True}), md.num_rows


def _covering(path: Path | str, f) -> Canvas:
    t = f.read(columns=["x", "y"])
    return Canvas.covering(t.column("x").to_numpy(), t.column("y").to_numpy())


def points(path: Path | str, kind: str, since: float | None, until: float | None,
           apps: Sequence[str | None] | None = None, source: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(xs, ys, weights, sessions) of the rows in [since, until) by period start, as the store selects periods,
    of the applications `apps` only if given (None in it: rows with none)."""
    if kind in ("clicks", "scrolls"):
        raise UserError(f"{path}: a positions dump holds moves and dwell, not {kind}")
    f = _open(path, source)
    cols = ["x", "y", "count" if kind == "moves" else "dwell"]
    have = set(f.schema_arrow.names)
    if since is not None or until is not None:
        if "period_start" not in have:
            raise UserError(f"{path}: no period_start column, so no time range can be chosen")
        cols.append("period_start")
    if "session" in have:
        cols.append("session")
    if apps is not None and "app" in have:
        cols.append("app")
    t = f.read(columns=cols)
    import pyarrow as pa
    import pyarrow.compute as pc

    xs = t.column("x").to_numpy().astype(np.int64, copy=False)
    ys = t.column("y").to_numpy().astype(np.int64, copy=False)
    ws = t.column(cols[2]).to_numpy().astype(np.float64)
    keep = ws > 0
    if "period_start" in cols:
        p = t.column("period_start").to_numpy().astype(np.float64)
        if since is not None:
            keep &= p >= since
        if until is not None:
            keep &= p < until
    if apps is not None:
        if "app" in cols:
            named = [a for a in apps if a is not None]
            app = t.column("app")
            chosen = pc.is_in(app, value_set=pa.array(named, pa.string())).to_numpy(zero_copy_only=False)
            chosen = np.asarray(chosen, bool) & ~np.asarray(app.is_null().to_numpy(zero_copy_only=False), bool)
            if None in apps:
                chosen |= np.asarray(app.is_null().to_numpy(zero_copy_only=False), bool)
            keep &= chosen
        elif None not in apps:
            keep[:] = False  # no app column: every row has no application
    sessions = len(np.unique(t.column("session").to_numpy())) if "session" in cols else 1
    return xs[keep], ys[keep], ws[keep], sessions
