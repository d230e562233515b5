"""Pupil Cloud's heatmap: a coarse 2-D histogram, blurred in bins, resized up with Lanczos."""

from __future__ import annotations

import cv2
import numpy as np

from trackheat.defaults import BINS as DEFAULT_BINS, SIGMA_BINS as DEFAULT_SIGMA_BINS

def bin_shape(width: int, height: int, bins: int) -> tuple[int, int]:
    """(x bins, y bins) of `binned_density`: the canvas's aspect ratio, the wider side `bins`."""
    if width >= height:
        return int(bins), max(1, int(round(bins * height / width)))
    return max(1, int(round(bins * width / height))), int(bins)


def binned_density(
    xs,
    ys,
    weights=None,
    *,
    width: int,
    height: int,
    bins: int = DEFAULT_BINS,
    sigma: float = DEFAULT_SIGMA_BINS,
    origin: tuple[float, float] = (0, 0),
) -> np.ndarray:
    """Pupil Cloud's heatmap: a 2-D histogram with the canvas's aspect ratio (the wider
    side `bins` bins), a Gaussian blur of `sigma` bins, resized to (width, height)
    with Lanczos. Scaled by the bin area so it is a density per pixel, comparable
    with `density` (only its shape matters once normalized).
    """
    hist = count(xs, ys, weights, width=width, height=height, bins=bins, origin=origin)
    return finish(hist, width=width, height=height, sigma=sigma)


def count(xs, ys, weights=None, *, width: int, height: int, bins: int = DEFAULT_BINS, origin: tuple[float, float] = (0, 0)) -> np.ndarray:
    """The additive half of binned_density: the float64 histogram (y bins, x bins).

    Histograms of separate point sets on the same canvas add up; `finish` of
    the sum is binned_density of all the points (`aggregate` relies on it).
    """
    width, height = int(width), int(height)
    bx, by = bin_shape(width, height, bins)
    x = np.asarray(xs, np.float64).ravel() - origin[0]
    y = np.asarray(ys, np.float64).ravel() - origin[1]
    w = None if weights is None else np.asarray(weights, np.float64).ravel()
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height) & np.isfinite(x) & np.isfinite(y)
    x, y = x[inside], y[inside]
    if w is not None:
        w = w[inside]
    qx = np.minimum((x * (bx / width)).astype(np.int64), bx - 1)
    qy = np.minimum((y * (by / height)).astype(np.int64), by - 1)
    return np.bincount(qy * bx + qx, weights=w, minlength=bx * by).astype(np.float64, copy=False).reshape(by, bx)


def finish(hist: np.ndarray, *, width: int, height: int, sigma: float = DEFAULT_SIGMA_BINS) -> np.ndarray:
    """`count`'s histogram (or a sum of them) blurred in bins and resized to (width, height): float32."""
    width, height = int(width), int(height)
    by, bx = hist.shape
    h: np.ndarray = hist.astype(np.float32)
    if sigma > 0:
        h = cv2.GaussianBlur(h, (0, 0), sigmaX=float(sigma), sigmaY=float(sigma), borderType=cv2.BORDER_REFLECT)
    h *= np.float32(bx * by / (width * height))
    out = cv2.resize(h, (width, height), interpolation=cv2.INTER_LANCZOS4)
    np.maximum(out, 0.0, out=out)  # Lanczos rings slightly below zero next to sharp peaks
    return out
