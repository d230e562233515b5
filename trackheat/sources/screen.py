"""The screen through mss: the monitor layout, screenshots and raw frames.

mss is imported only when called, never at module import time. One MSS
object is made per owner and reused: making one per grab costs far more
than the grab (1.4 ms per 1080p XShm grab on Xvfb).
"""

from __future__ import annotations

import numpy as np

from trackheat.canvas import Canvas, Rect
from trackheat.errors import NoDisplay


def open_mss():
    """A new mss instance (mss.MSS from 10.2 on; mss.mss before)."""
    import mss

    factory = getattr(mss, "MSS", None) or mss.mss
    try:
        return factory()
    except Exception as e:  # the display closed or is at its client limit: mss raises its own types
        text = " ".join(str(e).split()) or type(e).__name__
        raise NoDisplay(f"cannot read the screen: {text}") from None


def desktop_canvas(sct=None) -> Canvas:
    """The virtual desktop: every monitor (mss.monitors[1:]), origins as the OS gives them."""
    own = sct is None
    sct = sct or open_mss()
    try:
        try:
            mons = sct.monitors[1:] or sct.monitors[:1]
        except Exception as e:  # the display closed under us: mss's xcb layer asserts on a missing reply
            text = " ".join(str(e).split()) or type(e).__name__
            raise NoDisplay(f"cannot read the monitor layout: {text}") from None
        return Canvas.desktop([Rect(int(m["left"]), int(m["top"]), int(m["width"]), int(m["height"])) for m in mons])
    finally:
        if own:
            try:
                sct.close()
            except Exception:  # the display closed under us: mss's xcb disconnect raises; nothing is left to close
                pass


def grab_bgra(sct, rect: Rect) -> np.ndarray:
    """A zero-copy (H, W, 4) uint8 view of one grab; convert with cv2.cvtColor, not slicing."""
    shot = sct.grab({"left": rect.left, "top": rect.top, "width": rect.width, "height": rect.height})
    return np.asarray(shot)


def grab_bgr(sct, rect: Rect) -> np.ndarray:
    import cv2

    return cv2.cvtColor(grab_bgra(sct, rect), cv2.COLOR_BGRA2BGR)


def screenshot_pngs(sct=None) -> list[tuple[int, bytes]]:
    """(monitor index, PNG bytes) for each monitor, 1-based as mss numbers them."""
    import cv2

    own = sct is None
    sct = sct or open_mss()
    try:
        out = []
        for i, m in enumerate(sct.monitors[1:], start=1):
            ok, buf = cv2.imencode(".png", grab_bgr(sct, Rect(m["left"], m["top"], m["width"], m["height"])))
            if ok:
                out.append((i, buf.tobytes()))
        return out
    finally:
        if own:
            sct.close()
