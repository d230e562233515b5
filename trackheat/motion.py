"""A decaying motion accumulator: where frames change now, and where they changed a moment ago.

The seed's pipeline, step for step: gray, GaussianBlur, absdiff with the
previous frame, threshold, dilate, `acc *= decay` then `acc += motion`,
normalize to the max, colormap, addWeighted blend. What differs is only how
it is computed: float32 buffers allocated once and reused with `dst=`
(numpy temporaries cost 2.5x at 1080p), and the motion is found on a smaller
frame (`process_scale`) whose heat is scaled back up, so a 4K screen stays
real-time on two cores. At `process_scale=1.0` the heat equals the seed's.
The full-size part of render() (scale up, colour, blend) is most of the
frame time; it runs as two bands of rows on two threads.

One addition to "normalize to the max": the value shown as 100 % is never
below `floor` (one frame's worth of motion). Normalizing to the max alone
keeps a scene that went still at full brightness until the floats underflow;
with the floor the picture fades by `decay` per frame once the strongest
pixel has decayed below one frame of motion. While anything moves, the max
is above the floor and the result is the seed's.

It knows nothing of where frames come from (screen, camera, file), and it
colours only through `trackheat.render`.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Sequence

import cv2
import numpy as np

from trackheat import render

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


_WORKER: ThreadPoolExecutor | None = None
_WORKER_LOCK = threading.Lock()


def _worker() -> ThreadPoolExecutor:
    """One helper thread shared by every MotionHeatmap: render() does half the rows there.

    cv2.addWeighted (the blend) runs on one core; OpenCV releases the GIL,
    so the two halves of a frame blend on both cores of a 2-core box.
    """
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is None:
            _WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackheat-render")
        return _WORKER


def _odd(n: int) -> int:
    n = max(int(n), 0)
    return n if n % 2 == 1 or n == 0 else n + 1


class MotionHeatmap:
    """The live motion heat of a stream of same-sized BGR frames.

    `update(frame)` adds one frame, `heat()` is the heat as float32 0..1 at
    the frame's size, `render(frame)` the frame blended with the coloured
    heat, `reset()` forgets everything. `decay`, `colormap`, `alpha` and
    `show_points` may be changed between frames (the live window's keys do).

    `render()` returns a buffer that the next `render()` call overwrites
    (a fresh 4K frame per call costs page faults); copy it to keep it.
    """

    def __init__(
        self,
        decay: float = 0.95,
        threshold: int = 25,
        blur: int = 5,
        dilate: int = 2,
        process_scale: float | None = None,
        *,
        colormap: str | int = "jet",
        alpha: float = 0.4,
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
        # Halvings first (INTER_AREA at exactly 1/2 is cheap; at 1/4 in one step
        # it is 5x slower than two halvings), then the exact size.
        self._down: list[np.ndarray] = []
        cw, ch = w, h
        while cw // 2 >= pw and ch // 2 >= ph:
            cw, ch = cw // 2, ch // 2
            self._down.append(np.empty((ch, cw, 3), np.uint8))
        if (cw, ch) != (pw, ph):
            self._down.append(np.empty((ph, pw, 3), np.uint8))
        self._gray = np.empty((ph, pw), np.uint8)
        self._prev = np.empty((ph, pw), np.uint8)
        self._has_prev = False
        self._diff = np.empty((ph, pw), np.uint8)
        self._motion = np.empty((ph, pw), np.uint8)
        self._moving = np.zeros((ph, pw), np.uint8)
        self.accumulator = np.zeros((ph, pw), np.float32)
        self._points: np.ndarray | None = None  # the cursor layer, made on first use
        self._u8 = np.empty((ph, pw), np.uint8)
        self._u8b = np.empty((ph, pw), np.uint8)
        self._small_bgr = np.empty((ph, pw, 3), np.uint8)
        self._scaled = (pw, ph) != (w, h)  # heat is scaled up to the frame
        self._out = np.empty((h, w, 3), np.uint8)
        # An exact integer factor (every automatic scale on the usual frame sizes) lets
        # render() work on two bands of rows: see _render_band.
        f = w // pw
        self._factor = f if f >= 1 and pw * f == w and ph * f == h and ph >= 2 else 0
        self._band_rows = [(0, ph // 2), (ph // 2, ph)]
        if self._factor:
            rows = (ph - ph // 2 + 2) * f  # a band plus one process row of margin each side
            self._band_levels = [np.empty((rows, w), np.uint8) for _ in range(2)]
            self._band_colour = [np.empty((rows, w, 3), np.uint8) for _ in range(2)] if f > 2 else None
        self._kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))  # the seed's dilate(None)

    def _ensure(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self._size != (w, h):
            self._setup(w, h)

    def _small(self, frame: np.ndarray) -> np.ndarray:
        src = frame
        for buf in self._down:
            cv2.resize(src, (buf.shape[1], buf.shape[0]), dst=buf, interpolation=cv2.INTER_AREA)
            src = buf
        return src

    # -- the pipeline ----------------------------------------------------------
    def update(self, frame_bgr: np.ndarray, ignore: Iterable[Sequence[int]] = ()) -> None:
        """Add one frame. `ignore`: (x, y, w, h) boxes in frame pixels that never count as motion."""
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(f"expected a BGR uint8 frame (H, W, 3), got {frame_bgr.dtype} {frame_bgr.shape}")
        self._ensure(frame_bgr)
        self.frames += 1
        gray = self._gray
        cv2.cvtColor(self._small(frame_bgr), cv2.COLOR_BGR2GRAY, dst=gray)
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

    def heat(self) -> np.ndarray:
        """The motion heat as float32 0..1 at the frame's size (a new array)."""
        if self._size is None:
            return np.zeros((0, 0), np.float32)
        small = render.normalize(self.accumulator, "max", top=self.top())
        return self._upscale(small)

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
        self._points += render.density(px[inside], py[inside], w, width=pw, height=ph, sigma=sig)
        return int(inside.sum())

    def points_heat(self) -> np.ndarray:
        """The cursor layer as float32 0..1 at the frame's size (zeros when no point came)."""
        if self._size is None:
            return np.zeros((0, 0), np.float32)
        if self._points is None:
            return np.zeros(self._size[::-1], np.float32)
        t = max(float(cv2.minMaxLoc(self._points)[1]), self.floor)
        return self._upscale(render.normalize(self._points, "max", top=t))

    # -- output ------------------------------------------------------------------
    def _levels(self) -> np.ndarray:
        """The heat as 0..255 at the process size (cursor layer folded in), in a reused buffer."""
        u8 = render.normalize_u8(self.accumulator, "max", out=self._u8, top=self.top())
        if self.show_points and self._points is not None:
            t = max(float(cv2.minMaxLoc(self._points)[1]), self.floor)
            pts = render.normalize_u8(self._points, "max", out=self._u8b, top=t)
            cv2.max(u8, pts, dst=u8)
        return u8

    def render(self, frame_bgr: np.ndarray) -> np.ndarray:
        """The frame blended with the coloured heat (the cursor layer drawn over the motion)."""
        self._ensure(frame_bgr)
        u8 = self._levels()
        if not self._factor:
            # Odd sizes: the whole frame in one go, colour scaled up to the frame.
            colour = render.apply_colormap(u8, self.colormap, out=self._small_bgr)
            if self._scaled:
                colour = cv2.resize(colour, self._size, dst=self._out, interpolation=cv2.INTER_LINEAR)
            return render.blend(frame_bgr, colour, self.alpha, out=self._out)
        if self._factor > 2:
            colour = render.apply_colormap(u8, self.colormap, out=self._small_bgr)
        else:
            colour = None
        top = _worker().submit(self._render_band, 0, u8, colour, frame_bgr)
        try:
            self._render_band(1, u8, colour, frame_bgr)
        finally:
            top.result()  # never return (or raise) while the other half still writes
        return self._out

    def _render_band(self, i: int, u8: np.ndarray, colour: np.ndarray | None, frame: np.ndarray) -> None:
        """Rows of the output: the heat scaled up, coloured and blended, for one band.

        Full-size work is most of the frame time (1080p: ~3 ms of ~5), and its
        blend uses one core, so each half of the rows runs on its own thread.
        The linear upscale of a band reads one process row beyond it, so the
        band is scaled with that margin and cropped: the result is the same as
        scaling the whole frame. At factor 2 the 0..255 levels are scaled up
        (one channel: a third of the bytes of colour) and coloured at full
        size; at 4 and more the colour is scaled up (the colour lookup at 16x
        the pixels would cost more than it saves).
        """
        f = self._factor
        y0, y1 = self._band_rows[i]
        ph = u8.shape[0]
        e0, e1 = max(y0 - 1, 0), min(y1 + 1, ph)
        out = self._out[y0 * f:y1 * f]
        crop = slice((y0 - e0) * f, (y1 - e0) * f)
        if f == 1:
            render.apply_colormap(u8[y0:y1], self.colormap, out=out)
        elif colour is None:
            lv = self._band_levels[i][:(e1 - e0) * f]
            cv2.resize(u8[e0:e1], (lv.shape[1], lv.shape[0]), dst=lv, interpolation=cv2.INTER_LINEAR)
            render.apply_colormap(lv[crop], self.colormap, out=out)
        else:
            cb = self._band_colour[i][:(e1 - e0) * f]
            cv2.resize(colour[e0:e1], (cb.shape[1], cb.shape[0]), dst=cb, interpolation=cv2.INTER_LINEAR)
            render.blend(frame[y0 * f:y1 * f], cb[crop], self.alpha, out=out)
            return
        render.blend(frame[y0 * f:y1 * f], out, self.alpha, out=out)

    def heat_bgr(self) -> np.ndarray:
        """The coloured heat alone at the frame's size (for a snapshot), cursor layer included when shown.

        Scaled up the way render() does it, so the snapshot matches the overlay.
        """
        if self._size is None:
            return np.zeros((0, 0, 3), np.uint8)
        u8 = self._levels().copy()
        if not self._scaled:
            return render.apply_colormap(u8, self.colormap)
        if self._factor and self._factor <= 2:
            return render.apply_colormap(cv2.resize(u8, self._size, interpolation=cv2.INTER_LINEAR), self.colormap)
        return cv2.resize(render.apply_colormap(u8, self.colormap), self._size, interpolation=cv2.INTER_LINEAR)

    def reset(self) -> None:
        """Forget all heat and the previous frame (the next frame starts afresh)."""
        if self._size is None:
            return
        self.accumulator[...] = 0.0
        if self._points is not None:
            self._points[...] = 0.0
        self._has_prev = False
        self.frames = 0
