"""Gaze sessions in the viewer: drawn as `trackheat gaze` draws them, over the reference image the store kept.

`trackheat gaze --db` (and `import` of an export with its reference image
beside it) keeps the image file's own bytes; decoded here the same way gaze
decodes the file, the positions placed on it by gaze's own `points`, binned
and blurred by `binned_density` and coloured by `grid_images`, so at the
reference's size the page shows the PNG `trackheat gaze` writes for the same
options (kind moves = `weight` count, dwell = `weight` duration; sigma in
bins). Shown smaller, the reference is scaled down first and the same
histogram drawn on it: the same picture at the width shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from trackheat.errors import UserError

if TYPE_CHECKING:
    from trackheat.outputs.export import Rendered
    from trackheat.store import SessionInfo, Store
    from trackheat.viewer.explorer import LRU, View

WEIGHTS = {"moves": "count", "dwell": "duration"}  # the page's kinds as gaze's weights


@dataclass(frozen=True)
class Reference:
    """The image a gaze selection is drawn over: its sha256 (the cache key), file name and bytes."""

    sha256: str
    name: str | None
    data: bytes


def reference_of(infos: Sequence[SessionInfo], image_of: Callable[[SessionInfo], Reference | None]) -> Reference | None:
    """The reference image shared by every session of a gaze selection, or None (a mouse session
    in it, a session with none kept, or two references: gaze draws recordings on one image).
    `image_of` finds a session's (the viewer keeps them between store changes)."""
    if not infos or any(s.kind != "gaze" for s in infos):
        return None
    found = [image_of(s) for s in infos]
    first = found[0]
    if first is None or any(f is None or f.sha256 != first.sha256 for f in found):
        return None
    return first


def _sigma(text: str | None, bins: int) -> float | None:
    if text is None:
        return None
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0 <= v <= bins:
        raise UserError(f"sigma: for gaze sessions the blur is in bins, from 0 to the bins ({bins}); got {text!r}")
    return v


def _output_size(size: str | None, width: int, height: int) -> tuple[int, int]:
    """The picture's size: the reference's, or narrower at the width the page shows it (aspect kept)."""
    if not size:
        return width, height
    from trackheat.canvas import parse_size

    w, _h = parse_size(size, aspect=(width, height))
    if w >= width:
        return width, height
    return w, max(1, round(height * w / width))


def render_gaze(store: Store, view: View, ref: Reference, cache: LRU) -> Rendered:
    """What `trackheat gaze FILES --reference IMAGE --weight W --bins B --sigma S ...` draws, from the store."""
    import cv2

    from trackheat.accumulate.binned import binned_density
    from trackheat.outputs import gaze
    from trackheat.outputs.export import ExportResult, Rendered
    from trackheat.outputs.summary import check_range, describe_range

    weight = WEIGHTS.get(view.kind)
    if weight is None:
        raise UserError(f"kind: gaze sessions hold gaze samples and fixations, no {view.kind}: moves (weight: count) or dwell (weight: duration)")
    if not 1 <= view.bins <= gaze.MAX_BINS:
        raise UserError(f"bins: expected 1 to {gaze.MAX_BINS}, got {view.bins}")
    check_range(view.since, view.until)
    sigma = gaze.sigma_bins(_sigma(view.sigma, view.bins))
    ids = list(view.sessions)

    def decode() -> np.ndarray:
        img = cv2.imdecode(np.frombuffer(ref.data, np.uint8), cv2.IMREAD_COLOR)  # load_reference's cv2.imread, from the same bytes
        if img is None or img.size == 0:
            raise UserError(f"the stored reference image {ref.name or ''} cannot be decoded")
        return img

    full = cache.get_or(("reference", ref.sha256), decode)
    width, height = _output_size(view.size, full.shape[1], full.shape[0])
    image = full if (width, height) == (full.shape[1], full.shape[0]) else cache.get_or(
        ("reference", ref.sha256, width, height), lambda: cv2.resize(full, (width, height), interpolation=cv2.INTER_AREA))
    apps = view.export_kwargs().get("apps")
    key = ("gaze points", tuple(ids), weight, width, height, view.since, view.until, None if apps is None else tuple(apps))
    xs, ys, ws = cache.get_or(key, lambda: gaze.points(store, ids, weight, width, height, view.since, view.until, apps))
    if not len(xs) or not np.any(ws > 0):
        what = "fixation time" if weight == "duration" else "gaze samples"
        raise UserError(f"no {what} in this selection{'' if view.since is None and view.until is None else ' in that time range'}: nothing to draw")
    grid = cache.get_or(("gaze grid", key, view.bins, sigma), lambda: binned_density(xs, ys, ws, width=width, height=height, bins=view.bins, sigma=sigma))
    where = ""
    if view.since is not None or view.until is not None:
        where = f" | {describe_range(store.time_range(ids, view.since, view.until))}"
    total = float(ws.sum())
    heat, over = gaze.grid_images(grid, image, weight=weight, total=total, recordings=len(ids), bins=view.bins, sigma=sigma,
                                  colormap=view.colormap, scale=view.scale, alpha=view.alpha, where=where)
    info = ExportResult(Path("heatmap.png"), Path("overlay.png"), None, width, height, int(len(xs)), total, sigma, ids,
                        gaze.amount_text(weight, total), notes=[f"drawn over the stored reference image {ref.name or ''}".rstrip()])
    return Rendered(heat, over, grid, info, background=image)

