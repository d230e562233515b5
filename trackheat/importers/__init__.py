"""Importers of third-party files: each turns one file into sessions for the store.

A format is a `Format`: a name, a `detect(header)` that recognises its header
line, and a `read(path, options)` that returns `ImportedSession`s. `save()` is
the one way they reach the store, and one file's import is one transaction:
a bad line anywhere leaves the store as it was.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from trackheat.canvas import Canvas
from trackheat.errors import BadInput, UserError
from trackheat.store import DEFAULT_PERIOD

# Modules whose FORMATS lists are tried, in order, by auto-detection.
FORMAT_MODULES = ["mouse_dynamics", "plain", "gaze"]


@dataclass
class ImportOptions:
    """What the command line may tell an importer beyond the file itself."""

    format: str = "auto"
    normalized: bool = False  # plain CSV gaze coordinates are 0..1
    weight: str | None = None  # gaze: count|duration (None: the format's default)
    reference_size: tuple[int, int] | None = None  # (width, height) of the reference image / scene camera
    confidence: float = 0.6  # Pupil Core: rows under this are skipped
    idle_after: float = 30.0  # gaps longer than this are idle, not dwell


@dataclass
class ImportedSession:
    """One session read from a file, before it reaches the store.

    Positions are parallel arrays (one entry per sample, not yet aggregated);
    `ts` are absolute epoch seconds when the file carries time, else None.
    """

    source: str
    canvas: Canvas
    xs: np.ndarray
    ys: np.ndarray
    counts: np.ndarray | None = None  # default: one each
    dwell: np.ndarray | None = None  # seconds per sample (gaze fixation durations too)
    ts: np.ndarray | None = None
    kind: str = "mouse"
    started: float | None = None
    ended: float | None = None
    clicks: list[tuple[float, int, int, str]] = field(default_factory=list)
    scrolls: list[tuple[float, int, int, int, int]] = field(default_factory=list)
    distance: float | None = None
    active_seconds: float = 0.0
    idle_seconds: float = 0.0
    dropped: int = 0  # rows with impossible coordinates or outside the canvas
    skipped: int = 0  # rows with no usable sample (empty, NaN, low confidence, not detected)
    meta: dict = field(default_factory=dict)

    @property
    def moves(self) -> int:
        return int(len(self.xs) if self.counts is None else int(np.sum(self.counts)))


@dataclass(frozen=True)
class Format:
    name: str
    description: str  # the header it expects, for the "unknown format" message
    detect: Callable[[str, Path], bool]  # (first non-empty line, path) -> is it mine?
    read: Callable[[Path, ImportOptions], list[ImportedSession]]


def formats() -> dict[str, Format]:
    out: dict[str, Format] = {}
    for mod in FORMAT_MODULES:
        for f in importlib.import_module(f"trackheat.importers.{mod}").FORMATS:
            out[f.name] = f
    return out


def header_of(path: Path) -> str:
    """The first non-empty line, after checking the file is readable text."""
    if not path.exists():
        raise BadInput(path, "no such file")
    if path.is_dir():
        raise BadInput(path, "is a directory, not a file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError as e:
        raise BadInput(path, f"cannot read: {e.strerror}") from None
    if not head.strip():
        raise BadInput(path, "empty file")
    if b"\x00" in head:
        raise BadInput(path, f"binary data, not a text export (NUL byte at offset {head.index(0)})")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if len(head) < 65536 or e.start < len(head) - 4:  # not just a multibyte char cut at the buffer end
            line = head[: e.start].count(b"\n") + 1
            raise BadInput(path, f"not UTF-8 text (byte 0x{head[e.start]:02x})", line) from None
        text = head[: e.start].decode("utf-8-sig")
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    raise BadInput(path, "empty file")


def detect(path: Path, options: ImportOptions) -> Format:
    table = formats()
    if options.format != "auto":
        if options.format not in table:
            raise UserError(f"--format: unknown format {options.format!r}; known: auto, {', '.join(table)}")
        header_of(path)
        return table[options.format]
    header = header_of(path)
    if options.normalized and [c.strip().lower() for c in header.split(",")] == ["x", "y"] and "gaze-csv" in table:
        return table["gaze-csv"]  # 0..1 coordinates are gaze on an image, never mouse pixels
    for f in table.values():
        if f.detect(header, path):
            return f
    shown = header if len(header) <= 80 else header[:77] + "..."
    expected = "; ".join(f"{f.name} ({f.description})" for f in table.values())
    raise BadInput(path, f"unknown format: header {shown!r} matches none of: {expected}", 1)


def read(path: str | Path, options: ImportOptions | None = None) -> list[ImportedSession]:
    """Read one file into sessions (nothing touches the store yet)."""
    options = options or ImportOptions()
    path = Path(path)
    fmt = detect(path, options)
    try:
        return fmt.read(path, options)
    except UnicodeDecodeError:
        raise _bad_utf8(path) from None


def _bad_utf8(path: Path) -> BadInput:
    """Where a file stops being UTF-8, found by scanning its bytes line by line."""
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                return BadInput(path, f"not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1})", n)
    return BadInput(path, "not UTF-8 text")


def save(store, sessions: Sequence[ImportedSession]) -> list[int]:
    """Write sessions to the store in one transaction; returns their ids."""
    ids = []
    with store.transaction():
        for s in sessions:
            started = time.time() if s.started is None else s.started
            sid = store.create_session(s.source, s.canvas, started=started, kind=s.kind, meta=s.meta)
            ids.append(sid)
            period_len = DEFAULT_PERIOD
            xs, ys = _pixels(s.xs), _pixels(s.ys)
            counts = np.ones(len(xs), np.int64) if s.counts is None else np.asarray(s.counts, np.int64)
            dwell = np.zeros(len(xs), np.float64) if s.dwell is None else np.asarray(s.dwell, np.float64)
            if s.ts is not None and len(xs):
                periods = (np.floor(np.asarray(s.ts, np.float64) / period_len) * period_len).astype(np.int64)
            else:
                periods = np.full(len(xs), int(started // period_len * period_len), np.int64)
            if len(xs):
                _save_positions(store, sid, periods, xs, ys, counts, dwell)
            store.add_clicks(sid, s.clicks)
            store.add_scrolls(sid, s.scrolls)
            ended = s.ended if s.ended is not None else (float(np.max(s.ts)) if s.ts is not None and len(s.ts) else started)
            store.update_session(sid, ended=ended, add_active=s.active_seconds, add_idle=s.idle_seconds, add_distance=s.distance)
    return ids


def _pixels(values) -> np.ndarray:
    """Coordinates as int64 pixels: rounded when fractional, taken as they are when already whole."""
    a = np.asarray(values)
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.int64, copy=False)
    return np.rint(a.astype(np.float64, copy=False)).astype(np.int64)


def _save_positions(store, sid: int, periods: np.ndarray, xs: np.ndarray, ys: np.ndarray, counts: np.ndarray, dwell: np.ndarray) -> None:
    """Aggregate samples to one row per (period, x, y) before SQL sees them.

    The three keys are packed into one int64 so np.unique sorts a flat array
    (several times faster than unique over rows on a million gaze samples).
    """
    p0, x0, y0 = periods.min(), xs.min(), ys.min()
    pi, xi, yi = periods - p0, xs - x0, ys - y0
    span_x, span_y = int(xi.max()) + 1, int(yi.max()) + 1
    if (int(pi.max()) + 1) * span_x * span_y >= 1 << 62:  # the packed key would overflow int64
        for p in np.unique(periods):
            m = periods == p
            rows: dict[tuple[int, int], list] = {}
            for x, y, c, d in zip(xs[m].tolist(), ys[m].tolist(), counts[m].tolist(), dwell[m].tolist()):
                r = rows.setdefault((x, y), [0, 0.0])
                r[0] += c
                r[1] += d
            store.add_positions(sid, ((x, y, c, d) for (x, y), (c, d) in rows.items()), period=int(p))
        return
    key = (pi * span_x + xi) * span_y + yi
    uniq, inverse = np.unique(key, return_inverse=True)
    csum = np.bincount(inverse, weights=counts, minlength=len(uniq)).astype(np.int64)
    dsum = np.bincount(inverse, weights=dwell, minlength=len(uniq))
    uy = uniq % span_y + y0
    ux = (uniq // span_y) % span_x + x0
    up = uniq // (span_x * span_y) + p0
    for p in np.unique(up):
        m = up == p
        store.add_position_arrays(sid, int(p), ux[m], uy[m], csum[m], dsum[m])


def parse_float(text: str, path: Path, line: int, column: str) -> float:
    """A number from a cell, or BadInput naming the file, line and column."""
    try:
        return float(text)
    except (TypeError, ValueError):
        shown = text if len(str(text)) <= 40 else str(text)[:37] + "..."
        raise BadInput(path, f"{column} is not a number: {shown!r}", line) from None


def timeline_stats(ts: np.ndarray, xs: np.ndarray, ys: np.ndarray, idle_after: float) -> tuple[np.ndarray, float, float, float]:
    """From time-ordered events: dwell per event, active and idle seconds, distance.

    The gap after an event is that event's position's dwell, unless it is longer
    than `idle_after`, when it counts as idle time instead (the recorder's rule).
    """
    n = len(ts)
    dwell = np.zeros(n, np.float64)
    if n < 2:
        return dwell, 0.0, 0.0, 0.0
    gaps = np.diff(ts)
    gaps = np.clip(gaps, 0.0, None)
    active = gaps <= idle_after
    dwell[:-1] = np.where(active, gaps, 0.0)
    dist = float(np.sum(np.hypot(np.diff(xs), np.diff(ys))))
    return dwell, float(gaps[active].sum()), float(gaps[~active].sum()), dist
