"""Start the viewer: bind 127.0.0.1, make a token, print the URL, serve until Ctrl-C/SIGTERM.

uvicorn serves the Starlette app on a socket bound here, so the address is
decided by trackheat and never by a server default: 127.0.0.1 only, port 0
(the kernel picks a free one) unless asked. uvicorn's own handlers turn
SIGINT and SIGTERM into a graceful stop; the live event streams end at the
next poll when they see it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import secrets
import socket
import sys
import threading
from pathlib import Path
from typing import Callable

from trackheat.errors import UserError

HOST = "127.0.0.1"


def require_extra() -> None:
    """One line when the optional web packages are not installed."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UserError("the viewer needs the web extra: pip install 'trackheat[view]' (Starlette and uvicorn)") from None


def bind(port: int = 0) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 (port 0: any free port)."""
    if not 0 <= port <= 65535:
        raise UserError(f"port: expected 0 to 65535, got {port}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as e:
        sock.close()
        raise UserError(f"cannot listen on {HOST}:{port} ({e.strerror})") from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def _can_show_browser() -> bool:
    """A graphical browser is likely: Windows, macOS, or an X11/Wayland session.

    With no display, `webbrowser` would start a text-mode browser in this very
    terminal (lynx, w3m) and take it over; the URL is printed instead.
    """
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, except that a stop asked by SIGINT/SIGTERM ends with status 0.

        uvicorn re-raises the signal after its graceful shutdown (so the process
        dies "of" it); for a command a user stops on purpose, like `record`,
        that is a normal end, not a failure.
        """

        @contextlib.contextmanager
        def capture_signals(self):
            old = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for s, h in old.items():
                    signal.signal(s, h)

    return Server


def serve(db: str | Path, *, port: int = 0, open_browser: bool = True, announce: Callable[[str], None] | None = None) -> int:
    """Serve the store at `db` until stopped; returns the exit status."""
    require_extra()
    import uvicorn

    from trackheat.viewer.app import build_app

    _Server = _server_class()
    from trackheat.viewer.explorer import Explorer

    explorer = Explorer(db)
    sock = bind(port)
    port = sock.getsockname()[1]
    token = secrets.token_urlsafe(24)
    url = f"http://{HOST}:{port}/?token={token}"
    state: dict = {}
    app = build_app(explorer, token, port, should_exit=lambda: bool(state.get("server") and state["server"].should_exit))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=3, server_header=False)
    server = _Server(config)
    state["server"] = server
    (announce or (lambda line: print(line, flush=True)))(f"trackheat view: {explorer.db} at {url} (Ctrl-C to stop)")
    if open_browser and _can_show_browser():
        import webbrowser

        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        explorer.close()
    return 0
