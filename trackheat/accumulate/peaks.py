"""Hot spots: the busiest places, as the heatmap shows them.

The pixels with the highest counts are neighbours of one spot ((269,54), (266,55),
(268,53), ...), and a pixel counted 0 (dwell only, or a flush cut short) can rank too.
A hot spot here is a peak of the blurred density (the blobs `export` draws), each at
least two blob sizes from a stronger one, reported with the moves (or weight) within a
blob of it: never zero, never two of one spot.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from trackheat.accumulate.density import default_sigma, density


@dataclass(frozen=True)
class HotSpot:
    x: int
    y: int
    count: float  # weight within `radius` of (x, y)

    def as_list(self) -> list:
        return [self.x, self.y, int(round(self.count)) if float(self.count).is_integer() else round(self.count, 3)]


def hot_spots(xs, ys, weights, *, width: int, height: int, origin: tuple[int, int] = (0, 0), n: int = 5,
              sigma: float | None = None) -> list[HotSpot]:
    """Up to `n` peaks of the density (sigma: 1 % of the diagonal), each at least 2 sigma from every
    stronger peak and with a positive weight within sigma of it; the most weight first."""
    x = np.asarray(xs, np.float64)
    y = np.asarray(ys, np.float64)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, np.float64)
    keep = w > 0
    x, y, w = x[keep], y[keep], w[keep]
    if len(x) == 0 or n <= 0:
        return []
    sig = float(sigma) if sigma else default_sigma(width, height)
    d = density(x, y, w, width=width, height=height, sigma=sig, origin=origin)
    r = max(1, int(round(sig)))
    # a square neighbourhood: OpenCV dilates by a rectangle as a row pass and a column pass (about 20x
    # faster than the ellipse at 1080p); its corners only drop peaks within 1.5 sigma of a higher value,
    # which the 2-sigma rule below would drop anyway
    local_max = d >= cv2.dilate(d, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1)))
    cand = np.argwhere(local_max & (d > 0))
    order = np.argsort(-d[cand[:, 0], cand[:, 1]], kind="stable")
    spots: list[HotSpot] = []
    taken: list[tuple[int, int]] = []
    for row, col in cand[order]:
        px, py = int(col) + origin[0], int(row) + origin[1]
        if any((px - tx) ** 2 + (py - ty) ** 2 < (2 * sig) ** 2 for tx, ty in taken):
            continue
        near = (x - px) ** 2 + (y - py) ** 2 <= sig * sig
        count = float(w[near].sum())
        if count <= 0:
            continue
        taken.append((px, py))
        spots.append(HotSpot(px, py, count))
        if len(spots) == n:
            break
    return sorted(spots, key=lambda h: -h.count)
