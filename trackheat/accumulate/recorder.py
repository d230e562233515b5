"""The background pointer recorder: callbacks count in memory, a flush thread writes.

Three threads, each with one job, so a 1000 Hz mouse never waits on a disk:
- the listener thread (pynput, via trackheat.sources.pointer) calls `Tally.on_move` & co.,
  which only bump counters under a lock held for the update itself (on Windows the
  callback runs inside the system mouse hook: a slow one freezes every pointer);
- the flush thread owns the only Store connection of the recording and, every
  flush interval, swaps the buffers out and writes them in ONE transaction (a
  kill -9 therefore loses at most one interval, and never leaves half a batch);
- the main thread waits for signals, the duration, a stop request, checks the
  monitor layout every few seconds and reports progress to whoever started it
  (a `Reporter`: the command line prints it, a library caller may ignore it).

Moves are aggregated per (period, x, y) as they arrive (InputScope kept one row
per event and slowed to minutes per page at 14M rows).
"""

from __future__ import annotations

import math
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from trackheat.accumulate import pidfile
from trackheat.canvas import Canvas
from trackheat.defaults import FLUSH_INTERVAL, IDLE_AFTER, PERIOD
from trackheat.errors import UserError

if TYPE_CHECKING:
    from trackheat.store import SessionInfo, Store

LAYOUT_EVERY = 5.0  # seconds between monitor layout checks
STATUS_EVERY = 5.0  # seconds between progress reports (at most)
TICK = 0.2  # the main thread's polling step: stop latency, not CPU (5 wakeups/s)
MACOS_HINT_AFTER = 10.0  # seconds without any event before the permission hint


@dataclass
class PeriodBuffer:
    """Counts and dwell of one period (epoch start `period`) in one application."""

    period: int
    app: str | None = None
    ignored: bool = False  # the application is one the user asked not to record: dropped at take()
    counts: dict = field(default_factory=dict)  # (x, y) -> moves
    dwell: dict = field(default_factory=dict)  # (x, y) -> seconds
    active: float = 0.0  # seconds of activity (the dwell rule's active time)
    distance: float = 0.0  # pixels travelled


@dataclass
class Batch:
    """Everything that happened since the previous flush."""

    periods: list[PeriodBuffer]
    clicks: list  # (t, x, y, button, app)
    scrolls: list  # (t, x, y, dx, dy, app)
    moves: int = 0
    active: float = 0.0
    idle: float = 0.0
    distance: float = 0.0
    ignored: int = 0  # events that happened while an ignored application had the focus

    @property
    def empty(self) -> bool:
        return not (self.moves or self.clicks or self.scrolls or self.active or self.idle or any(p.dwell for p in self.periods))


class Tally:
    """The in-memory side of a recording: what the pointer callbacks touch, and nothing else.

    Dwell: the time from one event to the next belongs to the earlier event's
    position; a gap longer than `idle_after` is idle time instead (the user was
    away, not hovering). Every event (move, click, scroll) ends a gap.

    Applications: the focus watcher calls `set_app` when the focus moves, which
    points the current buffer at that (period, application): the move callback
    itself does not look at the application at all, so it costs what it cost
    before. Events while an application in `ignore` has the focus go to a
    buffer that is only counted (`ignored`), never written.
    """

    def __init__(self, *, idle_after: float = IDLE_AFTER, period: int = PERIOD, start: float | None = None,
                 position: tuple[int, int] | None = None, clock=time.time, ignore: Iterable[str] = (), app: str | None = None) -> None:
        self.idle_after = float(idle_after)
        self.period_seconds = max(1, int(period))
        self.clock = clock
        self.lock = threading.Lock()
        self.ignore = frozenset(ignore)
        self._app = app
        self.ignored = 0  # events ignored so far (read by the summary)
        t = clock() if start is None else start
        self._last_t = t
        self._last_key = position  # where the pointer rests before the first event (it dwells there too)
        self._new(t)

    def _buffer(self, period: int) -> PeriodBuffer:
        """The buffer of (period, current application), made on first use (lock held)."""
        app = self._app
        for p in self._periods:
            if p.period == period and p.app == app:
                return p
        p = PeriodBuffer(period, app, app in self.ignore)
        self._periods.append(p)
        return p

    def _new(self, t: float) -> None:
        p = int(t // self.period_seconds) * self.period_seconds
        self._periods: list[PeriodBuffer] = []
        self._cur = self._buffer(p)
        self._period_end = p + self.period_seconds
        self._clicks: list = []
        self._scrolls: list = []
        self._idle = 0.0
        self.events = 0  # read by the status line; racy reads are fine

    def _roll(self, t: float) -> None:
        """A new period began: later events go to a new buffer (rare: once a period)."""
        p = int(t // self.period_seconds) * self.period_seconds
        self._cur = self._buffer(p)
        self._period_end = p + self.period_seconds

    def set_app(self, app: str | None) -> None:
        """The focused application changed (focus watcher thread)."""
        with self.lock:
            self._app = app
            self._cur = self._buffer(self._cur.period)

    @property
    def app(self) -> str | None:
        return self._app

    def _pause(self, dt: float, last: tuple[int, int] | None) -> None:
        """The dwell rule (trackheat.activity), for one pause of dt > 0 seconds (lock held):
        dwell at the position it was spent at, or idle time when longer than idle_after."""
        if dt <= self.idle_after:
            cur = self._cur
            if last is not None:
                d = cur.dwell
                d[last] = d.get(last, 0.0) + dt
            cur.active += dt
        else:
            self._idle += dt

    # -- the callbacks (listener thread) ----------------------------------
    def on_move(self, x: int, y: int) -> None:
        t = self.clock()
        key = (x, y)
        with self.lock:
            dt = t - self._last_t
            last = self._last_key
            cur = self._cur
            if last is not None:
                if dt > 0:
                    self._pause(dt, last)
                cur.distance += math.hypot(x - last[0], y - last[1])
            if t >= self._period_end:
                self._roll(t)
                cur = self._cur
            c = cur.counts
            c[key] = c.get(key, 0) + 1
            self._last_t = t
            self._last_key = key
            self.events += 1

    def _gap(self, t: float, key: tuple[int, int]) -> None:
        """End the current gap at a non-move event (lock held)."""
        dt = t - self._last_t
        last = self._last_key
        if last is not None and dt > 0:
            self._pause(dt, last)
        if t >= self._period_end:
            self._roll(t)
        if t > self._last_t:
            self._last_t = t
        self._last_key = key
        self.events += 1

    def on_click(self, x: int, y: int, button: str, pressed: bool) -> None:
        t = self.clock()
        with self.lock:
            self._gap(t, (x, y))
            if pressed:  # a click is the press; the release only ends the gap
                if self._cur.ignored:
                    self.ignored += 1
                else:
                    self._clicks.append((t, x, y, button, self._app))

    def on_scroll(self, x: int, y: int, dx: int, dy: int) -> None:
        t = self.clock()
        with self.lock:
            self._gap(t, (x, y))
            if self._cur.ignored:
                self.ignored += 1
            else:
                self._scrolls.append((t, x, y, dx, dy, self._app))

    # -- the flush side ----------------------------------------------------
    def take(self) -> Batch:
        """Swap the buffers out (the callbacks go on into fresh ones)."""
        with self.lock:
            periods, self._periods = self._periods, []
            self._cur = self._buffer(self._cur.period)
            clicks, scrolls, idle = self._clicks, self._scrolls, self._idle
            self._clicks, self._scrolls, self._idle = [], [], 0.0
        # Outside the lock: the callbacks already write into the fresh buffers.
        kept = [p for p in periods if not p.ignored and (p.counts or p.dwell or p.active or p.distance)]
        ignored = sum(sum(p.counts.values()) for p in periods if p.ignored)
        if ignored:
            with self.lock:
                self.ignored += ignored
        return Batch([p for p in kept if p.counts or p.dwell], clicks, scrolls, sum(sum(p.counts.values()) for p in kept),
                     sum(p.active for p in kept), idle, sum(p.distance for p in kept), ignored)

    def restore(self, b: Batch) -> None:
        """Put a batch back after a failed write, so the next flush retries it."""
        with self.lock:
            by_key = {(p.period, p.app): p for p in self._periods}
            for old in b.periods:
                p = by_key.get((old.period, old.app))
                if p is None:
                    p = PeriodBuffer(old.period, old.app, old.ignored)
                    self._periods.insert(0, p)
                    by_key[(old.period, old.app)] = p
                for k, v in old.counts.items():
                    p.counts[k] = p.counts.get(k, 0) + v
                for k, v in old.dwell.items():
                    p.dwell[k] = p.dwell.get(k, 0.0) + v
            # Active time and distance of the batch ride on the current buffer (they are session totals).
            self._cur.active += b.active
            self._cur.distance += b.distance
            self._clicks[:0] = b.clicks
            self._scrolls[:0] = b.scrolls
            self._idle += b.idle

    def close(self, t: float | None = None) -> None:
        """The recording ends: the pause since the last event counts as dwell (or idle) up to now."""
        t = self.clock() if t is None else t
        with self.lock:
            dt = t - self._last_t
            last = self._last_key
            if dt > 0:
                self._pause(dt, last)
            self._last_t = max(t, self._last_t)


def _rows(p: PeriodBuffer) -> list[tuple[int, int, int, float]]:
    """(x, y, count, dwell) rows in primary-key order: SQLite then appends to neighbouring
    B-tree pages instead of jumping around (measured: 10,000 random positions upsert in
    ~45 ms sorted against ~80 ms unsorted), and go through the store's multi-row bulk path."""
    counts, dwell = p.counts, p.dwell
    rows = [(k[0], k[1], c, dwell.get(k, 0.0)) for k, c in counts.items()]
    rows.extend((k[0], k[1], 0, d) for k, d in dwell.items() if k not in counts)
    rows.sort()
    return rows


def write_batch(store: Store, session_id: int, b: Batch, *, ended: float, layouts: Sequence[tuple[float, Canvas]] = (),
                screenshots: Sequence[tuple[float, int, bytes]] = (), meta: dict | None = None, final: bool = False) -> None:
    """One flush: the whole batch or nothing. The final one rolls the session's last day up too
    (the session is over: nothing more will be written into it)."""
    with store.transaction():
        for p in b.periods:
            rows = _rows(p)
            if rows:
                xs, ys, cs, ds = zip(*rows)
                store.add_position_arrays(session_id, p.period, xs, ys, cs, ds, app=p.app)
        if b.clicks:
            store.add_clicks(session_id, b.clicks)
        if b.scrolls:
            store.add_scrolls(session_id, b.scrolls)
        for t, canvas in layouts:
            store.add_layout(session_id, canvas, t)
        for t, monitor, png in screenshots:
            store.add_screenshot(session_id, monitor, png, t)
        store.update_session(session_id, ended=ended, add_active=b.active, add_idle=b.idle, add_distance=b.distance, meta=meta)
        # Days that are over get their roll-ups (a comparison when none is due).
        from trackheat.store import DAY

        store.roll_up(session_id, ended + DAY if final else ended)


BACKLOG_ROWS = 5000  # rows per transaction when writing a backlog (~200 KB of store pages)


def split_batch(b: Batch, max_rows: int = BACKLOG_ROWS) -> list[Batch]:
    """The batch as pieces of at most `max_rows` position, click or scroll rows each, in
    order; the session totals (active, idle, distance) ride on the first piece."""
    pieces: list[Batch] = []
    group: list[PeriodBuffer] = []
    n = 0

    def close() -> None:
        nonlocal group, n
        if group:
            pieces.append(Batch(group, [], [], sum(sum(q.counts.values()) for q in group)))
        group, n = [], 0

    for p in b.periods:
        keys = sorted(set(p.counts) | set(p.dwell))
        for i in range(0, len(keys), max_rows):
            part = keys[i:i + max_rows]
            if n + len(part) > max_rows:
                close()
            group.append(PeriodBuffer(p.period, p.app, p.ignored, counts={k: p.counts[k] for k in part if k in p.counts},
                                      dwell={k: p.dwell[k] for k in part if k in p.dwell}))
            n += len(part)
    close()
    for i in range(0, len(b.clicks), max_rows):
        pieces.append(Batch([], b.clicks[i:i + max_rows], []))
    for i in range(0, len(b.scrolls), max_rows):
        pieces.append(Batch([], [], b.scrolls[i:i + max_rows]))
    if not pieces:
        pieces.append(Batch([], [], []))
    first = pieces[0]
    first.active, first.idle, first.distance, first.ignored = b.active, b.idle, b.distance, b.ignored
    return pieces


@dataclass
class RecordOptions:
    db: Path
    duration: float | None = None
    flush_interval: float = FLUSH_INTERVAL
    idle_after: float = IDLE_AFTER
    period: int = PERIOD
    screenshot: str = "none"  # none|start|end|both
    ignore_apps: tuple[str, ...] = ()  # nothing is recorded while one of these has the focus
    force_x11: bool = False  # on Wayland, record through XWayland anyway (only XWayland apps are heard)

    def check(self) -> None:
        if self.duration is not None and self.duration <= 0:
            raise UserError("expected a positive number of seconds", param="duration")
        if not (0.01 <= self.flush_interval <= 3600):
            raise UserError("expected seconds between 0.01 and 3600", param="flush_interval")
        if self.idle_after <= 0:
            raise UserError("expected a positive number of seconds", param="idle_after")
        if self.period < 1:
            raise UserError("expected a positive number of seconds", param="period")
        if self.screenshot not in ("none", "start", "end", "both"):
            raise UserError("expected none, start, end or both", param="screenshot")


class Flusher(threading.Thread):
    """Owns the recording's Store connection; writes a batch every interval and once more at the end."""

    def __init__(self, db: Path, session_id: int, tally: Tally, interval: float, say) -> None:
        super().__init__(name="trackheat-flush", daemon=True)
        self.db, self.session_id, self.tally, self.interval, self.say = db, session_id, tally, interval, say
        self._done = threading.Event()
        self._extra_lock = threading.Lock()
        self._layouts: list = []
        self._shots: list = []
        self._meta: dict | None = None
        self.ended: float | None = None
        self.error: BaseException | None = None
        self.flushes = 0
        self.backlog = False  # a write failed: the next flushes go in bounded pieces
        self.moves = self.clicks = self.scrolls = 0  # totals written so far
        self.last_flush_ms = 0.0

    def add_layout(self, t: float, canvas: Canvas) -> None:
        with self._extra_lock:
            self._layouts.append((t, canvas))

    def add_screenshots(self, t: float, shots) -> None:
        with self._extra_lock:
            self._shots.extend((t, m, png) for m, png in shots)

    def finish(self, ended: float, meta: dict | None = None) -> None:
        """Write everything left, the end time and the final meta, then exit."""
        self.ended = ended
        self._meta = meta
        self._done.set()

    def run(self) -> None:
        from trackheat.store import Store

        try:
            with Store(self.db) as store:
                while not self._done.wait(self.interval):
                    self.flush(store, time.time())
                # Final flush: retry a few times if another writer holds the file.
                for attempt in range(5):
                    if self.flush(store, self.ended or time.time(), final=True):
                        break
                    time.sleep(1.0)
                else:
                    b = self.tally.take()
                    self.tally.restore(b)
                    raise UserError(f"{self.db}: the last {b.moves} moves, {len(b.clicks)} clicks and {len(b.scrolls)} scrolls could not be written (the store stayed busy or the disk is full)")
        except BaseException as e:  # surfaced by the main thread
            self.error = e

    def flush(self, store: Store, now: float, final: bool = False) -> bool:
        from trackheat.store import StoreError

        b = self.tally.take()
        if final and self._meta is not None:
            self._meta["ignored_events"] = self.tally.ignored
        with self._extra_lock:
            layouts, self._layouts = self._layouts, []
            shots, self._shots = self._shots, []
        t0 = time.perf_counter()
        # A backlog (an earlier write failed: disk full, store busy) goes in pieces of at most
        # BACKLOG_ROWS rows, each its own transaction: what fits lands as space allows, instead
        # of the whole backlog waiting until all of it fits at once.
        pieces = split_batch(b, BACKLOG_ROWS) if self.backlog else [b]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            try:
                write_batch(store, self.session_id, piece, ended=now, layouts=layouts if i == 0 else (),
                            screenshots=shots if i == 0 else (), meta=self._meta if final and last else None,
                            final=final and last)
            except StoreError as e:
                # Keep everything not written for the next try: a busy or full disk must not lose events.
                for rest in reversed(pieces[i:]):  # reversed: restore() puts clicks back in front
                    self.tally.restore(rest)
                if i == 0:
                    with self._extra_lock:
                        self._layouts[:0] = layouts
                        self._shots[:0] = shots
                self.backlog = True
                self.say(f"cannot write to {self.db} ({e}); keeping the events in memory and retrying")
                return False
            self.moves += piece.moves
            self.clicks += len(piece.clicks)
            self.scrolls += len(piece.scrolls)
        self.backlog = False
        self.last_flush_ms = (time.perf_counter() - t0) * 1000
        self.flushes += 1
        return True


@dataclass
class Progress:
    """What a running recording has done so far, for a status line."""

    rate: float  # events per second since the last report
    moves: int  # written to the store
    clicks: int
    scrolls: int
    elapsed: float  # seconds since the start
    changed: bool  # any event since the last report


class Reporter:
    """Where a recording tells what happens. This one tells nobody; the CLI prints."""

    def started(self, session_id: int, db: Path, pid: int) -> None:
        """The session exists and the listener runs."""

    def message(self, text: str) -> None:
        """Something the user should know (a layout change, a write that failed and is retried)."""

    def progress(self, p: Progress) -> None:
        """Every few seconds while recording."""

    def finished(self, info: SessionInfo) -> None:
        """The recording ended and everything is written."""


class Recorder:
    """One recording session, from `run()` until a signal, the duration or a stop request."""

    def __init__(self, options: RecordOptions, reporter: Reporter | None = None) -> None:
        options.check()
        self.o = options
        self.db = Path(options.db)
        self.report = reporter or Reporter()
        self._stop_reason: str | None = None

    # -- signals -----------------------------------------------------------
    def _on_signal(self, signum, frame) -> None:
        # Only a flag: a signal handler that takes locks (Event.set) can deadlock
        # against the main thread it interrupts. The main loop polls every TICK.
        self._stop_reason = signal.Signals(signum).name

    def _install_signals(self) -> list:
        old = []
        names = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"]
        for name in names:
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            prev = signal.getsignal(sig)
            if name == "SIGHUP" and prev == signal.SIG_IGN:
                continue  # started under nohup: keep recording when the terminal goes
            try:
                signal.signal(sig, self._on_signal)
                old.append((sig, prev))
            except (ValueError, OSError):  # not the main thread, or not settable here
                pass
        return old

    # -- the run -----------------------------------------------------------
    def run(self) -> int:
        from trackheat.sources.display import require_pointer
        from trackheat.sources.focus import focus_watcher
        from trackheat.sources.pointer import PointerListener, pointer_position
        from trackheat.sources.screen import desktop_canvas, screenshot_pngs
        from trackheat.store import Store, StoreError

        require_pointer("recording the pointer", capture=self.o.screenshot != "none", force_x11=self.o.force_x11)
        canvas = desktop_canvas()
        started = time.time()
        meta = {"recorder": "trackheat record", "pid": os.getpid(), "host": socket.gethostname(), "platform": sys.platform,
                "flush_interval": self.o.flush_interval, "idle_after": self.o.idle_after}
        old_signals = self._install_signals()  # before the session exists: no window where SIGTERM leaves it open
        # The listener starts before the session exists: when it cannot (the X server at its
        # client limit, the display closing), the run ends within seconds with one line and
        # leaves nothing behind -- no empty session, no flusher advancing an end time.
        tally = Tally(idle_after=self.o.idle_after, period=self.o.period, start=started, position=pointer_position(),
                      ignore=self.o.ignore_apps)
        listener = PointerListener(tally.on_move, tally.on_click, tally.on_scroll)
        watcher = focus_watcher(tally.set_app)
        focus_note = None  # told once recording runs: a start-up failure is one line, its cause
        try:
            try:
                watcher.start()  # before the listener: the first event already knows its application
            except UserError as e:
                focus_note = f"{e}; events are stored with no application"
            except Exception as e:  # the display closed while it was asked (python-xlib's own types)
                focus_note = f"cannot follow the focused application ({type(e).__name__}); events are stored with no application"
            meta["focus"] = watcher.method
            if self.o.ignore_apps:
                meta["ignored_apps"] = sorted(self.o.ignore_apps)
            listener.start()
        except BaseException:
            watcher.stop()
            _restore_signals(old_signals)
            raise
        try:
            with Store(self.db) as store:
                session_id = store.create_session("record", canvas, started=started, kind="mouse", period_seconds=self.o.period, meta=meta)
                try:
                    finish_killed(store, self.db, session_id)
                except StoreError:  # busy or full: reads stay exact without it; the next start tries again
                    pass
        except BaseException as e:
            listener.stop()
            watcher.stop()
            _restore_signals(old_signals)
            if isinstance(e, OSError):  # an unwritable directory, a full disk
                raise UserError(f"{self.db}: cannot write the store ({e.strerror or e})") from None
            raise

        flusher = Flusher(self.db, session_id, tally, self.o.flush_interval, self.report.message)
        pid_path = None
        try:
            flusher.start()
            pid_path = pidfile.write(self.db, session_id, started)
            stop_file = pid_path.with_suffix(".stop")
            self.report.started(session_id, self.db, os.getpid())
            if focus_note:
                self.report.message(focus_note)
            if listener.trusted is False:
                self.report.message(_MACOS_HINT)
            if self.o.screenshot in ("start", "both"):
                flusher.add_screenshots(time.time(), screenshot_pngs())
            self._loop(tally, flusher, listener, canvas, stop_file, started, desktop_canvas)
        finally:
            listener.stop()
            watcher.stop()
            ended = time.time()
            tally.close(ended)
            try:
                if self.o.screenshot in ("end", "both") and flusher.is_alive():
                    flusher.add_screenshots(ended, screenshot_pngs())
            except Exception as e:  # the display may be gone at logout; the events matter more
                self.report.message(f"no end screenshot ({e})")
            if pid_path is not None and pidfile.ours(pid_path.with_suffix(".stop")):
                self._stop_reason = "trackheat stop"  # whether its file or its SIGTERM came first
            meta["stopped_by"] = self._stop_reason or "error"
            flusher.finish(ended, meta)
            flusher.join()
            if pid_path is not None:
                pidfile.remove(pid_path)
            _restore_signals(old_signals)
        if flusher.error is not None:
            raise UserError(f"{self.db}: recording could not be written ({flusher.error})")
        with Store(self.db) as store:
            self.report.finished(store.session(session_id))
        if self._stop_reason == "display closed":
            # Not a clean stop: a service manager's Restart=on-failure must see it.
            raise UserError(f"the display closed (logout?) and the pointer listener with it; session {session_id} is saved up to then")
        return 0

    def _loop(self, tally: Tally, flusher: Flusher, listener, canvas: Canvas, stop_file: Path, started: float, desktop_canvas) -> None:
        t0 = time.monotonic()
        deadline = None if self.o.duration is None else t0 + self.o.duration
        next_layout = t0 + LAYOUT_EVERY
        next_status = t0 + STATUS_EVERY
        last_events, last_t = 0, t0
        hinted = sys.platform != "darwin"
        while self._stop_reason is None:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                self._stop_reason = "duration"
                break
            if not flusher.is_alive():
                self._stop_reason = "error"
                break
            if not listener.running:  # the X server went away (logout): keep what we have, then fail
                self._stop_reason = "display closed"
                break
            if now >= next_layout:
                next_layout = now + LAYOUT_EVERY
                try:
                    new = desktop_canvas()
                except Exception:
                    new = canvas  # a display hiccup is not a layout change
                if new != canvas:
                    canvas = new
                    flusher.add_layout(time.time(), new)
                    self.report.message(f"monitor layout changed: {len(new.monitors)} monitor(s), {new.width}x{new.height} at {new.origin}")
            if not hinted and now - t0 >= MACOS_HINT_AFTER:
                hinted = True
                if tally.events == 0:
                    self.report.message(_MACOS_HINT)
            if now >= next_status:
                next_status = now + STATUS_EVERY
                events = tally.events
                rate = (events - last_events) / max(now - last_t, 1e-9)
                self.report.progress(Progress(rate, flusher.moves, flusher.clicks, flusher.scrolls, time.time() - started,
                                              events != last_events))
                last_events, last_t = events, now
            sleep = TICK
            if deadline is not None:
                sleep = min(sleep, max(0.0, deadline - now))
            time.sleep(sleep)
            if pidfile.ours(stop_file):  # another user's file stops nothing
                self._stop_reason = "trackheat stop"


KILLED_AFTER = 3600.0  # seconds without a flush before another host's session counts as killed


def finish_killed(store: Store, db: Path, own: int) -> list[int]:
    """Roll up the last day of sessions whose recorder died without its final flush (kill -9,
    a power cut): reads stay exact without it, but read that day's rows. A session is left
    alone while a recorder holds it: a pid file, or the recorder's pid (in its meta) alive
    on this host; another host's only once its end time stopped moving KILLED_AFTER ago."""
    live = {r.session for r in pidfile.recorders(db)[0]} | {own}
    host = socket.gethostname()
    done = []
    candidates = [i for i in store.unfinished() if i not in live]
    for info in store.infos(candidates) if candidates else ():
        pid = info.meta.get("pid")
        if info.meta.get("host", host) == host:
            if isinstance(pid, int) and pidfile.alive(pid) and pidfile._is_trackheat(pid):
                continue
        elif time.time() - (info.ended or info.started) < KILLED_AFTER:
            continue
        store.finish_rollups(info.id)
        done.append(info.id)
    return done


def _restore_signals(old: list) -> None:
    for sig, prev in old:
        signal.signal(sig, prev)


_MACOS_HINT = ("no pointer events are arriving: allow this terminal (or Python) under System Settings > "
               "Privacy & Security > Accessibility and Input Monitoring, then start again")


def status(db: Path) -> tuple[list, list]:
    """(running, stale) recorders of a store, as `record --status` and `stop` show them."""
    return pidfile.recorders(db)
