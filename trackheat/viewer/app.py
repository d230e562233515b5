"""The viewer's HTTP side: routes, the token and Host checks, the static page.

Starlette does the HTTP (parsing, routing, responses, streaming); this module
only decides what each URL means. Every request passes `Guard` first:
- the Host header must be the loopback address and our port (a page on
  another site that rebinds its DNS name to 127.0.0.1 still sends its own
  name, and is refused);
- the secret token must come in the URL (`?token=`) or in the cookie the
  page's first load sets from it; anything else is 403.
No CORS headers are ever sent, so other origins cannot read answers, and the
only files served are the ones shipped in `static/`, read once at start-up
into a table: a path that is not a key of that table is 404, whatever dots
or slashes it holds.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from importlib import resources
from typing import Any, Awaitable, Callable, MutableMapping

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from trackheat.errors import UserError
from trackheat.viewer.explorer import Explorer, parse_view

STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]
POLL_SECONDS = 1.0  # how often the live stream checks the store for a recorder's commits


def static_files() -> dict[str, tuple[bytes, str]]:
    """The page's files, read once: {name: (bytes, content type)}. Nothing else is ever served."""
    out = {}
    for f in resources.files("trackheat.viewer").joinpath("static").iterdir():
        suffix = "." + f.name.rsplit(".", 1)[-1]
        if f.is_file() and suffix in STATIC_TYPES:
            out[f.name] = (f.read_bytes(), STATIC_TYPES[suffix])
    return out


class Guard:
    """ASGI middleware: Host and token checks before any route, security headers after."""

    def __init__(self, app: Callable, token: str, port: int) -> None:
        self.app = app
        self.token = token
        self.cookie = f"trackheat_view_{port}"
        self.hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}

    def allowed(self, conn: HTTPConnection) -> str | None:
        """Why the request is refused, or None."""
        if conn.headers.get("host", "") not in self.hosts:
            return "wrong Host header"
        given = conn.query_params.get("token") or conn.cookies.get(self.cookie) or ""
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return "missing or wrong token"
        return None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        conn = HTTPConnection(scope)
        why = self.allowed(conn)
        set_cookie = why is None and conn.query_params.get("token") == self.token and conn.cookies.get(self.cookie) != self.token

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in {k for k, _ in SECURITY_HEADERS}]
                headers += SECURITY_HEADERS
                if set_cookie:
                    headers.append((b"set-cookie", f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()))
                message = {**message, "headers": headers}
            await send(message)

        if why is not None:
            return await PlainTextResponse(f"403 forbidden: {why}\n", status_code=403)(scope, receive, send_with_headers)
        await self.app(scope, receive, send_with_headers)


def _params(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if k != "token"}


def _handled(fn: Callable[[Request], Any]) -> Callable[[Request], Awaitable[Response]]:
    """Run a blocking handler on the thread pool; a UserError becomes a 422 with its one line."""

    async def endpoint(request: Request) -> Response:
        try:
            return await run_in_threadpool(fn, request)
        except UserError as e:
            text = str(e).replace("`", "")
            return PlainTextResponse(f"{e.param}: {text}" if e.param else text, status_code=422)

    return endpoint


def build_app(explorer: Explorer, token: str, port: int, should_exit: Callable[[], bool] = lambda: False) -> Guard:
    """The ASGI application serving `explorer` behind the token for 127.0.0.1:`port`."""
    files = static_files()

    def page(request: Request) -> Response:
        body, ctype = files["index.html"]
        return Response(body, media_type=ctype)

    async def static(request: Request) -> Response:
        hit = files.get(request.path_params["name"])
        if hit is None:
            return PlainTextResponse("404 not found\n", status_code=404)
        return Response(hit[0], media_type=hit[1])

    def sessions(request: Request) -> Response:
        return JSONResponse({"db": str(explorer.db), "generation": explorer.poll(), "sessions": explorer.sessions(), "options": explorer.options()})

    def timeline(request: Request) -> Response:
        v = parse_view(_params(request))
        return JSONResponse({"periods": explorer.timeline(v.sessions, v.kind)})

    def stats(request: Request) -> Response:
        return JSONResponse(explorer.stats(parse_view(_params(request))))

    def image(request: Request) -> Response:
        which = request.path_params["which"]
        params = _params(request)
        t0 = time.perf_counter()
        body = explorer.image(parse_view(params), which)
        headers = {"x-render-ms": f"{(time.perf_counter() - t0) * 1000:.0f}"}
        if params.get("download"):
            headers["content-disposition"] = f'attachment; filename="{which}.png"'
        return Response(body, media_type="image/png", headers=headers)

    def difference(request: Request) -> Response:
        params = _params(request)
        t0 = time.perf_counter()
        body = explorer.difference(parse_view(params), parse_view(params, "b_"))
        return Response(body, media_type="image/png", headers={"x-render-ms": f"{(time.perf_counter() - t0) * 1000:.0f}"})

    def counts(request: Request) -> Response:
        body = explorer.counts_csv(parse_view(_params(request)))
        return Response(body, media_type="text/csv; charset=utf-8", headers={"content-disposition": 'attachment; filename="counts.csv"'})

    async def events(request: Request) -> Response:
        """Server-sent events: `change` whenever the store got new commits (a recorder flushed)."""

        async def stream():
            seen = await run_in_threadpool(explorer.poll)
            yield f"event: hello\ndata: {json.dumps({'generation': seen})}\n\n"
            while not should_exit() and not await request.is_disconnected():
                await asyncio.sleep(POLL_SECONDS)
                now = await run_in_threadpool(explorer.poll)
                if now != seen:
                    seen = now
                    yield f"event: change\ndata: {json.dumps({'generation': now})}\n\n"
                else:
                    yield ": idle\n\n"  # keeps proxies and the browser from timing out

        return StreamingResponse(stream(), media_type="text/event-stream")

    routes = [
        Route("/", page),
        Route("/static/{name:path}", static),
        Route("/api/sessions", _handled(sessions)),
        Route("/api/timeline", _handled(timeline)),
        Route("/api/stats", _handled(stats)),
        Route("/api/image/{which}.png", _handled(image)),
        Route("/api/difference.png", _handled(difference)),
        Route("/api/counts.csv", _handled(counts)),
        Route("/api/events", events),
    ]
    return Guard(Starlette(routes=routes), token, port)
