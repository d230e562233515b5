"""The pass over the points in C (_splat.c): counts, bilinear shares or patches added into a grid.

density() spends most of its time here when there are many points: numpy's
bincount writes a float64 grid (66 MB at 4K) and the reduced path's exact
share packing costs a dozen passes over the coarse grid. The C pass reads
each point once and adds into a float32 grid. It is optional (setup.py builds
it where a compiler is at hand); without it density.py and reduced.py do the
same work with numpy, slower. `available()` says which.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from trackheat.arrays import fresh_array
from trackheat.pool import helper, on_helper

try:  # built by setup.py where a C compiler is at hand
    from trackheat.accumulate import _splat
except ImportError:  # no compiler at install time: numpy does the same, slower
    _splat = None  # type: ignore[assignment]

EXACT32 = float(1 << 24)  # float32 holds every whole number up to this exactly
TWO_HALVES = 1 << 21  # points: from here the pass runs in two halves on two threads
_GRID_MAX = 1 << 23  # cells: keep a per-thread accumulation grid up to this size (32 MB, a 4K canvas)
_local = threading.local()


def available() -> bool:
    """Whether the C pass was built (tests switch it off to check the numpy paths)."""
    return _splat is not None


def _grid(shape: tuple[int, int], slot: str = "grid") -> np.ndarray:
    """A zeroed per-thread float32 grid for the C pass to add into.

    Never handed to a caller (the blur reads it and writes elsewhere), so it is
    reused: zeroing 33 MB in place costs ~1 ms at 4K; a fresh one is faulted in
    page by page at random points.
    """
    buf = getattr(_local, slot, None)
    if buf is None or buf.shape != shape:
        buf = np.empty(shape, np.float32)
        if buf.size <= _GRID_MAX:
            setattr(_local, slot, buf)
    buf.fill(0.0)
    return buf


def _in_halves(ix, iy, w, xt, yt, q: int, grid: np.ndarray, wide: bool) -> None:
    """Add the points into `grid`: from TWO_HALVES points on, half of them on trackheat.pool's
    helper thread into a grid of its own, then the two grids summed (cv2.add, both cores).

    The adds wait on memory at random places, so a second core nearly halves the
    pass: what 10M points cost on top of the blur. Fewer points are not worth a
    second grid to zero and add.
    """
    hl, wl = grid.shape
    n = len(ix)
    if n < TWO_HALVES or on_helper():
        _splat.split(ix, iy, w, xt, yt, q, grid, wl, hl, wide)
        return
    h = n // 2

    def first_half() -> np.ndarray:
        other = np.zeros(grid.shape, grid.dtype) if wide else _grid(grid.shape, "half")
        _splat.split(ix[:h], iy[:h], None if w is None else w[:h], xt, yt, q, other, wl, hl, wide)
        return other

    job = helper().submit(first_half)
    try:
        _splat.split(ix[h:], iy[h:], None if w is None else w[h:], xt, yt, q, grid, wl, hl, wide)
    finally:
        other = job.result()  # never return (or raise) while the helper still writes
    cv2.add(grid, other, dst=grid)


def table(lower: np.ndarray, share: np.ndarray) -> np.ndarray:
    """(size, 2) int32 per full-resolution coordinate, as _splat.split reads it:
    its (lower) grid cell and the upper cell's share in 1/q."""
    return np.ascontiguousarray(np.stack([lower, share], axis=1).astype(np.int32))


def identity(size: int) -> np.ndarray:
    """The table of a full-resolution count: each coordinate its own cell, no share."""
    return table(np.arange(size), np.zeros(size, np.int64))


def split(ix, iy, w, xt: np.ndarray, yt: np.ndarray, q: int, wl: int, hl: int) -> tuple[np.ndarray, float]:
    """(grid, scale): each point's shares (whole 1/q per axis; q = 1: a plain count) added
    into a (hl, wl) float32 grid; grid * scale is the mass per cell. Points off the
    tables (the canvas) are skipped.

    Unweighted shares are whole numbers of 1/q^2: float32 holds their sums exactly
    while they stay below 2^24, and sums only grow, so the final maximum proves
    it for every cell (the two halves' sum too: whole numbers below 2^24 add exactly).
    A resting cursor with millions of samples on one spot can
    pass it: then the grid is summed in float64, as weighted points always are.
    """
    ix = np.ascontiguousarray(ix, np.int64)
    iy = np.ascontiguousarray(iy, np.int64)
    scale = 1.0 / (q * q)
    if w is None:
        grid = _grid((hl, wl))
        _in_halves(ix, iy, None, xt, yt, q, grid, False)
        if len(ix) * q * q <= EXACT32 or float(cv2.minMaxLoc(grid)[1]) < EXACT32:
            return grid, scale
    else:
        w = np.ascontiguousarray(w, np.float64)
    wide = np.zeros((hl, wl), np.float64)
    _in_halves(ix, iy, w, xt, yt, q, wide, True)
    grid = _grid((hl, wl))
    np.multiply(wide, scale, out=grid, casting="unsafe")
    return grid, 1.0


TWO_BANDS = 1 << 18  # pixels: from here the blur runs in two bands of rows on two threads
MAX_RADIUS = 2048  # the C blur's longest kernel half-width (_splat.c MAX_R)


def blur(grid: np.ndarray, kx: np.ndarray, ky: np.ndarray) -> np.ndarray:
    """The separable blur of the float32 grid by the symmetric kernels kx, ky (same odd length, at
    most 2*MAX_RADIUS+1), zero outside: a fresh float32 array. From TWO_BANDS pixels, the upper
    rows on trackheat.pool's helper thread and the lower ones here (the C code releases the GIL)."""
    h, w = grid.shape
    src = np.ascontiguousarray(grid, np.float32)
    kx = np.ascontiguousarray(kx, np.float32)
    ky = np.ascontiguousarray(ky, np.float32)
    dst = fresh_array((h, w), np.float32)
    if h * w < TWO_BANDS or h < 2 or on_helper():
        _splat.blur(src, dst, w, h, kx, ky, 0, h)
        return dst
    mid = h // 2
    job = helper().submit(_splat.blur, src, dst, w, h, kx, ky, 0, mid)
    try:
        _splat.blur(src, dst, w, h, kx, ky, mid, h)
    finally:
        job.result()  # never return (or raise) while the helper still writes
    return dst


def stamp(grid: np.ndarray, ix, iy, w, patch: np.ndarray) -> None:
    """Add `patch` (float32, square, odd) centred on each point inside the grid, times its weight,
    cut at the grid's edges (kernel._stamp's result; points off the grid add nothing)."""
    h, wd = grid.shape
    ix = np.ascontiguousarray(ix, np.int64)
    iy = np.ascontiguousarray(iy, np.int64)
    if w is not None:
        w = np.ascontiguousarray(w, np.float64)
    _splat.stamp(ix, iy, w, np.ascontiguousarray(patch, np.float32), patch.shape[0] // 2, grid, wd, h)
