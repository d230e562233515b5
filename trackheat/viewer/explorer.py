"""What the viewer shows, as data: sessions, a selection's timeline, stats and images.

The web layer (`app.py`) only parses requests and calls this. Images come
from export's own code path, so the page shows the same PNG bytes
`trackheat export` writes for the same options; they are cached per option
set and the caches are dropped when the store changes (a recorder flushed).

One `Explorer` owns one read-only store connection; a lock serializes the
store and the caches, since the server answers on a thread pool.
"""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from trackheat import defaults
from trackheat.errors import UserError
from trackheat.outputs.export import KINDS

NO_APP = defaults.NO_APP_NAME  # how the page names events with no application (imported logs)
SCALES = tuple(dict.fromkeys((defaults.SCALE, "max", "p99.5", "p99", "p95", "sqrt", "log")))
CACHE_IMAGES = 64  # encoded PNGs kept (~0.5-1 MB each at 1080p)
KEPT_IMAGES = 8  # distinct reference images whose bytes are kept between requests
CACHE_STAGES = 24  # export's points, density grids and screenshots kept (a week's points ~30 MB, a 1080p grid 8 MB)


@dataclass(frozen=True)
class View:
    """One option set of the picture: what `trackheat export` would be given."""

    sessions: tuple[int, ...]
    kind: str = "moves"
    apps: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None
    monitor: str = "all"
    sigma: str | None = None
    scale: str = defaults.SCALE
    colormap: str = defaults.COLORMAP
    alpha: float = defaults.ALPHA
    size: str | None = None
    bins: int = defaults.BINS  # gaze sessions: histogram bins on the reference's wider side

    @property
    def session_spec(self) -> str:
        return ",".join(map(str, self.sessions))

    def export_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of export_session for this view (background decided by the caller)."""
        kw: dict[str, Any] = dict(
            session=self.session_spec, since=self.since, until=self.until, kind=self.kind, monitor=self.monitor,
            sigma=self.sigma, colormap=self.colormap, scale=self.scale, alpha=self.alpha, size=self.size,
        )
        if self.apps:
            kw["apps"] = [None if a == NO_APP else a for a in self.apps]
        return kw


def _number(params: Mapping[str, str], name: str) -> float | None:
    text = params.get(name, "").strip()
    if not text:
        return None
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        raise UserError(f"{name}: expected a number, got {text!r}")
    return v


def parse_view(params: Mapping[str, str], prefix: str = "") -> View:
    """A View from query parameters (`prefix` "b_" reads the compare side's sessions)."""
    raw = params.get(prefix + "sessions", "").strip()
    try:
        sessions = tuple(int(p) for p in raw.split(",") if p.strip())
    except ValueError:
        raise UserError(f"sessions: expected numbers separated by commas, got {raw!r}") from None
    if not sessions:
        raise UserError("no session selected")
    kind = params.get("kind", "moves")
    if kind not in KINDS:
        raise UserError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    alpha = _number(params, "alpha")
    if alpha is not None and not 0 <= alpha <= 1:
        raise UserError(f"opacity: expected 0 to 1, got {alpha:g}")
    apps = tuple(sorted(a for a in params.get("apps", "").split(",") if a))
    bins = _number(params, "bins")
    if bins is not None and bins != int(bins):
        raise UserError(f"bins: expected a whole number, got {bins:g}")
    return View(
        sessions=sessions, kind=kind, apps=apps, since=_number(params, "since"), until=_number(params, "until"),
        monitor=params.get("monitor", "all") or "all", sigma=params.get("sigma") or None,
        scale=params.get("scale") or defaults.SCALE, colormap=params.get("colormap") or defaults.COLORMAP,
        alpha=defaults.ALPHA if alpha is None else alpha, size=params.get("size") or None,
        bins=defaults.BINS if bins is None else int(bins),
    )


class LRU(OrderedDict):
    """A small least-recently-used cache."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def get_or(self, key, make: Callable[[], Any]) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = make()
        self[key] = value
        if len(self) > self.limit:
            self.popitem(last=False)
        return value


class Explorer:
    """The store as the page sees it. Thread-safe (one lock)."""

    def __init__(self, db: str | Path) -> None:
        from trackheat.store import Store

        self.db = Path(db)
        self.store = Store(self.db, create=False, readonly=True)
        self.lock = threading.RLock()
        self.images: LRU = LRU(CACHE_IMAGES)
        self.stages: LRU = LRU(CACHE_STAGES)
        # What each session is drawn over: kept across store changes (a recorder's flush adds no
        # screenshot or reference to a session that had none, and reading a reference is megabytes).
        self._kept_background: dict[tuple, dict] = {}
        self._images_of: dict[tuple, Any] = {}  # (session id, source, start) -> its Reference or None
        self._by_sha: dict[str, Any] = {}  # one Reference per distinct image
        self._version = self.store.data_version()
        self.generation = 0  # bumped at every change seen: the page's caches key on it

    def close(self) -> None:
        with self.lock:
            self.store.close()

    # -- change detection ------------------------------------------------------
    def poll(self) -> int:
        """Check the store for commits by other processes; drop caches when there were some."""
        with self.lock:
            v = self.store.data_version()
            if v != self._version:
                self._version = v
                self.generation += 1
                self.images.clear()
                self.stages.clear()
            return self.generation

    # -- lists -------------------------------------------------------------------
    def sessions(self) -> list[dict]:
        with self.lock:
            rows = self.store.sessions()
            apps = {s.id: [NO_APP if a is None else a for a in self.store.apps([s.id])] for s in rows}
            backgrounds = {s.id: self._background(s) for s in rows}
        return [
            {
                "id": s.id, "name": s.name or "", "source": s.source, "kind": s.kind, "start": s.started,
                "end": s.ended, "duration": s.duration, "moves": s.moves, "clicks": s.clicks, "scrolls": s.scrolls,
                "apps": apps[s.id], "canvas": [s.canvas.width, s.canvas.height], "monitors": len(s.canvas.monitors),
                "background": backgrounds[s.id],
            }
            for s in rows
        ]

    def timeline(self, sessions: tuple[int, ...], kind: str = "moves") -> list[dict]:
        """Activity per stored period of the selection: what the time brush is drawn over."""
        with self.lock:
            self.store.resolve(",".join(map(str, sessions)))
            rows = self.stages.get_or(("timeline", sessions), lambda: self.store.timeline(list(sessions)))
        return [{"start": p, "seconds": n, "moves": m, "dwell": round(d, 3), "clicks": c} for p, n, m, d, c in rows]

    # -- pictures ---------------------------------------------------------------
    def _render(self, view: View):
        """export's rendering of the view (gaze's, over the stored reference image, for gaze sessions
        that have one), its stages kept in `self.stages` between calls."""
        from trackheat.outputs.export import render_session

        self.store.resolve(view.session_spec)  # an unknown session is its one-line error
        ref = self._reference(view.sessions)
        if ref is not None:
            from trackheat.viewer.reference import render_gaze

            return render_gaze(self.store, view, ref, self.stages)
        has_shot = self._has_screenshot(view.sessions[-1])
        return render_session(self.store, stored_screenshot_=has_shot, cache=self.stages, **view.export_kwargs())

    def _has_screenshot(self, session_id: int) -> bool:
        return bool(self.stages.get_or(("has screenshot", session_id), lambda: bool(self.store.screenshots(session_id))))

    def _reference(self, sessions: tuple[int, ...]):
        from trackheat.viewer.reference import reference_of

        infos = self.stages.get_or(("infos", sessions), lambda: self.store.infos(list(sessions)))
        return reference_of(infos, self._session_image)

    def _session_image(self, s):
        """A session's kept image, read once: kept across store changes (only a new session gets
        one) and shared by sessions with the same bytes, so a recorder's flushes cost no re-reading."""
        from trackheat.viewer.reference import Reference

        key = (s.id, s.source, s.started)
        if key not in self._images_of:
            if len(self._by_sha) >= KEPT_IMAGES:  # bounded: the images are up to 16 MB each
                self._images_of.clear()
                self._by_sha.clear()
            found = self.store.image(s.id)
            ref = None if found is None else self._by_sha.setdefault(found[0], Reference(*found))
            self._images_of[key] = ref
        return self._images_of[key]

    def _background(self, s) -> dict:
        """What a session alone is drawn over, in words the page shows under the picture. Kept once
        the session has ended (a running recorder may still store its end screenshot)."""
        key = (s.id, s.source, s.started)
        if key in self._kept_background:
            return self._kept_background[key]
        found = self._find_background(s)
        if s.ended is not None or s.kind == "gaze":
            self._kept_background[key] = found
        return found

    def _find_background(self, s) -> dict:
        if s.kind == "gaze":
            img = self._session_image(s)
            if img is not None:
                return {"kind": "reference", "text": f"the reference image {img.name or ''} kept with it (as `trackheat gaze` draws it)"}
            return {"kind": "none", "text": "its outline: no reference image was kept with it (`trackheat gaze --db ... --reference IMAGE` keeps one)"}
        if self._has_screenshot(s.id):
            return {"kind": "screenshot", "text": "the screenshot stored with it"}
        return {"kind": "none", "text": "the outlines of its monitors: no screenshot was stored (`trackheat record --screenshot start` stores one)"}

    def image(self, view: View, which: str) -> bytes:
        """heatmap.png or overlay.png of the view: the bytes `trackheat export` writes for the same options."""
        from trackheat.outputs.images import encode_png

        if which not in ("heatmap", "overlay"):
            raise UserError(f"no image {which!r}")
        with self.lock:
            def make() -> bytes:
                r = self._render(view)
                return encode_png(r.heatmap if which == "heatmap" else r.overlay)

            return self.images.get_or((self.generation, view, which), make)

    def options(self) -> dict:
        """What the page's menus offer."""
        from trackheat import render

        return {"kinds": list(KINDS), "scales": list(SCALES), "colormaps": [c for c in render.COLORMAPS if c != render.DIVERGING],
                "defaults": {"colormap": defaults.COLORMAP, "scale": defaults.SCALE, "alpha": defaults.ALPHA, "bins": defaults.BINS}}

    def stats(self, view: View) -> dict:
        """`trackheat stats --json` of the view's sessions."""
        from trackheat.outputs.summary import summarize

        with self.lock:
            ids = self.store.resolve(view.session_spec)
            return summarize(self.store, ids, view.since, view.until, view.export_kwargs().get("apps"))

    def counts_csv(self, view: View) -> bytes:
        """The stored rows the heatmap is drawn from, as `trackheat dump --format csv` writes them (its own writer)."""
        from trackheat.outputs.dump import positions_csv

        out = io.StringIO(newline="")
        with self.lock:
            ids = self.store.resolve(view.session_spec)
            positions_csv(out, self.store.iter_position_rows(ids, view.since, view.until, view.export_kwargs().get("apps")))
        return out.getvalue().encode()

    def difference(self, a: View, b: View) -> bytes:
        """A's share of activity minus B's, same options, on the diverging colormap (PNG)."""
        from trackheat.outputs.compare import difference_image
        from trackheat.outputs.images import encode_png

        with self.lock:
            def make() -> bytes:
                ra, rb = self._render(a), self._render(b)
                title = (f"A: {_label(a.sessions)} minus B: {_label(b.sessions)} | {a.kind}, as shares of each side's total"
                         " | red: more in A, blue: more in B")
                return encode_png(difference_image(ra, rb, alpha=a.alpha, title=title))

            return self.images.get_or((self.generation, "difference", a, b), make)


def _label(ids: tuple[int, ...]) -> str:
    return f"session {ids[0]}" if len(ids) == 1 else "sessions " + ",".join(map(str, ids))
