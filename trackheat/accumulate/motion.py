"""A decaying motion accumulator: where frames change now, and where they changed a moment ago.

The tutorial's starter pipeline (bench/live.py's reference), step for step: gray, GaussianBlur, absdiff with the
previous frame, threshold, dilate, `acc *= decay` then `acc += motion`,
normalize to the max, colormap, addWeighted blend. What differs is only how
it is computed: float32 buffers allocated once and reused with `dst=`
(numpy temporaries cost 2.5x at 1080p), and the motion is found on a smaller
frame (`process_scale`) whose heat is scaled back up, so a 4K screen stays
real-time on two cores. At `process_scale=1.0` the heat equals the reference
pipeline's (bench/_seeds.py, measured against in bench/live.py).
Drawing it (scale up, colour, blend) is trackheat.render.motion.MotionHeatmap.

One addition to "normalize to the max": the value shown as 100 % is never
below `floor` (one frame's worth of motion). Normalizing to the max alone
keeps a scene that went still at full brightness until the floats underflow;
with the floor the picture fades by `decay` per frame once the strongest
pixel has decayed below one frame of motion. While anything moves, the max
is above the floor and the result is the reference pipeline's.

It knows nothing of where frames come from (screen, camera, file) nor how
the heat is coloured.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import cv2
import numpy as np

from trackheat.accumulate.density import density
from trackheat.defaults import LIVE_ALPHA, LIVE_BLUR, LIVE_COLORMAP, LIVE_DECAY, LIVE_DILATE, LIVE_THRESHOLD

# A frame larger than this many pixels is processed at 1/2, 1/4, ... of its size.
PROCESS_PIXELS = 1280 * 720


def auto_process_scale(width: int, height: int, budget: int = PROCESS_PIXELS) -> float:
    """The largest power-of-two fraction that brings the frame to at most `budget` pixels.

    720p: 1.0, 1080p and 1440p: 1/2, 4K: 1/4. Powers of two keep the
    down- and up-scaling exact halvings (cheap, and no moire on text).
    """
    s = 1.0
    while width * height * s * s > budget and s > 1 / 64:
        s /= 2
    return s


def _odd(n: int) -> int:
    n = max(int(n), 0)
    return n if n % 2 == 1 or n == 0 else n + 1


class MotionAccumulator:
    """The live motion heat of a stream of same-sized BGR frames, at the process size.

    `update(frame)` adds one frame, `add_points` the cursor's positions,
    `reset()` forgets everything; `top()` is the value shown as 100 %.
    trackheat.render.motion.MotionHeatmap draws it over the frames.
    """

    def __init__(
        self,
        decay: float = LIVE_DECAY,
        threshold: int = LIVE_THRESHOLD,
        blur: int = LIVE_BLUR,
        dilate: int = LIVE_DILATE,
        process_scale: float | None = None,
        *,
        colormap: str | int = LIVE_COLORMAP,
        alpha: float = LIVE_ALPHA,
        floor: float = 1.0,
        point_sigma: float = 12.0,
    ) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"decay must be in 0..1, got {decay}")
        if process_scale is not None and not 0.0 < process_scale <= 1.0:
            raise ValueError(f"process_scale must be in (0, 1], got {process_scale}")
        self.decay = float(decay)
        self.threshold = int(threshold)
        self.blur = _odd(blur)
        self.dilate = max(int(dilate), 0)
        self.process_scale = process_scale
        self.colormap = colormap
        self.alpha = float(alpha)
        self.floor = float(floor)
        self.point_sigma = float(point_sigma)
        self.show_points = True
        self.frames = 0
        self._size: tuple[int, int] | None = None  # (w, h) of the frames

    # -- buffers -------------------------------------------------------------
    def _setup(self, w: int, h: int) -> None:
        s = self.process_scale if self.process_scale is not None else auto_process_scale(w, h)
        pw, ph = max(1, int(round(w * s))), max(1, int(round(h * s)))
        self.scale = s
        self._size = (w, h)
        self._psize = (pw, ph)
        # Gray first, as the reference pipeline does, then halvings of that one channel (INTER_AREA at
        # exactly 1/2 is cheap; 1/4 in one step is 5x slower than two halvings), then
        # the exact size. Halving the gray moves a third of the bytes of halving the colour.
        sizes: list[tuple[int, int]] = []
        cw, ch = w, h
        while cw // 2 >= pw and ch // 2 >= ph:
            cw, ch = cw // 2, ch // 2
            sizes.append((cw, ch))
        if (cw, ch) != (pw, ph):
            sizes.append((pw, ph))
        self._full_gray = np.empty((h, w), np.uint8) if sizes else None
        self._down = [np.empty((sh, sw), np.uint8) for sw, sh in sizes[:-1]]
        self._gray = np.empty((ph, pw), np.uint8)
        self._prev = np.empty((ph, pw), np.uint8)
        self._has_prev = False
        self._diff = np.empty((ph, pw), np.uint8)
        self._motion = np.empty((ph, pw), np.uint8)
        self._moving = np.zeros((ph, pw), np.uint8)
        self.accumulator = np.zeros((ph, pw), np.float32)
        self._points: np.ndarray | None = None  # the cursor layer, made on first use
        self._scaled = (pw, ph) != (w, h)  # heat is scaled up to the frame
        self._kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))  # the reference pipeline's dilate(None)

    def _ensure(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self._size != (w, h):
            self._setup(w, h)

    def _gray_of(self, frame: np.ndarray, dst: np.ndarray) -> None:
        """The frame in gray at the process size, into `dst`."""
        if self._full_gray is None:
            cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY, dst=dst)
            return
        src = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY, dst=self._full_gray)
        for buf in (*self._down, dst):
            cv2.resize(src, (buf.shape[1], buf.shape[0]), dst=buf, interpolation=cv2.INTER_AREA)
            src = buf

    # -- the pipeline ----------------------------------------------------------
    def update(self, frame_bgr: np.ndarray, ignore: Iterable[Sequence[int]] = ()) -> None:
        """Add one frame. `ignore`: (x, y, w, h) boxes in frame pixels that never count as motion."""
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(f"expected a BGR uint8 frame (H, W, 3), got {frame_bgr.dtype} {frame_bgr.shape}")
        self._ensure(frame_bgr)
        self.frames += 1
        gray = self._gray
        self._gray_of(frame_bgr, gray)
        if self.blur > 1:
            cv2.GaussianBlur(gray, (self.blur, self.blur), 0, dst=gray)
        if self._points is not None:
            np.multiply(self._points, np.float32(self.decay), out=self._points)
        if not self._has_prev:
            self._prev, self._gray = gray, self._prev
            self._has_prev = True
            return
        cv2.absdiff(self._prev, gray, dst=self._diff)
        cv2.threshold(self._diff, self.threshold, 1, cv2.THRESH_BINARY, dst=self._motion)
        if self.dilate:
            cv2.dilate(self._motion, self._kernel, dst=self._moving, iterations=self.dilate)
            moving = self._moving
        else:
            moving = self._motion
        for box in ignore:
            x0, y0, x1, y1 = self._to_process(box)
            if x1 > x0 and y1 > y0:
                moving[y0:y1, x0:x1] = 0
        acc = self.accumulator
        np.multiply(acc, np.float32(self.decay), out=acc)
        cv2.accumulate(moving, acc)  # acc += motion (uint8 0/1 into float32, in place)
        self._prev, self._gray = gray, self._prev

    def _to_process(self, box: Sequence[int]) -> tuple[int, int, int, int]:
        x, y, w, h = box
        s = self.scale
        pw, ph = self._psize
        x0 = min(max(int(math.floor(x * s)), 0), pw)
        y0 = min(max(int(math.floor(y * s)), 0), ph)
        x1 = min(max(int(math.ceil((x + w) * s)), 0), pw)
        y1 = min(max(int(math.ceil((y + h) * s)), 0), ph)
        return x0, y0, x1, y1

    def top(self) -> float:
        """The accumulator value shown as 100 %: the max, never below `floor`."""
        if self._size is None:
            return 0.0
        return max(float(cv2.minMaxLoc(self.accumulator)[1]), self.floor)

    def total_heat(self) -> float:
        """The sum of the motion heat (frames of motion x process pixels): which frame had the most."""
        if self._size is None:
            return 0.0
        return float(cv2.sumElems(self.accumulator)[0])

    def _upscale(self, small: np.ndarray) -> np.ndarray:
        if not self._scaled:
            return small
        return cv2.resize(small, self._size, interpolation=cv2.INTER_LINEAR)

    def active_fraction(self, level: float = 0.1) -> float:
        """The share of the frame whose heat is at least `level` (the HUD's "active area")."""
        if self._size is None:
            return 0.0
        t = self.top()
        if not t > 0:
            return 0.0
        n = int(np.count_nonzero(self.accumulator >= level * t))
        return n / self.accumulator.size

    # -- the cursor layer ------------------------------------------------------
    def add_points(self, xs: Sequence[float], ys: Sequence[float]) -> int:
        """Stamp a Gaussian blob (sigma `point_sigma` frame px, peak 1) at each point; returns how many landed.

        The blobs go into a second accumulator that decays with the motion
        one and is drawn over it (the live view's cursor layer).
        """
        if self._size is None or len(xs) == 0:
            return 0
        pw, ph = self._psize
        if self._points is None:
            self._points = np.zeros((ph, pw), np.float32)
        s = self.scale
        sig = max(self.point_sigma * s, 0.75)
        px = np.asarray(xs, np.float64) * s
        py = np.asarray(ys, np.float64) * s
        inside = (px > -3 * sig) & (px < pw + 3 * sig) & (py > -3 * sig) & (py < ph + 3 * sig)
        if not inside.any():
            return 0
        # render.density gives each point unit mass; weight 2*pi*sigma^2 makes its peak about 1,
        # the same unit as one frame of motion (and as `floor`).
        w = np.full(int(inside.sum()), 2.0 * math.pi * sig * sig)
        self._points += density(px[inside], py[inside], w, width=pw, height=ph, sigma=sig)
        return int(inside.sum())

    def reset(self) -> None:
        """Forget all heat and the previous frame (the next frame starts afresh)."""
        if self._size is None:
            return
        self.accumulator[...] = 0.0
        if self._points is not None:
            self._points[...] = 0.0
        self._has_prev = False
        self.frames = 0
