"""A session's heatmap as images: heatmap.png (RGBA, heat alone) and overlay.png.

`export_session` reads the store, picks the points (moves, clicks, scrolls or dwell)
and the background, and hands a density grid to images.compose_images (gaze's
write_images goes through it too), so every trackheat picture has the same colours,
colour bar and title; `render_session` is the same in memory, for the viewer. Nothing here needs a display except `--screenshot`, which checks
for one first and imports mss only then.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, MutableMapping, Sequence

import cv2
import numpy as np

from trackheat import defaults, render
from trackheat.accumulate.density import default_sigma, density
from trackheat.accumulate.kernel import gaussian_patch
from trackheat.accumulate import points
from trackheat.accumulate.points import load_points, place
from trackheat.canvas import Canvas, Rect, parse_size, union
from trackheat.imagesize import check_image
from trackheat.errors import UserError
from trackheat.outputs.images import DEFAULT_ALPHA, compose_images, fmt_px, neutral_background, write_rendered
from trackheat.outputs.summary import describe_range
from trackheat.store import TimeRange, titled_apps

if TYPE_CHECKING:
    from trackheat.store import SessionInfo, Store

KINDS = points.KINDS  # (read here by the viewer's menu)
UNITS = {"moves": "moves", "clicks": "clicks", "dwell": "seconds", "scrolls": "scroll steps"}
EVENTS = ("clicks", "scrolls")  # kinds stored one row per event, at exact times: sharper blobs, exact time ranges
DEFAULT_SCALES = defaults.KIND_SCALES  # per kind (why: trackheat/defaults.py)
MAX_PIXELS = 16384 * 16384  # past this a canvas is a data error, not a desktop (and would not fit in memory)
CLICK_SIGMA_FACTOR = 0.5  # clicks are single events at exact spots: sharper blobs than moves
UPSIZE = "lanczos"  # one image, not a video frame: Pupil Cloud's interpolation (0.5 % vs 0.7 % of a lone blob's peak, ~10 ms more at 4K)


# -- options -----------------------------------------------------------------
def parse_sigma(text: str | float | None, width: int, height: int) -> float | None:
    """--sigma: pixels ("25") or a percentage of the diagonal ("1.5%"); None keeps the default."""
    if text is None:
        return None
    t = str(text).strip()
    try:
        if t.endswith("%"):
            v = float(t[:-1]) * math.hypot(width, height) / 100.0
        else:
            v = float(t.removesuffix("px"))
    except ValueError:
        v = float("nan")
    if not (v > 0 and math.isfinite(v)):
        raise UserError(f"expected pixels such as 20 or a share of the diagonal such as 1.5%; got {text!r}", param="sigma")
    diagonal = math.hypot(width, height)
    if v > max(diagonal, 1.0):  # a blob wider than the picture is a flat picture, and costs with sigma squared
        raise UserError(f"expected at most the picture's diagonal ({diagonal:.0f} px, 100%); got {text!r}", param="sigma")
    return v


def pick_region(canvas: Canvas, monitor: str | int | None) -> tuple[Rect, list[Rect]]:
    """The part of the canvas drawn (all of it, or monitor N, 1-based as mss numbers them) and the monitors inside it."""
    spec = "all" if monitor is None else str(monitor).strip().lower()
    if spec in ("all", "0"):  # 0 as live and mss number the whole desktop
        return canvas.bounds, list(canvas.monitors)
    try:
        n = int(spec)
    except ValueError:
        n = -1
    if not 1 <= n <= len(canvas.monitors):
        known = ", ".join(f"{i} ({m.width}x{m.height} at {m.left},{m.top})" for i, m in enumerate(canvas.monitors, start=1))
        raise UserError(f"expected 'all' or a monitor number; this canvas has {known}; got {monitor!r}", param="monitor")
    m = canvas.monitors[n - 1]
    return m, [m]


# -- backgrounds ----------------------------------------------------------------
def _decode(png: bytes, what: str) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise UserError(f"{what}: cannot decode the image")
    return img


def compose_desktop(canvas: Canvas, shots: Sequence[tuple[Rect, np.ndarray]]) -> np.ndarray:
    """Screenshots pasted where their monitors sit on the canvas (BGR, canvas size)."""
    b = canvas.bounds
    out = neutral_background(b.width, b.height, [Rect(m.left - b.left, m.top - b.top, m.width, m.height) for m in canvas.monitors])
    for rect, img in shots:
        if img.shape[:2] != (rect.height, rect.width):
            img = cv2.resize(img, (rect.width, rect.height), interpolation=cv2.INTER_AREA)
        x0, y0 = rect.left - b.left, rect.top - b.top
        xa, ya = max(x0, 0), max(y0, 0)
        xb, yb = min(x0 + rect.width, b.width), min(y0 + rect.height, b.height)
        if xa < xb and ya < yb:
            out[ya:yb, xa:xb] = img[ya - y0:yb - y0, xa - x0:xb - x0]
    return out


def stored_screenshot(store: Store, session_id: int, canvas: Canvas) -> np.ndarray:
    """The session's newest screenshot of each monitor, laid out on the canvas."""
    rows = store.screenshots(session_id)
    if not rows:
        raise UserError(f"session {session_id} has no stored screenshot (a recorder takes them with `screenshot` start|end|both); use a `background` file or a fresh `screenshot`")
    latest: dict[int, bytes] = {}
    for mon, _t, png in rows:  # oldest first: later ones win
        latest[int(mon)] = png
    if canvas.kind == "image" or len(latest) == 1 and len(canvas.monitors) == 1:
        img = _decode(next(iter(latest.values())), f"session {session_id} screenshot")
        return cv2.resize(img, (canvas.width, canvas.height), interpolation=cv2.INTER_AREA) if img.shape[:2] != (canvas.height, canvas.width) else img
    shots = []
    for mon, png in sorted(latest.items()):
        if 1 <= mon <= len(canvas.monitors):
            shots.append((canvas.monitors[mon - 1], _decode(png, f"session {session_id} screenshot of monitor {mon}")))
        elif mon == 0:  # the whole virtual desktop in one image
            shots.append((canvas.bounds, _decode(png, f"session {session_id} screenshot")))
    return compose_desktop(canvas, shots)


def fresh_screenshot(canvas: Canvas) -> np.ndarray:
    """A screenshot taken now (mss), every current monitor placed at its desktop position."""
    from trackheat.sources import display

    display.require_pointer("a fresh screenshot", capture=True)
    from trackheat.sources import screen

    sct = screen.open_mss()
    try:
        now = screen.desktop_canvas(sct)
        shots = [(m, screen.grab_bgr(sct, m)) for m in now.monitors]
    finally:
        sct.close()
    return compose_desktop(canvas, shots)


def background_file(path: str | Path) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: no such file", param="background")
    check_image(p)  # the header's size, before decoding: a small file may declare gigapixels
    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if img is None:
        raise UserError(f"{p}: not an image OpenCV can read (PNG, JPEG, BMP, ...)", param="background")
    return img


# -- the export -----------------------------------------------------------------
@dataclass
class ExportResult:
    heatmap: Path
    overlay: Path
    density: Path | None
    width: int
    height: int
    points: int
    total: float
    sigma: float
    sessions: list[int] = field(default_factory=list)
    amount: str = ""
    range_text: str = ""  # the time range drawn, when one was asked for (positions: widened to whole periods)
    notes: list[str] = field(default_factory=list)  # what the user should know (no bar drawn, ...)
    title: str = ""


def union_canvas(infos: Sequence[SessionInfo]) -> Canvas:
    """One canvas for the sessions drawn together.

    Real monitor layouts (from a recorder) are kept monitor by monitor; canvases
    that were only inferred from where a log's points fell are not monitors, so
    they merge into one rectangle instead of becoming "monitor 2" outlines.
    """
    mons: list[Rect] = []
    inferred: list[Rect] = []
    for s in infos:
        target = inferred if s.canvas.extra.get("inferred") else mons
        for m in s.canvas.monitors:
            if m not in target:
                target.append(m)
    if inferred:
        merged = union(inferred)
        mons = [m for m in mons if not (merged.left <= m.left and merged.top <= m.top and m.right <= merged.right and m.bottom <= merged.bottom)]
        if not any(m.left <= merged.left and m.top <= merged.top and merged.right <= m.right and merged.bottom <= m.bottom for m in mons):
            mons.append(merged)
    kind = "image" if all(s.canvas.kind == "image" for s in infos) else "desktop"
    return Canvas(tuple(mons), kind=kind)


def _session_label(ids: Sequence[int], infos: Sequence[SessionInfo] = ()) -> str:
    if len(ids) == 1:
        return infos[0].label if infos else f"session {ids[0]}"
    if list(ids) == list(range(ids[0], ids[-1] + 1)):
        return f"sessions {ids[0]}-{ids[-1]}"
    return "sessions " + ",".join(map(str, ids))


def when_text(infos: Sequence[SessionInfo], since: float | None, until: float | None) -> str:
    start = since if since is not None else min(s.started for s in infos)
    ends = [s.ended for s in infos if s.ended is not None]
    end = until if until is not None else (max(ends) if ends else None)
    a = _dt.datetime.fromtimestamp(start)
    exact = (since is not None and since % 60) or (until is not None and until % 60)  # say the seconds when they matter
    hm = "%H:%M:%S" if exact else "%H:%M"
    text = a.strftime("%Y-%m-%d " + hm)
    if end is not None:
        b = _dt.datetime.fromtimestamp(end)
        text += "-" + (b.strftime(hm) if b.date() == a.date() else b.strftime("%Y-%m-%d " + hm))
    return text


def export_session(store: Store, out_dir: str | Path, *, density_path: str | Path | None = None, **options: Any) -> ExportResult:
    """Everything `trackheat export` does, callable from Python: `render_session`'s
    images written to OUT_DIR/heatmap.png and overlay.png (and the density grid
    to `density_path`)."""
    r = render_session(store, **options)
    heat, over = write_rendered(out_dir, r.heatmap, r.overlay, r.density, density_path)
    return dataclasses.replace(r.info, heatmap=heat, overlay=over, density=Path(density_path) if density_path else None)


@dataclass
class Rendered:
    """`render_session`'s result: the two images in memory, the density grid, and what was drawn."""

    heatmap: np.ndarray  # BGRA
    overlay: np.ndarray  # BGR
    density: np.ndarray  # float32
    info: ExportResult
    background: np.ndarray | None = None  # BGR at the output size; None: the dark canvas with monitor outlines
    outlines: Sequence[Rect] = ()  # the monitors, in output pixels


def _memo(cache: MutableMapping | None, key: tuple, make: Callable[[], Any]) -> Any:
    """`make()`, kept in `cache` under `key` when the caller gives a cache (the viewer does)."""
    if cache is None:
        return make()
    if key in cache:
        return cache[key]
    value = cache[key] = make()
    return value


def render_session(
    store: Store,
    *,
    session: str = "last",
    since: float | None = None,
    until: float | None = None,
    kind: str = "moves",
    background: str | Path | None = None,
    screenshot: bool = False,
    stored_screenshot_: bool = False,
    monitor: str | int | None = "all",
    sigma: str | float | None = None,
    colormap: str = render.DEFAULT_COLORMAP,
    scale: str | None = None,
    alpha: float = DEFAULT_ALPHA,
    size: str | None = None,
    apps: Sequence[str | None] | None = None,
    cache: MutableMapping | None = None,
) -> Rendered:
    """The pictures `trackheat export` writes, in memory.

    `apps` draws only those applications (None in it: events with no
    application); `since`/`until` are exact for clicks and widened to whole
    stored periods for moves and dwell: the title and `range_text` say which.

    With a `cache` (any mutable mapping; the viewer's is a small LRU that it
    empties when the store changes), the sessions' rows, the points, the
    density grid and the backgrounds are kept between calls, keyed by what
    determines them: a change of colormap, scale or opacity then costs only
    the colouring and the PNG encoding. Without one, nothing is kept.
    `scale` None: the kind's default (DEFAULT_SCALES).
    """
    if kind not in KINDS:
        raise UserError(f"expected one of {', '.join(KINDS)}, got {kind!r}", param="kind")
    scale = DEFAULT_SCALES[kind] if scale is None else scale
    render.colormap_id(colormap)
    render.parse_scale(scale)
    if not 0.0 <= float(alpha) <= 1.0:
        raise UserError(f"expected a number from 0 to 1, got {alpha}", param="alpha")
    if sum(bool(v) for v in (background, screenshot, stored_screenshot_)) > 1:
        raise UserError("give at most one of `background`, `screenshot` and `stored_screenshot`")
    if since is not None and until is not None and until <= since:
        raise UserError("`until` must be later than `since`", param="until")
    ids = store.resolve(session)
    infos = _memo(cache, ("infos", tuple(ids)), lambda: store.infos(ids))
    canvas = union_canvas(infos)
    bg_img = background_file(background) if background else None
    if bg_img is not None:
        canvas = fit_inferred_canvas(canvas, bg_img.shape[1], bg_img.shape[0])
    fr = frame(canvas, kind=kind, monitor=monitor, size=size, sigma=sigma, label=_session_label(ids))
    region = fr.region
    app_key = None if apps is None else tuple(apps)
    points_key = ("points", tuple(ids), kind, since, until, app_key)
    xs, ys, ws = _memo(cache, points_key, lambda: load_points(store, ids, kind, since, until, apps))
    where = "" if since is None and until is None else " in that time range"
    if apps is not None:
        where += " in " + titled_apps(apps)
    if len(xs) == 0:
        raise UserError(f"{_session_label(ids, infos)}: no {kind} recorded{where}, nothing to draw")
    drawn_since, drawn_until, range_text = since, until, ""
    if since is not None or until is not None:
        if kind in EVENTS:
            range_text = describe_range(TimeRange(since, until, since, until, 0))
        else:
            r = _memo(cache, ("range", tuple(ids), since, until), lambda: store.time_range(ids, since, until))
            drawn_since, drawn_until, range_text = r.since, r.until, describe_range(r)
    inside = (xs >= region.left) & (xs < region.right) & (ys >= region.top) & (ys < region.bottom)
    if not inside.any():
        raise UserError(f"{_session_label(ids)}: none of its {kind} fall on monitor {monitor}")
    total = float(np.sum(ws, where=inside))  # (where=: no copy of a month's weights)
    n_inside = int(np.count_nonzero(inside))
    del inside
    # Once drawn, a month's points need not live through the colouring and the PNGs (a cache keeps its own).
    held = [(xs, ys, ws)]
    del xs, ys, ws

    def draw() -> np.ndarray:
        # Drawn straight at the output size: a 4K desktop shrunk to 1280 px costs a 1280 px grid.
        px, py, origin = place(*held[0][:2], region, fr.sx, fr.sy)
        return np.ascontiguousarray(density(px, py, held[0][2], width=fr.width, height=fr.height, sigma=fr.sigma_out, origin=origin, upsize=UPSIZE))

    grid = _memo(cache, ("grid", points_key, region, fr.width, fr.height, fr.sigma_out), draw)
    held.clear()

    # Background in canvas pixels, then cut to the region and scaled to the output.
    bg = None
    if bg_img is not None:
        bg = background_for(bg_img, canvas, fr)
    elif stored_screenshot_ or (not screenshot and store.screenshots(ids[-1])):
        # a session recorded with screenshots is drawn over them unless told otherwise
        bg = _memo(cache, ("screenshot", ids[-1], canvas, region), lambda: _crop(stored_screenshot(store, ids[-1], canvas), canvas, region))
    elif screenshot:
        bg = _crop(fresh_screenshot(canvas), canvas, region)
    amount = amount_text(kind, total) + (" of dwell" if kind == "dwell" else "")
    where_txt = "" if monitor is None or str(monitor).strip().lower() in ("all", "0") else f" | monitor {monitor}"
    if apps is not None:
        where_txt += " | " + titled_apps(apps)
    # one sigma everywhere (title, bar, stdout): in the output's pixels
    title = f"{_session_label(ids, infos)} | {when_text(infos, drawn_since, drawn_until)} | {amount}{where_txt} | sigma {fmt_px(fr.sigma_out)} px | scale {scale}"
    outlines = fr.outlines()
    bg = picture_bg = _to_output(bg, fr)
    if bg is None and cache is not None:  # the same dark canvas compose_images would draw, kept
        bg = _memo(cache, ("neutral", fr.width, fr.height, tuple(outlines)), lambda: neutral_background(fr.width, fr.height, outlines))
        heat, over = compose(grid, fr, kind=kind, title=title, background=bg, background_outlines=False, colormap=colormap, scale=scale, alpha=alpha)
    else:
        heat, over = compose(grid, fr, kind=kind, title=title, background=bg, colormap=colormap, scale=scale, alpha=alpha)
    notes = [] if render.colorbar_fits(fr.width, fr.height) else [
        f"no colour bar or title: the picture is smaller than {render.MIN_BAR_SIZE[0]}x{render.MIN_BAR_SIZE[1]}"]
    info = ExportResult(Path("heatmap.png"), Path("overlay.png"), None, fr.width, fr.height, n_inside, total, fr.sigma_out, list(ids), amount,
                        range_text, notes, title)
    return Rendered(heat, over, grid, info, picture_bg, outlines)


@dataclass(frozen=True)
class Frame:
    """The picture's geometry: the canvas region drawn, its monitors, the output size, the blob size."""

    region: Rect  # canvas pixels
    monitors: list[Rect]  # inside the region, canvas pixels
    width: int  # output pixels
    height: int
    sigma: float  # canvas pixels (the title's)

    @property
    def sx(self) -> float:
        return self.width / self.region.width

    @property
    def sy(self) -> float:
        return self.height / self.region.height

    @property
    def sigma_out(self) -> float:
        """The blob size in output pixels, the density's sigma."""
        return max(self.sigma * math.sqrt(self.sx * self.sy), 0.5)

    def outlines(self) -> list[Rect]:
        """The monitors in output pixels."""
        r = self.region
        # Fractional rectangles in output pixels: compose_images rounds each edge when it draws them.
        return [Rect((m.left - r.left) * self.sx, (m.top - r.top) * self.sy, m.width * self.sx, m.height * self.sy)  # type: ignore[arg-type]
                for m in self.monitors]


def frame(canvas: Canvas, *, kind: str, monitor: str | int | None, size: str | None, sigma: str | float | None, label: str) -> Frame:
    """What export draws of `canvas`: the region (the desktop or monitor N), the output size, the blob size."""
    region, monitors = pick_region(canvas, monitor)
    out_w, out_h = parse_size(size, aspect=(region.width, region.height)) if size else (region.width, region.height)
    if out_w * out_h > MAX_PIXELS:
        raise UserError(f"{label}: the picture would be {out_w}x{out_h} px (positions span {region.width}x{region.height}); give `size` WxH or `monitor` N")
    sig = parse_sigma(sigma, region.width, region.height)
    if sig is None:
        sig = default_sigma(region.width, region.height) * (CLICK_SIGMA_FACTOR if kind in EVENTS else 1.0)
    return Frame(region, monitors, out_w, out_h, sig)


def amount_text(kind: str, total: float) -> str:
    return f"{int(total):,} {UNITS[kind]}" if kind != "dwell" else f"{total:,.1f} seconds"


def background_for(img: np.ndarray, canvas: Canvas, fr: Frame) -> np.ndarray:
    """A background image (in canvas pixels) cut to the frame's region."""
    region = fr.region
    if img.shape[:2] == (region.height, region.width) and region != canvas.bounds:
        return img  # a screenshot of just the monitor asked for
    return _crop(cv2.resize(img, (canvas.width, canvas.height), interpolation=cv2.INTER_AREA if img.shape[1] > canvas.width else cv2.INTER_LINEAR), canvas, region)


def _to_output(bg: np.ndarray | None, fr: Frame) -> np.ndarray | None:
    """A background of the region's pixels scaled to the output size."""
    if bg is not None and bg.shape[:2] != (fr.height, fr.width):
        return cv2.resize(bg, (fr.width, fr.height), interpolation=cv2.INTER_AREA if bg.shape[1] > fr.width else cv2.INTER_LINEAR)
    return bg


def compose(grid: np.ndarray, fr: Frame, *, kind: str, title: str, background: np.ndarray | None = None, background_outlines: bool | None = None,
            colormap: str = render.DEFAULT_COLORMAP, scale: str = "max", alpha: float = DEFAULT_ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """(heatmap BGRA, overlay BGR) of a density on `fr`'s output grid, over `background` (the region's pixels) or the monitors."""
    bg = _to_output(background, fr)
    # A lone point reads 1 at its peak: the bar counts moves/clicks/seconds per blob.
    unit_scale = 1.0 / float(gaussian_patch(fr.sigma_out).max())
    return compose_images(
        grid, background_bgr=bg, colormap=colormap, scale=scale, alpha=alpha, unit=UNITS[kind], title=title, unit_scale=unit_scale,
        outlines=fr.outlines(), background_outlines=bg is None if background_outlines is None else background_outlines, blob_px=fr.sigma_out,
    )


def fit_inferred_canvas(canvas: Canvas, width: int, height: int) -> Canvas:
    """Grow a log's inferred canvas to the screenshot it was recorded on.

    Logs with no layout (mouse-dynamics, plain CSV) get the smallest canvas
    holding their points, usually a few pixels short of the real screen.
    Stretching a 1920x1080 screenshot onto a 1915x1075 canvas would shift
    everything by up to 5 px, so a background at most 10 % larger than a
    single monitor at (0, 0) is taken 1:1 and the canvas grows to it.
    """
    if len(canvas.monitors) != 1 or canvas.origin != (0, 0):
        return canvas
    m = canvas.monitors[0]
    if (width, height) == (m.width, m.height):
        return canvas
    if m.width <= width <= m.width * 1.1 and m.height <= height <= m.height * 1.1:
        return Canvas((Rect(0, 0, width, height),), kind=canvas.kind, extra=canvas.extra)
    return canvas


def _crop(img: np.ndarray, canvas: Canvas, region: Rect) -> np.ndarray:
    b = canvas.bounds
    x0, y0 = region.left - b.left, region.top - b.top
    return img[y0:y0 + region.height, x0:x0 + region.width]
