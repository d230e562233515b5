"""The global pointer as a stream of callbacks: a thin wrapper over pynput's mouse listener.

Why a wrapper and not pynput directly:
- pynput is imported only in `start()`: with no X server `import pynput` itself
  raises, and `--help`, `import`, `export` must work on a server.
- On Xorg, `Listener.stop()` + `join()` blocks until one more input event
  arrives (pynput PR 583, open): the XRecord "disable" request is queued on the
  connection the listener thread is blocked reading, and is only sent when
  something wakes that thread. Here the disable request goes out on a private
  X connection instead, so the server ends the record stream at once.
- The same trick makes stopping lossless: the server flushes every event it
  already intercepted before it ends the stream, and the listener still
  delivers them (pynput's own stop() drops them), so a recorder stopped right
  after a burst counts every move of the burst.
- On Xorg, pynput parses each 32-byte XRecord event with python-xlib's generic
  parser (~19 us per event, a third of a bare pynput listener's CPU). The
  listener here reads root x/y and the button straight from the bytes with one
  struct (~0.2 us), everything else (connections, lifecycle) staying pynput's.
- Windows: the process is made DPI-aware first, so coordinates are real pixels
  that match mss screenshots (pynput issue 153).

Only the mouse is listened to; never the keyboard.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable

from trackheat.display import make_dpi_aware
from trackheat.errors import NoDisplay

OnMove = Callable[[int, int], object]
OnClick = Callable[[int, int, str, bool], object]  # x, y, button name (left/middle/right/...), pressed
OnScroll = Callable[[int, int, int, int], object]  # x, y, dx, dy (dy > 0 is up)


class PointerListener:
    """Calls back on every pointer move, button press/release and scroll, from a daemon thread.

    Callbacks run on the listener thread (inside the OS hook on Windows): they must
    only update memory and return. `on_click` gets the button's name (as pynput names
    it: left, middle, right, button8, ...), not pynput's enum, so callers never need
    pynput themselves.
    """

    def __init__(self, on_move: OnMove, on_click: OnClick | None = None, on_scroll: OnScroll | None = None) -> None:
        self.on_move = on_move
        self.on_click = on_click
        self.on_scroll = on_scroll
        self._listener = None
        self.trusted: bool | None = None  # macOS: whether the process may monitor input (None elsewhere)

    # -- lifecycle -------------------------------------------------------
    def start(self, timeout: float = 10.0) -> "PointerListener":
        """Start listening; returns once events are being delivered (or raises)."""
        make_dpi_aware()
        try:
            from pynput import mouse
        except ImportError as e:  # no X server: pynput fails at import time
            raise NoDisplay(f"cannot listen to the pointer: {e}") from None
        on_move = self.on_move
        on_click = self.on_click
        on_scroll = self.on_scroll

        # Plain functions with exactly the arguments pynput passes, so pynput
        # adds no argument-trimming lambda of its own per event.
        def _move(x, y, injected=False):
            on_move(x, y)

        def _click(x, y, button, pressed, injected=False):
            if on_click is not None:
                on_click(x, y, button.name, pressed)

        def _scroll(x, y, dx, dy, injected=False):
            if on_scroll is not None:
                on_scroll(x, y, dx, dy)

        self._listener = _listener_class(mouse)(on_move=_move, on_click=_click, on_scroll=_scroll)
        self._listener.daemon = True  # never keeps the process alive
        self._listener.start()
        self._wait_ready(timeout)
        self.trusted = getattr(self._listener, "IS_TRUSTED", None) if sys.platform == "darwin" else None
        return self

    def _wait_ready(self, timeout: float) -> None:
        # pynput's wait() blocks forever when the listener thread dies before it is
        # ready (e.g. the X server went away): poll both instead.
        lst = self._listener
        deadline = time.monotonic() + timeout
        with lst._condition:
            while not lst._ready:
                if not lst.is_alive() or time.monotonic() > deadline:
                    raise NoDisplay("the pointer listener did not start (is the display still there?)")
                lst._condition.wait(0.05)

    @property
    def running(self) -> bool:
        return self._listener is not None and self._listener.is_alive()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop and join, delivering events the system already has; never waits for new input."""
        lst = self._listener
        if lst is None:
            return
        self._listener = None
        if lst.is_alive() and hasattr(lst, "_context") and hasattr(lst, "_display_record"):
            if _xrecord_disable(lst._context):
                lst.join(timeout)
                if not lst.is_alive():
                    lst._running = False  # ended by the server; pynput's stop() would talk to a closed display
                    return
        try:
            lst.stop()
        except Exception:  # the display may already be gone; the thread is a daemon anyway
            pass
        lst.join(timeout)

    def __enter__(self) -> "PointerListener":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _listener_class(mouse):
    """pynput's mouse listener; on Xorg a subclass whose event parsing is one struct."""
    base = mouse.Listener
    if not (sys.platform.startswith("linux") or "bsd" in sys.platform) or not hasattr(base, "_SCROLL_BUTTONS") \
            or not hasattr(base, "_handler") or not hasattr(base, "_emitter"):
        return base
    import struct

    try:
        from Xlib.ext import record
    except ImportError:
        return base
    # Core pointer events: type, detail (button), 18 bytes, root-x, root-y (INT16), 8 bytes.
    # XRecord hands them over in this client's byte order, i.e. native.
    core_event = struct.Struct("=BB18xhh8x")
    from_server = record.FromServer
    scroll_buttons = dict(base._SCROLL_BUTTONS)
    motion, press, release = 6, 4, 5  # X.MotionNotify, X.ButtonPress, X.ButtonRelease
    generic = base._handler

    class FastXorgListener(base):
        def _fast_handler(self, events):
            if not self.running:
                raise self.StopException()
            if events.category != from_server:
                return
            data = events.data
            if not data:
                return
            if len(data) % 32:  # not plain core events: let pynput parse it
                return generic.__wrapped__(self, events)
            on_move = self.on_move
            for kind, detail, x, y in core_event.iter_unpack(data):
                kind &= 0x7F
                if kind == motion:
                    on_move(x, y, False)
                elif kind == press:
                    scroll = scroll_buttons.get(detail)
                    if scroll:
                        self.on_scroll(x, y, scroll[0], scroll[1], False)
                    else:
                        self.on_click(x, y, self._button(detail), True, False)
                elif kind == release and detail not in scroll_buttons:
                    self.on_click(x, y, self._button(detail), False, False)

        _handler = base._emitter(_fast_handler)

        def run(self):
            try:
                super().run()
            except Exception:  # the X server went away (logout); pynput's cleanup then fails too
                pass

    FastXorgListener.__name__ = "Listener"
    return FastXorgListener


def _xrecord_disable(context) -> bool:
    """Ask the X server, over a connection of our own, to end an XRecord stream (PR 583)."""
    try:
        from Xlib import display as xdisplay

        d = xdisplay.Display()
        try:
            d.record_disable_context(context)
            d.sync()
        finally:
            d.close()
        return True
    except Exception:
        return False


def pointer_position() -> tuple[int, int] | None:
    """Where the pointer is now (None when it cannot be asked), e.g. to seed a cursor layer."""
    try:
        from pynput import mouse

        x, y = mouse.Controller().position
        return int(x), int(y)
    except Exception:
        return None
