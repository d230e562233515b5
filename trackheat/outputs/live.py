"""The live view: frames from a source through MotionHeatmap into a window, a video or a PNG.

One loop for every case: with a window (cv2.imshow, a HUD and keys), and
headless (`window=False`) for servers and tests, writing the overlay video
and/or the last overlay image. The window is only created after
`require_window` said there is a display: cv2.imshow without one aborts the
whole process (SIGABRT) where no Python code can catch it.

When the window stands on the captured part of the screen, its own
rectangle is masked out of the motion each frame: the window shows the
heat, the heat would show the window changing, and the view would feed on
itself.
"""

from __future__ import annotations

import collections
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from trackheat import render
from trackheat.outputs.images import private_file, write_png
from trackheat.errors import UserError
from trackheat.render.motion import MotionHeatmap
from trackheat.sources.frames import FrameSource

if TYPE_CHECKING:
    from trackheat.sources.pointer import PointerListener

WINDOW = "trackheat live"
# The `c` key walks through these; they read well over a screen or a camera.
CYCLE = ["jet", "turbo", "inferno", "hot", "viridis", "magma", "plasma", "cividis", "rainbow", "ocean"]
FOURCC = {".avi": "MJPG", ".mp4": "mp4v", ".mkv": "MJPG"}
KEYS_HELP = "q/Esc quit, r reset, space pause, +/- decay, c colormap, m cursor layer, s snapshot"


@dataclass
class LiveResult:
    frames: int = 0
    seconds: float = 0.0
    written: int = 0  # frames written to `out`
    snapshots: list[Path] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class CursorFeed:
    """Pointer positions from trackheat.sources.pointer.PointerListener, taken once per frame.

    The listener's callback only appends to a deque (it may run inside an OS
    hook, which must return at once); the frame loop drains it.
    """

    def __init__(self) -> None:
        self._q: collections.deque = collections.deque(maxlen=100_000)
        self._listener: PointerListener | None = None

    def start(self) -> "CursorFeed":
        from trackheat.sources.pointer import PointerListener

        q = self._q
        self._listener = PointerListener(on_move=lambda x, y: q.append((x, y))).start()
        return self

    def take(self) -> tuple[list[float], list[float]]:
        xs, ys = [], []
        q = self._q
        while q:
            x, y = q.popleft()
            xs.append(x)
            ys.append(y)
        return xs, ys

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None


def open_writer(path: Path, fps: float, size: tuple[int, int]):
    import cv2

    ext = path.suffix.lower()
    if ext not in FOURCC:
        raise UserError(f"the video must end in {', '.join(FOURCC)}", param="out")
    if not path.parent.exists():
        raise UserError(f"directory {path.parent} does not exist", param="out")
    private_file(path).close()  # made 0600 first: the writer then fills a file only its owner reads
    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*FOURCC[ext]), float(fps), size)
    if not w.isOpened():
        raise UserError(f"cannot write a {ext} video here", param="out")
    return w


def save_snapshot(hm: MotionHeatmap, overlay: np.ndarray, base: Path) -> tuple[Path, Path]:
    """`base`.png: the overlay as shown; `base`-heat.png: the heat alone, transparent where nothing moved."""
    heat = hm.heat()
    if hm.show_points:
        np.maximum(heat, hm.points_heat(), out=heat)
    rgba = render.colorize(heat, hm.colormap, "max", top=1.0)
    import cv2

    o = write_png(base.with_name(base.name + ".png"), overlay)
    h = write_png(base.with_name(base.name + "-heat.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    return o, h


def _hud_text(img: np.ndarray, lines: list[str]) -> None:
    """White text on a darkened box. Not an outline drawn with a thicker stroke:
    OpenCV 5's font advances with the thickness, so the outline drifts off the text."""
    import cv2

    fs = max(0.45, min(img.shape[0], img.shape[1] * 9 / 16) / 1000)
    sizes = [cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, fs, 1) for t in lines]
    lh = max(h + base for (_, h), base in sizes) + 6
    box_w = max(w for (w, _), _ in sizes) + 16
    box_h = lh * len(lines) + 8
    roi = img[0:min(box_h, img.shape[0]), 0:min(box_w, img.shape[1])]
    cv2.convertScaleAbs(roi, dst=roi, alpha=0.35)
    for i, text in enumerate(lines):
        cv2.putText(img, text, (8, 4 + lh * (i + 1) - 6), cv2.FONT_HERSHEY_SIMPLEX, fs, (255, 255, 255), 1, cv2.LINE_AA)


class Window:
    """The cv2 window: display size, the HUD, keys, and where it stands on the desktop."""

    def __init__(self, frame_size: tuple[int, int], screen_rect=None) -> None:
        import cv2

        from trackheat.sources.display import require_window

        require_window("live")
        self.cv2 = cv2
        w, h = frame_size
        # On the captured screen, half its size (it is masked out of the motion;
        # the rest stays visible); a camera at its size up to 1280 wide.
        limit = (w // 2, h // 2) if screen_rect is not None else (1280, 720)
        f = min(1.0, limit[0] / w, limit[1] / h)
        self.size = (max(160, int(w * f)), max(90, int(h * f)))
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        cv2.resizeWindow(WINDOW, *self.size)
        if screen_rect is not None:  # bottom right of the captured area
            cv2.moveWindow(WINDOW, screen_rect.right - self.size[0] - 20, screen_rect.bottom - self.size[1] - 40)
        self._buf: np.ndarray | None = None
        self.closed = False

    def rect(self) -> tuple[int, int, int, int] | None:
        """(x, y, w, h) of the image area on the desktop, as the toolkit reports it."""
        try:
            x, y, w, h = self.cv2.getWindowImageRect(WINDOW)
        except Exception:
            return None
        return (x, y, w, h) if w > 0 and h > 0 else None

    def show(self, overlay: np.ndarray, hud: list[str]) -> None:
        cv2 = self.cv2
        r = self.rect()
        w, h = (r[2], r[3]) if r else self.size
        # Scale to the window ourselves so the HUD is drawn at screen size and stays readable.
        f = min(w / overlay.shape[1], h / overlay.shape[0])
        size = (max(1, int(overlay.shape[1] * f)), max(1, int(overlay.shape[0] * f)))
        if self._buf is None or self._buf.shape[:2] != (size[1], size[0]):
            self._buf = np.empty((size[1], size[0], 3), np.uint8)
        if size == (overlay.shape[1], overlay.shape[0]):
            np.copyto(self._buf, overlay)
        else:
            cv2.resize(overlay, size, dst=self._buf, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
        _hud_text(self._buf, hud)
        cv2.imshow(WINDOW, self._buf)

    def key(self, wait_ms: int = 1) -> int:
        cv2 = self.cv2
        k = cv2.waitKeyEx(wait_ms)
        try:
            if cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
                self.closed = True
        except cv2.error:
            self.closed = True
        return k

    def close(self) -> None:
        try:
            self.cv2.destroyWindow(WINDOW)
            self.cv2.waitKey(1)
        except Exception:
            pass


def run_live(
    source: FrameSource,
    hm: MotionHeatmap,
    *,
    window: bool = True,
    out: Path | None = None,
    max_frames: int | None = None,
    snapshot: Path | None = None,
    cursor: bool = False,
    snapshot_dir: Path = Path("."),
    log=sys.stderr,
) -> LiveResult:
    """Process frames until the source ends, `max_frames`, or q/Esc; returns what was done."""
    res = LiveResult()
    win: Window | None = None
    writer = None
    feed: CursorFeed | None = None
    screen_rect = getattr(source, "rect", None)
    overlay: np.ndarray | None = None
    frame: np.ndarray | None = None
    try:
        if window:
            win = Window(source.size, screen_rect)
        if out is not None:
            writer = open_writer(out, source.fps, source.size)
        if cursor and screen_rect is not None:
            try:
                feed = CursorFeed().start()
            except UserError as e:
                print(f"trackheat live: cursor layer off: {e}", file=log)
                feed = None
        paused = False
        fps = 0.0
        t_start = time.monotonic()
        t_last = t_start
        n_snap = 0
        while max_frames is None or res.frames < max_frames:
            if not paused or overlay is None:
                item = source.next(timeout=None)
                if item is None:
                    break
                _, frame = item
                ignore = []
                if win is not None and screen_rect is not None:
                    r = win.rect()
                    if r is not None:
                        m = 6  # a margin for the toolkit's frame
                        ignore.append((r[0] - screen_rect.left - m, r[1] - screen_rect.top - m, r[2] + 2 * m, r[3] + 2 * m))
                hm.update(frame, ignore=ignore)
                if feed is not None:
                    xs, ys = feed.take()
                    if xs and screen_rect is not None:
                        hm.add_points([x - screen_rect.left for x in xs], [y - screen_rect.top for y in ys])
                overlay = hm.render(frame)
                res.frames += 1
                if writer is not None:
                    writer.write(overlay)
                    res.written += 1
                now = time.monotonic()
                dt = now - t_last
                t_last = now
                if dt > 0:
                    fps = 1.0 / dt if fps == 0 else 0.9 * fps + 0.1 / dt
            if win is None:
                continue
            hud = [
                f"{fps:4.1f} fps  decay {hm.decay:.3f}  active {100 * hm.active_fraction():.1f} %",
                f"{hm.colormap}" + (f"  cursor {'on' if hm.show_points else 'off'}" if feed is not None else "") + ("  PAUSED" if paused else ""),
            ]
            win.show(overlay, hud)
            k = win.key(30 if paused else 1)
            if win.closed:
                break
            if k < 0:
                continue
            ch = k & 0xFF
            if ch in (ord("q"), ord("Q"), 27):
                break
            elif ch == ord("r"):
                hm.reset()
            elif ch == ord(" "):
                paused = not paused
            elif ch in (ord("+"), ord("=")):
                hm.decay = min(0.999, 1.0 - (1.0 - hm.decay) * 0.8)
            elif ch in (ord("-"), ord("_")):
                hm.decay = max(0.5, 1.0 - (1.0 - hm.decay) / 0.8)
            elif ch == ord("c"):
                cur = str(hm.colormap).lower()
                hm.colormap = CYCLE[(CYCLE.index(cur) + 1) % len(CYCLE)] if cur in CYCLE else CYCLE[0]
            elif ch == ord("m"):
                hm.show_points = not hm.show_points
            elif ch == ord("s") and frame is not None:
                n_snap += 1
                stem = (snapshot.stem + f"-{n_snap}") if snapshot else time.strftime("trackheat-live-%Y%m%d-%H%M%S") + f"-{n_snap}"
                where = snapshot.parent if snapshot else snapshot_dir
                paths = save_snapshot(hm, hm.render(frame), where / stem)
                res.snapshots.extend(paths)
                print(f"saved {paths[0]} and {paths[1]}", file=log)
        res.seconds = time.monotonic() - t_start
        if snapshot is not None and overlay is not None:
            res.snapshots.append(write_png(snapshot, overlay))
        return res
    finally:
        if feed is not None:
            feed.stop()
        if writer is not None:
            writer.release()
        if win is not None:
            win.close()
        source.close()
