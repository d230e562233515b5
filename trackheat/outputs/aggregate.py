"""`trackheat aggregate`: one heatmap from many stores, `dump` Parquet files and gaze exports.

The inputs are described and counted on a Dask cluster (trackheat.accumulate:
aggregate holds the map and reduce steps, cluster the engine); this module
decides the picture before the counting (the canvas, the output size, the
blob size, the renderer's grid) and draws the one summed grid after it,
through export's and gaze's own drawing code, so a sum of inputs gives the
picture that drawing them from one store gives.

Canvases: stores are summed pixel for pixel when their screens agree
(canvases that were only inferred from where a log's points fell merge, as
they do in export); different screens are refused unless `normalize_canvas`
maps each input's canvas onto the output size (the result lists what was
rescaled). Gaze exports are drawn on one reference image, as `gaze` draws them.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from trackheat import render
from trackheat.accumulate import binned, density
from trackheat.accumulate.aggregate import (
    GAZE,
    WEIGHTS,
    Described,
    Partial,
    Placement,
    Plan,
    Selection,
    add,
    count_batch,
    describe_batch,
    find_inputs,
)
from trackheat.accumulate.cluster import Engine, Progress, batches
from trackheat.accumulate.points import place
from trackheat.accumulate.points import KINDS
from trackheat.canvas import Canvas, Rect
from trackheat.errors import UserError
from trackheat.importers import ImportOptions
from trackheat.outputs import export, gaze, images
from trackheat.outputs.images import DEFAULT_ALPHA
from trackheat.store import shown_apps, titled_apps


@dataclass
class AggregateResult:
    heatmap: Path
    overlay: Path
    density: Path | None
    width: int
    height: int
    inputs: list[dict]  # one per input counted: what it held and what of it was drawn
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (input, why) of the bad inputs left out
    amount: str = ""
    sigma: float = 0.0
    engine: str = ""
    seconds: float = 0.0
    rows: int = 0


def aggregate(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    kind: str = "moves",
    since: float | None = None,
    until: float | None = None,
    apps: Sequence[str | None] | None = None,
    monitor: str | int | None = "all",
    background: str | Path | None = None,
    reference: str | Path | None = None,
    gaze_options: ImportOptions | None = None,
    bins: int = binned.DEFAULT_BINS,
    sigma: str | float | None = None,
    colormap: str = render.DEFAULT_COLORMAP,
    scale: str = "max",
    alpha: float | None = None,
    size: str | None = None,
    density_path: str | Path | None = None,
    normalize_canvas: bool = False,
    skip_bad: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    processes: bool = True,
    progress: Progress | None = None,
) -> AggregateResult:
    """Everything `trackheat aggregate` does, callable from Python."""
    t0 = time.monotonic()
    render.colormap_id(colormap)
    render.parse_scale(scale)
    if alpha is not None and not 0.0 <= float(alpha) <= 1.0:
        raise UserError(f"expected a number from 0 to 1, got {alpha}", param="alpha")
    if since is not None and until is not None and until <= since:
        raise UserError("`until` must be later than `since`", param="until")
    if kind not in KINDS:
        raise UserError(f"expected one of {', '.join(KINDS)}, got {kind!r}", param="kind")
    if int(bins) < 1:
        raise UserError(f"expected a positive number, got {bins}", param="bins")
    found, bad = find_inputs(inputs)
    _stop_at_bad(bad, skip_bad, len(found) + len(bad))
    if not found:
        raise UserError(f"none of the {len(bad)} inputs could be read (first: {bad[0][1]})")
    sel = Selection(kind, since, until, gaze_options or ImportOptions(), None if apps is None else tuple(apps))
    with Engine(scheduler, workers=workers, tasks=len(found), processes=processes) as eng:
        n_workers = max(1, eng.n_workers)
        described: list[Described] = [d for ds in eng.map(describe_batch, batches(found, [1] * len(found), workers=n_workers, most=DESCRIBE_BATCH), sel)
                                      for d in ds]
        bad += [(d.input.path, d.problem or "") for d in described if d.problem]
        _stop_at_bad(bad, skip_bad, len(found) + len(bad))
        good = [d for d in described if not d.problem]
        if not good:
            raise UserError(f"none of the {len(bad)} inputs could be read (first: {bad[0][1]})")
        n_gaze = sum(d.input.kind == GAZE for d in good)
        if n_gaze and n_gaze != len(good):
            raise UserError("gaze exports and mouse stores cannot be summed into one picture: aggregate them separately")
        if n_gaze:
            if apps is not None:
                raise UserError("`app` chooses applications in stores and dumps; gaze exports have none", param="app")
            plan, image = _gaze_plan(sel, reference, bins, sigma)
        else:
            if reference is not None:
                raise UserError("`reference` is for gaze exports; these inputs are stores (use `background` for an image under them)")
            _check_apps(good, sel.apps)
            plan, fr, bg_img, canvas = _mouse_plan(good, sel, monitor, size, sigma, background, normalize_canvas)
        engine = scheduler or f"LocalCluster ({eng.workers} {'process' if processes else 'thread'}{'es' if processes and eng.workers != 1 else 's' if eng.workers != 1 else ''})"
        work = batches([d.input for d in good], [d.rows + INPUT_COST for d in good], workers=n_workers, most=ROWS_PER_TASK)
        sizes = [len(b) for b in work]
        part = eng.map_reduce(count_batch, work, plan, add, progress, sizes)
        if not n_gaze and part.points is None and not part.empty:
            # The grid was chosen for at most `rows` points; the inputs hold this many on the
            # picture. Few of them (a resting cursor: many moves on few pixels) is where export
            # would blur at another grid: count again at the grid it would blur.
            points = sum(int(i["points"]) for i in part.inputs)
            method = density.counting_method(points, plan.width, plan.height, plan.sigma)
            if method != plan.method:
                plan = dataclasses.replace(plan, method=method)
                part = eng.map_reduce(count_batch, work, plan, add, progress, sizes)
    _stop_at_bad(part.bad, skip_bad, len(good))
    skipped = bad + part.bad
    rows = sum(int(i.get("rows", 0)) for i in part.inputs)
    if n_gaze:
        res = _draw_gaze(part.dense(), part.inputs, plan, image, out_dir, sel, colormap=colormap, scale=scale, alpha=alpha, density_path=density_path)
    else:
        res = _draw_mouse(part, part.inputs, good, plan, fr, canvas, bg_img, out_dir, sel, monitor=monitor, normalized=bool(plan.placements),
                          colormap=colormap, scale=scale, alpha=alpha, density_path=density_path)
    res.skipped = skipped
    res.engine = engine
    res.rows = rows
    res.seconds = time.monotonic() - t0
    return res


# Batches: the scheduler's cost is per task, the workers' per row. A batch holds at most this many
# rows (about a second of reading on one core here) and each input counts as INPUT_COST rows more
# (opening a store and its first queries: ~2 ms); at least 4 batches per worker even so.
ROWS_PER_TASK = 1_000_000
INPUT_COST = 2_000
DESCRIBE_BATCH = 64  # inputs per `describe` task (a few ms each)
# Partials of few points travel as the points (16-24 bytes each): up to this many at least, and as
# many as export would still stamp one by one, so the client draws them exactly as export does.
POINTS_SHIPPED = 65_536
POINTS_MOST = 4_000_000


def points_cap(width: int, height: int, sigma: float) -> int:
    """How many points a partial may hold as points: POINTS_SHIPPED, or more up to the most
    export's renderer would stamp on this grid (density.choose_method), at most POINTS_MOST."""
    lo, hi = 0, POINTS_MOST
    if density.choose_method(hi, width, height, sigma) == "stamp":
        return POINTS_MOST
    while hi - lo > 1:  # stamping costs a fixed amount per point more than counting: one threshold
        mid = (lo + hi) // 2
        if density.choose_method(mid, width, height, sigma) == "stamp":
            lo = mid
        else:
            hi = mid
    return max(POINTS_SHIPPED, lo)


def _check_apps(good: list[Described], apps: Sequence[str | None] | None) -> None:
    """Each application asked for is in at least one input; else one line naming those they have (as export)."""
    if apps is None:
        return
    have = {a for d in good for a in d.apps}
    missing = [a for a in apps if a not in have]
    if missing:
        shown = shown_apps(sorted(have, key=lambda n: (n is not None, n or "")))
        where = "this input" if len(good) == 1 else f"any of the {len(good)} inputs"
        raise UserError(f"no application {missing[0]!r} in {where}; they have: {shown}", param="app")


def _stop_at_bad(bad: list[tuple[str, str]], skip_bad: bool, n: int) -> None:
    """The first bad input stops the run, unless bad inputs are to be left out."""
    if bad and not skip_bad:
        raise UserError(f"{bad[0][1]} (`skip_bad` leaves bad inputs out)" if n > 1 else bad[0][1])


# -- mouse: stores and Parquet files ---------------------------------------------------
def _input_canvas(d: Described) -> Canvas | None:
    if d.sessions:
        return export.union_canvas(d.sessions)
    return d.canvas


def _screen(m: Rect) -> str:
    return f"{m.width}x{m.height}" + (f" at {m.left},{m.top}" if (m.left, m.top) != (0, 0) else "")


def _overlap(a: Rect, b: Rect) -> bool:
    return a.left < b.right and b.left < a.right and a.top < b.bottom and b.top < a.bottom


def _screen_conflict(good: list[Described]) -> tuple[str, Rect, str, Rect] | None:
    """Two inputs whose real monitors cover the same desktop pixels with different screens, or None.

    Monitors side by side are one desktop (summed as export sums a session
    that moved between layouts); canvases only inferred from where a log's
    points fell are no screen at all and merge. Within one input anything
    goes, as in export. Checked over the distinct monitors, not input pairs.
    """
    owners: dict[Rect, set[str]] = {}
    for d in good:
        canvases = [s.canvas for s in d.sessions] or ([d.canvas] if d.canvas is not None else [])
        for c in canvases:
            if c.extra.get("inferred"):
                continue
            for m in c.monitors:
                seen = owners.setdefault(m, set())
                if len(seen) < 2:
                    seen.add(d.input.path)
    rects = list(owners)
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            if _overlap(a, b):
                pa, pb = owners[a], owners[b]
                if pa != pb or len(pa) > 1:
                    x = sorted(pa)[0]
                    y = sorted(pb - {x} or pb)[0]
                    return x, a, y, b
    return None


def _mouse_plan(good: list[Described], sel: Selection, monitor, size, sigma, background, normalize: bool):
    canvases = {d.input.path: _input_canvas(d) for d in good}
    present = {p: c for p, c in canvases.items() if c is not None}
    if not present:
        raise UserError("the inputs hold no sessions: nothing to draw")
    conflict = _screen_conflict(good)
    bg_img = export.background_file(background) if background else None
    label = f"{len(good)} inputs"
    n_est = sum(d.rows for d in good)
    if conflict is None and not normalize:
        # One screen layout (or none known): the canvas export would draw them on from one store.
        pseudo = [s for d in good for s in d.sessions] + [_Pseudo(d.canvas) for d in good if not d.sessions and d.canvas is not None]
        canvas = export.union_canvas(pseudo)
        if bg_img is not None:
            canvas = export.fit_inferred_canvas(canvas, bg_img.shape[1], bg_img.shape[0])
        fr = export.frame(canvas, kind=sel.kind, monitor=monitor, size=size, sigma=sigma, label=label)
        method = density.counting_method(n_est, fr.width, fr.height, fr.sigma_out)
        plan = Plan(sel, fr.width, fr.height, fr.sigma_out, method, export.UPSIZE, placement=Placement(fr.region, fr.sx, fr.sy),
                    points_cap=points_cap(fr.width, fr.height, fr.sigma_out))
        return plan, fr, bg_img, canvas
    if not normalize and conflict is not None:
        p1, r1, p2, r2 = conflict
        raise UserError(f"the inputs were recorded on different screens ({p1}: {_screen(r1)}; {p2}: {_screen(r2)}) "
                        "and cannot be summed pixel for pixel; `normalize_canvas` maps each onto the output size")
    # Normalized: each input's own region (the whole canvas or its monitor N) stretched onto one output.
    regions = {p: export.pick_region(c, monitor)[0] for p, c in present.items()}
    biggest = max(regions.values(), key=lambda r: r.width * r.height)
    out_canvas = Canvas((Rect(0, 0, biggest.width, biggest.height),), kind="desktop")
    fr = export.frame(out_canvas, kind=sel.kind, monitor="all", size=size, sigma=sigma, label=label)
    # Drawn as one plain screen of the output's size: blob size in output pixels, no monitor outlines.
    fr = export.Frame(Rect(0, 0, fr.width, fr.height), [], fr.width, fr.height, fr.sigma_out)
    placements = {p: Placement(r, fr.width / r.width, fr.height / r.height) for p, r in regions.items()}
    method = density.counting_method(n_est, fr.width, fr.height, fr.sigma_out)
    plan = Plan(sel, fr.width, fr.height, fr.sigma_out, method, export.UPSIZE, placements=placements)
    return plan, fr, bg_img, out_canvas


@dataclass
class _Pseudo:
    """A Parquet file's canvas, in the shape export's canvas union reads (it has no session row)."""

    canvas: Canvas


def _draw_mouse(part: Partial, infos: list[dict], good: list[Described], plan: Plan, fr, canvas: Canvas, bg_img, out_dir, sel: Selection, *,
                monitor, normalized: bool, colormap, scale, alpha, density_path) -> AggregateResult:
    total = float(sum(i["total"] for i in infos))
    if part.empty or total <= 0:
        where = "" if sel.since is None and sel.until is None else " in that time range"
        if sel.apps is not None:
            where += " in " + titled_apps(sel.apps)
        raise UserError(f"no {sel.kind} recorded{where} in any of the {len(infos)} inputs, nothing to draw")
    if part.points is not None:
        # Few points in all: drawn as export draws them from one store (the renderer picks stamping,
        # the histogram or the reduced grid for this many), so small inputs match it exactly too.
        assert plan.placement is not None
        pl = plan.placement
        xs, ys, ws = part.points  # (at any byte offset, as Dask delivers them: the renderer copes)
        px, py, origin = place(xs, ys, pl.region, pl.sx, pl.sy)
        image = np.ascontiguousarray(density.density(px, py, ws, width=plan.width, height=plan.height, sigma=plan.sigma,
                                                     origin=origin, upsize=plan.upsize))
    else:
        grid = part.dense()
        assert grid is not None  # (not empty: checked above)
        image = density.finish(grid, width=plan.width, height=plan.height, sigma=plan.sigma, method=plan.method, upsize=plan.upsize)
    sessions = [s for d in good for s in d.sessions]
    amount = export.amount_text(sel.kind, total)
    n_sessions = sum(int(i.get("sessions", 0)) for i in infos)
    when = f" | {export.when_text(sessions, sel.since, sel.until)}" if sessions else ""
    where = "" if monitor in (None, "all") else f" | monitor {monitor}"
    if sel.apps is not None:
        where += " | " + titled_apps(sel.apps)
    rescaled = sum(1 for i in infos if "rescaled" in i)
    norm = f" | {rescaled} of {len(infos)} canvases rescaled to {plan.width}x{plan.height}" if normalized else ""
    title = (f"{len(infos)} inputs, {n_sessions} sessions{when} | {sel.kind}: {amount}{where}{norm} | "
             f"sigma {fr.sigma:.0f} px | scale {scale}")
    bg = export.background_for(bg_img, canvas, fr) if bg_img is not None else None
    heat_img, over_img = export.compose(image, fr, kind=sel.kind, title=title, background=bg, colormap=colormap, scale=scale,
                                        alpha=DEFAULT_ALPHA if alpha is None else alpha)
    heat, over = images.write_rendered(out_dir, heat_img, over_img, image, density_path)
    return AggregateResult(heat, over, Path(density_path) if density_path else None, plan.width, plan.height, infos,
                           amount=amount, sigma=fr.sigma)


# -- gaze: exports on one reference image -----------------------------------------------
def _gaze_plan(sel: Selection, reference, bins: int, sigma) -> tuple[Plan, np.ndarray]:
    if reference is None:
        raise UserError("gaze exports are drawn on a reference image: give `reference`")
    image = gaze.load_reference(reference)
    h, w = image.shape[:2]
    sig = gaze.sigma_bins(None if sigma is None else _bins_sigma(sigma))
    return Plan(sel, w, h, sig, bins=int(bins)), image


def _bins_sigma(sigma) -> float:
    try:
        v = float(sigma)
    except (TypeError, ValueError):
        v = -1.0
    if not v >= 0:
        raise UserError(f"for gaze exports the blur is in bins: expected a number >= 0, got {sigma!r}", param="sigma")
    return v


def _draw_gaze(grid, infos: list[dict], plan: Plan, image: np.ndarray, out_dir, sel: Selection, *, colormap, scale, alpha, density_path) -> AggregateResult:
    weight = gaze.pick_weight([{"weight": w} for i in infos for w in i["weights"]], sel.gaze.weight)
    layer = grid[WEIGHTS.index(weight)]
    total = float(sum(i["samples" if weight == "count" else "seconds"] for i in infos))
    if not total > 0:
        raise UserError(f"no {'fixation time' if weight == 'duration' else 'gaze samples'} on the reference in any of the {len(infos)} inputs: nothing to draw")
    d = binned.finish(layer, width=plan.width, height=plan.height, sigma=plan.sigma)
    n_rec = sum(int(i["sessions"]) for i in infos)
    heat, over = gaze.draw_grid(d, image, out_dir, weight=weight, total=total, recordings=n_rec, bins=plan.bins, sigma=plan.sigma,
                                colormap=colormap, scale=scale, alpha=alpha, density_path=density_path)
    return AggregateResult(heat, over, Path(density_path) if density_path else None, plan.width, plan.height, infos,
                           amount=gaze.amount_text(weight, total), sigma=plan.sigma)
