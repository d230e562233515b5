"""Can this process see the pointer and the screen? Told before anything tries.

pynput raises ImportError with no X server, cv2.imshow aborts the whole
process (SIGABRT) with no display, and on Wayland both pynput and mss see
nothing global. Each of these becomes one clear line and exit status 2 here.
"""

from __future__ import annotations

import os
import sys

from trackheat.errors import NoDisplay

X11_HINT = "log in to an X11 (Xorg) session, or run under Xvfb"


def is_wayland() -> bool:
    return bool(os.environ.get("WAYLAND_DISPLAY")) or os.environ.get("XDG_SESSION_TYPE", "").lower() == "wayland"


def _x11_problem() -> str | None:
    display = os.environ.get("DISPLAY")
    if not display:
        return "no display: DISPLAY is not set"
    try:
        from Xlib import display as xdisplay  # comes with pynput on Linux
    except ImportError:
        return None  # cannot check cheaply; let the library speak
    try:
        xdisplay.Display(display).close()
    except Exception as e:  # Xlib raises several unrelated types for "cannot connect"
        return f"cannot connect to the X display {display!r} ({type(e).__name__})"
    return None


def require_pointer(what: str, *, capture: bool = False, force_x11: bool = False) -> None:
    """For global pointer events (record) and screen capture too (`capture`: live --screen, screenshots).

    On Wayland pynput hears the pointer only over XWayland windows (pynput issues 331, 304) and
    mss captures nothing: `force_x11` tries anyway through XWayland's DISPLAY, for XWayland apps.
    """
    if sys.platform in ("win32", "darwin"):
        return
    if is_wayland() and not force_x11:
        needs = "global pointer events and screen capture" if capture else "global pointer events"
        raise NoDisplay(f"{what} needs {needs}, which Wayland gives other programs only over XWayland windows; "
                        f"{X11_HINT}, or give `force_x11` to try anyway (XWayland apps only)")
    problem = _x11_problem()
    if problem:
        raise NoDisplay(f"{what} needs a desktop session: {problem}; {X11_HINT}")


def require_window(what: str) -> None:
    """For a cv2 window (XWayland is fine for a window of our own)."""
    if sys.platform in ("win32", "darwin"):
        return
    problem = _x11_problem()
    if problem:
        raise NoDisplay(f"{what} needs a display for its window: {problem}; use `no_window` with `out` or `snapshot` on a server")


def make_dpi_aware() -> None:
    """On Windows, ask for real pixels so pynput coordinates match mss screenshots.

    A non-DPI-aware process at 150 % scaling gets scaled coordinates (pynput
    issue 153). Per-monitor awareness (2) first, the Vista-era call as fallback.
    """
    if sys.platform != "win32":
        return
    import ctypes

    try:
        ctypes.windll.shcore.SetProcessDpiAwareness(2)
    except Exception:
        try:
            ctypes.windll.user32.SetProcessDPIAware()
        except Exception:
            pass
