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
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from trackheat import render
from trackheat.canvas import Rect
from trackheat.outputs.images import private_file, write_png
from trackheat.errors import UserError
from trackheat.render.motion import MotionHeatmap
from trackheat.sources.frames import FrameSource

if TYPE_CHECKING:
    from trackheat.sources.pointer import PointerListener

WINDOW = "trackheat live"
# The `c` key walks through these; they read well over a screen or a camera.
CYCLE = ["jet", "turbo", "inferno", "hot", "viridis", "magma", "plasma", "cividis", "rainbow", "ocean"]
# Containers OpenCV writes itself (its pip wheels have Motion JPEG, but no H.264 or VP9 encoder) ...
FOURCC = {".avi": "MJPG", ".mkv": "MJPG"}
# ... and those written through PyAV, whose wheels ship FFmpeg with libx264 and libvpx: what
# browsers and players play (OpenCV's .mp4 would be MPEG-4 Part 2, which most do not).
AV_CODECS = {".mp4": "libx264", ".webm": "libvpx-vp9"}
VIDEO_SUFFIXES = (*FOURCC, *AV_CODECS)
KEYS_HELP = "q/Esc quit, r reset, space pause, +/- decay, c colormap, m cursor layer, s snapshot"


@dataclass
class LiveResult:
    frames: int = 0
    seconds: float = 0.0
    written: int = 0  # frames written to `out`
    snapshots: list[Path] = field(default_factory=list)
    snapshot_note: str = ""  # which frame the end snapshot shows, said with its path
    window_note: str = ""  # where the window was placed

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


class AvWriter:
    """H.264 (.mp4) or VP9 (.webm) through PyAV: `write(bgr)` per frame, `release()` at the end.

    4:2:0 video needs even sizes: an odd last row or column is dropped.
    """

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        try:
            import av
        except ImportError:
            raise UserError(f"writing {path.suffix} needs PyAV: pip install 'trackheat[video]' "
                            "(or write .avi, which OpenCV writes itself)", param="out") from None
        from fractions import Fraction

        codec = AV_CODECS[path.suffix.lower()]
        self._w, self._h = size[0] // 2 * 2, size[1] // 2 * 2
        if self._w < 2 or self._h < 2:
            raise UserError(f"a {self._w}x{self._h} frame is too small for a {path.suffix} video", param="out")
        try:
            self._container = av.open(str(path), mode="w")
        except Exception as e:  # av.error.*: one line, not a traceback
            raise UserError(f"cannot write {path}: {e}", param="out") from None
        stream: Any = self._container.add_stream(codec, rate=Fraction(float(fps)).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = self._w, self._h, "yuv420p"
        stream.options = ({"crf": "23", "preset": "veryfast"} if codec == "libx264"
                          else {"crf": "32", "b:v": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"})
        self._stream = stream
        self._av = av

    def write(self, frame: np.ndarray) -> None:
        img = frame[: self._h, : self._w]
        vf = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
        for packet in self._stream.encode(vf):
            self._container.mux(packet)

    def release(self) -> None:
        try:
            for packet in self._stream.encode():  # flush the encoder's delayed frames
                self._container.mux(packet)
        finally:
            self._container.close()


def _private(path: Path) -> None:
    """Outputs are 0600 (they show the screen)."""
    try:
        path.chmod(0o600)
    except OSError:
        pass


def open_writer(path: Path, fps: float, size: tuple[int, int]):
    """A video writer for `path` by its suffix: .mp4 (H.264) and .webm (VP9) through PyAV,
    .avi and .mkv (Motion JPEG) through OpenCV. Each has write(bgr) and release()."""
    import cv2

    ext = path.suffix.lower()
    if ext not in VIDEO_SUFFIXES:
        raise UserError(f"the video must end in {', '.join(VIDEO_SUFFIXES)}", param="out")
    if not path.parent.exists():
        raise UserError(f"directory {path.parent} does not exist", param="out")
    private_file(path).close()  # made 0600 first: the writer then fills a file only its owner reads
    if ext in AV_CODECS:
        return AvWriter(path, fps, size)
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


MIN_BESIDE = 320  # px: a window narrower than this beside the captured area is not worth it
_MARGIN = 16  # px between the window and the captured area or a screen edge
_DECOR = 40  # px a window manager's title bar may add above the image


@dataclass(frozen=True)
class Placement:
    x: int
    y: int
    width: int
    height: int
    where: str  # said to the user: "right of the captured area on monitor 1", ...
    covers: bool  # whether it stands on the captured area (then masked out of the motion)


def place_window(frame_size: tuple[int, int], captured: Rect | None, monitors: Sequence[Rect] = (),
                 limit: tuple[int, int] = (1280, 720)) -> Placement | None:
    """Where the live window goes: beside the captured area when a monitor has room for it
    (the largest free strip wins), else small in the captured area's bottom-right corner.

    None for a camera or file (the toolkit places it). The window keeps the frame's aspect.
    """
    if captured is None:
        return None
    fw, fh = frame_size
    best: tuple[float, Placement] | None = None
    for i, m in enumerate(monitors, 1):
        ix0, iy0 = max(m.left, captured.left), max(m.top, captured.top)
        ix1, iy1 = min(m.right, captured.right), min(m.bottom, captured.bottom)
        if ix1 <= ix0 or iy1 <= iy0:
            strips = [("on monitor", m)]  # a monitor the capture does not touch: all of it is free
        else:
            strips = [("left of", Rect(m.left, m.top, ix0 - m.left, m.height)),
                      ("right of", Rect(ix1, m.top, m.right - ix1, m.height)),
                      ("above", Rect(m.left, m.top, m.width, iy0 - m.top)),
                      ("below", Rect(m.left, iy1, m.width, m.bottom - iy1))]
        for side, r in strips:
            aw, ah = r.width - 2 * _MARGIN, r.height - 2 * _MARGIN - _DECOR
            if aw <= 0 or ah <= 0:
                continue
            f = min(aw / fw, ah / fh, limit[0] / fw, limit[1] / fh, 1.0)
            w, h = int(fw * f), int(fh * f)
            if w < MIN_BESIDE:
                continue
            where = f"on monitor {i}" if side == "on monitor" else f"{side} the captured area (monitor {i})"
            p = Placement(r.left + _MARGIN, r.top + _MARGIN + _DECOR, w, h, where, False)
            if best is None or w * h > best[0]:
                best = (w * h, p)
    if best is not None:
        return best[1]
    f = min(0.25, limit[0] / fw, limit[1] / fh)  # no room: a quarter-size window in a corner
    w, h = max(160, int(fw * f)), max(90, int(fh * f))
    return Placement(captured.right - w - _MARGIN, captured.bottom - h - _MARGIN - _DECOR, w, h,
                     "in the bottom-right corner of the captured area, at 1/4 size (no room beside it; "
                     "its rectangle is left out of the motion)", True)


class Window:
    """The cv2 window: display size, the HUD, keys, and where it stands on the desktop."""

    def __init__(self, frame_size: tuple[int, int], screen_rect=None, monitors: Sequence[Rect] = ()) -> None:
        import cv2

        from trackheat.sources.display import require_window

        require_window("live")
        self.cv2 = cv2
        w, h = frame_size
        self.placement = place_window(frame_size, screen_rect, monitors)
        if self.placement is not None:
            self.size = (self.placement.width, self.placement.height)
        else:  # a camera or file: at its size up to 1280x720
            f = min(1.0, 1280 / w, 720 / h)
            self.size = (max(160, int(w * f)), max(90, int(h * f)))
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        cv2.resizeWindow(WINDOW, *self.size)
        if self.placement is not None:
            cv2.moveWindow(WINDOW, self.placement.x, self.placement.y)
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
            win = Window(source.size, screen_rect, getattr(source, "monitors", ()))
            if win.placement is not None:
                p = win.placement
                res.window_note = f"window {p.where}, at {p.x},{p.y} ({p.width}x{p.height})"
                print(f"trackheat live: {res.window_note}", file=log)
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
        # A video file's end snapshot is its frame with the most heat (its last frame may be an
        # end card, or still); a screen or camera has no end of its own: its last frame.
        pick_best = snapshot is not None and bool(getattr(source, "is_file", False))
        best: np.ndarray | None = None
        best_heat, best_index = 0.0, 0
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
                if pick_best:
                    heat = hm.total_heat()
                    if heat > best_heat:
                        best_heat, best_index = heat, res.frames
                        if best is None:
                            best = np.empty_like(overlay)
                        np.copyto(best, overlay)
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
            if best is not None:
                res.snapshots.append(write_png(snapshot, best))
                res.snapshot_note = f"the frame with the most heat: frame {best_index} of {res.frames}"
            else:
                res.snapshots.append(write_png(snapshot, overlay))
                res.snapshot_note = "the last frame" + (": nothing moved" if pick_best else "")
        return res
    finally:
        if feed is not None:
            feed.stop()
        if writer is not None:
            writer.release()
            if out is not None:
                _private(out)  # after the muxer's last write (it may create the file anew)
        if win is not None:
            win.close()
        source.close()
