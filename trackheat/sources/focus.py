"""Which application has the focus, followed as events: the recorder's per-application maps.

A `FocusWatcher` calls `on_change(name)` once when started (the application
focused then) and again from its own thread each time the focused
application changes; `name` is None when nothing identifiable has focus.
Only the application's name is read, never a window title: titles carry
document names and URLs.

Backends:
- X11 (tested under Xvfb, with openbox and with no window manager): the class
  part of WM_CLASS of the active top-level window. With an EWMH window manager
  the root window's `_NET_ACTIVE_WINDOW` is watched through PropertyNotify;
  with none, the watcher selects FocusChange on every top-level window (and on
  new ones, through SubstructureNotify on the root) and reads XGetInputFocus,
  walking up to the window that has WM_CLASS. Either way the X server wakes
  the watcher only when the focus moves: nothing is queried per pointer move.
- Windows (written, NOT tested: no Windows machine here): the executable name
  of the foreground window's process (`firefox.exe`), from an
  EVENT_SYSTEM_FOREGROUND WinEvent hook on the watcher's own message loop.
- macOS (written, NOT tested: no Mac here): the bundle identifier of the
  frontmost application (`org.mozilla.firefox`), from NSWorkspace's
  did-activate notifications (pyobjc, which pynput already needs there).
"""

from __future__ import annotations

import os
import select
import sys
import threading
from typing import Callable

from trackheat.errors import NoDisplay

OnChange = Callable[[str | None], object]


class FocusWatcher:
    """The interface every backend follows."""

    @property
    def method(self) -> str:
        """How the focus is followed, for the session's metadata."""
        return "none"

    def __init__(self, on_change: OnChange) -> None:
        self.on_change = on_change
        self.current: str | None = None
        self.changes = 0

    def _emit(self, name: str | None, force: bool = False) -> None:
        if force or name != self.current:
            self.current = name
            self.changes += 1
            self.on_change(name)

    def start(self) -> "FocusWatcher":
        """Report the application focused now (synchronously), then follow changes."""
        self._emit(None, force=True)
        return self

    def stop(self) -> None:
        """Stop following; returns promptly."""


def focus_watcher(on_change: OnChange) -> FocusWatcher:
    """The backend for this platform (not started)."""
    if sys.platform == "win32":
        return Win32Focus(on_change)
    if sys.platform == "darwin":
        return MacFocus(on_change)
    return X11Focus(on_change)


# -- X11 -------------------------------------------------------------------------
class X11Focus(FocusWatcher):
    """WM_CLASS class of the focused top-level window, via _NET_ACTIVE_WINDOW or the input focus."""

    def __init__(self, on_change: OnChange, display: str | None = None) -> None:
        super().__init__(on_change)
        self.display_name = display
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1
        self._stop = False
        self.ewmh = False

    def start(self) -> "X11Focus":
        try:
            from Xlib import X
            from Xlib import display as xdisplay
        except ImportError as e:
            raise NoDisplay(f"cannot follow the focused application: python-xlib is missing ({e})") from None
        try:
            self._d = xdisplay.Display(self.display_name)
        except Exception as e:  # Xlib raises several unrelated types for "cannot connect"
            raise NoDisplay(f"cannot follow the focused application: no X display ({type(e).__name__})") from None
        self._X = X
        self._d.set_error_handler(lambda *a: None)  # a window that vanished between event and query is not an error
        self._root = self._d.screen().root
        self._active_atom = self._d.intern_atom("_NET_ACTIVE_WINDOW")
        self._root.change_attributes(event_mask=X.PropertyChangeMask | X.SubstructureNotifyMask)
        self.ewmh = self._active_window() is not None
        if not self.ewmh:
            self._watch_toplevels()
        self._d.sync()
        self._emit(self._focused(), force=True)
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="trackheat-focus", daemon=True)
        self._thread.start()
        return self

    @property
    def method(self) -> str:
        return "x11-ewmh" if self.ewmh else "x11-input-focus"

    def stop(self) -> None:
        self._stop = True
        if self._wake_w >= 0:
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(2.0)
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1
        try:
            self._d.close()
        except Exception:
            pass

    # -- queries (a few round trips per focus change) --------------------------
    def _active_window(self):
        """The window _NET_ACTIVE_WINDOW names, 0 for none, None when no EWMH manager sets it."""
        try:
            prop = self._root.get_full_property(self._active_atom, self._X.AnyPropertyType)
        except Exception:
            return None
        if prop is None or not len(prop.value):
            return None
        return int(prop.value[0])

    def _class_up(self, win) -> str | None:
        """The WM_CLASS class of `win` or its nearest ancestor that has one."""
        root_id = self._root.id
        for _ in range(64):  # no real tree is deeper; a broken one must not loop
            if win is None or win.id in (0, root_id):
                return None
            try:
                cls = win.get_wm_class()
                if cls and cls[1]:
                    return str(cls[1])
                win = win.query_tree().parent
            except Exception:
                return None
        return None

    def _focused(self) -> str | None:
        active = self._active_window()
        if active is not None:
            self.ewmh = True
            return self._class_up(self._d.create_resource_object("window", active)) if active else None
        try:
            focus = self._d.get_input_focus().focus
        except Exception:
            return None
        if isinstance(focus, int):  # X.NONE or X.PointerRoot: no window has the focus
            return None
        return self._class_up(focus)

    def _watch_toplevels(self) -> None:
        try:
            children = self._root.query_tree().children
        except Exception:
            return
        for w in children:
            self._watch(w)

    def _watch(self, win) -> None:
        try:
            win.change_attributes(event_mask=self._X.FocusChangeMask)
        except Exception:
            pass

    # -- the thread ------------------------------------------------------------
    def _run(self) -> None:
        X = self._X
        fd = self._d.fileno()
        try:
            while not self._stop:
                if not self._d.pending_events():
                    ready, _, _ = select.select([fd, self._wake_r], [], [], 5.0)
                    if self._stop:
                        return
                    if not ready:
                        continue
                changed = False
                for _ in range(self._d.pending_events()):
                    ev = self._d.next_event()
                    if ev.type == X.PropertyNotify:
                        changed |= ev.atom == self._active_atom
                    elif ev.type in (X.FocusIn, X.FocusOut):
                        changed = True
                    elif ev.type == X.CreateNotify and not self.ewmh:
                        self._watch(ev.window)
                    elif ev.type in (X.DestroyNotify, X.UnmapNotify):
                        changed = True
                if changed:
                    self._emit(self._focused())
        except Exception:  # the display went away: the recorder notices through its listener
            return


# -- Windows (untested) -------------------------------------------------------------
class Win32Focus(FocusWatcher):
    """Executable name of the foreground window's process, via an EVENT_SYSTEM_FOREGROUND hook. UNTESTED."""

    method = "win32-foreground"

    def start(self) -> "Win32Focus":
        import ctypes
        from ctypes import wintypes

        user32 = ctypes.windll.user32  # type: ignore[attr-defined]
        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        self._user32 = user32

        def exe_name(hwnd) -> str | None:
            pid = wintypes.DWORD()
            user32.GetWindowThreadProcessId(hwnd, ctypes.byref(pid))
            if not pid.value:
                return None
            h = kernel32.OpenProcess(0x1000, False, pid.value)  # PROCESS_QUERY_LIMITED_INFORMATION
            if not h:
                return None
            try:
                buf = ctypes.create_unicode_buffer(1024)
                size = wintypes.DWORD(len(buf))
                if not kernel32.QueryFullProcessImageNameW(h, 0, buf, ctypes.byref(size)):
                    return None
                return os.path.basename(buf.value) or None
            finally:
                kernel32.CloseHandle(h)

        proc_type = getattr(ctypes, "WINFUNCTYPE")(None, wintypes.HANDLE, wintypes.DWORD, wintypes.HWND, wintypes.LONG, wintypes.LONG, wintypes.DWORD, wintypes.DWORD)

        def on_event(hook, event, hwnd, obj, child, thread, t):
            self._emit(exe_name(hwnd))

        self._callback = proc_type(on_event)  # kept alive as long as the hook
        self._emit(exe_name(user32.GetForegroundWindow()), force=True)
        ready = threading.Event()

        def loop() -> None:
            self._tid = kernel32.GetCurrentThreadId()
            hook = user32.SetWinEventHook(3, 3, 0, self._callback, 0, 0, 0)  # EVENT_SYSTEM_FOREGROUND, WINEVENT_OUTOFCONTEXT
            ready.set()
            msg = wintypes.MSG()
            while user32.GetMessageW(ctypes.byref(msg), 0, 0, 0) > 0:
                user32.TranslateMessage(ctypes.byref(msg))
                user32.DispatchMessageW(ctypes.byref(msg))
            user32.UnhookWinEvent(hook)

        self._thread = threading.Thread(target=loop, name="trackheat-focus", daemon=True)
        self._thread.start()
        ready.wait(5.0)
        return self

    def stop(self) -> None:
        if getattr(self, "_tid", None):
            self._user32.PostThreadMessageW(self._tid, 0x0012, 0, 0)  # WM_QUIT
            self._thread.join(2.0)


# -- macOS (untested) ----------------------------------------------------------------
class MacFocus(FocusWatcher):
    """Bundle identifier of the frontmost application, via NSWorkspace notifications. UNTESTED."""

    method = "macos-workspace"

    def start(self) -> "MacFocus":
        try:
            from AppKit import NSWorkspace
            from Foundation import NSDate, NSObject, NSRunLoop
        except ImportError as e:
            raise NoDisplay(f"cannot follow the frontmost application: pyobjc (AppKit) is missing ({e})") from None
        ws = NSWorkspace.sharedWorkspace()
        app = ws.frontmostApplication()
        self._emit(str(app.bundleIdentifier()) if app is not None and app.bundleIdentifier() else None, force=True)
        watcher = self

        class Observer(NSObject):
            def activated_(self, note):
                a = note.userInfo()["NSWorkspaceApplicationKey"]
                watcher._emit(str(a.bundleIdentifier()) if a.bundleIdentifier() else None)

        self._observer = Observer.new()
        self._center = ws.notificationCenter()
        self._center.addObserver_selector_name_object_(self._observer, "activated:", "NSWorkspaceDidActivateApplicationNotification", None)
        self._stop = False

        def loop() -> None:
            run_loop = NSRunLoop.currentRunLoop()
            while not self._stop:
                run_loop.runUntilDate_(NSDate.dateWithTimeIntervalSinceNow_(0.5))

        self._thread = threading.Thread(target=loop, name="trackheat-focus", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop = True
        if getattr(self, "_center", None) is not None:
            self._center.removeObserver_(self._observer)
            self._thread.join(2.0)
