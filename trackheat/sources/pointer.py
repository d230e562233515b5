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
- On Xorg, pynput reads the XRecord stream through python-xlib's generic reply
  loop (select, recv, rq parsing, locks: ~60 us per event, nearly all of a
  listener's CPU) and parses each 32-byte event with the generic parser
  (~19 us). Here the stream is read straight off the socket, many replies per
  read, and root x/y and the button come from the bytes with one struct
  (~0.2 us); everything else (connections, lifecycle) stays pynput's.
- Windows: the process is made DPI-aware first, so coordinates are real pixels
  that match mss screenshots (pynput issue 153).

Only the mouse is listened to; never the keyboard.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable

from trackheat.sources.display import make_dpi_aware
from trackheat.errors import NoDisplay

# Seconds start() waits for the listener to be ready: a healthy X server takes milliseconds.
START_TIMEOUT = 5.0
# The pynput releases whose private listener attributes this module was tested against
# (_ready, _condition, _running, _context, _display_record, _SCROLL_BUTTONS, _handler,
# _emitter, _initialize, _button): pyproject pins the same range, tests/test_hostile.py
# fails loudly when an installed pynput lacks one of them.
PYNPUT_TESTED = ((1, 8), (1, 9))  # >= first, < second
PYNPUT_INTERNALS = ("_ready", "_condition", "_running", "_queue", "_SCROLL_BUTTONS", "_handler", "_emitter",
                    "_initialize", "_button", "StopException")

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
        self._listener: Any = None  # pynput's Listener (a Thread), made in start()
        self.trusted: bool | None = None  # macOS: whether the process may monitor input (None elsewhere)

    # -- lifecycle -------------------------------------------------------
    def start(self, timeout: float = START_TIMEOUT) -> "PointerListener":
        """Start listening; returns once events are being delivered, or raises NoDisplay
        within `timeout` seconds when the listener thread dies or never gets ready (the X
        server at its client limit, the display closing during start-up)."""
        make_dpi_aware()
        try:
            from pynput import mouse
        except ImportError as e:  # no X server: pynput fails at import time (with a multi-line hint)
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise NoDisplay(f"cannot listen to the pointer: {' '.join(first.split())}") from None
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
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()  # never waits on the dead thread (see stop)
            raise
        self.trusted = getattr(self._listener, "IS_TRUSTED", None) if sys.platform == "darwin" else None
        return self

    def _wait_ready(self, timeout: float) -> None:
        # pynput's wait() blocks forever when the listener thread dies before it is
        # ready (e.g. the X server went away): poll both instead.
        lst = self._listener
        deadline = time.monotonic() + timeout
        with lst._condition:
            while not lst._ready:
                if not lst.is_alive():
                    why = getattr(lst, "failure", None)
                    raise NoDisplay("cannot listen to the pointer: the listener ended while connecting to the display"
                                    + (f" ({_describe(why)})" if why is not None else "")
                                    + "; is the X server at its client limit or gone?")
                if time.monotonic() > deadline:
                    raise NoDisplay(f"cannot listen to the pointer: the listener was not ready after {timeout:g} s "
                                    "(the X server did not answer)")
                lst._condition.wait(0.05)

    @property
    def running(self) -> bool:
        lst = self._listener
        return lst is not None and lst.is_alive() and getattr(lst, "failure", None) is None

    def stop(self, timeout: float = 2.0) -> None:
        """Stop and join, delivering events the system already has; never waits for new input,
        and returns within about `timeout` seconds whatever state the listener thread is in.

        pynput's own stop() waits for the listener's ready flag when its X context does not
        exist yet (`AbstractListener.wait`): a thread that died in `Display()` never sets it,
        and the caller hung forever (issue 11). A listener that never got ready is therefore
        only marked stopped here, and everything that talks to pynput or the X server runs
        in a daemon thread joined with a timeout: a dead or stuck display cannot hold us.
        """
        lst = self._listener
        if lst is None:
            return
        self._listener = None
        if not getattr(lst, "_ready", True):
            # Never ready: its thread died or is stuck connecting. Its run loop checks
            # `running` before delivering anything; it is a daemon and dies with us.
            lst._running = False
            return
        worker = threading.Thread(target=_stop_listener, args=(lst, timeout), name="trackheat-pointer-stop", daemon=True)
        worker.start()
        worker.join(2 * timeout + 1.0)

    def __enter__(self) -> "PointerListener":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _describe(e: BaseException) -> str:
    """One line for what python-xlib raised (its connection errors carry the server's words)."""
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _stop_listener(lst, timeout: float) -> None:
    """End a listener that got ready (runs in a throw-away thread: see PointerListener.stop)."""
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


def _listener_class(mouse):
    """pynput's mouse listener; on Xorg a subclass whose event parsing is one struct."""
    base = mouse.Listener
    if not (sys.platform.startswith("linux") or "bsd" in sys.platform) or not hasattr(base, "_SCROLL_BUTTONS") \
            or not hasattr(base, "_handler") or not hasattr(base, "_emitter"):
        return base
    import struct

    try:
        import Xlib.ext.record  # noqa: F401  (the RECORD extension pynput itself uses)
    except ImportError:
        return base
    # Core pointer events: type, detail (button), 18 bytes, root-x, root-y (INT16), 8 bytes.
    # XRecord hands them over in this client's byte order, i.e. native.
    core_event = struct.Struct("=BB18xhh8x")
    scroll_buttons = dict(base._SCROLL_BUTTONS)
    motion, press, release = 6, 4, 5  # X.MotionNotify, X.ButtonPress, X.ButtonRelease
    generic = base._handler

    class FastXorgListener(base):
        def _initialize(self, display):
            super()._initialize(display)
            # pynput calls record_enable_context on this display next: read the
            # stream ourselves instead of through python-xlib's reply machinery.
            rec = self._display_record
            rec.record_enable_context = lambda context, callback: self._stream(rec, context)

        def _stream(self, rec, context):
            try:
                _read_record_stream(rec, context, self._batch, self._odd)
            except BaseException as e:
                # The display went away mid-stream. Say so at once: pynput's clean-up after
                # this talks to the dead connection and may block, keeping the thread alive.
                self.failure = e
                raise

        def _batch(self, data):
            """All core events of one socket read (many XRecord replies), in order."""
            if not self.running:
                raise self.StopException()
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

        def _odd(self, data):
            """Record data that is not plain 32-byte core events: pynput parses it."""
            return generic.__wrapped__(self, _Intercepted(data))

        _batch = base._emitter(_batch)
        _odd = base._emitter(_odd)

        failure: BaseException | None = None  # why run() ended early, for start()'s message

        def run(self):
            try:
                super().run()
            except Exception as e:  # the X server went away (logout); pynput's cleanup then fails too
                self.failure = e

    FastXorgListener.__name__ = "Listener"
    return FastXorgListener


class _Intercepted:
    """What python-xlib hands a record callback, for pynput's own parser (.category, .data)."""

    category = 0  # FromServer

    def __init__(self, data: bytes) -> None:
        self.data = data


class _RawRequest:
    """A request python-xlib numbers and sends like its own, but whose replies it never sees."""

    def __init__(self, binary: bytes) -> None:
        self._binary = binary
        self._serial = None


# XRecord reply categories (record protocol 1.13) and the wait that lets replies pile up.
_FROM_SERVER, _END_OF_DATA = 0, 5
READ_PAUSE = 0.010  # seconds; a 1000 Hz mouse then costs <= 100 reads/s, not 1000 (a live frame is 33 ms)


def _read_record_stream(display, context: int, on_events: Callable[[bytes], object], on_odd=None) -> None:
    """XRecordEnableContext, then read its replies straight off the socket until EndOfData.

    Why not python-xlib's reply loop: it answers every reply (one per event at pointer
    rates) with a select(), a recv(), bytes concatenation, a generic rq parse of the
    reply header into an object, a callback, a re-queue of the request and two lock
    round trips: ~60 us per event, 13x the listener callback. Here one recv() takes
    whatever has arrived (the header is 8 bytes of struct), the events of all its
    replies go to `on_events` in one call, and a short pause after a small read lets
    the next replies gather in the socket, so the reads per second stay low at any rate
    (at ~1000 events/s: 4.5 % of a core with a 4 ms pause, 2.4 % with 10 ms).
    The request goes out through python-xlib (its serial numbering stays right); the
    connection carries nothing else until the server's EndOfData, after which
    python-xlib can use it again (pynput frees the context and closes it).
    """
    import socket
    import struct

    proto = display.display
    major = proto.get_extension_major("RECORD")
    proto.send_request(_RawRequest(struct.pack("=BBHI", major, 5, 2, context)), False)
    display.flush()
    sock = proto.socket
    head = struct.Struct("=BBHI")  # reply: type 1, category, sequence, length in 4-byte units
    buf = bytearray()
    recv_size = 1 << 16
    while True:
        try:
            chunk = sock.recv(recv_size)
        except InterruptedError:
            continue
        except OSError as e:
            raise socket.error(f"X server: {e}") from None
        if not chunk:
            raise ConnectionError("X server closed the record connection")
        buf += chunk
        n = len(buf)
        pos = 0
        parts: list = []
        done = False
        while n - pos >= 32:
            rtype, category, _seq, length = head.unpack_from(buf, pos)
            if rtype == 1:
                size = 32 + 4 * length
                if n - pos < size:
                    break
                if category == _FROM_SERVER and size > 32:
                    data = bytes(buf[pos + 32:pos + size])
                    if len(data) % 32:
                        if parts:
                            on_events(b"".join(parts))
                            parts = []
                        if on_odd is not None:
                            on_odd(data)
                    else:
                        parts.append(data)
                elif category == _END_OF_DATA:
                    done = True
                pos += size
            elif rtype == 0:  # an X error for this connection (e.g. a bad context): the stream is over
                done = True
                pos += 32
            else:  # an event (none is selected on this connection): skip it
                pos += 32
            if done:
                break
        del buf[:pos]
        if parts:
            on_events(parts[0] if len(parts) == 1 else b"".join(parts))
        if done:
            return
        if len(chunk) < 4096:
            time.sleep(READ_PAUSE)


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
