"""Two selections compared: where A has a larger share of its activity than B, and where less.

Each side is drawn by `render_session` with the same options; the maps are
made shares (each divided by its own total, so a week compares with an
hour) and subtracted. The difference goes through the one colouring path
(render.colorize) with the diverging colormap: red where A has more, blue
where B has more, transparent where they agree, over A's background, with
the same colour bar and title strip as every other trackheat picture.
"""

from __future__ import annotations

import numpy as np

from trackheat import render
from trackheat.errors import UserError
from trackheat.outputs.export import Rendered
from trackheat.outputs.images import compose_images


def difference_image(a: Rendered, b: Rendered, *, alpha: float, title: str) -> np.ndarray:
    """The overlay (BGR) of A's share minus B's share, 0 % = all B, 50 % = equal, 100 % = all A."""
    if a.density.shape != b.density.shape:
        (ha, wa), (hb, wb) = a.density.shape, b.density.shape
        raise UserError(f"A is drawn {wa}x{ha} and B {wb}x{hb}: compare selections recorded on the same screen, or pick one monitor")
    sa, sb = float(a.density.sum()), float(b.density.sum())
    if sa <= 0 or sb <= 0:
        raise UserError("one side has nothing to draw")
    d = a.density / np.float32(sa) - b.density / np.float32(sb)
    top = float(np.abs(d).max())
    level = np.float32(0.5) + d * np.float32(0.5 / top) if top > 0 else np.full(d.shape, 0.5, np.float32)
    _heat, over = compose_images(
        level, background_bgr=a.background, colormap=render.DIVERGING, scale="max", alpha=alpha, top=1.0,
        label="B more - A more", title=title, outlines=a.outlines, background_outlines=a.background is None,
    )
    return over
