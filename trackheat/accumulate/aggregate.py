"""Many inputs, one heatmap: each input counted where it lies, the counts added, blurred once.

A heatmap is a sum: a histogram is additive, and blurring a sum equals summing
the blurs. So the work splits in three steps that know nothing of each other:

- `describe(input)`: what an input holds (its sessions and canvas, or why it
  cannot be read), cheap, so a bad input stops the run before any counting;
- `count(input, plan)`, the map step: one input's points counted into the grid
  the renderer blurs -- the full-resolution histogram, the reduced path's
  coarse grid where the renderer would reduce (trackheat.accumulate.density's
  `count`), or Pupil Cloud's bins for gaze (trackheat.accumulate.binned) --
  next to the file, on whichever machine reads it;
- `add(a, b)`, the reduce step: two partial results summed.

The caller blurs and colours the final grid once, through the same renderer as
`trackheat export`, and holds one grid whatever the number of inputs.
Nothing here knows Dask (trackheat.accumulate.cluster runs these functions on
a cluster); a plain loop over them gives the same grid.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from trackheat.accumulate import binned, density
from trackheat.accumulate.points import gaze_format, load_points, place, read_gaze_file, session_points
from trackheat.canvas import Canvas, Rect
from trackheat.errors import UserError
from trackheat.importers import ImportOptions

STORE, PARQUET, GAZE = "store", "parquet", "gaze"
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


@dataclass
class Described:
    """What `describe` learnt of one input, or why it cannot be read (`problem`)."""

    input: Input
    sessions: list = field(default_factory=list)  # store: its SessionInfo list
    canvas: Canvas | None = None  # Parquet: inferred from where its points fall
    rows: int = 0  # at least as many as the points `count` reads (moves or clicks kept in the store's totals)
    format: str = ""
    problem: str | None = None


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

    def place_of(self, path: str) -> Placement:
        if path in self.placements:
            return self.placements[path]
        if self.placement is None:
            raise ValueError(f"no placement for {path}")
        return self.placement


@dataclass
class Partial:
    """A partial sum: the counts of some inputs, what each held, and those that could not be read."""

    grid: np.ndarray | None = None  # float64 counts at the plan's grid (gaze: one layer per weight)
    inputs: list[dict] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)  # (input, one-line reason)


# -- finding inputs -------------------------------------------------------------
def sniff(path: Path) -> str:
    """STORE, PARQUET or GAZE from the first bytes (a store named .db that is not SQLite is a bad store)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as e:
        raise UserError(f"{path}: cannot read: {e.strerror}") from None
    if head == _SQLITE_MAGIC:
        return STORE
    if head[:4] == _PARQUET_MAGIC:
        return PARQUET
    if path.suffix.lower() in _STORE_SUFFIXES:
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
    """Open the input read-only and say what it holds; a problem is returned, not raised."""
    try:
        if inp.kind == STORE:
            return _describe_store(inp, selection)
        if inp.kind == PARQUET:
            from trackheat.accumulate import dumped

            canvas, rows = dumped.describe(Path(inp.path), selection.kind)
            return Described(inp, canvas=canvas, rows=rows, format="parquet")
        fmt = gaze_format(Path(inp.path), selection.gaze)
        return Described(inp, rows=0, format=fmt)
    except (UserError, OSError) as e:
        return Described(inp, problem=_one_line(inp, e))
    except Exception as e:  # sqlite3.DatabaseError and its kin: a damaged file, told in one line
        from trackheat.store import StoreError

        if isinstance(e, StoreError):
            return Described(inp, problem=f"{inp.path}: not a readable store ({e})")
        raise


def _describe_store(inp: Input, selection: Selection) -> Described:
    from trackheat.store import Store

    with Store(inp.path, readonly=True) as st:
        infos = st.sessions()
    if selection.kind in ("clicks", "scrolls"):
        rows = sum(s.clicks if selection.kind == "clicks" else s.scrolls for s in infos)
    else:
        rows = sum(s.moves for s in infos)  # the kept total: at least the distinct positions, known without reading them
    return Described(inp, sessions=infos, rows=rows, format="store")


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
            return _count_gaze(inp, plan)
        if inp.kind == PARQUET:
            from trackheat.accumulate import dumped

            xs, ys, ws, sessions = dumped.points(Path(inp.path), plan.selection.kind, plan.selection.since, plan.selection.until)
        else:
            xs, ys, ws, sessions = _store_points(inp, plan.selection)
        return _count_points(inp, plan, xs, ys, ws, sessions)
    except (UserError, OSError) as e:
        return Partial(bad=[(inp.path, _one_line(inp, e))])
    except Exception as e:
        from trackheat.store import StoreError

        if isinstance(e, StoreError):
            return Partial(bad=[(inp.path, f"{inp.path}: not a readable store ({e})")])
        raise


def _store_points(inp: Input, sel: Selection) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    from trackheat.store import Store

    with Store(inp.path, readonly=True) as st:
        ids = [s.id for s in st.sessions()]
        if not ids:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), 0
        xs, ys, ws = load_points(st, ids, sel.kind, sel.since, sel.until)
    return xs, ys, ws, len(ids)


def _count_points(inp: Input, plan: Plan, xs, ys, ws, sessions: int) -> Partial:
    pl = plan.place_of(inp.path)
    r = pl.region
    inside = (xs >= r.left) & (xs < r.right) & (ys >= r.top) & (ys < r.bottom)
    px, py, origin = place(xs, ys, r, pl.sx, pl.sy)
    grid = density.count(px, py, ws, width=plan.width, height=plan.height, sigma=plan.sigma, origin=origin,
                         method=plan.method, upsize=plan.upsize)
    total = float(np.sum(ws[inside]))
    info = {"input": inp.path, "format": inp.kind, "sessions": sessions, "rows": int(len(xs)), "points": int(inside.sum()),
            "total": total}
    if pl.rescaled:
        info["rescaled"] = {"from": [r.width, r.height], "to": [plan.width, plan.height]}
    return Partial(grid, [info])


def _count_gaze(inp: Input, plan: Plan) -> Partial:
    w, h = plan.width, plan.height
    sessions = read_gaze_file(Path(inp.path), plan.selection.gaze, (w, h))
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
    return Partial(np.stack(layers), [info])


# -- add: the reduce step -------------------------------------------------------------
def add(a: Partial, b: Partial) -> Partial:
    """The sum of two partial results, in a new grid: Dask may run a task again after a lost
    worker, so a task never changes its inputs."""
    if a.grid is None:
        grid = b.grid
    elif b.grid is None:
        grid = a.grid
    else:
        grid = a.grid + b.grid
    return Partial(grid, a.inputs + b.inputs, a.bad + b.bad)


def total(parts: Iterable[Partial]) -> Partial:
    """A plain left fold of `add`: the single-process loop (the cluster adds as a tree)."""
    out = Partial()
    for p in parts:
        if out.grid is not None and p.grid is not None:
            out.grid += p.grid  # ours alone: no copy
            out.inputs += p.inputs
            out.bad += p.bad
        else:
            out = add(out, p)
    return out
