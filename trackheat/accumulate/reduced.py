"""The reduced path: a density blurred at 1/f resolution with exact centres of mass.

For a large sigma the blur need not run at full resolution. Each point is
split bilinearly over the four nearest coarse pixels (which keeps its centre
of mass exactly), the coarse grid is blurred and resized up. The four
shares per coarse pixel travel as exact base-2^13 digits in one float64
bincount where the counts allow it: the expensive pass over a million points
happens once. Where the C pass was built (splat.py) it adds the same shares
straight into a float32 grid instead, and this packing is the fallback.
"""

from __future__ import annotations

import math
import threading

import cv2
import numpy as np

from trackheat.accumulate import splat
from trackheat.accumulate.kernel import _ADDED_VARIANCE, _UPSIZE_REACH, TRUNCATE, UPSIZE, _blur
from trackheat.arrays import fresh_array

_EXACT = float(2 ** 52)  # packed sums stay below this: exact, and floor(a / b) exact too
_BLOCK = 1 << 15  # points per block of the index arithmetic (256 KB per float64 temporary)
_SCRATCH_MAX = 1 << 21  # keep per-thread point buffers for up to this many points (32 MB)
_local = threading.local()


def _scratch(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-thread int64 and float64 buffers of n points, reused between calls.

    Fresh 8 MB arrays per call cost page faults (system time) comparable to the
    arithmetic itself on this machine; the bincounts only read them.
    """
    bufs = getattr(_local, "bufs", None)
    if bufs is None or len(bufs[0]) < n:
        bufs = (np.empty(n, np.int64), np.empty(n, np.float64))
        if n <= _SCRATCH_MAX:
            _local.bufs = bufs
    return bufs[0][:n], bufs[1][:n]


def _split_table(size: int, f: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Per full-resolution coordinate: its lower coarse neighbour, and the upper one's share in 1/(2f).

    Full-res pixel centre p sits at coarse coordinate (p + 0.5)/f - 0.5 (cv2.resize's
    mapping), shifted by the margin m: (2p + 1 - f + 2fm) / 2f, so the share is an
    exact integer count of 1/(2f). Looked up per point instead of computed: one
    gather from a small table beats four float passes over a million points.
    """
    num = 2 * np.arange(size, dtype=np.int64) + 1 - f + 2 * f * m
    return num // (2 * f), num % (2 * f)


_DIGIT = float(2 ** 13)  # base of the one-pass packing: four digits stay below 2^52


def _one_pass_limit(q: float) -> int:
    """G: the most points a bin may hold for the one-pass digits (67 for f = 6)."""
    return int((_DIGIT - 1) // ((q - 1) ** 2))


def _one_pass_likely(npt: int, n: int, q: float) -> bool:
    """Whether even uniformly spread points would fit: else do not try."""
    lam = npt / n
    return _one_pass_limit(q) >= lam + 6.0 * math.sqrt(lam) + 8.0


def _one_pass_tables(ax_of, ay_of) -> tuple[np.ndarray, np.ndarray]:
    """Per column B*ax + 1 and per row 1 + B^2*ay: a point's weight is their product."""
    return _DIGIT * ax_of.astype(np.float64) + 1.0, 1.0 + (_DIGIT * _DIGIT) * ay_of.astype(np.float64)


def _one_pass_sums(key, wt, ix, iy, ax_of, ay_of, q: float, n: int, weighed: bool = False):
    """(count, sum tx, sum ty, sum tx*ty) per coarse bin (shares scaled as the caller's) in ONE
    bincount, or None when a bin may hold too many points for that.

    Each point weighs (B*ax + 1) * (1 + B^2*ay) = 1 + B*ax + B^2*ay + B^3*ax*ay
    (B = 2^13, ax and ay the whole-number shares), so a bin's sum holds the four
    sums as base-B digits, exactly, while every bin has at most G points. The
    decoded counts prove it: they must sum to the number of points (no carry
    out of the lowest digit) and none may exceed G; a too-crowded bin (a
    resting cursor) falls back to the caller's two-bincount path.
    """
    npt = len(key)
    g = _one_pass_limit(q)
    if not _one_pass_likely(npt, n, q):
        return None
    if not weighed:  # (the caller may have filled wt already, in its pass over the points)
        xt, yt = _one_pass_tables(ax_of, ay_of)
        for s in range(0, npt, _BLOCK):
            e = min(s + _BLOCK, npt)
            ws = wt[s:e]
            np.take(xt, ix[s:e], mode="clip", out=ws)
            ws *= np.take(yt, iy[s:e], mode="clip")
    p = np.bincount(key, weights=wt, minlength=n)
    if not float(p.max()) < _EXACT:  # partial sums of whole numbers below 2^52 were all exact
        return None
    # Powers of two: the scaled products and floors are exact.
    # In place, one temporary (each fresh 2 MB array costs page faults; np.fmod
    # would be exact too, but it is a libm call per element: 15 ms here).
    b1, b2, b3 = _DIGIT, _DIGIT ** 2, _DIGIT ** 3
    sxy = np.multiply(p, 1.0 / b3)
    np.floor(sxy, out=sxy)
    t = np.multiply(sxy, b3)
    p -= t
    sy = np.multiply(p, 1.0 / b2)
    np.floor(sy, out=sy)
    p -= np.multiply(sy, b2, out=t)
    sx = np.multiply(p, 1.0 / b1)
    np.floor(sx, out=sx)
    p -= np.multiply(sx, b1, out=t)
    total = p  # what is left below the first digit: the count
    if float(total.max()) > g or float(total.sum()) != npt:
        return None
    sx *= 1.0 / q
    sy *= 1.0 / q
    sxy *= 1.0 / (q * q)
    return total, sx, sy, sxy


def coarse_shape(width: int, height: int, f: int, upsize: str = "linear") -> tuple[int, int, int]:
    """(margin, width, height) of the coarse grid for a width x height canvas reduced by f."""
    m = _UPSIZE_REACH[upsize] + 1
    return m, -(-width // f) + 2 * m, -(-height // f) + 2 * m


def _reduced(ix, iy, w, width: int, height: int, sigma: float, f: int, upsize: str = "linear") -> np.ndarray:
    """Blur at 1/f resolution and resize up, with exact centres of mass.

    Each point is split bilinearly over the four nearest coarse pixel centres,
    which keeps its centre of mass exactly (a plain 1/f histogram moves it by
    up to f/2 pixels: several % of a blob's peak). The C pass (splat.split)
    adds the four shares straight into the coarse grid; without it they come
    from the count and the sums of tx, ty and tx*ty per key (the lower-left cell):
    for unweighted points one bincount carrying all four as exact base-2^13
    digits (_one_pass_sums), else two (count, then three packed) or four; the
    coarse target is small enough to stay in cache.
    The coarse grid has a margin so the interpolation sees the blobs' tails
    beyond the canvas edges.
    """
    coarse, scale = _coarse(ix, iy, w, width, height, f, upsize)
    return _finish(coarse, scale, width, height, sigma, f, upsize)


def _coarse(ix, iy, w, width: int, height: int, f: int, upsize: str) -> tuple[np.ndarray, float]:
    """(grid, scale): the coarse grid's shares; grid * scale is the mass per coarse cell."""
    m, wl, hl = coarse_shape(width, height, f, upsize)
    if splat.available():  # the same shares in one C pass over the points
        q = 2 * f
        xt, yt = splat.table(*_split_table(width, f, m)), splat.table(*_split_table(height, f, m))
        if w is None and len(ix) >= splat.DOWNSPLIT_MIN * width * height:
            # Many points: one add each into a uint16 count, then every pixel split at once.
            counts = splat.counts16(ix, iy, width, height)
            got = None if counts is None else splat.downsplit(counts, xt, yt, q, wl, hl)
            if got is not None:
                return got
        return splat.split(ix, iy, w, xt, yt, q, wl, hl)
    return _split_numpy(ix, iy, w, width, height, f, m, wl, hl), 1.0


def _finish(coarse: np.ndarray, scale: float, width: int, height: int, sigma: float, f: int, upsize: str) -> np.ndarray:
    m, wl, hl = coarse_shape(width, height, f, upsize)
    scale /= f * f  # a coarse pixel spreads its mass over f*f full pixels
    sl = math.sqrt(max((sigma / f) ** 2 - _ADDED_VARIANCE[upsize], 0.25))
    blurred = _blur(coarse, sl, TRUNCATE * sigma / f, scale)  # cut where the full-resolution kernel is
    k = m - 1  # the interpolation needs only `reach` coarse pixels of margin: resize no more
    part = blurred[k:hl - k, k:wl - k]
    up = cv2.resize(part, (part.shape[1] * f, part.shape[0] * f), dst=fresh_array((part.shape[0] * f, part.shape[1] * f), np.float32), interpolation=UPSIZE[upsize])
    return up[f:f + height, f:f + width]


def reduced_counts(ix, iy, w, width: int, height: int, f: int, upsize: str = "linear") -> np.ndarray:
    """The additive half of the reduced path: float64 mass per coarse cell, (hl, wl) of coarse_shape.

    Counts of separate point sets add up to the counts of their union, which
    is what `aggregate` sums across inputs before `reduced_finish` blurs once.
    """
    coarse, scale = _coarse(ix, iy, w, width, height, f, upsize)
    return np.multiply(coarse, scale, dtype=np.float64)  # a new array: the C pass's grid is reused per thread


def reduced_finish(counts: np.ndarray, width: int, height: int, sigma: float, f: int, upsize: str = "linear") -> np.ndarray:
    """`reduced_counts` (or a sum of them) blurred and resized up: the density, float32 (height, width)."""
    _, wl, hl = coarse_shape(width, height, f, upsize)
    if counts.shape != (hl, wl):
        raise ValueError(f"reduced counts for {width}x{height} at 1/{f} must be {wl}x{hl}, got {counts.shape[1]}x{counts.shape[0]}")
    return _finish(counts.astype(np.float32), 1.0, width, height, sigma, f, upsize)


def _split_numpy(ix, iy, w, width: int, height: int, f: int, m: int, wl: int, hl: int) -> np.ndarray:
    """The coarse grid of _reduced (float32, (hl, wl), mass times f*f) from numpy bincounts,
    where the C pass was not built; the packing described in the module docstring."""
    x0_of, ax_of = _split_table(width, f, m)
    y0_of, ay_of = _split_table(height, f, m)
    n = hl * wl
    q = 2.0 * f  # shares are integers a/q
    npt = len(ix)
    key, wt = _scratch(npt)
    ky = y0_of * wl
    # In blocks that stay in cache: a take, an add or a multiply over 1M float64
    # costs about twice as much once its operands come from memory.
    # mode="clip" skips the bounds check: _pixels already kept only points inside.
    one = w is None and _one_pass_likely(npt, n, q)
    if one:
        xt, yt = _one_pass_tables(ax_of, ay_of)
    for s in range(0, npt, _BLOCK):
        e = min(s + _BLOCK, npt)
        xb, yb = ix[s:e], iy[s:e]
        np.take(ky, yb, mode="clip", out=key[s:e])
        key[s:e] += np.take(x0_of, xb, mode="clip")
        if one:  # the one-pass weights in the same pass: each block of points is read once
            ws = wt[s:e]
            np.take(xt, xb, mode="clip", out=ws)
            ws *= np.take(yt, yb, mode="clip")
    sums = _one_pass_sums(key, wt, ix, iy, ax_of, ay_of, q, n, weighed=True) if one else None
    if sums is not None:
        total, sx, sy, sxy = sums
    else:
        total = np.bincount(key, weights=w, minlength=n).astype(np.float64, copy=False)
        cmax = float(total.max()) if w is None else math.inf
        bx = (q - 1) * cmax + 1  # above any bin's sum of x (or y) shares
        if bx * bx * ((q - 1) ** 2 * cmax + 1) < _EXACT:
            # Unweighted and no bin too crowded: the sums of the x, y and x*y shares
            # (whole numbers) travel exactly in ONE float64 bincount, as the digits
            # sx + bx*sy + bx^2*sxy: 2 bincounts over the points, not 4. The weight
            # ax + bx*ay + bx^2*ax*ay = ax*(1 + bx^2*ay) + bx*ay comes from per-row tables.
            axf = ax_of.astype(np.float64)
            u_of = 1.0 + (bx * bx) * ay_of
            v_of = bx * ay_of.astype(np.float64)
            for s in range(0, npt, _BLOCK):
                e = min(s + _BLOCK, npt)
                ws = wt[s:e]
                np.take(axf, ix[s:e], mode="clip", out=ws)
                ws *= np.take(u_of, iy[s:e], mode="clip")
                ws += np.take(v_of, iy[s:e], mode="clip")
            packed = np.bincount(key, weights=wt, minlength=n)
            # True division (not a reciprocal multiply) keeps floor() exact below 2^52.
            # In place: every fresh 2 MB temporary here costs page faults.
            sxy = np.divide(packed, bx * bx)
            np.floor(sxy, out=sxy)
            sy = np.multiply(sxy, bx * bx)
            packed -= sy
            np.divide(packed, bx, out=sy)
            np.floor(sy, out=sy)
            sx = packed
            tmp = np.multiply(sy, bx)
            sx -= tmp
            sx *= 1.0 / q  # type: ignore[arg-type]  # packed is float64 (bincount with weights)
            sy *= 1.0 / q
            sxy *= 1.0 / (q * q)
        else:
            ax = np.take(ax_of.astype(np.float64), ix, mode="clip")
            ay = np.take(ay_of.astype(np.float64), iy, mode="clip")
            axy = ax * ay
            if w is not None:
                ax *= w
                ay *= w
                axy *= w
            sx = np.bincount(key, weights=ax, minlength=n) * (1.0 / q)
            sy = np.bincount(key, weights=ay, minlength=n) * (1.0 / q)
            sxy = np.bincount(key, weights=axy, minlength=n) * (1.0 / (q * q))
    # (1-tx)(1-ty) = 1 - tx - ty + tx*ty; the margin (>= 2) keeps +1 and +wl inside the grid.
    coarse = total  # fresh from bincount: ours to change
    coarse -= sx
    coarse -= sy
    coarse += sxy
    coarse[1:] += sx[:-1]
    coarse[1:] -= sxy[:-1]
    coarse[wl:] += sy[:-wl]
    coarse[wl:] -= sxy[:-wl]
    coarse[wl + 1:] += sxy[:-wl - 1]
    return coarse.astype(np.float32).reshape(hl, wl)
