"""The density of positions: a sum of Gaussians on a canvas, by the cheapest exact-enough path.

`density()` picks, by a cost model measured on a 2-core machine, between
stamping a patch per point (few points), a histogram and a separable blur,
and the reduced-resolution path (sigma >= 6 px). All three agree within 1 % of
the peak of the exact sum; tests/test_render.py pins that, with the C pass
over the points (splat.py) and without it.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from trackheat.accumulate import splat
from trackheat.accumulate.kernel import (
    _blur,
    _histogram,
    _pixels,
    _stamp,
    gaussian_patch,
    kernel_1d32,
    kernel_radius,
    reduction_factor,
)
from trackheat.accumulate.reduced import _reduced, reduced_counts, reduced_finish

_STAMP_COST_CALL = 10000.0  # ns per stamped point (Python loop, slicing), measured on a 2-core x86-64 machine (bench/render.py)
_STAMP_COST_PX = 1.5  # ns per patch pixel added
_HIST_COST = 12.0  # ns per point for the full-resolution bincount
_SPLIT_COST = 15.0  # ns per point for the reduced path's lookups and four small bincounts
_GRID_COST = 3.0  # ns per full-resolution pixel: allocation, conversion
_UPSIZE_COST = 1.5  # ns per full-resolution pixel for the linear upsize
_TAP_COST = 0.25  # ns per grid pixel per kernel tap (sepFilter2D, float32)


# With the C pass (splat.py), in ns, measured on the same machine (AVX-512, and its AVX2 code) as bench/render.py
# runs the paths: in turn with the OpenCV peer, so each call starts with caches full of someone
# else's data, as a call in a program does. A point costs a random add into a count or four into
# the reduced grid; a stamp a row of the patch per point (a cache miss once the grid is larger
# than the cache) and the zeroed pages it touches; the blur a pass over the canvas, bound by memory
# at small radii and by arithmetic beyond.
_NATIVE_COUNT = (0.7, 0.6)  # per point counted into a uint16 count, and per pixel of that count (below 4K)
_NATIVE_COUNT_BIG = (2.0, 0.16)  # ... at 4K (bucketed by bands of rows first)
_NATIVE_SPLIT = 3.3  # per point split over four cells of a coarse grid up to 4 MB
_NATIVE_SPLIT_BIG = 5.0  # ... of a larger coarse grid
_NATIVE_DOWNSPLIT_PX = 0.7  # per full-resolution pixel, splitting counts (many points) instead of points
_NATIVE_STAMP_ROW = (0.8, 12.7)  # per patch row of a stamped point: the grid in the cache, or over 16 MB
_NATIVE_STAMP_PX = 0.15  # per patch pixel added
_NATIVE_GRID_PX = (0.19, 0.45)  # per pixel of a stamped grid (zeroed pages faulted in)
_NATIVE_UPSIZE_COST = 0.3  # per full-resolution pixel for the linear upsize
_BLUR_CALL = 1e5  # one blur: allocations, the helper thread
# per pixel: fixed, and per unit of kernel radius; the four-row blur (radius up to splat.WIDE_RADIUS) or the one-row one
_BLUR_PX = {"avx512": (0.3, 0.022), "avx2": (0.3, 0.05), "avx512 one row": (0.2, 0.055), "avx2 one row": (0.2, 0.07), "base": (0.2, 0.11)}
_CACHED_BYTES = 16 << 20  # a float32 grid up to this stays in this machine's L3 (32 MB, shared)
# The blur of points bucketed by band (splat.blur_points: AVX2 or AVX-512; no full-size count grid)
_POINTS_BLUR_POINT = (1.4, 1.6)  # per point bucketed and counted: below 4K, at 4K
_POINTS_BLUR_PX = (0.015, 0.21)  # per pixel: the output (streamed past the cache at 4K) ...
_POINTS_BLUR_TAP = {"avx512": 0.036, "avx2": 0.052}  # ... and per unit of kernel radius
# ... below 4K, when the rows are sparse (the horizontal pass adds each value's kernel: up to one
# point per 16 pixels of a row, radius up to 15): per pixel, and per unit of radius (the vertical pass)
_POINTS_BLUR_SPARSE = {"avx512": (0.2, 0.015), "avx2": (0.2, 0.026)}


def _native_blur(px: float, r: int) -> float:
    simd = splat.simd()
    if simd in ("avx512", "avx2") and r > splat.WIDE_RADIUS:
        simd += " one row"
    fixed, per_r = _BLUR_PX.get(simd, _BLUR_PX["base"])
    return _BLUR_CALL + px * (fixed + per_r * r)


def points_blur(n: int, width: int, height: int, r: int) -> bool:
    """Whether the blur path draws unweighted points with splat.blur_points: where it can, and up to
    one point per pixel (two at 4K, whose full-size count misses the cache); with more, a
    full-size count costs less than bucketing every point (measured right after the OpenCV peer:
    1080p 10M points 12.2 against 8.8 ms, 4K 10M 18.2 against 23.8 ms)."""
    px = width * height
    return splat.points_blur_ok(width, height, r) and n <= px * (2 if px >= splat.BANDED_PIXELS else 1)


def _native_costs(n: int, width: int, height: int, sigma: float) -> dict[str, float]:
    """ns of each path with the C pass (see the constants above), exact paths first."""
    r = kernel_radius(sigma)
    px = width * height
    big = px * 4 > _CACHED_BYTES
    per_point, per_px = _NATIVE_COUNT_BIG if px >= splat.BANDED_PIXELS else _NATIVE_COUNT
    count = n * per_point + px * per_px
    rows = n * (2 * r + 1)
    blur = count + _native_blur(px, r)
    if points_blur(n, width, height, r):
        simd = splat.simd()
        if not big and r <= 15 and n * 16 <= px:
            fixed, per_r = _POINTS_BLUR_SPARSE.get(simd, _POINTS_BLUR_SPARSE["avx2"])
        else:
            fixed, per_r = _POINTS_BLUR_PX[big], _POINTS_BLUR_TAP.get(simd, _POINTS_BLUR_TAP["avx2"])
        blur = min(blur, n * _POINTS_BLUR_POINT[big] + _BLUR_CALL + px * (fixed + per_r * r))
    costs = {
        # (a patch row faults in at least the 4 KB page it lies on: 1024 pixels)
        "stamp": rows * (_NATIVE_STAMP_ROW[big] + (2 * r + 1) * _NATIVE_STAMP_PX) + min(px, rows * max(2 * r + 1, 1024)) * _NATIVE_GRID_PX[big],
        "blur": blur,
    }
    f = reduction_factor(sigma)
    if f > 1:
        coarse = px / (f * f)
        split = n * (_NATIVE_SPLIT_BIG if coarse * 4 > 4 << 20 else _NATIVE_SPLIT)
        if n >= splat.DOWNSPLIT_MIN * px:
            split = min(split, count + px * _NATIVE_DOWNSPLIT_PX)
        costs["reduced"] = split + px * _NATIVE_UPSIZE_COST + _native_blur(coarse, kernel_radius(sigma / f))
    return costs


@functools.lru_cache(maxsize=256)
def _native_choice(n: int, width: int, height: int, sigma: float, simd: str) -> str:
    """The cheapest path by _native_costs for the C blur's vector code `simd` (kept: a repeated call,
    as a live view makes, skips the 15 us of arithmetic)."""
    costs = _native_costs(n, width, height, sigma)
    return min(costs, key=costs.__getitem__)  # (ties: the order above, exact paths first)


def choose_method(n: int, width: int, height: int, sigma: float, native: bool | None = None) -> str:
    """'stamp', 'blur' or 'reduced': the cheapest by a cost model measured on a 2-core x86-64 machine,
    for the C pass (`native`, the default where it was built) or numpy."""
    if native is None:
        native = splat.available()
    if native:
        return _native_choice(n, width, height, sigma, splat.simd())
    r = kernel_radius(sigma)
    px = width * height
    f = reduction_factor(sigma)
    stamp = n * (_STAMP_COST_CALL + (2 * r + 1) ** 2 * _STAMP_COST_PX)
    blur = n * _HIST_COST + px * (_GRID_COST + 2 * (2 * r + 1) * _TAP_COST)
    best, cost = ("stamp", stamp) if stamp <= blur else ("blur", blur)
    if f > 1:
        rl = kernel_radius(sigma / f)
        reduced = n * _SPLIT_COST + px * _UPSIZE_COST + px / (f * f) * 2 * (2 * rl + 1) * _TAP_COST
        if reduced < cost:
            best = "reduced"
    return best


def density(
    xs,
    ys,
    weights=None,
    *,
    width: int,
    height: int,
    sigma: float,
    origin: tuple[float, float] = (0, 0),
    method: str = "auto",
    upsize: str = "linear",
) -> np.ndarray:
    """The sum of Gaussians (sigma px, unit mass times weight) centred on the points: float32 (height, width).

    x grows right, y down; a point (x, y) lands on array element [y - oy, x - ox]
    (rounded to the nearest pixel); points outside the canvas are ignored. The
    three methods give the same grid within 1 % of the peak; `auto` picks the
    cheapest: stamping a patch per point when there are few points, a
    histogram and a separable blur, or that blur at a reduced resolution and
    a Lanczos upsize when sigma is large.
    """
    width, height = int(width), int(height)
    if width <= 0 or height <= 0:
        raise ValueError(f"canvas must be at least 1x1, got {width}x{height}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    if method not in ("auto", "stamp", "blur", "reduced"):
        raise ValueError(f"unknown density method {method!r} (auto, stamp, blur, reduced)")
    native = splat.available()
    ix, iy, w = _pixels(xs, ys, weights, width, height, origin, check=not native)  # (the C pass skips what is outside)
    if method == "auto":
        method = choose_method(len(ix), width, height, sigma)
    if len(ix) == 0:
        return np.zeros((height, width), np.float32)
    if method == "reduced" and reduction_factor(sigma) < 2:
        method = "blur"
    if method == "stamp":
        grid = np.zeros((height, width), np.float32)
        (splat.stamp if native else _stamp)(grid, ix, iy, w, gaussian_patch(sigma))
        return grid
    if method == "blur":
        if native and w is None:  # uint16 counts, blurred as they are read
            k32 = kernel_1d32(sigma)
            if points_blur(len(ix), width, height, len(k32) // 2):  # (counted band by band as the blur reads them)
                got = splat.blur_points(ix, iy, width, height, k32, k32)
                if got is not None:
                    return got
            counts = splat.counts16(ix, iy, width, height) if len(k32) <= 2 * splat.MAX_RADIUS + 1 else None
            if counts is not None:
                return splat.blur(counts[0], k32, k32, counts[1])
        grid, scale = _full(ix, iy, w, width, height)
        return _blur(grid, sigma, scale=scale)
    return _reduced(ix, iy, w, width, height, sigma, reduction_factor(sigma), upsize)


def _full(ix, iy, w, width: int, height: int) -> tuple[np.ndarray, float]:
    """(grid, scale): the full-resolution histogram (float32); grid * scale is the mass per pixel."""
    if splat.available():
        return splat.split(ix, iy, w, splat.identity(width), splat.identity(height), 1, width, height)
    return _histogram(ix, iy, w, width, height), 1.0


# -- density in two halves: count (additive), then finish (blur once) ---------------------
# A blur is linear, so the density of many point sets is the blur of the sum of
# their counts. `aggregate` counts each input where it lies and finishes the sum
# once; finish(count()) of one set is density() of it by that method, to float
# rounding (density() keeps its float32 grid; counts are float64 so sums stay
# exact). Stamping adds finished patches, equal to blurring the histogram.
def counting_method(n: int, width: int, height: int, sigma: float) -> str:
    """The grid density() would blur for n points: 'reduced' (1/f) or 'blur' (full resolution)."""
    m = choose_method(n, width, height, sigma)
    return "reduced" if m == "reduced" and reduction_factor(sigma) >= 2 else "blur"


def _reduces(method: str, sigma: float) -> int:
    """The reduction factor `method` uses at `sigma` (1: full resolution)."""
    if method not in ("blur", "reduced", "stamp"):
        raise ValueError(f"unknown density method {method!r} (stamp, blur, reduced)")
    f = reduction_factor(sigma)
    return f if method == "reduced" and f >= 2 else 1


def count(
    xs,
    ys,
    weights=None,
    *,
    width: int,
    height: int,
    sigma: float,
    origin: tuple[float, float] = (0, 0),
    method: str = "blur",
    upsize: str = "linear",
) -> np.ndarray:
    """The additive half of density(): float64 counts that `finish` turns into the density.

    Points are placed as density() places them. `method` is 'blur' (a
    full-resolution histogram) or 'reduced' (the reduced path's coarse grid,
    full resolution where sigma is too small to reduce); counts for the same
    canvas, sigma and method add up, and finish() of their sum is density() of
    all the points by that method.
    """
    width, height = int(width), int(height)
    if width <= 0 or height <= 0:
        raise ValueError(f"canvas must be at least 1x1, got {width}x{height}")
    f = _reduces(method, sigma)
    ix, iy, w = _pixels(xs, ys, weights, width, height, origin, check=not splat.available())
    if f > 1:
        return reduced_counts(ix, iy, w, width, height, f, upsize)
    grid, scale = _full(ix, iy, w, width, height)
    return np.multiply(grid, scale, dtype=np.float64)  # a new array: the C pass's grid is reused per thread


def finish(counts: np.ndarray, *, width: int, height: int, sigma: float, method: str = "blur", upsize: str = "linear") -> np.ndarray:
    """The density (float32, height x width) of `count`'s counts or of a sum of them: the blur, once."""
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    f = _reduces(method, sigma)
    if f > 1:
        return reduced_finish(counts, int(width), int(height), sigma, f, upsize)
    if counts.shape != (int(height), int(width)):
        raise ValueError(f"counts for {width}x{height} must be that size, got {counts.shape[1]}x{counts.shape[0]}")
    return _blur(counts.astype(np.float32), sigma)


def default_sigma(width: int, height: int, percent: float = 1.0) -> float:
    """About 1 % of the canvas diagonal: a blob a little wider than a button on any screen size."""
    return max(1.0, math.hypot(width, height) * percent / 100.0)


def keypoint_heatmaps(keypoints, *, width: int, height: int, sigma: float, peak: float = 1.0) -> np.ndarray:
    """One float32 channel per keypoint, its Gaussian peaking at `peak` (pose-estimation targets).

    keypoints: (K, 2) x, y or (K, 3) with a visibility/confidence column (<= 0:
    empty channel); NaN coordinates give an empty channel, and keypoints near or
    beyond the edges give truncated or empty channels, from the same stamping
    code as `density`.
    """
    kp = np.asarray(keypoints, np.float64)
    if kp.size == 0:
        kp = kp.reshape(0, 2)
    if kp.ndim != 2 or kp.shape[1] not in (2, 3):
        raise ValueError(f"keypoints must be (K, 2) or (K, 3), got shape {kp.shape}")
    out = np.zeros((len(kp), int(height), int(width)), np.float32)
    patch = gaussian_patch(sigma, peak=peak)
    r = patch.shape[0] // 2
    for k, row in enumerate(kp):
        x, y = row[0], row[1]
        if not (np.isfinite(x) and np.isfinite(y)) or (len(row) > 2 and not row[2] > 0):
            continue
        ix, iy = int(math.floor(x + 0.5)), int(math.floor(y + 0.5))
        if ix < -r or iy < -r or ix > width + r or iy > height + r:
            continue
        _stamp(out[k], np.array([ix]), np.array([iy]), None, patch)
    return out
