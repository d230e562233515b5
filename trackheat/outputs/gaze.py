"""`trackheat gaze`: eye-tracker exports to a heatmap over a reference image, in one step.

The files are read by the same importers as `trackheat import` and drawn
from memory by the one renderer with Pupil Cloud's method
(accumulate.binned.binned_density: a histogram whose wider side has 300
bins, a Gaussian blur, normalized to the maximum, Lanczos-resized to the
reference image) and written by images.write_images, so gaze images look
exactly like exported mouse ones. With a store (`db`) the sessions are
saved first, one transaction per file; without one nothing is written but
the images.

Each session keeps its own pixel space (a Neon scene camera, a Core world
camera, a reference image, a surface); positions are scaled from it to the
reference image here. Recordings are summed with no normalization for
recording time, as Pupil Cloud does: a longer recording weighs more.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from trackheat import render
from trackheat.accumulate.binned import DEFAULT_BINS, DEFAULT_SIGMA_BINS, bin_shape, binned_density
from trackheat.errors import UserError
from trackheat.importers import ImportedSession, ImportOptions
from trackheat.outputs.images import DEFAULT_ALPHA, write_images

if TYPE_CHECKING:
    from trackheat.store import Store

MOUSE_FORMATS = {"mouse-dynamics", "positions-json"}
UNITS = {"count": "gaze samples", "duration": "seconds"}


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


def load_reference(path: str | Path) -> np.ndarray:
    """The reference image as BGR, or a one-line UserError."""
    import cv2

    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such file", param="reference")
    if p.is_dir():
        raise UserError(f"{p}: is a directory, not an image", param="reference")
    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        raise UserError(f"{p}: not an image OpenCV can read (PNG, JPEG, ...)", param="reference")
    return img


def read_files(files: Sequence[str | Path], options: ImportOptions, image_size: tuple[int, int]) -> list[tuple[Path, list[ImportedSession]]]:
    """Read every file before anything is written: one bad file, nothing imported.

    Files whose pixel space is not fixed by the device (reference image,
    surface, plain CSV) are read in the reference image's pixels.
    """
    from trackheat import importers
    from trackheat.importers.gaze_plain import NATIVE_SIZE

    out = []
    for f in files:
        path = Path(f)
        fmt = importers.detect(path, options)
        name = fmt.name
        if name == "csv":  # "x,y" alone: the mouse CSV's header, here a gaze one
            name = "gaze-csv"
        elif name in MOUSE_FORMATS:
            raise UserError(f"{path}: a {name} file is mouse data; `trackheat gaze` reads eye-tracker exports (use `trackheat import` and `trackheat export`)")
        size = options.reference_size or (None if name in NATIVE_SIZE else image_size)
        out.append((path, importers.read(path, dataclasses.replace(options, format=name, reference_size=size))))
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


def _to_reference(xs, ys, canvas, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Canvas pixels -> reference-image pixels. Stored pixel i covers [i, i+1): draw it at its centre."""
    b = canvas.bounds
    return (np.asarray(xs, np.float64) - b.left + 0.5) * (width / b.width), (np.asarray(ys, np.float64) - b.top + 0.5) * (height / b.height)


def _join(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not parts:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    return tuple(np.concatenate(k) for k in zip(*parts))  # type: ignore[return-value]


def points(store: Store, session_ids: Sequence[int], weight: str, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xs, ys, weights) of stored sessions in reference-image pixels."""
    parts = []
    for sid in session_ids:
        p = store.positions([sid])
        if len(p):
            x, y = _to_reference(p.x, p.y, store.session(sid).canvas, width, height)
            parts.append((x, y, p.dwell if weight == "duration" else p.count.astype(np.float64)))
    return _join(parts)


def session_points(sessions: Sequence[ImportedSession], weight: str, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same as `points` for the sessions just saved, from memory.

    Exactly what the store now holds for them (save only sums samples per
    pixel, and the histogram sums per bin anyway), without reading a million
    rows back through SQL (measured: longer than parsing and rendering together).
    """
    parts = []
    for s in sessions:
        if len(s.xs):
            x, y = _to_reference(s.xs, s.ys, s.canvas, width, height)
            w = np.asarray(s.dwell, np.float64) if weight == "duration" else (np.ones(len(s.xs)) if s.counts is None else np.asarray(s.counts, np.float64))
            parts.append((x, y, w))
    return _join(parts)


def save_files(store: Store, parsed: list[tuple[Path, list[ImportedSession]]]) -> list[tuple[int | None, str, ImportedSession]]:
    """Save every file's sessions (one transaction per file) and close the store: (id, file, session)."""

    try:
        out: list[tuple[int | None, str, ImportedSession]] = []
        for path, sessions in parsed:
            ids = store.save_imported(sessions)
            out += [(sid, str(path), s) for sid, s in zip(ids, sessions)]
        return out
    finally:
        store.close()


def _sigma(sigma: float | None) -> float:
    """The blur in bins: the binned density's own default (Pupil Cloud's: 1 % of the 300 bins)."""
    return DEFAULT_SIGMA_BINS if sigma is None else float(sigma)


def _draw(sessions: Sequence[ImportedSession], files, image: np.ndarray, out_dir, *, weight: str, bins: int, sigma: float | None,
          colormap: str, scale: str, alpha: float | None, density_path) -> tuple[np.ndarray, Path, Path]:
    """Pupil Cloud's heatmap of the sessions over `image`, written as export writes it: (grid, heatmap, overlay)."""
    height, width = image.shape[:2]
    xs, ys, ws = session_points(sessions, weight, width, height)
    sig = _sigma(sigma)
    if not len(xs) or not np.any(ws > 0):
        what = "fixation time" if weight == "duration" else "gaze samples"
        raise UserError(f"no {what} on the reference in {', '.join(str(f) for f in files)}: nothing to draw (see the skipped and dropped counts)")
    grid = binned_density(xs, ys, ws, width=width, height=height, bins=bins, sigma=sig)
    # A lone point reads 1 at its peak, so the bar counts samples or seconds per blob.
    lone = binned_density([width / 2], [height / 2], [1.0], width=width, height=height, bins=bins, sigma=sig)
    unit_scale = 1.0 / float(lone.max()) if lone.max() > 0 else 1.0
    total = float(ws.sum())
    amount = f"{total:,.1f} s of fixation" if weight == "duration" else f"{int(round(total)):,} samples"
    n_rec = len(sessions)
    bx, by = bin_shape(width, height, bins)
    title = f"{n_rec} recording{'s' if n_rec != 1 else ''} | {amount} | {bx}x{by} bins, sigma {sig:g} bins | weight: {weight}"
    heat, over = write_images(grid, out_dir, background_bgr=image, colormap=colormap, scale=scale, unit=UNITS[weight],
                                     title=title, unit_scale=unit_scale, density_path=density_path,
                                alpha=DEFAULT_ALPHA if alpha is None else alpha)
    return grid, heat, over


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
) -> GazeResult:
    """Read `files` (saving them into the store `db` if given) and draw them over `reference`."""

    options = options or ImportOptions()
    if not files:
        raise UserError("no files given")
    if int(bins) < 1:
        raise UserError(f"expected a positive number, got {bins}", param="bins")
    if sigma is not None and not sigma >= 0:
        raise UserError(f"expected a number >= 0 (in bins), got {sigma}", param="sigma")
    render.colormap_id(colormap)  # a bad name fails before any work
    image = load_reference(reference)
    height, width = image.shape[:2]
    parsed = read_files(files, options, (width, height))
    all_sessions = [s for _, ss in parsed for s in ss]
    weight = pick_weight(all_sessions, options.weight)

    def draw() -> tuple[np.ndarray, Path, Path]:
        return _draw(all_sessions, files, image, out_dir, weight=weight, bins=bins, sigma=sigma, colormap=colormap, scale=scale,
                     alpha=alpha, density_path=density_path)

    result_sessions: list[tuple[int | None, str, ImportedSession]]
    if db is not None:
        # The user's store first: if it cannot take the files, no images claim they were imported.
        from trackheat.store import Store

        result_sessions = save_files(Store(db, create=True), parsed)
    else:
        result_sessions = [(None, str(path), s) for path, ss in parsed for s in ss]
    grid, heat, over = draw()
    bx, by = bin_shape(width, height, bins)
    sig = _sigma(sigma)
    py, px = np.unravel_index(int(np.argmax(grid)), grid.shape)
    return GazeResult(heat, over, grid, weight, result_sessions, (int(px), int(py)), (bx, by), sig)
