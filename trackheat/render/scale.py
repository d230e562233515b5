"""Scales: how a density value becomes a 0..100 % level.

A scale is parsed once into a `Scale` (the CLI's text, or a caller's
object) and then passed along; every function here also accepts the text
and parses it through a small cache, so a caller never pays twice.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from trackheat import defaults
from trackheat.errors import UserError

LOG_RANGE = 1000.0  # `log` shows three decades: a value 1/1000 of the top maps to 0 %
SCALE_NAMES = "max, pNN (a percentile such as p99.5), log or sqrt"
DEFAULT_SCALE = defaults.SCALE


@dataclass(frozen=True)
class Scale:
    """max: linear to the maximum; p: linear, clipped at percentile `q` of the active
    pixels; log: three decades below the top; sqrt: the square root of linear."""

    kind: str = "max"
    q: float = 0.0

    @staticmethod
    def parse(text: str | Scale) -> Scale:
        return as_scale(text)

    @property
    def clips(self) -> bool:
        """Whether values above the top exist and are shown as 100 % (a percentile clip)."""
        return self.kind == "p" and self.q < 100.0

    def __str__(self) -> str:
        return f"p{self.q:g}" if self.kind == "p" else self.kind


@functools.lru_cache(maxsize=64)
def _parse(text: str) -> Scale:
    s = text.strip().lower()
    if s in ("max", "log", "sqrt", "linear"):
        return Scale("max" if s == "linear" else s)
    if s.startswith("p"):
        try:
            q = float(s[1:])
        except ValueError:
            q = -1.0
        if 0.0 < q <= 100.0:
            return Scale("p", q)
    raise UserError(f"expected {SCALE_NAMES}; got {text!r}", param="scale")


def as_scale(scale: str | Scale) -> Scale:
    """A `Scale` from its text (cached) or passed through; UserError for unknown text."""
    return scale if isinstance(scale, Scale) else _parse(str(scale))


def parse_scale(scale: str | Scale) -> tuple[str, float]:
    """('max'|'log'|'sqrt', 0) or ('p', NN.N) for a percentile clip; UserError otherwise."""
    s = as_scale(scale)
    return s.kind, s.q


def scale_top(density: np.ndarray, scale: str | Scale = "max") -> float:
    """The absolute value that maps to 100 %: the maximum, or the percentile of the active pixels.

    The percentile is taken over pixels with any activity: on a desktop most
    pixels are zero, and a percentile over all of them would clip everything.
    """
    s = as_scale(scale)
    if density.size == 0:
        return 0.0
    if density.ndim == 2 and density.dtype in (np.float32, np.float64, np.uint8, np.uint16, np.int32):
        top = float(cv2.minMaxLoc(density)[1])  # strided views too; ~2x np.max on a 4K view
    else:
        top = float(np.max(density))
    if s.kind != "p" or top <= 0.0 or s.q >= 100.0:
        return top
    active = density[density > top * 1e-6]
    if active.size == 0:
        return top
    return float(np.percentile(active, s.q))


def normalize(density: np.ndarray, scale: str | Scale = "max", out: np.ndarray | None = None, *, top: float | None = None) -> np.ndarray:
    """Density -> float32 0..1 (0 % .. 100 %) under a scale.

    max: linear up to the maximum (the tutorial pipeline's way). pNN.N: linear,
    clipped at that percentile of the active pixels, so one resting spot does not wash
    out the rest. log: three decades below the top. sqrt: square root of the
    linear value. `top` fixes the 100 % value (live uses it to avoid flicker).
    """
    s = as_scale(scale)
    d = np.asarray(density)
    if out is None:
        out = np.empty(d.shape, np.float32)
    if top is None:
        top = scale_top(d, s)
    if not top > 0.0:
        out[...] = 0.0
        return out
    np.multiply(d, np.float32(1.0 / top), out=out, casting="unsafe")
    np.clip(out, 0.0, 1.0, out=out)
    if s.kind == "log":
        np.multiply(out, np.float32(LOG_RANGE), out=out)
        np.log1p(out, out=out)
        np.multiply(out, np.float32(1.0 / math.log1p(LOG_RANGE)), out=out)
    elif s.kind == "sqrt":
        np.sqrt(out, out=out)
    return out


def normalize_u8(density: np.ndarray, scale: str | Scale = "max", out: np.ndarray | None = None, *, top: float | None = None) -> np.ndarray:
    """Density -> uint8 0..255, the per-frame fast path for `max` (one cv2 call)."""
    s = as_scale(scale)
    d = np.asarray(density)
    if s.kind in ("max", "p") and d.dtype in (np.float32, np.float64, np.uint8, np.uint16, np.int32):
        if top is None:
            top = scale_top(d, s)
        if out is None:
            out = np.empty(d.shape, np.uint8)
        if not top > 0.0:
            out[...] = 0
            return out
        # convertScaleAbs saturates to 0..255; inputs are non-negative, so abs() is a no-op.
        return cv2.convertScaleAbs(d, dst=out, alpha=255.0 / top)
    return to_u8(normalize(d, s, top=top), out=out)


def to_u8(values01: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """0..1 floats -> 0..255 uint8 (saturating, rounded)."""
    return cv2.convertScaleAbs(np.asarray(values01, np.float32), dst=out, alpha=255.0)


def scale_value(fraction: float, top: float, scale: str | Scale = "max") -> float:
    """The absolute value shown at a colour-bar position (inverse of `normalize`)."""
    s = as_scale(scale)
    f = min(max(float(fraction), 0.0), 1.0)
    if s.kind == "log":
        return top * math.expm1(f * math.log1p(LOG_RANGE)) / LOG_RANGE
    if s.kind == "sqrt":
        return top * f * f
    return top * f
