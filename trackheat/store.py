"""The SQLite position store: the only module in trackheat that speaks SQL.

One file holds every session. Positions are aggregated counts per
(session, period, x, y), never one row per event: a recorder left running for
weeks grows with the number of distinct pixels touched, not with time
(InputScope stored events and slowed to minutes per page at 14M rows).

The file runs in WAL mode with a busy timeout, so export and stats read while
a recorder writes, and two recorders on one file wait for each other instead
of failing. Writes go in batched transactions; an import is one transaction.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping, Sequence

import numpy as np

from trackheat.activity import PERIOD
from trackheat.canvas import Canvas
from trackheat.errors import UserError

if TYPE_CHECKING:  # the store takes what importers made; it needs no importer code to run
    from trackheat.importers.base import ImportedSession

SCHEMA_VERSION = 1
Cells = Sequence[float] | np.ndarray  # a column of values: the recorder's tuples, an importer's arrays
DEFAULT_PERIOD = PERIOD  # seconds; positions are bucketed by period so export can pick a time range
BULK_ROWS = 100  # rows per INSERT statement in add_position_arrays (600 parameters, far under SQLite's limit)
# What a failed write raises (busy past the timeout, disk full, I/O error): callers
# that retry catch this rather than importing sqlite3 themselves.
StoreError = sqlite3.Error
BUSY_TIMEOUT = 30.0  # seconds a writer waits for another one before giving up

_SCHEMA_V1 = """
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'mouse',
    started REAL NOT NULL,
    ended REAL,
    active_seconds REAL NOT NULL DEFAULT 0,
    idle_seconds REAL NOT NULL DEFAULT 0,
    distance REAL,
    period_seconds INTEGER NOT NULL DEFAULT 3600,
    canvas TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE layouts (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    t REAL NOT NULL,
    canvas TEXT NOT NULL
);
CREATE INDEX layouts_session ON layouts(session_id, t);
CREATE TABLE positions (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    period INTEGER NOT NULL,
    x INTEGER NOT NULL,
    y INTEGER NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    dwell REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, period, x, y)
) WITHOUT ROWID;
CREATE TABLE clicks (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    t REAL NOT NULL,
    x INTEGER NOT NULL,
    y INTEGER NOT NULL,
    button TEXT NOT NULL
);
CREATE INDEX clicks_session ON clicks(session_id, t);
CREATE TABLE scrolls (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    t REAL NOT NULL,
    x INTEGER NOT NULL,
    y INTEGER NOT NULL,
    dx INTEGER NOT NULL,
    dy INTEGER NOT NULL
);
CREATE INDEX scrolls_session ON scrolls(session_id, t);
CREATE TABLE screenshots (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    monitor INTEGER NOT NULL,
    t REAL NOT NULL,
    png BLOB NOT NULL
);
CREATE INDEX screenshots_session ON screenshots(session_id, t);
"""

# Each entry upgrades a file from version i to i + 1; append, never edit.
_MIGRATIONS: list[str] = [_SCHEMA_V1]


@dataclass(frozen=True)
class SessionInfo:
    """One session's row plus its totals, as `sessions` and `stats` show them."""

    id: int
    source: str
    kind: str
    started: float
    ended: float | None
    active_seconds: float
    idle_seconds: float
    distance: float | None
    period_seconds: int
    canvas: Canvas
    meta: dict
    moves: int
    positions: int
    clicks: int
    scrolls: int

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


@dataclass(frozen=True)
class Positions:
    """Aggregated positions: parallel arrays, one entry per distinct (x, y)."""

    x: np.ndarray  # int64
    y: np.ndarray  # int64
    count: np.ndarray  # int64
    dwell: np.ndarray  # float64 seconds

    def __len__(self) -> int:
        return len(self.x)


def _create_private(path: Path) -> None:
    """Create the store file 0600 before SQLite opens it (its -wal/-shm copy the mode)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


class Store:
    """A connection to one store file. Not shared between threads: open one per thread."""

    def __init__(self, path: str | os.PathLike, *, create: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise UserError(f"{self.path}: no such store (nothing recorded or imported yet?)")
            try:
                _create_private(self.path)
            except OSError as e:
                raise UserError(f"{self.path}: cannot create the store ({e.strerror})") from None
        try:
            self._db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as e:
            raise UserError(f"{self.path}: not a trackheat store ({e})") from None
        self._depth = 0

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise UserError(f"{self.path}: made by a newer trackheat (schema {version} > {SCHEMA_VERSION}); upgrade trackheat")
        if version == SCHEMA_VERSION:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            for step in range(version, SCHEMA_VERSION):
                for stmt in _MIGRATIONS[step].split(";"):
                    if stmt.strip():
                        self._db.execute(stmt)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def transaction(self) -> Iterator["Store"]:
        """One write transaction; nested uses join the outer one. All or nothing."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            self._db.execute("ROLLBACK")
            raise
        self._depth = 0
        try:
            self._db.execute("COMMIT")
        except BaseException:
            # SQLite keeps the transaction open when COMMIT fails (busy, disk full):
            # end it, or every later BEGIN on this connection fails too.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def integrity_check(self) -> str:
        return self._db.execute("PRAGMA integrity_check").fetchone()[0]

    # -- writing ---------------------------------------------------------
    def create_session(
        self,
        source: str,
        canvas: Canvas,
        *,
        started: float | None = None,
        kind: str = "mouse",
        period_seconds: int = DEFAULT_PERIOD,
        meta: Mapping | None = None,
    ) -> int:
        with self.transaction():
            cur = self._db.execute(
                "INSERT INTO sessions(source, kind, started, period_seconds, canvas, meta) VALUES (?,?,?,?,?,?)",
                (source, kind, time.time() if started is None else float(started), int(period_seconds), canvas.to_json(), json.dumps(dict(meta or {}))),
            )
            assert cur.lastrowid is not None  # an INSERT just ran
            sid = int(cur.lastrowid)
            self._db.execute("INSERT INTO layouts(session_id, t, canvas) VALUES (?,?,?)", (sid, time.time() if started is None else float(started), canvas.to_json()))
        return sid

    def update_session(
        self,
        session_id: int,
        *,
        ended: float | None = None,
        add_active: float = 0.0,
        add_idle: float = 0.0,
        add_distance: float | None = None,
        meta: Mapping | None = None,
    ) -> None:
        """Advance a session's end time and running totals (called at every flush)."""
        with self.transaction():
            self._db.execute(
                "UPDATE sessions SET ended=COALESCE(?, ended), active_seconds=active_seconds+?, idle_seconds=idle_seconds+?,"
                " distance=CASE WHEN ? IS NULL THEN distance ELSE COALESCE(distance, 0)+? END WHERE id=?",
                (ended, float(add_active), float(add_idle), add_distance, add_distance, session_id),
            )
            if meta is not None:
                self._db.execute("UPDATE sessions SET meta=? WHERE id=?", (json.dumps(dict(meta)), session_id))

    def save_imported(self, sessions: Sequence[ImportedSession]) -> list[int]:
        """Write imported sessions in one transaction (all or nothing); returns their ids."""
        ids = []
        with self.transaction():
            for s in sessions:
                started = time.time() if s.started is None else s.started
                sid = self.create_session(s.source, s.canvas, started=started, kind=s.kind, meta=s.meta)
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
                    _save_positions(self, sid, periods, xs, ys, counts, dwell)
                self.add_clicks(sid, s.clicks)
                self.add_scrolls(sid, s.scrolls)
                ended = s.ended if s.ended is not None else (float(np.max(s.ts)) if s.ts is not None and len(s.ts) else started)
                self.update_session(sid, ended=ended, add_active=s.active_seconds, add_idle=s.idle_seconds, add_distance=s.distance)
        return ids

    def add_layout(self, session_id: int, canvas: Canvas, t: float | None = None) -> None:
        """Record a new monitor layout; the session's canvas becomes the union of all seen."""
        with self.transaction():
            self._db.execute("INSERT INTO layouts(session_id, t, canvas) VALUES (?,?,?)", (session_id, time.time() if t is None else t, canvas.to_json()))
            old = Canvas.from_json(self._db.execute("SELECT canvas FROM sessions WHERE id=?", (session_id,)).fetchone()[0])
            monitors = list(old.monitors) + [m for m in canvas.monitors if m not in old.monitors]
            self._db.execute("UPDATE sessions SET canvas=? WHERE id=?", (Canvas(tuple(monitors), kind=old.kind, extra=old.extra).to_json(), session_id))

    def add_positions(self, session_id: int, rows: Iterable[Sequence], period: int = 0) -> None:
        """Add (x, y, count[, dwell]) rows to a period's counts (upsert: counts add up)."""
        with self.transaction():
            self._db.executemany(
                "INSERT INTO positions(session_id, period, x, y, count, dwell) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT(session_id, period, x, y) DO UPDATE SET count=count+excluded.count, dwell=dwell+excluded.dwell",
                ((session_id, int(period), int(r[0]), int(r[1]), int(r[2]), float(r[3]) if len(r) > 3 else 0.0) for r in rows),
            )

    def add_position_arrays(self, session_id: int, period: int, x: Cells, y: Cells, count: Cells, dwell: Cells) -> None:
        """The bulk path for importers: parallel arrays, converted once, not per row.

        Rows go in BULK_ROWS at a time as one multi-row VALUES statement: the
        per-row cost of executemany (binding and stepping one statement per
        row) was two thirds of saving a million-sample gaze file.
        """
        n = len(x)
        if not n:
            return
        flat = np.empty(4 * n, object)
        flat[0::4] = np.asarray(x, np.int64).tolist()
        flat[1::4] = np.asarray(y, np.int64).tolist()
        flat[2::4] = np.asarray(count, np.int64).tolist()
        flat[3::4] = np.asarray(dwell, np.float64).tolist()
        values = flat.tolist()
        head = "INSERT INTO positions(session_id, period, x, y, count, dwell) VALUES "
        row = f"({int(session_id)},{int(period)},?,?,?,?)"
        tail = " ON CONFLICT(session_id, period, x, y) DO UPDATE SET count=count+excluded.count, dwell=dwell+excluded.dwell"
        full = n - n % BULK_ROWS
        with self.transaction():
            if full:
                chunks = iter(values[: 4 * full])
                self._db.executemany(head + ",".join([row] * BULK_ROWS) + tail, zip(*[chunks] * (4 * BULK_ROWS)))
            if full < n:
                self._db.execute(head + ",".join([row] * (n - full)) + tail, values[4 * full :])

    def add_counts(self, session_id: int, counts: Mapping[tuple[int, int], int], dwell: Mapping[tuple[int, int], float] | None = None, period: int = 0) -> None:
        """The recorder's buffers as they are: {(x, y): count} and {(x, y): seconds}."""
        dwell = dwell or {}
        keys = set(counts) | set(dwell)
        self.add_positions(session_id, ((k[0], k[1], counts.get(k, 0), dwell.get(k, 0.0)) for k in keys), period)

    def add_clicks(self, session_id: int, rows: Iterable[tuple[float, int, int, str]]) -> None:
        """(t, x, y, button) rows; button is a name such as left, right, middle."""
        with self.transaction():
            self._db.executemany("INSERT INTO clicks(session_id, t, x, y, button) VALUES (?,?,?,?,?)", ((session_id, float(t), int(x), int(y), str(b)) for t, x, y, b in rows))

    def add_scrolls(self, session_id: int, rows: Iterable[tuple[float, int, int, int, int]]) -> None:
        """(t, x, y, dx, dy) rows; dy > 0 is up, as pynput reports it."""
        with self.transaction():
            self._db.executemany("INSERT INTO scrolls(session_id, t, x, y, dx, dy) VALUES (?,?,?,?,?,?)", ((session_id, float(t), int(x), int(y), int(dx), int(dy)) for t, x, y, dx, dy in rows))

    def add_screenshot(self, session_id: int, monitor: int, png: bytes, t: float | None = None) -> None:
        with self.transaction():
            self._db.execute("INSERT INTO screenshots(session_id, monitor, t, png) VALUES (?,?,?,?)", (session_id, int(monitor), time.time() if t is None else t, sqlite3.Binary(png)))

    def delete_session(self, session_id: int) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM sessions WHERE id=?", (session_id,))

    # -- reading ---------------------------------------------------------
    _INFO_SQL = """
        SELECT s.id, s.source, s.kind, s.started, s.ended, s.active_seconds, s.idle_seconds, s.distance,
               s.period_seconds, s.canvas, s.meta,
               COALESCE((SELECT SUM(count) FROM positions p WHERE p.session_id=s.id), 0),
               (SELECT COUNT(*) FROM (SELECT 1 FROM positions p WHERE p.session_id=s.id GROUP BY x, y HAVING SUM(count) > 0)),
               (SELECT COUNT(*) FROM clicks c WHERE c.session_id=s.id),
               (SELECT COUNT(*) FROM scrolls r WHERE r.session_id=s.id)
        FROM sessions s
    """

    @staticmethod
    def _info(row) -> SessionInfo:
        return SessionInfo(
            id=row[0], source=row[1], kind=row[2], started=row[3], ended=row[4], active_seconds=row[5], idle_seconds=row[6],
            distance=row[7], period_seconds=row[8], canvas=Canvas.from_json(row[9]), meta=json.loads(row[10] or "{}"),
            moves=int(row[11]), positions=int(row[12]), clicks=int(row[13]), scrolls=int(row[14]),
        )

    def sessions(self) -> list[SessionInfo]:
        return [self._info(r) for r in self._db.execute(self._INFO_SQL + " ORDER BY s.id")]

    def session(self, session_id: int) -> SessionInfo:
        row = self._db.execute(self._INFO_SQL + " WHERE s.id=?", (session_id,)).fetchone()
        if row is None:
            raise UserError(f"{self.path}: no session {session_id} (see `trackheat sessions`)")
        return self._info(row)

    def resolve(self, spec: str | int | None = "last") -> list[int]:
        """Session ids for --session N|all|last|N,M,... ; an unknown id is a UserError."""
        spec = "last" if spec is None else str(spec).strip()
        ids = [r[0] for r in self._db.execute("SELECT id FROM sessions ORDER BY id")]
        if not ids:
            raise UserError(f"{self.path}: the store holds no sessions yet")
        if spec == "all":
            return ids
        if spec == "last":
            return [ids[-1]]
        wanted = []
        for part in spec.split(","):
            try:
                n = int(part)
            except ValueError:
                raise UserError(f"expected a number, 'all' or 'last', got {part!r}", param="session") from None
            if n not in ids:
                raise UserError(f"{self.path}: no session {n} (sessions are {ids[0]}..{ids[-1]}; see `trackheat sessions`)")
            wanted.append(n)
        return wanted

    def _where(self, session_ids: Sequence[int], since: float | None, until: float | None, tcol: str) -> tuple[str, list]:
        marks = ",".join("?" * len(session_ids))
        sql = f"session_id IN ({marks})"
        args: list = [int(i) for i in session_ids]
        if tcol == "period":
            # A period [p, p + len) overlaps [since, until) if p + len > since and p < until.
            if since is not None:
                sql += " AND period + (SELECT period_seconds FROM sessions WHERE id=session_id) > ?"
                args.append(since)
        elif since is not None:
            sql += f" AND {tcol} >= ?"
            args.append(since)
        if until is not None:
            sql += f" AND {tcol} < ?"
            args.append(until)
        return sql, args

    def positions(self, session_ids: Sequence[int], since: float | None = None, until: float | None = None) -> Positions:
        """Counts and dwell per distinct (x, y), summed over the sessions and periods asked for."""
        where, args = self._where(session_ids, since, until, "period")
        rows = self._db.execute(f"SELECT x, y, SUM(count), SUM(dwell) FROM positions WHERE {where} GROUP BY x, y", args).fetchall()
        if not rows:
            return Positions(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))
        a = np.array(rows, dtype=np.float64)
        return Positions(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].astype(np.int64), a[:, 3])

    def clicks(self, session_ids: Sequence[int], since: float | None = None, until: float | None = None) -> list[tuple[float, int, int, str]]:
        where, args = self._where(session_ids, since, until, "t")
        return self._db.execute(f"SELECT t, x, y, button FROM clicks WHERE {where} ORDER BY t", args).fetchall()

    def scrolls(self, session_ids: Sequence[int], since: float | None = None, until: float | None = None) -> list[tuple[float, int, int, int, int]]:
        where, args = self._where(session_ids, since, until, "t")
        return self._db.execute(f"SELECT t, x, y, dx, dy FROM scrolls WHERE {where} ORDER BY t", args).fetchall()

    def layouts(self, session_id: int) -> list[tuple[float, Canvas]]:
        return [(t, Canvas.from_json(c)) for t, c in self._db.execute("SELECT t, canvas FROM layouts WHERE session_id=? ORDER BY t", (session_id,))]

    def screenshots(self, session_id: int) -> list[tuple[int, float, bytes]]:
        """(monitor, t, png) rows, oldest first."""
        return [(m, t, bytes(p)) for m, t, p in self._db.execute("SELECT monitor, t, png FROM screenshots WHERE session_id=? ORDER BY t, monitor", (session_id,))]

    def hotspots(self, session_ids: Sequence[int], n: int = 5) -> list[list[int]]:
        where, args = self._where(session_ids, None, None, "period")
        rows = self._db.execute(f"SELECT x, y, SUM(count) AS c FROM positions WHERE {where} GROUP BY x, y ORDER BY c DESC, x, y LIMIT ?", args + [n])
        return [[int(x), int(y), int(c)] for x, y, c in rows]

    def clicks_by_button(self, session_ids: Sequence[int]) -> dict[str, int]:
        where, args = self._where(session_ids, None, None, "t")
        return {b: int(c) for b, c in self._db.execute(f"SELECT button, COUNT(*) FROM clicks WHERE {where} GROUP BY button ORDER BY button", args)}

    def distinct_positions(self, session_ids: Sequence[int]) -> int:
        where, args = self._where(session_ids, None, None, "period")
        return int(self._db.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM positions WHERE {where} GROUP BY x, y HAVING SUM(count) > 0)", args).fetchone()[0])


def _pixels(values) -> np.ndarray:
    """Coordinates as int64 pixels: rounded when fractional, taken as they are when already whole."""
    a = np.asarray(values)
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.int64, copy=False)
    return np.rint(a.astype(np.float64, copy=False)).astype(np.int64)


def _save_positions(store: Store, sid: int, periods: np.ndarray, xs: np.ndarray, ys: np.ndarray, counts: np.ndarray, dwell: np.ndarray) -> None:
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
