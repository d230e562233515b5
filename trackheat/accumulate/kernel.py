"""The Gaussian kernel every density is made of, and the exact ways to apply it.

A point becomes a Gaussian of unit mass truncated at 3 sigma. `stamp` adds
a patch per point, `histogram` + `blur` spreads a count grid; both give the
exact sum of Gaussians that the faster paths (reduced.py) are measured against.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from trackheat.accumulate import splat
from trackheat.arrays import fresh_array

# A point becomes a Gaussian of unit mass truncated at 3 sigma (the
# pose-estimation patch). The truncation radius is a continuous 3 sigma: the
# edge taps are weighted by how much of their pixel lies inside it, so the
# kernel is the same shape at any resolution and the reduced-resolution path
# can reproduce its edge (its 1.1 %-of-peak step) to within ~0.5 % of a lone
# blob's peak. The 2-D kernel is the outer product, normalized to sum 1, so an
# interior blob sums to its weight. (A tapered kernel, lowered by its value at
# 3 sigma, was tried: 1.7 % off scipy's gaussian_filter at 10k points.)
TRUNCATE = 3.0  # sigmas
REDUCE_MIN_SIGMA = 7.0  # blur at 1/f resolution only while sigma/f >= this (measured: <= 0.7 % of a lone blob's peak)
REDUCE2_MIN_SIGMA = 6.0  # ... but at half resolution from here already (sigma/2 >= 3: <= 0.62 % of a lone blob's peak)


def kernel_radius(sigma: float, reach: float | None = None) -> int:
    """Half-width in whole pixels of the kernel truncated at `reach` (default 3 sigma)."""
    reach = TRUNCATE * float(sigma) if reach is None else float(reach)
    return max(1, int(math.ceil(reach + 0.5)) - 1)


def gaussian_kernel_1d(sigma: float, reach: float | None = None) -> np.ndarray:
    """The normalized 1-D kernel (float64, length 2r+1), cut at `reach` px (default 3 sigma).
    Read-only, and kept per (sigma, reach): making it took 40 us, as long as a 10k-point
    density's whole count."""
    return _kernel_1d(max(float(sigma), 1e-3), None if reach is None else float(reach), np.float64)


def kernel_1d32(sigma: float, reach: float | None = None) -> np.ndarray:
    """gaussian_kernel_1d as float32 (what the C blur reads), read-only and kept too."""
    return _kernel_1d(max(float(sigma), 1e-3), None if reach is None else float(reach), np.float32)


@functools.lru_cache(maxsize=64)
def _kernel_1d(sigma: float, reach: float | None, dtype: type) -> np.ndarray:
    if dtype is not np.float64:
        k: np.ndarray = _kernel_1d(sigma, reach, np.float64).astype(dtype)
    else:
        reach = TRUNCATE * sigma if reach is None else reach
        r = kernel_radius(sigma, reach)
        x = np.arange(-r, r + 1, dtype=np.float64)
        inside = np.clip(reach - np.abs(x) + 0.5, 0.0, 1.0)  # share of each pixel within the reach
        k = np.exp(-0.5 * (x / sigma) ** 2) * inside
        k /= k.sum()
    k.flags.writeable = False
    return k


def gaussian_patch(sigma: float, *, peak: float | None = None) -> np.ndarray:
    """The (2r+1)^2 float32 patch: unit mass, or peaking at `peak` when given."""
    k = gaussian_kernel_1d(sigma)
    p = np.outer(k, k)
    if peak is not None:
        p *= peak / p.max()
    return p.astype(np.float32)


def _pixels(xs, ys, weights, width: int, height: int, origin: tuple[float, float], check: bool = True):
    """Integer array indices of the points inside the canvas, and their weights (float64).

    check=False keeps the points outside too (NaN as a huge negative index): the C
    pass (splat.py) skips them itself, so 10M points are not read twice more here.
    """
    x = np.asarray(xs)
    y = np.asarray(ys)
    if x.shape != y.shape:
        raise ValueError(f"xs and ys differ in length ({x.size} vs {y.size})")
    x = x.ravel()
    y = y.ravel()
    ox, oy = origin
    if np.issubdtype(x.dtype, np.integer) and float(ox).is_integer():
        ix = x.astype(np.int64, copy=False)
        if ox:
            ix = ix - int(ox)
    else:
        with np.errstate(invalid="ignore"):  # NaN becomes a huge negative index, dropped below
            ix = np.floor(x.astype(np.float64) - ox + 0.5).astype(np.int64)
    if np.issubdtype(y.dtype, np.integer) and float(oy).is_integer():
        iy = y.astype(np.int64, copy=False)
        if oy:
            iy = iy - int(oy)
    else:
        with np.errstate(invalid="ignore"):
            iy = np.floor(y.astype(np.float64) - oy + 0.5).astype(np.int64)
    w = None if weights is None else np.asarray(weights, np.float64).ravel()
    if w is not None and w.shape != ix.shape:
        raise ValueError(f"weights has {w.size} entries for {ix.size} points")
    # Unsigned views make negatives huge: one max per axis says whether all are inside
    # (the usual case), without a 1M-element mask; else one comparison per axis.
    if check and len(ix) and (int(ix.view(np.uint64).max()) >= width or int(iy.view(np.uint64).max()) >= height):
        inside = np.less(ix.view(np.uint64), width)
        inside &= np.less(iy.view(np.uint64), height)
        ix, iy = ix[inside], iy[inside]
        if w is not None:
            w = w[inside]
    return ix, iy, w


def _stamp(grid: np.ndarray, ix: np.ndarray, iy: np.ndarray, w: np.ndarray | None, patch: np.ndarray) -> None:
    """Add `patch` (centred) times each weight at each pixel, cut at the grid's edges."""
    h, wd = grid.shape
    r = patch.shape[0] // 2
    for i in range(len(ix)):
        x, y = int(ix[i]), int(iy[i])
        x0, x1 = max(x - r, 0), min(x + r + 1, wd)
        y0, y1 = max(y - r, 0), min(y + r + 1, h)
        if x0 >= x1 or y0 >= y1:
            continue
        p = patch[y0 - y + r:y1 - y + r, x0 - x + r:x1 - x + r]
        if w is None:
            grid[y0:y1, x0:x1] += p
        else:
            grid[y0:y1, x0:x1] += p * np.float32(w[i])


def _histogram(ix, iy, w, width: int, height: int) -> np.ndarray:
    flat = np.bincount(iy * width + ix, weights=w, minlength=width * height)
    return flat.astype(np.float32).reshape(height, width)


def _blur(grid: np.ndarray, sigma: float, reach: float | None = None, scale: float = 1.0) -> np.ndarray:
    """Separable truncated Gaussian with zero outside the grid (mass leaves at the edges, as stamping does),
    times `scale` (folded into the vertical kernel, so it costs no pass of its own)."""
    k = gaussian_kernel_1d(sigma, reach)
    kx = kernel_1d32(sigma, reach)
    ky = kx if scale == 1.0 else (k * scale).astype(np.float32)
    if splat.available() and len(k) <= 2 * splat.MAX_RADIUS + 1:
        return splat.blur(grid, kx, ky)
    return cv2.sepFilter2D(grid, cv2.CV_32F, kx, ky, dst=fresh_array(grid.shape, np.float32), borderType=cv2.BORDER_CONSTANT)


def reduction_factor(sigma: float) -> int:
    """How far the blur may shrink the grid: sigma stays >= REDUCE_MIN_SIGMA coarse pixels,
    or >= 3 at factor 2 (from REDUCE2_MIN_SIGMA). Against the exact sum, a lone blob's worst
    pixel is off by 0.62 % of its peak at sigma 6 and factor 2, 0.33 % at 8; the same coarse
    sigma at factors 3 to 8 is 2-4x further off (the linear split and upsize span more)."""
    f = int(sigma // REDUCE_MIN_SIGMA)
    if f < 2 and sigma >= REDUCE2_MIN_SIGMA:
        return 2
    return max(1, f)


UPSIZE = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}
_UPSIZE_REACH = {"linear": 1, "cubic": 2, "lanczos": 4}  # coarse pixels the interpolation reads beyond a point
# Variance (coarse px^2 per axis, averaged over sub-pixel positions) that the bilinear
# split adds, plus what the interpolation adds; taken off the coarse blur so the
# result keeps the requested sigma. Lanczos and cubic add about none (cubic sharpens).
_ADDED_VARIANCE = {"linear": 1 / 6 + 1 / 6, "cubic": 0.0, "lanczos": 1 / 6}
