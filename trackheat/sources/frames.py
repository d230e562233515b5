"""Where live frames come from: the screen (mss) or a camera, video file or stream (OpenCV).

Every source is the same small thing: iterate `(timestamp, frame)` with
frame a BGR uint8 array, then `close()`. Capture runs in a thread of its own
and keeps only the newest frame, so a slow consumer skips frames instead of
falling behind (cameras buffer several frames otherwise, opencv issue 13145).
A video file is paced at its own frame rate, like a camera, unless `fast`:
then every frame is delivered, as fast as the consumer takes them.

mss and cv2 are imported inside the functions that need them: importing this
module never touches a display.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from trackheat.canvas import Rect
from trackheat.defaults import MAX_FPS
from trackheat.errors import UserError

Frame = tuple[float, np.ndarray]


class FrameSource:
    """Frames from a capture thread: the consumer always gets the newest one.

    Subclasses implement `_open()` (in the caller's thread, so a source that
    cannot be opened fails before anything starts) and `_read()` (in the
    capture thread; returns a frame or None at the end). `keep_all` makes the
    thread wait until each frame is taken instead of replacing it.
    """

    name = "source"
    size: tuple[int, int] = (0, 0)  # (width, height)
    fps: float = 30.0  # nominal rate, for a written video
    rect: Rect | None = None  # desktop rectangle captured (screen sources only)
    monitors: tuple[Rect, ...] = ()  # the desktop's monitors (screen sources only: where a window may go)
    keep_all = False

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._ended = False
        self._error: BaseException | None = None
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0  # frames replaced before the consumer took them

    # -- capture thread ----------------------------------------------------
    def _read(self) -> Frame | None:
        raise NotImplementedError

    def _release(self) -> None:
        """Free the device; called in the capture thread when it ends."""

    def _run(self) -> None:
        try:
            while not self._closing.is_set():
                item = self._read()
                if item is None:
                    break
                with self._cond:
                    if self.keep_all:
                        while self._frame is not None and not self._closing.is_set():
                            self._cond.wait(0.1)
                    elif self._frame is not None:
                        self.dropped += 1
                    self._frame = item
                    self._cond.notify_all()
        except BaseException as e:  # reported to the consumer, not lost in a thread
            self._error = e
        finally:
            try:
                self._release()
            finally:
                with self._cond:
                    self._ended = True
                    self._cond.notify_all()

    def start(self) -> "FrameSource":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"trackheat-{self.name}", daemon=True)
            self._thread.start()
        return self

    # -- consumer ----------------------------------------------------------
    def next(self, timeout: float | None = None) -> Frame | None:
        """The newest frame not yet taken; waits for one. None at the end (or after `timeout`)."""
        self.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._frame is None and not self._ended:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._cond.wait(0.1 if left is None else min(left, 0.1))
            item, self._frame = self._frame, None
            self._cond.notify_all()
        if item is None and self._error is not None:
            err, self._error = self._error, None
            raise err
        return item

    def __iter__(self) -> Iterator[Frame]:
        while True:
            item = self.next()
            if item is None:
                return
            yield item

    def close(self) -> None:
        self._closing.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5.0)
        elif not self._ended:
            self._release()
            self._ended = True

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- the screen --------------------------------------------------------------
def parse_region(text: str) -> Rect:
    """--region X,Y,W,H in desktop pixels."""
    parts = [p for p in re.split(r"[,\sx]+", text.strip()) if p]
    try:
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise UserError(f"expected X,Y,W,H in pixels, such as 0,0,800,600; got {text!r}", param="region") from None
    if w <= 0 or h <= 0:
        raise UserError(f"width and height must be positive; got {text!r}", param="region")
    return Rect(x, y, w, h)


class ScreenSource(FrameSource):
    """One monitor (mss numbering: 1 is the first, 0 all of them) or a region of the desktop.

    BGRA from mss becomes BGR with one cv2.cvtColor (0.3 ms at 1080p; slicing
    off the alpha channel and copying costs 8.6 ms). `max_fps` caps the grab
    rate so capture does not take a whole core from the processing.
    """

    name = "screen"

    def __init__(self, monitor: int = 1, region: Rect | None = None, max_fps: float = MAX_FPS) -> None:
        super().__init__()
        from trackheat.sources.display import require_pointer
        from trackheat.sources.screen import open_mss

        require_pointer("screen capture", capture=True)
        sct = open_mss()
        try:
            mons = sct.monitors
        finally:
            sct.close()
        self.monitors = tuple(Rect(int(m["left"]), int(m["top"]), int(m["width"]), int(m["height"])) for m in mons[1:])
        if region is not None:
            desk = mons[0]
            left = max(region.left, desk["left"])
            top = max(region.top, desk["top"])
            right = min(region.right, desk["left"] + desk["width"])
            bottom = min(region.bottom, desk["top"] + desk["height"])
            if right <= left or bottom <= top:
                raise UserError(
                    f"{region.left},{region.top},{region.width},{region.height} lies outside the desktop "
                    f"({desk['left']},{desk['top']},{desk['width']},{desk['height']})", param="region"
                )
            self.rect = Rect(left, top, right - left, bottom - top)
        else:
            if not 0 <= monitor < len(mons):
                raise UserError(f"this desktop has monitors 1..{len(mons) - 1} (0 is all of them)", param="monitor")
            m = mons[monitor]
            self.rect = Rect(int(m["left"]), int(m["top"]), int(m["width"]), int(m["height"]))
        self.size = (self.rect.width, self.rect.height)
        self.fps = float(max_fps)
        self._period = 1.0 / max_fps if max_fps and max_fps > 0 else 0.0
        self._next_t = 0.0
        self._sct = None

    def _read(self) -> Frame | None:
        import cv2

        from trackheat.sources.screen import grab_bgra, open_mss

        if self._sct is None:  # made in the capture thread that uses it
            self._sct = open_mss()
        now = time.monotonic()
        if self._next_t > now:
            if self._closing.wait(self._next_t - now):
                return None
        self._next_t = max(self._next_t + self._period, time.monotonic())
        t = time.time()
        assert self.rect is not None  # set when the source opened
        bgra = grab_bgra(self._sct, self.rect)
        return t, cv2.cvtColor(bgra, cv2.COLOR_BGRA2BGR)

    def _release(self) -> None:
        if self._sct is not None:
            self._sct.close()
            self._sct = None


# -- cameras, files, streams ---------------------------------------------------
def _quiet_opencv():
    """Silence OpenCV's own warnings (a missing camera prints several) so the user sees our one line."""
    import cv2

    try:
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        return lambda: cv2.utils.logging.setLogLevel(level)
    except Exception:
        return lambda: None


def is_url(spec: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", spec))


class VideoSource(FrameSource):
    """A camera (INDEX), a video file (FILE) or a stream (URL) through cv2.VideoCapture.

    Timestamps: the position in the file for files (so results do not depend
    on how fast this machine is), the wall clock for cameras and streams.
    """

    name = "webcam"

    def __init__(self, spec: str | int = 0, fast: bool = False) -> None:
        super().__init__()
        import cv2

        text = str(spec).strip()
        self.is_file = False
        restore = _quiet_opencv()
        try:
            if re.fullmatch(r"\d+", text):
                what = f"camera {text}"
                cap = cv2.VideoCapture(int(text))
                if not cap.isOpened():
                    raise UserError(f"camera {text} cannot be opened: no such camera, or it is busy or not permitted")
            elif is_url(text):
                what = f"stream {text}"
                cap = cv2.VideoCapture(text)
                if not cap.isOpened():
                    raise UserError(f"stream {text} cannot be opened")
            else:
                what = text
                path = Path(text).expanduser()
                if not path.exists():
                    raise UserError(f"{text}: no such file (`webcam` takes a camera index, a video file or a URL)")
                if path.is_dir():
                    raise UserError(f"{text}: is a directory, not a video file")
                if not os.access(path, os.R_OK):
                    raise UserError(f"{text}: permission denied")
                cap = cv2.VideoCapture(str(path))
                self.is_file = True
                if not cap.isOpened():
                    raise UserError(f"{text}: cannot be read as a video")
            ok, first = cap.read()
        finally:
            restore()
        if not ok or first is None:
            cap.release()
            raise UserError(f"{what}: opened, but gave no frame")
        self.what = what
        self._cap: cv2.VideoCapture | None = cap
        self._first: np.ndarray | None = _as_bgr(first)
        h, w = self._first.shape[:2]
        self.size = (w, h)
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1.0 <= fps <= 1000.0 else 30.0
        self.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if self.is_file else 0
        self.keep_all = bool(fast and self.is_file)
        self.paced = self.is_file and not fast
        self._index = 0
        self._t0 = 0.0

    def _read(self) -> Frame | None:
        if self._first is not None:
            frame, self._first = self._first, None
            self._t0 = time.monotonic()
        else:
            assert self._cap is not None  # released only after the last read
            ok, frame = self._cap.read()
            if not ok or frame is None:
                return None
            frame = _as_bgr(frame)
        i = self._index
        self._index += 1
        if not self.is_file:
            return time.time(), frame
        t = i / self.fps
        if self.paced:
            wait = self._t0 + t - time.monotonic()
            if wait > 0 and self._closing.wait(wait):
                return None
        return t, frame

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def _as_bgr(frame: np.ndarray) -> np.ndarray:
    import cv2

    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame


def open_source(*, screen: bool = False, webcam: str | int | None = None, monitor: int = 1, region: str | None = None, fast: bool = False, max_fps: float = MAX_FPS) -> FrameSource:
    """The source the command line asks for (screen, or camera/file/URL)."""
    if screen:
        return ScreenSource(monitor=monitor, region=parse_region(region) if region else None, max_fps=max_fps)
    return VideoSource(0 if webcam is None else webcam, fast=fast)
