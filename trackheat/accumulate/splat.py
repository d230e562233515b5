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

from trackheat.arrays import aligned_array
from trackheat.pool import helper, on_helper

try:  # built by setup.py where a C compiler is at hand
    from trackheat.accumulate import _splat
except ImportError:  # no compiler at install time: numpy does the same, slower
    _splat = None  # type: ignore[assignment]

EXACT32 = float(1 << 24)  # float32 holds every whole number up to this exactly
TWO_HALVES = 1 << 21  # points: from here the pass runs in two halves on two threads
_GRID_MAX = 1 << 23  # cells: keep a per-thread accumulation grid up to this size (32 MB, a 4K canvas)
_local = threading.local()


def _c(a, dtype) -> np.ndarray:
    """`a` as a C-contiguous, aligned array of `dtype` (copied only when it is not): the C code
    reads whole elements, and points that came through a Dask worker's buffers may sit at any offset."""
    if type(a) is np.ndarray and a.dtype == dtype and a.flags.c_contiguous and a.flags.aligned:
        return a  # (the usual case, in 1 us: np.require takes 5)
    return np.require(a, dtype, ("C_CONTIGUOUS", "ALIGNED"))


def available() -> bool:
    """Whether the C pass was built (tests switch it off to check the numpy paths)."""
    return _splat is not None


def simd() -> str:
    """The C blur's vector code on this CPU: 'avx512' (shifts in registers), 'avx2' (both: four
    output rows at a time, kernels up to WIDE_RADIUS a side), 'base'; '' without the C pass."""
    return _splat.simd() if _splat is not None else ""


WIDE_RADIUS = 48  # the four-row blur's longest kernel half-width (_splat.c HMAX); longer ones use the one-row code


def _grid(shape: tuple[int, int], slot: str = "grid", dtype: type = np.float32, zero: bool = True) -> np.ndarray:
    """A zeroed (unless `zero` is False) per-thread grid for the C pass to add into.

    Never handed to a caller (the blur reads it and writes elsewhere), so it is
    reused: zeroing 33 MB in place costs ~1 ms at 4K; a fresh one is faulted in
    page by page at random points.
    """
    buf = getattr(_local, slot, None)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = np.empty(shape, dtype)
        if buf.size <= _GRID_MAX:
            setattr(_local, slot, buf)
    if zero:
        buf.fill(0)
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
    if n < (TWO_HALVES if wide else TWO_HALVES_CACHED) or on_helper():
        _splat.split(ix, iy, w, xt, yt, q, grid, wl, hl, wide)
        return
    h = n // 2
    # The caller's own second grid (per calling thread: two threads calling density() at once
    # must not share one through the single helper), zeroed on the helper.
    other = np.empty(grid.shape, grid.dtype) if wide else _grid(grid.shape, "half", zero=False)

    def first_half() -> np.ndarray:
        other.fill(0)
        _splat.split(ix[:h], iy[:h], None if w is None else w[:h], xt, yt, q, other, wl, hl, wide)
        return other

    job = helper().submit(first_half)
    try:
        _splat.split(ix[h:], iy[h:], None if w is None else w[h:], xt, yt, q, grid, wl, hl, wide)
    finally:
        other = job.result()  # never return (or raise) while the helper still writes
    cv2.add(grid, other, dst=grid)


def _on_both(call, *args):
    """call(*args, counter, ...) on the helper thread and here at once, sharing one counter of blocks
    (the C side claims each block from it): when the other core is slowed, this one takes more of
    the blocks instead of waiting for a fixed half. Returns both results."""
    counter = np.zeros(1, np.int64)
    job = helper().submit(call, *args, counter)
    try:
        mine = call(*args, counter)
    finally:
        theirs = job.result()  # never return (or raise) while the helper still writes
    return theirs, mine


def _rows_per_block(height: int, radius: int) -> int:
    """Rows of a blur block: each block warms its ring with 2R+3 rows of its own, so at least ten
    times that (under 10 % more horizontal work), and at least a sixteenth of the rows."""
    return max(64, 10 * (2 * radius + 4), -(-height // 16))


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
    ix = _c(ix, np.int64)
    iy = _c(iy, np.int64)
    scale = 1.0 / (q * q)
    if w is None:
        grid = _grid((hl, wl))
        _in_halves(ix, iy, None, xt, yt, q, grid, False)
        if len(ix) * q * q <= EXACT32 or float(cv2.minMaxLoc(grid)[1]) < EXACT32:
            return grid, scale
    else:
        w = _c(w, np.float64)
    wide = np.zeros((hl, wl), np.float64)
    _in_halves(ix, iy, w, xt, yt, q, wide, True)
    grid = _grid((hl, wl))
    np.multiply(wide, scale, out=grid, casting="unsafe")
    return grid, 1.0


TWO_BANDS = 1 << 18  # pixels: from here the blur runs in two bands of rows on two threads
MAX_RADIUS = 2048  # the C blur's longest kernel half-width (_splat.c MAX_R)
STREAM_BYTES = 16 << 20  # outputs from this size are written past the cache (streaming stores)


def blur(grid: np.ndarray, kx: np.ndarray, ky: np.ndarray, second: np.ndarray | None = None) -> np.ndarray:
    """The separable blur of the float32 grid (or uint16 counts plus a `second` uint16 grid) by the
    symmetric kernels kx, ky (same odd length, at most 2*MAX_RADIUS+1), zero outside: a fresh float32
    array. From TWO_BANDS pixels, the upper rows on trackheat.pool's helper thread and the lower
    ones here (the C code releases the GIL)."""
    h, w = grid.shape
    src = _c(grid, np.uint16 if grid.dtype == np.uint16 else np.float32)
    if second is not None:
        second = _c(second, np.uint16)
    kx = _c(kx, np.float32)
    ky = _c(ky, np.float32)
    dst = aligned_array((h, w), np.float32)  # whole cache lines: the C code may stream its rows out
    stream = h * w * 4 >= STREAM_BYTES
    if h * w < TWO_BANDS or h < 2 or on_helper():
        _splat.blur(src, dst, w, h, kx, ky, 0, h, second, stream)
        return dst
    block = _rows_per_block(h, len(kx) // 2)
    _on_both(lambda c: _splat.blur(src, dst, w, h, kx, ky, 0, h, second, stream, c, block))
    return dst


# Points per chunk of blur_points' bucketing (2 MB of coordinates, read from memory once and again from the cache).
# Every band reads one run per chunk: with 1024-point chunks, 1M points at 4K made 134k runs of 7
# cells, and blur_points took twice as long (measured 1024 to 1M points a chunk, right after the
# OpenCV peer: 128k-512k were within 5 % of each other).
POINTS_CHUNK = 1 << 17


def band_shift(width: int) -> int:
    """log2 of the rows in a band of blur_points: as many as keep a band's cells below 65535
    (uint16; 0xFFFF marks a point off the canvas), at most 64; -1 when a row is too wide for that."""
    shift = 6
    while shift >= 0 and width << shift >= 65535:
        shift -= 1
    return shift


def points_blur_ok(width: int, height: int, radius: int) -> bool:
    """Whether blur_points can draw this canvas and kernel here (AVX2 or AVX-512, at most WIDE_RADIUS a side)."""
    return simd() in ("avx512", "avx2") and radius <= WIDE_RADIUS and band_shift(width) >= 2


def blur_points(ix, iy, width: int, height: int, kx: np.ndarray, ky: np.ndarray) -> np.ndarray | None:
    """The blur of the unweighted points' counts (as blur(counts16(...)) gives it), without a
    full-size count: the points are bucketed by band of rows, then the rows are blurred, each band
    counted into a buffer that stays in L2 just before the blur reads it; both steps shared, in
    one C call, between this thread and _splat's own worker thread. None when a pixel holds more
    than 65535 points.

    A full-resolution count grid costs a zeroing pass, a random add per point into memory that no
    longer fits in L2, and a read back: about half of density()'s time at 1M points and 2-4 px.
    """
    ix = _c(ix, np.int64)
    iy = _c(iy, np.int64)
    width, height = int(width), int(height)
    kx = _c(kx, np.float32)
    ky = _c(ky, np.float32)
    shift = band_shift(width)
    n = len(ix)
    nb = ((height - 1) >> shift) + 2
    chunk = min(POINTS_CHUNK, max(1024, -(-n // 8)))  # (eight chunks at least: both threads take them in turn)
    offs = np.empty((nb + 1, -(-n // chunk)), np.int64)
    cells = _cells(n, np.uint16)
    dst = aligned_array((height, width), np.float32)
    stream = height * width * 4 >= STREAM_BYTES
    alone = height * width < TWO_BANDS or height < 2
    block = _rows_per_block(height, len(kx) // 2)
    wrapped = _splat.blur_points(ix, iy, chunk, width, height, shift, cells, offs, dst, kx, ky, stream, block, alone)
    return None if wrapped else dst


def counts16(ix, iy, width: int, height: int) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Unweighted full-resolution counts as uint16: (grid, a second grid to add, or None), or None
    when a pixel holds more than 65535 points (the caller counts in float then).

    Half the bytes of a float32 count: a 4K canvas (16.6 MB) stays in this machine's L3, where
    a random add costs a third of one that goes to memory. From TWO_HALVES points, half of them
    on the helper thread into a second grid, which the blur (or downsplit) adds as it reads.
    """
    ix = _c(ix, np.int64)
    iy = _c(iy, np.int64)
    n = len(ix)
    shape = (int(height), int(width))
    if n >= BANDED_POINTS and width * height >= BANDED_PIXELS and not on_helper():
        banded = _counts16_banded(ix, iy, int(width), int(height))
        return None if banded is None else (banded, None)
    if n < (TWO_HALVES_CACHED if width * height < BANDED_PIXELS else TWO_HALVES) or on_helper():
        grid = _grid(shape, "count", np.uint16)
        return None if _splat.count16(ix, iy, grid, width, height) else (grid, None)
    grid = _grid(shape, "count", np.uint16, zero=False)
    other = _grid(shape, "count2", np.uint16, zero=False)
    counter = np.zeros(1, np.int64)
    block = max(1 << 16, -(-n // 16))  # points a block (both threads take blocks in turn, each into its own grid)

    def helper_part() -> bool:
        other.fill(0)
        return _splat.count16(ix, iy, other, width, height, counter, block)

    job = helper().submit(helper_part)
    try:
        grid.fill(0)
        wrapped = _splat.count16(ix, iy, grid, width, height, counter, block)
    finally:
        wrapped = job.result() or wrapped  # never return (or raise) while the helper still writes
    return None if wrapped else (grid, other)


TWO_HALVES_CACHED = 1 << 17  # points: from here in halves when both uint16 grids stay in L3 (below 4K)
BANDED_POINTS = 1 << 19  # from here (and BANDED_PIXELS) counts16 buckets the points by band first
BANDED_PIXELS = 1 << 22  # a 4K canvas; 1080p's count (4 MB) stays in cache as it is
BAND_SHIFT = 6  # 64 rows a band: 480 KB of uint16 at 4K, in L2 with room for the cells read


def _counts16_banded(ix: np.ndarray, iy: np.ndarray, width: int, height: int) -> np.ndarray | None:
    """counts16 for many points on a large canvas: bucketed by band of rows (bands, scatter: a
    streaming pass, halves of the points on two threads), then each band counted into its slice
    of the grid while it sits in L2 (halves of the bands on two threads); None when a pixel wrapped."""
    n = len(ix)
    nb = ((height - 1) >> BAND_SHIFT) + 2  # the last: points above or below the canvas
    half = n // 2
    hists = [np.zeros(nb, np.int64), np.zeros(nb, np.int64)]
    cells = _cells(n)
    grid = _grid((height, width), "count", np.uint16, zero=False)

    def both(fn, first, second):
        job = helper().submit(fn, *first)
        try:
            b = fn(*second)
        finally:
            a = job.result()  # never return (or raise) while the helper still writes
        return a, b

    both(_splat.bands, (iy, 0, half, BAND_SHIFT, height, hists[0]), (iy, half, n, BAND_SHIFT, height, hists[1]))
    per_band = hists[0] + hists[1]
    start = np.zeros(nb + 1, np.int64)
    np.cumsum(per_band, out=start[1:])
    pos0 = start[:-1].copy()
    pos1 = pos0 + hists[0]
    both(_splat.scatter, (ix, iy, 0, half, BAND_SHIFT, width, height, pos0, cells), (ix, iy, half, n, BAND_SHIFT, width, height, pos1, cells))
    # halves of the rows (whole bands) on two threads, each zeroing and counting its own slice
    mid_band = (nb - 1) // 2
    mid_row = min(mid_band << BAND_SHIFT, height)
    flat = grid.reshape(-1)

    def rows(b0: int, b1: int, r0: int, r1: int) -> bool:
        flat[r0 * width:r1 * width] = 0
        return _splat.band_count16(cells, int(start[b0]), int(start[b1]), flat, r0 * width, r1 * width)

    wrapped = both(rows, (0, mid_band, 0, mid_row), (mid_band, nb - 1, mid_row, height))
    return None if any(wrapped) else grid


def _cells(n: int, dtype: type = np.uint32) -> np.ndarray:
    """The calling thread's buffer of n cell indices (one per dtype, kept up to 2^24 cells)."""
    slot = f"cells_{np.dtype(dtype).name}"
    buf = getattr(_local, slot, None)
    if buf is None or len(buf) < n:
        buf = np.empty(n, dtype)
        if n <= 1 << 24:
            setattr(_local, slot, buf)
    return buf[:n]


DOWNSPLIT_MIN = 1.0  # points per full-resolution pixel from which the reduced path counts first (downsplit)


def downsplit(counts: tuple[np.ndarray, np.ndarray | None], xt: np.ndarray, yt: np.ndarray, q: int, wl: int, hl: int) -> tuple[np.ndarray, float] | None:
    """(grid, scale) as split() gives for the same points, from their full-resolution counts16:
    each pixel's count split over the four coarse centres around it, in two bands of coarse rows
    on two threads; None when a cell reached 2^24 (float32 no longer exact: split() in float64)."""
    a, b = counts
    h, w = a.shape
    out = _grid((hl, wl))
    if hl < 4 or w * h < TWO_BANDS or on_helper():
        top = _splat.downsplit(a, b, xt, yt, q, out, w, h, wl, hl, 0, hl)
    else:
        mid = hl // 2
        job = helper().submit(_splat.downsplit, a, b, xt, yt, q, out, w, h, wl, hl, 0, mid)
        try:
            top = _splat.downsplit(a, b, xt, yt, q, out, w, h, wl, hl, mid, hl)
        finally:
            top = max(top, job.result())
    return (out, 1.0 / (q * q)) if top < EXACT32 else None


def stamp(grid: np.ndarray, ix, iy, w, patch: np.ndarray) -> None:
    """Add `patch` (float32, square, odd) centred on each point inside the grid, times its weight,
    cut at the grid's edges (kernel._stamp's result; points off the grid add nothing)."""
    h, wd = grid.shape
    ix = _c(ix, np.int64)
    iy = _c(iy, np.int64)
    if w is not None:
        w = _c(w, np.float64)
    _splat.stamp(ix, iy, w, _c(patch, np.float32), patch.shape[0] // 2, grid, wd, h)
