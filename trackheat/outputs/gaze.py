"""`trackheat gaze`: eye-tracker exports to a heatmap over a reference image, in one step.

The files are read by the same importers as `trackheat import` and drawn
from memory by the one renderer with Pupil Cloud's method
(accumulate.binned.binned_density: a histogram whose wider side has 300
bins, a Gaussian blur, normalized to the maximum, Lanczos-resized to the
reference image) and written by images.write_rendered, so gaze images look
exactly like exported mouse ones. With a store (`db`) the sessions are
saved first, one transaction per file; without one nothing is written but
the images.

Each session keeps its own pixel space (a Neon scene camera, a Core world
camera, a reference image, a surface); positions are scaled from it to the
reference image here. By default recordings are summed with no
normalization for recording time, as Pupil Cloud does (a longer recording
weighs more); `normalize="recording"` gives each recording the same total
weight, `normalize="duration"` divides each by its length (Tobii's relative
duration), and `top` fixes the value at 100 % so maps drawn apart share one
scale (as OGAMA does).

Files that carry only samples can be drawn from fixations found here
(`options.fixations` "ivt" or "idt", accumulate.fixations). A folder stands
for the exports in it; members that are not eye-tracker exports, or do not
hold what `options.fixations` asks for, are left out and listed.
Mouse sessions some exports carry (Tobii mouse rows and clicks) are read,
saved with a store, and reported, but not drawn on the gaze map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from trackheat import render
from trackheat.accumulate.fixations import MODES
from trackheat.accumulate.binned import DEFAULT_BINS, DEFAULT_SIGMA_BINS, bin_shape, binned_density
from trackheat.accumulate.points import MOUSE_FORMATS, join, read_gaze_file, session_points, session_weights, to_reference
from trackheat.errors import UserError
from trackheat.importers import ImportedSession, ImportOptions
from trackheat.outputs.images import DEFAULT_ALPHA, compose_images, write_rendered

if TYPE_CHECKING:
    from trackheat.store import Store

UNITS = {"count": "gaze samples", "duration": "seconds"}
NORMALIZE = ("none", "recording", "duration")
PER_RECORDING_UNIT = "share of a recording"
PER_SECOND_UNITS = {"count": "samples per s of recording", "duration": "s per s of recording"}
EXPORT_SUFFIXES = {".csv", ".tsv", ".txt", ".asc"}


@dataclass
class GazeResult:
    heatmap: Path
    overlay: Path
    density: np.ndarray  # float32 (H, W), the grid the images were coloured from
    weight: str
    sessions: list[tuple[int | None, str, ImportedSession]] = field(default_factory=list)  # (store id or None, file, what was read)
    peak: tuple[int, int] = (0, 0)  # reference-image pixel of the maximum
    bins: tuple[int, int] = (0, 0)  # histogram bins (x, y)
    sigma: float = 0.0
    weights: list[float] = field(default_factory=list)  # per entry of `sessions`: its total weight in the map (0 if not drawn)
    assumed: list[tuple[str, tuple[int, int]]] = field(default_factory=list)  # (file, display size) assumed for lack of one
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (folder member, why) not drawn
    normalize: str = "none"
    top: float | None = None  # the value at 100 %, in the colour bar's unit
    notes: list[str] = field(default_factory=list)  # said on stderr: e.g. a reference image the store did not keep


def expand(files: Sequence[str | Path], options: ImportOptions) -> tuple[list[tuple[Path, bool]], list[tuple[str, str]]]:
    """Files as given, and each folder's exports (sorted): [(path, from a folder)], [(left out, why)]."""
    from trackheat import importers

    out: list[tuple[Path, bool]] = []
    left: list[tuple[str, str]] = []
    for f in files:
        path = Path(f)
        if not path.is_dir():
            out.append((path, False))
            continue
        members = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in EXPORT_SUFFIXES)
        for p in members:
            try:
                name = importers.detect(p, options).name
            except UserError as e:
                reason = str(e).split(": ", 1)[-1]
                left.append((str(p), "not a known export (its header matches no format)" if reason.startswith("unknown format") else reason[:120]))
                continue
            if name in MOUSE_FORMATS or name == "csv":
                left.append((str(p), f"{name}: not an eye-tracker export"))
                continue
            out.append((p, True))
        if not members:
            raise UserError(f"{path}: no .csv, .tsv, .txt or .asc files in this folder")
    return out, left


def load_reference(path: str | Path) -> np.ndarray:
    """The reference image as BGR, or a one-line UserError."""
    import cv2

    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such file", param="reference")
    if p.is_dir():
        raise UserError(f"{p}: is a directory, not an image", param="reference")
    from trackheat.imagesize import check_image

    check_image(p)  # the header's size, before decoding: a small file may declare gigapixels
    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        raise UserError(f"{p}: not an image OpenCV can read (PNG, JPEG, ...)", param="reference")
    return img


def read_files(files: Sequence[str | Path], options: ImportOptions, image_size: tuple[int, int],
               left_out: list[tuple[str, str]] | None = None) -> list[tuple[Path, list[ImportedSession]]]:
    """Read every file (folders: the exports in them) before anything is written: one bad file, nothing imported.

    Files whose pixel space is not fixed by the device (reference image,
    surface, plain CSV) are read in the reference image's pixels. With
    `options.fixations` set, sample files become fixation sessions
    (detected) and files that cannot give what it asks for are refused, or,
    inside a folder, left out (appended to `left_out`).
    """
    if options.fixations is not None and options.fixations not in MODES:
        raise UserError(f"expected one of {', '.join(MODES)}, got {options.fixations!r}", param="fixations")
    paths, left = expand(files, options)
    if left_out is not None:
        left_out += left
    out = []
    for path, in_folder in paths:
        try:
            sessions = read_gaze_file(path, options, image_size)
        except UserError as e:
            if in_folder and getattr(e, "param", None) == "fixations":
                if left_out is not None:
                    left_out.append((str(path), str(e).split(": ", 1)[-1]))
                continue
            raise
        out.append((path, sessions))
    if not out:
        raise UserError(f"no eye-tracker exports to draw in {', '.join(str(f) for f in files)}")
    return out


def pick_weight(sessions: Sequence[ImportedSession | dict], weight: str | None) -> str:
    """--weight, else the sessions' own (fixations: duration, samples: count); mixed needs --weight."""
    if weight:
        if weight not in UNITS:
            raise UserError(f"expected count or duration, got {weight!r}", param="weight")
        return weight
    metas = [s.meta if isinstance(s, ImportedSession) else s for s in sessions]
    found = {m.get("weight", m.get("default_weight", "count")) for m in metas}
    if len(found) > 1:
        raise UserError("these files mix gaze samples (weighed by count) and fixations (weighed by duration): choose `weight` count or duration")
    return found.pop() if found else "count"


def points(store: Store, session_ids: Sequence[int], weight: str, width: int, height: int, since: float | None = None,
           until: float | None = None, apps: Sequence[str | None] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xs, ys, weights) of stored sessions in reference-image pixels (optionally a time range and applications, as export's)."""
    parts = []
    for sid in session_ids:
        p = store.positions([sid], since, until, apps)
        if len(p):
            x, y = to_reference(p.x, p.y, store.session(sid).canvas, width, height)
            parts.append((x, y, p.dwell if weight == "duration" else p.count.astype(np.float64)))
    return join(parts)


def save_files(store: Store, parsed: list[tuple[Path, list[ImportedSession]]], reference: str | Path | None = None,
               notes: list[str] | None = None) -> list[tuple[int | None, str, ImportedSession]]:
    """Save every file's sessions (one transaction for all files) and close the store: (id, file, session).

    With `reference`, the gaze sessions keep that image in the same transaction (keep_reference;
    why it was not kept, if so, is appended to `notes`)."""

    try:
        with store.transaction():
            flat = [s for _path, sessions in parsed for s in sessions]
            saved = store.save_imported(flat)
            if reference is not None:
                why = keep_reference(store, [i for i, s in zip(saved, flat) if s.kind == "gaze"], reference)
                if why and notes is not None:
                    notes.append(why)
        ids = iter(saved)
        return [(next(ids), str(path), s) for path, sessions in parsed for s in sessions]
    finally:
        store.close()


def keep_reference(store: Store, session_ids: Sequence[int], path: str | Path) -> str | None:
    """Keep the reference image's own bytes for these sessions, so `trackheat view` draws them over
    the very pixels `gaze` drew on. Returns why not when the file is over the store's per-image bound."""
    from trackheat.store import MAX_IMAGE_BYTES

    p = Path(path)
    size = p.stat().st_size
    if size > MAX_IMAGE_BYTES:
        return (f"{p}: not kept in the store ({size / 2**20:.1f} MB, over the {MAX_IMAGE_BYTES // 2**20} MB it keeps per image); "
                "the viewer draws these sessions on a plain frame of the reference's size")
    data = p.read_bytes()
    for sid in session_ids:
        store.add_image(sid, data, name=p.name)
    return None


def reference_beside(session: ImportedSession) -> Path | None:
    """The reference image an export was made on, when it lies beside the file (Pupil Cloud's
    enrichment folders) and has the session's pixel size: what `import` keeps for the viewer."""
    from trackheat.importers.gaze_build import REFERENCE_NAMES, image_size

    if session.kind != "gaze" or session.meta.get("space") != "reference image" or "file" not in session.meta:
        return None
    folder = Path(session.meta["file"]).parent
    for name in REFERENCE_NAMES:
        ref = folder / name
        if ref.is_file():
            try:
                size = image_size(ref)
            except UserError:
                return None
            b = session.canvas.bounds
            return ref if size == (b.width, b.height) else None
    return None


MAX_BINS = 4096  # histogram bins on the wider side: 13x Pupil Cloud's 300, a 4096x4096 grid at most


def sigma_bins(sigma: float | None) -> float:
    """The blur in bins: the binned density's own default (Pupil Cloud's: 1 % of the 300 bins)."""
    return DEFAULT_SIGMA_BINS if sigma is None else float(sigma)


def _draw(sessions: Sequence[ImportedSession], files, image: np.ndarray, out_dir, *, weight: str, bins: int, sigma: float | None,
          colormap: str, scale: str, alpha: float | None, density_path, normalize: str = "none", top: float | None = None) -> tuple[np.ndarray, Path, Path]:
    """Pupil Cloud's heatmap of the sessions over `image`, written as export writes it: (grid, heatmap, overlay)."""
    height, width = image.shape[:2]
    xs, ys, ws = session_points(sessions, weight, width, height, normalize)
    sig = sigma_bins(sigma)
    if not len(xs) or not np.any(ws > 0):
        what = "fixation time" if weight == "duration" else "gaze samples"
        raise UserError(f"no {what} on the reference in {', '.join(str(f) for f in files)}: nothing to draw (see the skipped and dropped counts)")
    grid = binned_density(xs, ys, ws, width=width, height=height, bins=bins, sigma=sig)
    raw = np.concatenate([session_weights(s, weight) for s in sessions]) if sessions else np.zeros(0)
    heat, over = draw_grid(grid, image, out_dir, weight=weight, total=float(raw.sum()), recordings=len(sessions), bins=bins, sigma=sig,
                           colormap=colormap, scale=scale, alpha=alpha, density_path=density_path, normalize=normalize, top=top)
    return grid, heat, over


def amount_text(weight: str, total: float) -> str:
    return f"{total:,.1f} s of fixation" if weight == "duration" else f"{int(round(total)):,} samples"


def draw_grid(grid: np.ndarray, image: np.ndarray, out_dir, *, weight: str, total: float, recordings: int, bins: int, sigma: float,
              colormap: str, scale: str, alpha: float | None, density_path, normalize: str = "none", top: float | None = None) -> tuple[Path, Path]:
    """heatmap.png and overlay.png of a binned density over the reference `image` (`aggregate` draws its sums here too)."""
    heat, over = grid_images(grid, image, weight=weight, total=total, recordings=recordings, bins=bins, sigma=sigma, colormap=colormap,
                             scale=scale, alpha=alpha, normalize=normalize, top=top)
    return write_rendered(out_dir, heat, over, np.asarray(grid, np.float32), density_path)


def grid_images(grid: np.ndarray, image: np.ndarray, *, weight: str, total: float, recordings: int, bins: int, sigma: float,
                colormap: str, scale: str, alpha: float | None, normalize: str = "none", top: float | None = None,
                where: str = "") -> tuple[np.ndarray, np.ndarray]:
    """draw_grid's two images in memory, (heatmap BGRA, overlay BGR): what `trackheat view` shows of gaze sessions
    (`where`: what else the title must say, e.g. a time range)."""
    height, width = image.shape[:2]
    # A lone point reads 1 at its peak, so the bar counts samples or seconds per blob.
    lone = binned_density([width / 2], [height / 2], [1.0], width=width, height=height, bins=bins, sigma=sigma)
    unit_scale = 1.0 / float(lone.max()) if lone.max() > 0 else 1.0
    amount = amount_text(weight, total)
    bx, by = bin_shape(width, height, bins)
    norm = "" if normalize == "none" else f", per {'recording' if normalize == 'recording' else 'recording time'}"
    title = f"{recordings} recording{'s' if recordings != 1 else ''} | {amount} | {bx}x{by} bins, sigma {sigma:g} bins | weight: {weight}{norm}{where}"
    unit = UNITS[weight] if normalize == "none" else PER_RECORDING_UNIT if normalize == "recording" else PER_SECOND_UNITS[weight]
    return compose_images(grid, background_bgr=image, colormap=colormap, scale=scale, unit=unit,
                          title=title, unit_scale=unit_scale, alpha=DEFAULT_ALPHA if alpha is None else alpha,
                          top=None if top is None else top / unit_scale)  # the bar's unit -> density


def heatmap(
    files: Sequence[str | Path],
    reference: str | Path,
    out_dir: str | Path,
    *,
    options: ImportOptions | None = None,
    bins: int = DEFAULT_BINS,
    sigma: float | None = None,
    colormap: str = render.DEFAULT_COLORMAP,
    scale: str = "max",
    alpha: float | None = None,
    db: str | Path | None = None,
    density_path: str | Path | None = None,
    normalize: str = "none",
    top: float | None = None,
) -> GazeResult:
    """Read `files` (saving them into the store `db` if given) and draw them over `reference`."""

    options = options or ImportOptions()
    if not files:
        raise UserError("no files given")
    if not 1 <= int(bins) <= MAX_BINS:  # the histogram and its blur grow with bins squared
        raise UserError(f"expected a number of bins from 1 to {MAX_BINS}, got {bins}", param="bins")
    if sigma is not None and not (0 <= sigma <= int(bins)):  # a blur wider than the grid is a flat picture (and NaN/inf never pass)
        raise UserError(f"expected a blur from 0 to `bins` ({int(bins)}) bins, got {sigma}", param="sigma")
    if normalize not in NORMALIZE:
        raise UserError(f"expected one of {', '.join(NORMALIZE)}, got {normalize!r}", param="normalize")
    if top is not None and not (np.isfinite(top) and top > 0):
        raise UserError(f"expected a positive number, got {top}", param="top")
    render.colormap_id(colormap)  # a bad name fails before any work
    image = load_reference(reference)
    height, width = image.shape[:2]
    left_out: list[tuple[str, str]] = []
    parsed = read_files(files, options, (width, height), left_out)
    all_sessions = [s for _, ss in parsed for s in ss]
    drawn = [s for s in all_sessions if s.kind == "gaze"]
    weight = pick_weight(drawn, options.weight)
    weights = {id(s): float(session_weights(s, weight, normalize).sum()) for s in drawn}  # also checks every recording can be normalized

    def draw() -> tuple[np.ndarray, Path, Path]:
        return _draw(drawn, [p for p, _ in parsed], image, out_dir, weight=weight, bins=bins, sigma=sigma, colormap=colormap, scale=scale,
                     alpha=alpha, density_path=density_path, normalize=normalize, top=top)

    result_sessions: list[tuple[int | None, str, ImportedSession]]
    notes: list[str] = []
    if db is not None:
        # The user's store first: if it cannot take the files, no images claim they were imported.
        from trackheat.store import Store

        result_sessions = save_files(Store(db, create=True), parsed, reference, notes)
    else:
        result_sessions = [(None, str(path), s) for path, ss in parsed for s in ss]
    grid, heat, over = draw()
    bx, by = bin_shape(width, height, bins)
    sig = sigma_bins(sigma)
    py, px = np.unravel_index(int(np.argmax(grid)), grid.shape)
    assumed = sorted({(str(path), tuple(s.meta["assumed_size"])) for path, ss in parsed for s in ss if "assumed_size" in s.meta})
    return GazeResult(heat, over, grid, weight, result_sessions, (int(px), int(py)), (bx, by), sig,
                      weights=[weights.get(id(s), 0.0) for _, _, s in result_sessions], assumed=assumed, left_out=left_out,
                      normalize=normalize, top=top, notes=notes)
