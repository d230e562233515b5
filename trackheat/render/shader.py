"""The live overlay's full-size pass: heat levels scaled up to the frame, coloured, blended.

`LevelShader` is the one place a stream of frames meets its heat; it runs
the C loop in `_shade.c` beside this file where it was built, and the same
work as OpenCV calls where it was not.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from trackheat.pool import helper, on_helper
from trackheat.render.colour import _colormap_table, apply_colormap, blend, colormap_id

try:  # the C inner loop; setup.py builds it where a compiler is at hand
    from trackheat.render import _shade  # built by setup.py; typed in _shade.pyi
except ImportError:  # no compiler at install time: LevelShader uses OpenCV calls instead
    _shade = None  # type: ignore[assignment]

_BAND_MIN_ROWS = 64  # shorter frames are shaded in one go: a second thread costs more than it saves
# A frame is shaded as two bands of rows, one on the caller's thread and one on trackheat.pool's
# helper (shared with density()). The C loop and OpenCV release the GIL: on 2 cores the bands run side by side.
_pool = helper


_TAP_ONE = 2048  # the C loop's tap weights are 11-bit, as OpenCV's resize (TAP_BITS in _shade.c)


def _taps(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, 3) int32: OpenCV INTER_LINEAR's two source samples per output pixel and the
    second one's weight in 1/2048 (pixel centres aligned, edges clamped as cv2.resize does)."""
    s = np.maximum((np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    i0 = np.minimum(np.floor(s), n_in - 1).astype(np.int32)
    i1 = np.minimum(i0 + 1, n_in - 1).astype(np.int32)
    wgt = np.where(i0 == n_in - 1, 0, np.rint((s - i0) * _TAP_ONE)).astype(np.int32)
    return np.ascontiguousarray(np.stack([i0, i1, wgt], axis=1))


@functools.lru_cache(maxsize=64)
def _shade_lut(cmap: int, frame_weight: int) -> np.ndarray:
    """(256, 4) uint16: each level's colour times (256 - frame_weight), the colour's share of
    the blend in 8.8 fixed point (exact integers, so alpha 1 gives the colormap itself)."""
    bgr = _colormap_table(cmap).astype(np.uint16)
    table = np.zeros((256, 4), np.uint16)
    table[:, :3] = bgr * np.uint16(256 - frame_weight)
    return table


def frame_weights(alpha: float, ramp: np.ndarray | None) -> np.ndarray:
    """(256,) int: each level's frame weight in 1/256, from `alpha` times the per-level
    alpha `ramp` (0..255, render.colour.alpha_lut), or `alpha` alone for every level."""
    a = np.full(256, float(alpha)) if ramp is None else float(alpha) * (np.asarray(ramp, np.float64) / 255.0)
    return np.rint((1.0 - a) * 256).astype(np.int64)


@functools.lru_cache(maxsize=64)
def _level_luts(cmap: int, weights: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The per-level blend's tables: colours times (256 - weight) and the weights, (256, 4)
    uint16 each (lanes w, w, w, 0), for the C loop's gathers."""
    wf = np.frombuffer(weights, np.int64).astype(np.uint16)
    colour = np.zeros((256, 4), np.uint16)
    colour[:, :3] = _colormap_table(cmap).astype(np.uint16) * (np.uint16(256) - wf)[:, None]
    wl = np.zeros((256, 4), np.uint16)
    wl[:, :3] = wf[:, None]
    return colour, wl


@functools.lru_cache(maxsize=64)
def _alpha_table(weights: bytes) -> np.ndarray:
    """(1, 256) float32: each level's colour share (1 - weight/256), for the OpenCV path."""
    return (1.0 - np.frombuffer(weights, np.int64) / 256.0).astype(np.float32).reshape(1, 256)


class LevelShader:
    """The live overlay's full-size pass: heat levels scaled up to the frame, coloured, blended.

    out = frame*(1-a) + colormap(levels scaled up)*a, for a stream of
    frames of one size whose 0..255 heat levels come at one (usually smaller)
    size. The levels are scaled with OpenCV's bilinear geometry and then
    coloured, at every scale, so the overlay looks the same at 720p, 1080p and 4K.
    `a` is `alpha` for every level (the tutorial's whole-frame blend), or with
    a `ramp` (render.colour.alpha_lut: export's look) `alpha * ramp[level] / 255`,
    so cold pixels stay exactly the frame and heat covers it by its level.

    With the C loop (trackheat.render._shade) each row is scaled, looked up and
    blended in one sweep, in two bands of rows on two threads: at 1080p
    about 3x faster than the same pass as OpenCV calls (bench/live.py has
    the figures). Without it (no compiler at install time) the same picture
    comes from cv2.resize, the colour lookup and addWeighted. The two differ only in rounding: at
    factors 1, 2 and 4 the C loop's levels are the exact bilinear value
    correctly rounded, at other sizes within 0.75 of it (11-bit weights);
    cv2.resize truncates in its own fixed-point steps. So the levels differ
    by at most one, which a colormap may turn into a few units of colour,
    and alpha is applied in steps of 1/256. Alpha 0 gives the frame and
    alpha 1 the colormap exactly on both.

    One instance serves one stream (its buffers are reused): not for two threads at once.
    """

    def __init__(self, frame_size: tuple[int, int], levels_size: tuple[int, int], *, native: bool | None = None) -> None:
        w, h = (int(v) for v in frame_size)
        pw, ph = (int(v) for v in levels_size)
        if min(w, h, pw, ph) <= 0:
            raise ValueError(f"LevelShader: sizes must be positive, got frame {w}x{h}, levels {pw}x{ph}")
        self.size = (w, h)
        self.levels_size = (pw, ph)
        self.native = _shade is not None and native is not False
        if native and _shade is None:
            raise RuntimeError("the native shader (trackheat.render._shade) was not built")
        if self.native:
            self._xtab = _taps(w, pw)
            self._ytab = _taps(h, ph)
        else:
            self._scaled = None if (pw, ph) == (w, h) else np.empty((h, w), np.uint8)
            self._colour = np.empty((h, w, 3), np.uint8)
            self._alpha: np.ndarray | None = None  # per-pixel colour share (ramp blends only)
            self._inv: np.ndarray | None = None  # and the frame's

    def shade(self, frame: np.ndarray, levels: np.ndarray, out: np.ndarray, colormap: str | int, alpha: float,
              ramp: np.ndarray | None = None) -> np.ndarray:
        """Write the overlay of `frame` (BGR uint8) and `levels` (uint8) into `out`; returns `out`.

        `ramp`: a (256,) uint8 alpha per level (None: `alpha` over the whole frame)."""
        w, h = self.size
        pw, ph = self.levels_size
        if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
            raise ValueError(f"LevelShader: expected a {w}x{h} BGR uint8 frame, got {frame.dtype} {frame.shape}")
        if levels.shape != (ph, pw) or levels.dtype != np.uint8:
            raise ValueError(f"LevelShader: expected {pw}x{ph} uint8 levels, got {levels.dtype} {levels.shape}")
        if out.shape != (h, w, 3) or out.dtype != np.uint8 or not out.flags.c_contiguous:
            raise ValueError("LevelShader: out must be a C-contiguous BGR uint8 array of the frame's size")
        a = float(alpha)
        if not math.isfinite(a):
            raise ValueError(f"LevelShader: alpha must be a number in 0..1, got {alpha!r}")
        a = min(max(a, 0.0), 1.0)
        weights = None if ramp is None else frame_weights(a, ramp)
        if weights is not None and (weights == weights[0]).all():
            a, weights = 1.0 - float(weights[0]) / 256.0, None  # one weight for all: the whole-frame path
        if self.native:
            if weights is None:
                wf = int(round((1.0 - a) * 256))
                args = (np.ascontiguousarray(frame), np.ascontiguousarray(levels), _shade_lut(colormap_id(colormap), wf), wf, out,
                        self._xtab, self._ytab, w, h, pw, ph)
                self._in_bands(lambda r0, r1: _shade.shade(*args, r0, r1), h)
            else:
                colour_lut, weight_lut = _level_luts(colormap_id(colormap), weights.tobytes())
                args = (np.ascontiguousarray(frame), np.ascontiguousarray(levels), colour_lut, 0, out,
                        self._xtab, self._ytab, w, h, pw, ph)
                self._in_bands(lambda r0, r1: _shade.shade(*args, r0, r1, weight_lut), h)
            return out
        lv = levels if self._scaled is None else cv2.resize(levels, (w, h), dst=self._scaled, interpolation=cv2.INTER_LINEAR)
        colour = apply_colormap(lv, colormap, out=self._colour)
        if weights is None:
            self._in_bands(lambda r0, r1: blend(frame[r0:r1], colour[r0:r1], a, out=out[r0:r1]), h)  # addWeighted: one core
            return out
        # per level: the colour's share of each pixel, then colour*share + frame*(1-share) (cv2.blendLinear)
        share = cv2.LUT(lv, _alpha_table(weights.tobytes()), dst=self._alpha)
        self._alpha = share
        if self._inv is None:
            self._inv = np.empty_like(share)
        inv = np.subtract(np.float32(1.0), share, out=self._inv)
        self._in_bands(lambda r0, r1: cv2.blendLinear(colour[r0:r1], frame[r0:r1], share[r0:r1], inv[r0:r1], dst=out[r0:r1]), h)
        return out

    @staticmethod
    def _in_bands(run, h: int) -> None:
        if h < _BAND_MIN_ROWS or on_helper():
            run(0, h)  # (on the pool's thread a second band would wait behind itself forever)
            return
        top = _pool().submit(run, 0, h // 2)
        try:
            run(h // 2, h)
        finally:
            top.result()  # never return (or raise) while the other band still writes
