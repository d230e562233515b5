"""Many inputs, one heatmap: each input counted where it lies, the counts added, blurred once.

A heatmap is a sum: a histogram is additive, and blurring a sum equals summing
the blurs. So the work splits in three steps that know nothing of each other:

- `describe(input)`: what an input holds (its sessions and canvas, or why it
  cannot be read), cheap, so a bad input stops the run before any counting;
- `count(input, plan)`, the map step: one input's points counted into the grid
  the renderer blurs -- the full-resolution histogram, the reduced path's
  coarse grid where the renderer would reduce (trackheat.accumulate.density's
  `count`), or Pupil Cloud's bins for gaze (trackheat.accumulate.binned) --
  next to the file, on whichever machine reads it; `count_batch` folds many
  small inputs in one task (a task costs the scheduler about a millisecond
  whatever it holds);
- `add(a, b, plan)`, the reduce step: two partial results summed.

A partial travels as cheaply as it can: an input with few points sends the
points themselves (so the client can draw them exactly as `export` would,
stamping where export stamps), a grid mostly empty sends its non-zero cells,
and only a full grid is sent whole.

The caller blurs and colours the final grid once, through the same renderer as
`trackheat export`, and holds one grid whatever the number of inputs.
Nothing here knows Dask (trackheat.accumulate.cluster runs these functions on
a cluster); a plain loop over them gives the same grid.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from trackheat.accumulate import binned, density, remote
from trackheat.accumulate.points import gaze_format, load_points, place, read_gaze_file, session_points
from trackheat.canvas import Canvas, Rect
from trackheat.errors import UserError
from trackheat.importers import ImportOptions

STORE, PARQUET, GAZE = "store", "parquet", "gaze"
UNKNOWN = ""  # a URL's kind, until a worker has read its first bytes
_SQLITE_MAGIC = b"SQLite format 3\x00"
_PARQUET_MAGIC = b"PAR1"
_STORE_SUFFIXES = {".db", ".sqlite", ".sqlite3", ".store"}
_NOT_INPUTS = ("-wal", "-shm", "-journal")  # SQLite's companion files beside a store
WEIGHTS = ("count", "duration")  # gaze grids: both are counted, the client picks one


@dataclass(frozen=True)
class Input:
    """One file to aggregate: a store, a `dump` Parquet file or a gaze export."""

    path: str
    kind: str  # STORE, PARQUET or GAZE (what its first bytes say)


@dataclass(frozen=True)
class Selection:
    """What is drawn of each input: the same choices as `export` (and `gaze` for gaze files)."""

    kind: str = "moves"  # moves, clicks or dwell (stores and Parquet)
    since: float | None = None
    until: float | None = None
    gaze: ImportOptions = field(default_factory=ImportOptions)
    apps: tuple[str | None, ...] | None = None  # only these applications (None in it: events with none); None: all


@dataclass
class Described:
    """What `describe` learnt of one input, or why it cannot be read (`problem`)."""

    input: Input
    sessions: list = field(default_factory=list)  # store: its SessionInfo list
    canvas: Canvas | None = None  # Parquet: inferred from where its points fall
    rows: int = 0  # at least as many as the points `count` reads (moves or clicks kept in the store's totals)
    format: str = ""
    problem: str | None = None
    apps: list = field(default_factory=list)  # the applications it has events in (None: events with none)


@dataclass(frozen=True)
class Placement:
    """Where one input's region (in its canvas pixels) lands on the output grid."""

    region: Rect
    sx: float = 1.0
    sy: float = 1.0

    @property
    def rescaled(self) -> bool:
        return self.sx != 1.0 or self.sy != 1.0


@dataclass(frozen=True)
class Plan:
    """Everything the map step needs, decided once by the caller (picklable, small)."""

    selection: Selection
    width: int  # output grid
    height: int
    sigma: float = 1.0  # output pixels (mouse); bins (gaze)
    method: str = "blur"  # the renderer's counting method (density.counting_method)
    upsize: str = "linear"
    placement: Placement | None = None  # one for all inputs (a shared canvas)...
    placements: dict[str, Placement] = field(default_factory=dict)  # ...or one per input (normalized canvases)
    bins: int = binned.DEFAULT_BINS  # gaze
    points_cap: int = 0  # a partial of at most this many points travels as the points (0: always as counts)

    def place_of(self, path: str) -> Placement:
        if path in self.placements:
            return self.placements[path]
        if self.placement is None:
            raise ValueError(f"no placement for {path}")
        return self.placement


@dataclass
class Partial:
    """A partial sum: the counts of some inputs, what each held, and those that could not be read.

    The counts are in one of three forms, whichever is cheapest to ship:
    `points` (x, y, weight in canvas pixels, as `export` reads them from one
    store: few points), `cells` (flat index, value: the non-zero cells of a
    mostly empty grid of `shape`) or `grid` (dense). At most one is set.
    """

    grid: np.ndarray | None = None  # float64 counts at the plan's grid (gaze: one layer per weight)
    inputs: list[dict] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)  # (input, one-line reason)
    cells: tuple[np.ndarray, np.ndarray] | None = None  # (flat index, count); an index may repeat
    shape: tuple[int, ...] = ()  # of the grid `cells` index
    points: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def empty(self) -> bool:
        return self.grid is None and self.cells is None and self.points is None

    def dense(self) -> np.ndarray | None:
        """The counts as a dense grid (None when there are none); points must have been counted first."""
        if self.points is not None:
            raise ValueError("points are drawn by the client, not summed as a grid")
        if self.cells is not None:
            idx, val = self.cells
            return np.bincount(idx, weights=val, minlength=int(np.prod(self.shape))).reshape(self.shape)
        return self.grid


# -- finding inputs -------------------------------------------------------------
def sniff(path: Path | str) -> str:
    """STORE, PARQUET or GAZE from the first bytes (a store named .db that is not SQLite is a bad store)."""
    if remote.is_url(path):
        head = remote.head(str(path))
        suffix = Path(str(path).partition("://")[2].split("?")[0]).suffix
    else:
        try:
            with open(path, "rb") as fh:
                head = fh.read(16)
        except OSError as e:
            raise UserError(f"{path}: cannot read: {e.strerror}") from None
        suffix = Path(path).suffix
    if head == _SQLITE_MAGIC:
        return STORE
    if head[:4] == _PARQUET_MAGIC:
        return PARQUET
    if suffix.lower() in _STORE_SUFFIXES:
        return STORE  # describe() says it is not a store
    return GAZE


def find_inputs(paths: Sequence[str | os.PathLike]) -> tuple[list[Input], list[tuple[str, str]]]:
    """(inputs, bad): the inputs named, with folders searched (recursively, in name order) for
    stores and Parquet files, and the named files that cannot even be opened, each with its one-line reason.

    This runs where the command runs, before any cluster starts: a file that
    is not there or not readable is told at once.
    """
    out: list[Input] = []
    bad: list[tuple[str, str]] = []
    for p in paths:
        if remote.is_url(p):
            # Read where the tasks run, which may be the only place that can: the kind is told there.
            problem = remote.check_protocol(str(p))
            if problem:
                bad.append((str(p), problem))
            else:
                out.append(Input(str(p), UNKNOWN))
            continue
        path = Path(p)
        if path.is_dir():
            found = []
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    f = Path(root) / name
                    if name.endswith(_NOT_INPUTS) or not f.is_file():
                        continue
                    try:
                        kind = sniff(f)
                    except UserError as e:
                        bad.append((str(f), str(e)))
                        continue
                    if kind == PARQUET or (kind == STORE and _is_sqlite(f)):
                        found.append(Input(str(f), kind))
            if not found:
                raise UserError(f"{path}: no stores or Parquet files in this folder")
            out += found
            continue
        if not path.exists():
            bad.append((str(path), f"{path}: no such file or folder"))
            continue
        try:
            out.append(Input(str(path), sniff(path)))
        except UserError as e:
            bad.append((str(path), str(e)))
    if not out and not bad:
        raise UserError("no inputs given")
    return out, bad


def _is_sqlite(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(16) == _SQLITE_MAGIC


# -- describe: what an input holds ------------------------------------------------
def describe(inp: Input, selection: Selection) -> Described:
    """Open the input read-only and say what it holds; a problem is returned, not raised.
    A URL's kind is told here, by its first bytes, and kept in the result's `input`."""
    try:
        if inp.kind == UNKNOWN:
            inp = Input(inp.path, sniff(inp.path))
        if inp.kind == STORE:
            with _local(inp) as path:
                return _describe_store(inp, path, selection)
        if inp.kind == PARQUET:
            from trackheat.accumulate import dumped

            with _parquet(inp) as source:
                canvas, rows, apps = dumped.describe(inp.path, selection.kind, want_apps=selection.apps is not None, source=source)
            return Described(inp, canvas=canvas, rows=rows, format="parquet", apps=apps)
        with _local(inp) as path:
            fmt = gaze_format(path, selection.gaze)
        return Described(inp, rows=0, format=fmt)
    except (UserError, OSError) as e:
        return Described(inp, problem=_one_line(inp, e))
    except Exception as e:  # sqlite3.DatabaseError and its kin: a damaged file, told in one line
        from trackheat.store import StoreError

        if isinstance(e, StoreError):
            return Described(inp, problem=f"{inp.path}: not a readable store ({e})")
        raise


@contextlib.contextmanager
def _local(inp: Input) -> Iterator[Path]:
    """The input as a file here: its path, or for a URL a private copy (removed afterwards); what goes
    wrong is told of the URL, never of the temporary copy."""
    if not remote.is_url(inp.path):
        yield Path(inp.path)
        return
    with remote.local_copy(inp.path) as path:
        try:
            yield path
        except UserError as e:
            raise UserError(str(e).replace(str(path), inp.path), param=e.param) from None


@contextlib.contextmanager
def _parquet(inp: Input) -> Iterator[Any]:
    """None (pyarrow opens the path) or, for a URL, a seekable file object on it through fsspec."""
    if not remote.is_url(inp.path):
        yield None
        return
    with remote.opened(inp.path) as fh:
        try:
            yield fh
        except (OSError, ValueError) as e:  # while reading columns: a server gone, a range refused
            raise UserError(f"{inp.path}: cannot read ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None


def _describe_store(inp: Input, path: Path, selection: Selection) -> Described:
    from trackheat.store import Store

    with Store(path, readonly=True) as st:
        infos = st.sessions()
        apps = st.apps([s.id for s in infos]) if infos and selection.apps is not None else []
    if selection.kind in ("clicks", "scrolls"):
        rows = sum(s.clicks if selection.kind == "clicks" else s.scrolls for s in infos)
    else:
        rows = sum(s.moves for s in infos)  # the kept total: at least the distinct positions, known without reading them
    return Described(inp, sessions=infos, rows=rows, format="store", apps=apps)


def _one_line(inp: Input, e: BaseException) -> str:
    text = str(e) if isinstance(e, UserError) else f"{inp.path}: {getattr(e, 'strerror', None) or e}"
    if not text.startswith(inp.path):
        text = f"{inp.path}: {text}"
    return text.splitlines()[0] if text else inp.path


# -- count: the map step ------------------------------------------------------------
def count(inp: Input, plan: Plan) -> Partial:
    """One input counted into the plan's grid: a Partial with its totals, or with it named as bad."""
    try:
        if inp.kind == GAZE:
            with _local(inp) as path:
                return _count_gaze(inp, path, plan)
        if inp.kind == PARQUET:
            from trackheat.accumulate import dumped

            sel = plan.selection
            with _parquet(inp) as source:
                xs, ys, ws, sessions = dumped.points(inp.path, sel.kind, sel.since, sel.until, sel.apps, source=source)
        else:
            with _local(inp) as path:
                xs, ys, ws, sessions = _store_points(path, plan.selection)
        return _count_points(inp, plan, xs, ys, ws, sessions)
    except (UserError, OSError) as e:
        return Partial(bad=[(inp.path, _one_line(inp, e))])
    except Exception as e:
        from trackheat.store import StoreError

        if isinstance(e, StoreError):
            return Partial(bad=[(inp.path, f"{inp.path}: not a readable store ({e})")])
        raise


def count_batch(inputs: Sequence[Input], plan: Plan) -> Partial:
    """Several inputs counted in one task and summed there: one partial to ship, not one per input."""
    out = Partial()
    for inp in inputs:
        out = add(out, count(inp, plan), plan, fresh=False)
    return out


def describe_batch(inputs: Sequence[Input], selection: Selection) -> list[Described]:
    """`describe` of several inputs in one task."""
    return [describe(i, selection) for i in inputs]


def _store_points(path: Path, sel: Selection) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    from trackheat.store import Store

    none = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    with Store(path, readonly=True) as st:
        ids = [s.id for s in st.sessions()]
        if not ids:
            return (*none, 0)
        apps = None
        if sel.apps is not None:
            # The applications asked for that this store has (the client checked that each one is
            # in some input); a store with none of them draws nothing.
            have = st.apps(ids)
            apps = [a for a in sel.apps if a in have]
            if not apps:
                return (*none, len(ids))
        xs, ys, ws = load_points(st, ids, sel.kind, sel.since, sel.until, apps)
    return xs, ys, ws, len(ids)


def _count_points(inp: Input, plan: Plan, xs, ys, ws, sessions: int) -> Partial:
    pl = plan.place_of(inp.path)
    r = pl.region
    inside = (xs >= r.left) & (xs < r.right) & (ys >= r.top) & (ys < r.bottom)
    total = float(np.sum(ws[inside]))
    info = {"input": inp.path, "format": inp.kind, "sessions": sessions, "rows": int(len(xs)), "points": int(inside.sum()),
            "total": total}
    if pl.rescaled:
        info["rescaled"] = {"from": [r.width, r.height], "to": [plan.width, plan.height]}
    if plan.points_cap and len(xs) <= plan.points_cap:
        return Partial(points=merge_points(plan.selection.kind, [(xs, ys, ws)]), inputs=[info])
    return Partial(inputs=[info], **_counts(plan, pl, xs, ys, ws))


def _counts(plan: Plan, pl: Placement, xs, ys, ws) -> dict:
    """Points counted into the plan's grid, as Partial's `grid` or `cells` (and `shape`)."""
    px, py, origin = place(xs, ys, pl.region, pl.sx, pl.sy)
    grid = density.count(px, py, ws, width=plan.width, height=plan.height, sigma=plan.sigma, origin=origin,
                         method=plan.method, upsize=plan.upsize)
    return _sparse(grid)


# A cell of a sparse partial costs 12 bytes (int32 index, float64 count), a dense one 8: sparse
# when at most a third of the cells are non-zero (a session covers a few % of a 1080p screen).
SPARSE_SHARE = 1 / 3


def _sparse(grid: np.ndarray) -> dict:
    idx = np.flatnonzero(grid)
    if len(idx) > grid.size * SPARSE_SHARE:
        return {"grid": grid}
    itype = np.int32 if grid.size < 2**31 else np.int64
    return {"cells": (idx.astype(itype), grid.ravel()[idx]), "shape": grid.shape}


def merge_points(kind: str, parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point lists joined as one store would return them: positions summed per distinct pixel
    (the store merges sessions so), clicks and scrolls one point per event."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    x = np.concatenate([np.asarray(p[0], np.int64) for p in parts])
    y = np.concatenate([np.asarray(p[1], np.int64) for p in parts])
    w = np.concatenate([np.asarray(p[2], np.float64) for p in parts])
    if kind in ("clicks", "scrolls"):
        return x, y, w
    x0, y0 = int(x.min()), int(y.min())
    span = int(y.max()) - y0 + 1
    keys, inverse = np.unique((x - x0) * span + (y - y0), return_inverse=True)
    return keys // span + x0, keys % span + y0, np.bincount(inverse.ravel(), weights=w, minlength=len(keys))


def _count_gaze(inp: Input, path: Path, plan: Plan) -> Partial:
    w, h = plan.width, plan.height
    sessions = read_gaze_file(path, plan.selection.gaze, (w, h))
    layers = []
    totals = {}
    for weight in WEIGHTS:
        xs, ys, ws = session_points(sessions, weight, w, h)
        layers.append(binned.count(xs, ys, ws, width=w, height=h, bins=plan.bins))
        totals[weight] = float(np.sum(ws))
    metas = [s.meta for s in sessions]
    info = {
        "input": inp.path, "format": sessions[0].meta.get("format", "") if sessions else "", "sessions": len(sessions),
        "rows": int(sum(len(s.xs) for s in sessions)), "points": int(sum(s.moves for s in sessions)),
        "samples": totals["count"], "seconds": round(totals["duration"], 3),
        "skipped": int(sum(s.skipped for s in sessions)), "dropped": int(sum(s.dropped for s in sessions)),
        "weights": sorted({m.get("weight", m.get("default_weight", "count")) for m in metas}),
    }
    return Partial(inputs=[info], **_sparse(np.stack(layers)))


# -- add: the reduce step -------------------------------------------------------------
def add(a: Partial, b: Partial, plan: Plan, *, fresh: bool = True) -> Partial:
    """The sum of two partial results.

    Points stay points while the two hold at most `plan.points_cap` distinct
    ones; then they are counted into the grid. With `fresh` (the default) the
    result shares no array it could change with its operands: Dask may run a
    task again after a lost worker, so a task never changes its inputs.
    Without it (a fold that owns `a`), `a`'s dense grid is added into.
    """
    inputs, bad = a.inputs + b.inputs, a.bad + b.bad
    if a.empty or b.empty:
        keep = b if a.empty else a
        return dataclasses.replace(keep, inputs=inputs, bad=bad)
    if a.points is not None and b.points is not None:
        merged = merge_points(plan.selection.kind, [a.points, b.points])
        if len(merged[0]) <= plan.points_cap:
            return Partial(points=merged, inputs=inputs, bad=bad)
        return Partial(inputs=inputs, bad=bad, **_counts(plan, plan.place_of(""), *merged))
    a, b = _as_counts(a, plan), _as_counts(b, plan)
    if a.grid is not None or b.grid is not None:
        if a.grid is None:
            a, b = b, a
        assert a.grid is not None
        grid = a.grid.copy() if fresh else a.grid
        if b.grid is not None:
            grid += b.grid
        else:
            assert b.cells is not None
            np.add.at(grid.reshape(-1), b.cells[0], b.cells[1])
        return Partial(grid, inputs, bad)
    assert a.cells is not None and b.cells is not None
    idx = np.concatenate([a.cells[0], b.cells[0]])
    val = np.concatenate([a.cells[1], b.cells[1]])
    size = int(np.prod(a.shape))
    if len(idx) > size * SPARSE_SHARE:  # repeated cells: summed, and dense once no longer sparse
        return Partial(inputs=inputs, bad=bad, **_sparse(np.bincount(idx, weights=val, minlength=size).reshape(a.shape)))
    return Partial(inputs=inputs, bad=bad, cells=(idx, val), shape=a.shape)


def _as_counts(p: Partial, plan: Plan) -> Partial:
    if p.points is None:
        return p
    return Partial(inputs=p.inputs, bad=p.bad, **_counts(plan, plan.place_of(""), *p.points))


def total(parts: Iterable[Partial], plan: Plan) -> Partial:
    """A plain left fold of `add`: the single-process loop (the cluster adds as a tree)."""
    out = Partial()
    for p in parts:
        out = add(out, p, plan, fresh=False)  # the parts are ours: the first grid is added into
    return out
