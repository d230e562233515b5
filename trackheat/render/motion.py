"""The live motion heat drawn over its frames: the accumulator's levels, scaled up, coloured, blended.

`MotionHeatmap` is `MotionAccumulator` with its picture: the full-size pass
(scale up, colour, blend) is `LevelShader`, one sweep per row in C, in two
bands of rows on two threads.
"""

from __future__ import annotations

import cv2
import numpy as np

from trackheat import defaults
from trackheat.accumulate.motion import PROCESS_PIXELS, MotionAccumulator, auto_process_scale
from trackheat.errors import UserError
from trackheat.render.colour import DEFAULT_ALPHA, alpha_lut
from trackheat.render.scale import normalize, normalize_u8
from trackheat.render.shader import LevelShader

__all__ = ["BLENDS", "FULL_ALPHA", "PROCESS_PIXELS", "MotionHeatmap", "auto_process_scale"]

# "level": export's look (cold pixels are the frame itself, heat covers it by its level through
# render.colour.alpha_lut); "full": the tutorial's addWeighted of the whole colormap over the frame.
BLENDS = defaults.LIVE_BLENDS
FULL_ALPHA = defaults.LIVE_ALPHA  # the tutorial's weight for the whole-frame blend


class MotionHeatmap(MotionAccumulator):
    """The live motion heat of a stream of same-sized BGR frames, and its picture.

    `update(frame)` adds one frame, `heat()` is the heat as float32 0..1 at
    the frame's size, `render(frame)` the frame blended with the coloured
    heat, `reset()` forgets everything. `decay`, `colormap`, `alpha` and
    `show_points` may be changed between frames (the live window's keys do).

    `render()` returns a buffer that the next `render()` call overwrites
    (a fresh 4K frame per call costs page faults); copy it to keep it.

    `blend` is "level" (the default: export's look, still areas untinted) or
    "full" (the tutorial's whole-frame tint); `alpha` defaults to export's
    overlay weight for "level" and the tutorial's 0.4 for "full".
    """

    def __init__(self, *args, blend: str = defaults.LIVE_BLEND, alpha: float | None = None, **kwargs) -> None:
        if blend not in BLENDS:
            raise UserError(f"unknown blend {blend!r}; known: {', '.join(BLENDS)}", param="blend")
        if alpha is None:
            alpha = DEFAULT_ALPHA if blend == "level" else FULL_ALPHA
        super().__init__(*args, alpha=alpha, **kwargs)
        self.blend = blend
        self._ramp = alpha_lut()

    @property
    def ramp(self) -> np.ndarray | None:
        """The per-level alpha of the "level" blend (export's ramp), None for "full"."""
        return self._ramp if self.blend == "level" else None

    def _setup(self, w: int, h: int) -> None:
        super()._setup(w, h)
        pw, ph = self._psize
        self._u8 = np.empty((ph, pw), np.uint8)
        self._u8b = np.empty((ph, pw), np.uint8)
        self._out = np.empty((h, w, 3), np.uint8)
        self._shader = LevelShader((w, h), (pw, ph))

    def heat(self) -> np.ndarray:
        """The motion heat as float32 0..1 at the frame's size (a new array)."""
        if self._size is None:
            return np.zeros((0, 0), np.float32)
        small = normalize(self.accumulator, "max", top=self.top())
        return self._upscale(small)

    def points_heat(self) -> np.ndarray:
        """The cursor layer as float32 0..1 at the frame's size (zeros when no point came)."""
        if self._size is None:
            return np.zeros((0, 0), np.float32)
        if self._points is None:
            return np.zeros(self._size[::-1], np.float32)
        t = max(float(cv2.minMaxLoc(self._points)[1]), self.floor)
        return self._upscale(normalize(self._points, "max", top=t))

    # -- output ------------------------------------------------------------------
    def _levels(self) -> np.ndarray:
        """The heat as 0..255 at the process size (cursor layer folded in), in a reused buffer."""
        u8 = normalize_u8(self.accumulator, "max", out=self._u8, top=self.top())
        if self.show_points and self._points is not None:
            t = max(float(cv2.minMaxLoc(self._points)[1]), self.floor)
            pts = normalize_u8(self._points, "max", out=self._u8b, top=t)
            cv2.max(u8, pts, dst=u8)
        return u8

    def render(self, frame_bgr: np.ndarray) -> np.ndarray:
        """The frame blended with the coloured heat (the cursor layer drawn over the motion)."""
        self._ensure(frame_bgr)
        return self._shader.shade(frame_bgr, self._levels(), self._out, self.colormap, self.alpha, self.ramp)

    def heat_bgr(self) -> np.ndarray:
        """The coloured heat alone at the frame's size (for a snapshot), cursor layer included when shown.

        Drawn by the same shader as render() with alpha 1, so the snapshot matches the overlay.
        """
        if self._size is None:
            return np.zeros((0, 0, 3), np.uint8)
        w, h = self._size
        out = np.empty((h, w, 3), np.uint8)
        return self._shader.shade(out, self._levels(), out, self.colormap, 1.0)  # alpha 1: the frame weighs 0
