"""The SQLite position store: the only module in trackheat that speaks SQL.

One file holds every session. Positions are aggregated counts per
(session, period, x, y), never one row per event: a recorder left running for
weeks grows with the number of distinct pixels touched, not with time
(InputScope stored events and slowed to minutes per page at 14M rows).

The file runs in WAL mode with a busy timeout, so export and stats read while
a recorder writes, and two recorders on one file wait for each other instead
of failing. Writes go in batched transactions; an import is one transaction.

Schema 2 (issue 12) adds, next to the per-period rows:
- an application per row (`apps` names them; 0 is "no application", e.g. imported logs);
- per-session and per-(session, application) totals kept at write time, so
  `sessions` and `stats` read a few rows instead of summing millions;
- day roll-ups: once a day of a session is over, its positions summed over
  the day's periods, one compressed blob per (session, day, application). A
  month is then 30 blobs merged in numpy plus the rows of the current day.
  A write into a day that is already rolled up rebuilds that day's blob in
  the same transaction, so a roll-up never disagrees with its rows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import sqlite3
import stat
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from trackheat.activity import PERIOD
from trackheat.defaults import NO_APP_NAME
from trackheat.canvas import Canvas
from trackheat.errors import UserError

if TYPE_CHECKING:  # the store takes what importers made; it needs no importer code to run
    from trackheat.importers.base import ImportedSession

SCHEMA_VERSION = 2
DAY = 86400  # seconds: roll-ups cover whole UTC days
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

# Schema 1 -> 2: applications, kept totals, day roll-ups, names and content hashes.
# positions gets its app column by a copy (it is part of the primary key).
_SCHEMA_V2 = """
CREATE TABLE apps (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
ALTER TABLE sessions ADD COLUMN name TEXT;
ALTER TABLE sessions ADD COLUMN content_hash TEXT;
ALTER TABLE sessions ADD COLUMN moves INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN clicks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN scrolls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN rolled_until INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sessions_hash ON sessions(content_hash);
CREATE TABLE positions_v2 (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    period INTEGER NOT NULL,
    app INTEGER NOT NULL DEFAULT 0,
    x INTEGER NOT NULL,
    y INTEGER NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    dwell REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, period, app, x, y)
) WITHOUT ROWID;
INSERT INTO positions_v2(session_id, period, app, x, y, count, dwell) SELECT session_id, period, 0, x, y, count, dwell FROM positions;
DROP TABLE positions;
ALTER TABLE positions_v2 RENAME TO positions;
ALTER TABLE clicks ADD COLUMN app INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scrolls ADD COLUMN app INTEGER NOT NULL DEFAULT 0;
CREATE TABLE session_apps (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    app INTEGER NOT NULL,
    moves INTEGER NOT NULL DEFAULT 0,
    clicks INTEGER NOT NULL DEFAULT 0,
    scrolls INTEGER NOT NULL DEFAULT 0,
    dwell REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, app)
) WITHOUT ROWID;
CREATE TABLE rollups (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    day INTEGER NOT NULL,
    app INTEGER NOT NULL,
    n INTEGER NOT NULL,
    moves INTEGER NOT NULL,
    dwell REAL NOT NULL,
    xmin INTEGER NOT NULL, xmax INTEGER NOT NULL, ymin INTEGER NOT NULL, ymax INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (session_id, day, app)
);
UPDATE sessions SET
    moves = COALESCE((SELECT SUM(count) FROM positions p WHERE p.session_id = sessions.id), 0),
    clicks = (SELECT COUNT(*) FROM clicks c WHERE c.session_id = sessions.id),
    scrolls = (SELECT COUNT(*) FROM scrolls r WHERE r.session_id = sessions.id);
INSERT INTO session_apps(session_id, app, moves, clicks, scrolls, dwell)
    SELECT id, 0, moves, clicks, scrolls, COALESCE((SELECT SUM(dwell) FROM positions p WHERE p.session_id = sessions.id), 0)
    FROM sessions;
"""

# The images a session is drawn over (a gaze session's reference image), added beside schema 2
# rather than as schema 3: a trackheat that knows schema 2 still reads and writes such a file (it
# never looks at these tables; a session it deletes takes its links along by the foreign key, and
# the trigger drops an image nobody links to). Created on first use, so reading never writes.
# One copy per image however many sessions link to it (a gaze run's recordings share theirs).
_IMAGES = """
CREATE TABLE IF NOT EXISTS images (
    sha256 TEXT PRIMARY KEY,
    name TEXT,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS session_images (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES images(sha256),
    PRIMARY KEY (session_id, role)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS images_unlinked AFTER DELETE ON session_images
WHEN NOT EXISTS (SELECT 1 FROM session_images WHERE sha256 = OLD.sha256)
BEGIN DELETE FROM images WHERE sha256 = OLD.sha256; END
"""
MAX_IMAGE_BYTES = 16 * 1024 * 1024  # a stored image at most (a reference photo or scan; the file's own bytes)

# Each entry upgrades a file from version i to i + 1; append, never edit.
_MIGRATIONS: list[str] = [_SCHEMA_V1, _SCHEMA_V2]
NO_APP = 0  # the app id of rows with no application (imported logs, v1 recordings)
ALL_APPS = -1  # the totals' row of every application together


def shown_apps(names: Sequence[str | None]) -> str:
    """Application names as an error lists them, events with no application as (none)."""
    return ", ".join(NO_APP_NAME if a is None else a for a in names) or "none at all"


def titled_apps(names: Sequence[str | None]) -> str:
    """Application names as a picture's title and messages say them."""
    return ", ".join("(no application)" if a is None else a for a in names)


# The month's totals: per application, every roll-up of every session summed into one blob, so
# `export --session all` of a month decodes a blob per application instead of one per (session,
# day, application). A cache of the roll-ups, never trusted blindly: triggers count every change
# of `rollups` (by any trackheat, an older schema-2 one too, and cascades of a delete), and the
# totals are used only while they match that count (`totals_at` = `n`). A new day adds to them;
# anything else (a day rebuilt by a late write, a delete, a merge) rebuilds them in its transaction.
# Not a schema change: a schema-2 file gets them on its next writable open (statements, not one
# script: trigger bodies hold semicolons, and executescript would commit the open transaction).
_TOTALS = [
    "CREATE TABLE IF NOT EXISTS rollup_version (id INTEGER PRIMARY KEY CHECK (id = 0), n INTEGER NOT NULL, totals_at INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO rollup_version(id, n, totals_at) VALUES (0, 0, -1)",
    "CREATE TRIGGER IF NOT EXISTS rollups_added AFTER INSERT ON rollups BEGIN UPDATE rollup_version SET n = n + 1; END",
    "CREATE TRIGGER IF NOT EXISTS rollups_removed AFTER DELETE ON rollups BEGIN UPDATE rollup_version SET n = n + 1; END",
    "CREATE TRIGGER IF NOT EXISTS rollups_changed AFTER UPDATE ON rollups BEGIN UPDATE rollup_version SET n = n + 1; END",
    """CREATE TABLE IF NOT EXISTS totals (
        app INTEGER PRIMARY KEY,
        n INTEGER NOT NULL,
        moves INTEGER NOT NULL,
        dwell REAL NOT NULL,
        xmin INTEGER NOT NULL, xmax INTEGER NOT NULL, ymin INTEGER NOT NULL, ymax INTEGER NOT NULL,
        data BLOB NOT NULL
    )""",
]
# A read-only connection to a file without them: empty, and never current.
_NO_TOTALS = [
    "CREATE TEMP VIEW rollup_version AS SELECT 0 AS id, 1 AS n, 0 AS totals_at",
    "CREATE TEMP VIEW totals AS SELECT 0 AS app, 0 AS n, 0 AS moves, 0.0 AS dwell, 0 AS xmin, 0 AS xmax, 0 AS ymin, 0 AS ymax, x'' AS data WHERE 0",
]

# Schema 1 read as schema 2 without writing to it: views and an empty table in the read-only
# connection's own TEMP schema (in memory; SQLite looks names up in temp before main), so every
# query of this module runs unchanged. Schema 1 has no kept totals and no roll-ups: `moves`,
# `clicks`, `scrolls` are summed when asked for (as schema 1 did), rolled_until 0 reads rows.
_READ_V1 = """
CREATE TEMP TABLE apps (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TEMP VIEW positions AS SELECT session_id, period, 0 AS app, x, y, count, dwell FROM main.positions;
CREATE TEMP VIEW clicks AS SELECT id, session_id, t, x, y, button, 0 AS app FROM main.clicks;
CREATE TEMP VIEW scrolls AS SELECT id, session_id, t, x, y, dx, dy, 0 AS app FROM main.scrolls;
CREATE TEMP VIEW sessions AS SELECT id, source, kind, started, ended, active_seconds, idle_seconds, distance, period_seconds,
    canvas, meta, NULL AS name, NULL AS content_hash,
    COALESCE((SELECT SUM(count) FROM main.positions p WHERE p.session_id = s.id), 0) AS moves,
    (SELECT COUNT(*) FROM main.clicks c WHERE c.session_id = s.id) AS clicks,
    (SELECT COUNT(*) FROM main.scrolls r WHERE r.session_id = s.id) AS scrolls,
    0 AS rolled_until
    FROM main.sessions s;
CREATE TEMP VIEW session_apps AS SELECT id AS session_id, 0 AS app, moves, clicks, scrolls,
    COALESCE((SELECT SUM(dwell) FROM main.positions p WHERE p.session_id = s.id), 0) AS dwell
    FROM temp.sessions s;
CREATE TEMP VIEW rollups AS SELECT 0 AS session_id, 0 AS day, 0 AS app, 0 AS n, 0 AS moves, 0.0 AS dwell,
    0 AS xmin, 0 AS xmax, 0 AS ymin, 0 AS ymax, x'' AS data WHERE 0;
"""


def _read_older(db: sqlite3.Connection, version: int) -> None:
    """Give a read-only connection to an older file schema 2's shape (nothing written to the file)."""
    if version != 1:
        raise sqlite3.DatabaseError(f"schema {version} cannot be read without upgrading it")
    for stmt in _READ_V1.split(";"):
        if stmt.strip():
            db.execute(stmt)
    for stmt in _NO_TOTALS:
        db.execute(stmt)


def _has_totals(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('totals', 'rollup_version')").fetchone()[0] == 2
ROLLUP_LEVEL = 1  # zlib level of roll-up blobs: level 6 saved 4 % more and took 3x longer
DENSE_MAX = 40_000_000  # bins: past this a merge sorts instead of using a dense grid


@dataclass(frozen=True)
class SessionInfo:
    """One session's row plus its totals, as `sessions` and `stats` show them.

    `positions` (distinct pixels) is counted by `Store.session`, not by the
    `Store.sessions` listing, where it is -1: it means reading the session's data.
    """

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
    name: str | None = None
    content_hash: str | None = None

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    @property
    def label(self) -> str:
        """How a session is called everywhere: `session 3` or `session 3 "editor"`."""
        return f"session {self.id}" + (f" {json.dumps(self.name, ensure_ascii=False)}" if self.name else "")


@dataclass(frozen=True)
class Positions:
    """Aggregated positions: parallel arrays, one entry per distinct (x, y)."""

    x: np.ndarray  # int64
    y: np.ndarray  # int64
    count: np.ndarray  # int64
    dwell: np.ndarray  # float64 seconds

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class AppTotals:
    """One application's share of a selection (`app` None: events with no application)."""

    app: str | None
    moves: int
    clicks: int
    scrolls: int
    active_seconds: float

    def as_dict(self) -> dict:
        return {"app": self.app, "moves": self.moves, "clicks": self.clicks, "scrolls": self.scrolls,
                "active_seconds": round(self.active_seconds, 3)}


@dataclass(frozen=True)
class TimeRange:
    """The time range a query really covers.

    Positions are stored per period, so a range asked for is widened to whole
    periods (`since`/`until` here); clicks and scrolls keep their exact times.
    `exact` says whether the positions' range is the one asked for.
    """

    asked_since: float | None
    asked_until: float | None
    since: float | None
    until: float | None
    resolution: int  # seconds: the coarsest period length among the sessions

    @property
    def exact(self) -> bool:
        return self.since == self.asked_since and self.until == self.asked_until


_ROW = np.dtype([("x", np.int64), ("y", np.int64), ("c", np.int64), ("d", np.float64)])  # one grouped positions row


def _empty_positions() -> Positions:
    return Positions(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))


# Roll-up blobs: a format byte, then the columns. Compact (12 bytes a position: int16 x and y,
# int32 count, float32 dwell) whenever the values fit, which halves what a month's read inflates;
# wide (int32, int32, int64, float64) otherwise.
_COMPACT = (b"c", ("<i2", "<i2", "<i4", "<f4"))
_WIDE = (b"w", ("<i4", "<i4", "<i8", "<f8"))


# Upper-case tags: the same columns uncompressed. The all-applications total is kept so (see
# Store._read_columns): a month's export reads its columns straight from the file, ~4x faster
# than inflating them, for ~19 MB more on a month of heavy use.
_RAW = {b"C": _COMPACT[1], b"W": _WIDE[1]}


def _encode(x: np.ndarray, y: np.ndarray, c: np.ndarray, d: np.ndarray, packed: bool = True) -> bytes:
    fits = len(x) == 0 or (-32768 <= int(np.min(x)) and int(np.max(x)) < 32768 and -32768 <= int(np.min(y)) and int(np.max(y)) < 32768
                           and 0 <= int(np.min(c)) and int(np.max(c)) < 2**31)
    tag, types = _COMPACT if fits else _WIDE
    raw = b"".join(np.asarray(col, t).tobytes() for col, t in zip((x, y, c, d), types))
    return tag + zlib.compress(raw, ROLLUP_LEVEL) if packed else tag.upper() + raw


def _decode(blob: bytes, n: int, dwell: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The columns of a roll-up blob, inflated one column at a time (a month's total is ~24 MB
    inflated: never all of it at once), as int64 x, y, count and float64 dwell. `dwell=False`
    leaves the last column compressed and gives zeros (a read-only view that costs nothing)."""
    if blob[:1] in _RAW:
        cols = []
        off = 1
        for i, (t, want) in enumerate(zip(_RAW[blob[:1]], (np.int64, np.int64, np.int64, np.float64))):
            cols.append(np.frombuffer(blob, t, n, off).astype(want) if i < 3 or dwell else np.broadcast_to(np.zeros(1), (n,)))
            off += n * np.dtype(t).itemsize
        return cols[0], cols[1], cols[2], cols[3]
    types = _COMPACT[1] if blob[:1] == _COMPACT[0] else _WIDE[1]
    z = zlib.decompressobj()
    data: bytes | memoryview = memoryview(blob)[1:]
    out = []
    for i, (t, want) in enumerate(zip(types, (np.int64, np.int64, np.int64, np.float64))):
        if i == 3 and not dwell:
            out.append(np.broadcast_to(np.zeros(1), (n,)))
            break
        size = n * np.dtype(t).itemsize
        raw = z.decompress(data, size)
        data = z.unconsumed_tail
        while len(raw) < size:  # decompress may stop short of max_length while input remains
            more = z.decompress(data, size - len(raw))
            data = z.unconsumed_tail
            if not more:
                break
            raw += more
        out.append(np.frombuffer(raw, t, n).astype(want))
        del raw
    return out[0], out[1], out[2], out[3]


def _group_xy(x: np.ndarray, y: np.ndarray, c: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sum count and dwell per distinct (x, y) (sorted by x, then y)."""
    if not len(x):
        return x.astype(np.int64), y.astype(np.int64), c.astype(np.int64), d.astype(np.float64)
    x = np.asarray(x, np.int64)
    y = np.asarray(y, np.int64)
    x0, y0 = int(x.min()), int(y.min())
    span_y = int(y.max()) - y0 + 1
    key = (x - x0) * span_y + (y - y0)
    uniq, inv = np.unique(key, return_inverse=True)
    cs = np.bincount(inv, weights=c, minlength=len(uniq)).astype(np.int64)
    ds = np.bincount(inv, weights=d, minlength=len(uniq))
    return uniq // span_y + x0, uniq % span_y + y0, cs, ds


class _Merge:
    """Sums (x, y, count, dwell) parts into one Positions.

    Each part holds one entry per (x, y) (a roll-up blob, or rows grouped by x, y),
    so parts whose bounds are known up front (roll-ups carry theirs) are added
    straight into a dense grid by index: no part ever costs a whole grid (a
    bincount per part did: 23 ms at 1080p, 2.8 s for a month of 120 roll-ups),
    and memory stays the grid plus one part. `dwell=False` keeps no dwell grid.
    """

    def __init__(self, bounds: list[tuple[int, int, int, int]], dwell: bool = True) -> None:
        self.parts: list[tuple] = []
        self.dense: tuple[np.ndarray, np.ndarray | None] | None = None
        self.want_dwell = dwell
        if bounds:
            self.x0 = min(b[0] for b in bounds)
            self.x1 = max(b[1] for b in bounds)
            self.y0 = min(b[2] for b in bounds)
            self.y1 = max(b[3] for b in bounds)
            self.w = self.x1 - self.x0 + 1
            self.size = self.w * (self.y1 - self.y0 + 1)
            if self.size <= DENSE_MAX:
                self.dense = (np.zeros(self.size, np.int64), np.zeros(self.size, np.float64) if dwell else None)

    def add(self, x, y, c, d) -> None:
        if not len(x):
            return
        if self.dense is not None and int(x.min()) >= self.x0 and int(x.max()) <= self.x1 and int(y.min()) >= self.y0 and int(y.max()) <= self.y1:
            key = np.asarray(y, np.int64) - self.y0
            key *= self.w
            key += x
            key -= self.x0
            self.dense[0][key] += c  # keys are distinct within a part: plain indexed adds are exact
            if self.dense[1] is not None:
                self.dense[1][key] += d
        else:
            self.parts.append((np.asarray(x, np.int64), np.asarray(y, np.int64), np.asarray(c, np.int64),
                               np.asarray(d, np.float64) if self.want_dwell else np.zeros(len(x))))

    def result(self) -> Positions:
        parts = list(self.parts)
        if self.dense is not None:
            cnt, dw = self.dense
            nz = np.flatnonzero(cnt) if dw is None else np.flatnonzero((cnt != 0) | (dw != 0))
            self.dense = None
            parts.append((nz % self.w + self.x0, nz // self.w + self.y0, cnt[nz], dw[nz] if dw is not None else np.zeros(len(nz))))
            del cnt, dw
        if not parts:
            return _empty_positions()
        if len(parts) == 1:
            x, y, c, d = parts[0]
        else:
            x, y, c, d = _group_xy(*(np.concatenate([p[i] for p in parts]) for i in range(4)))
        if not self.want_dwell:
            d = np.broadcast_to(np.zeros(1), (len(x),))
        return Positions(x, y, c, d)


def _create_private(path: Path) -> None:
    """Create the store file 0600 before SQLite opens it (its -wal/-shm copy the mode).

    O_EXCL|O_NOFOLLOW: a symlink planted at the path (dangling or not) is never
    followed, so nobody can make trackheat create its store somewhere else."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        return
    os.close(fd)


class Store:
    """A connection to one store file. Not shared between threads: open one per thread."""

    def __init__(self, path: str | os.PathLike, *, create: bool = True, readonly: bool = False, for_reading: bool = False) -> None:
        """Open (and with `create`, make) a store. Nothing is written to a file until it is
        known to be a trackheat store or a new, empty one (see _open_checked).

        `readonly=True` (every command that only reads: export, stats, sessions, dump, the
        viewer, aggregate) opens the file with SQLite's mode=ro: no statement through this
        connection can change it, and it is never created or migrated. It still sees a
        running recorder's commits (WAL). An older schema (1) is read as it is, through
        views in the connection's private TEMP schema that give it schema 2's shape (see
        _read_older): nothing is written, so an older trackheat can keep using the file.
        `for_reading=True`: a read-only file or directory is opened like that; a writable
        one normally, so an older schema is upgraded on the way."""
        self.path = Path(path)
        self._depth = 0
        self._app_ids: dict[str, int] = {}
        self._app_names: dict[int, str] = {}
        self._db, writable = _open_checked(self.path, create=create and not readonly, readonly=readonly, for_reading=for_reading or readonly)
        self.readonly = not writable
        self.schema = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if not writable:
            try:
                if self.schema < SCHEMA_VERSION:
                    _read_older(self._db, self.schema)
                elif not _has_totals(self._db):
                    for stmt in _NO_TOTALS:
                        self._db.execute(stmt)
            except sqlite3.Error as e:
                self._db.close()
                raise describe_error(e, self.path) from None
            return
        try:
            self._migrate()
        except sqlite3.Error as e:
            self._db.close()
            raise describe_error(e, self.path) from None

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
            if not _has_totals(self._db):  # a schema-2 file from before the totals: made once, here
                with self.transaction():
                    for stmt in _TOTALS:
                        self._db.execute(stmt)
                    self._sync_totals()
            return
        # DROP TABLE inside the v2 step must not cascade into anything: foreign keys off for the
        # migration (a PRAGMA that is a no-op inside a transaction, so set it before BEGIN).
        self._db.execute("PRAGMA foreign_keys=OFF")
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            for step in range(version, SCHEMA_VERSION):
                for stmt in _MIGRATIONS[step].split(";"):
                    if stmt.strip():
                        self._db.execute(stmt)
            for stmt in _TOTALS:
                self._db.execute(stmt)
            if version < 2:  # sessions that ended get their roll-ups now; running ones as they go
                now_day = int(time.time()) // DAY * DAY
                for (sid,) in self._db.execute("SELECT id FROM sessions").fetchall():
                    self.roll_up(sid, now_day)
            self._sync_totals()
            bad = self._db.execute("PRAGMA foreign_key_check").fetchall()
            if bad:
                raise sqlite3.DatabaseError(f"foreign key check failed after migration: {bad[:3]}")
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        finally:
            self._depth = 0
            self._db.execute("PRAGMA foreign_keys=ON")

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
        if self.readonly:  # say so before SQLite does (on a schema 1 file it would speak of views)
            raise UserError(f"{self.path}: opened readonly by a command that only reads; nothing was written")
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            if self._db.in_transaction:  # SQLite may have rolled back already (disk full, I/O error)
                self._db.execute("ROLLBACK")
            self._app_ids.clear()  # ids made in the rolled-back transaction are gone
            self._app_names.clear()
            raise
        self._depth = 0
        try:
            self._db.execute("COMMIT")
        except BaseException:
            # SQLite keeps the transaction open when COMMIT fails (busy, disk full):
            # end it, or every later BEGIN on this connection fails too.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._app_ids.clear()
            self._app_names.clear()
            raise

    def data_version(self) -> int:
        """A number that changes whenever another connection commits (a recorder's flush):
        a free way for a reader to know its cached pictures are stale."""
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def integrity_check(self) -> str:
        return self._db.execute("PRAGMA integrity_check").fetchone()[0]

    # -- applications ------------------------------------------------------
    def app_id(self, name: str | None) -> int:
        """The id of an application name, created on first use (None: no application)."""
        if name is None:
            return NO_APP
        i = self._app_ids.get(name)
        if i is not None:
            return i
        if self.readonly:  # a reader looks names up; one never stored matches no row
            row = self._db.execute("SELECT id FROM apps WHERE name=?", (name,)).fetchone()
            return int(row[0]) if row else -1
        with self.transaction():
            row = self._db.execute("SELECT id FROM apps WHERE name=?", (name,)).fetchone()
            i = int(row[0]) if row else int(self._db.execute("INSERT INTO apps(name) VALUES (?)", (name,)).lastrowid or 0)
        self._app_ids[name] = i
        self._app_names[i] = name
        return i

    def app_name(self, app_id: int) -> str | None:
        if app_id == NO_APP:
            return None
        name = self._app_names.get(app_id)
        if name is None:
            row = self._db.execute("SELECT name FROM apps WHERE id=?", (app_id,)).fetchone()
            name = row[0] if row else f"app {app_id}"
            self._app_names[app_id] = name
        return name

    def apps(self, session_ids: Sequence[int]) -> list[str | None]:
        """The applications a selection has events in (None first when some have none)."""
        marks = ",".join("?" * len(session_ids))
        ids = sorted({r[0] for r in self._db.execute(f"SELECT app FROM session_apps WHERE session_id IN ({marks})", [int(i) for i in session_ids])})
        names = [self.app_name(i) for i in ids]
        return sorted(names, key=lambda n: (n is not None, n or ""))

    def app_filter(self, session_ids: Sequence[int], apps: Sequence[str | None] | None) -> list[int] | None:
        """App ids for a list of names; a name the selection does not have is a UserError listing those it has."""
        if apps is None:
            return None
        have = self.apps(session_ids)
        missing = [a for a in apps if a not in have]
        if missing:
            shown = shown_apps(have)
            raise UserError(f"no application {missing[0]!r} in this selection; it has: {shown}", param="app")
        return [self.app_id(a) for a in apps]

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
        name: str | None = None,
        content_hash: str | None = None,
    ) -> int:
        with self.transaction():
            cur = self._db.execute(
                "INSERT INTO sessions(source, kind, started, period_seconds, canvas, meta, name, content_hash) VALUES (?,?,?,?,?,?,?,?)",
                (source, kind, time.time() if started is None else float(started), int(period_seconds), canvas.to_json(),
                 json.dumps(dict(meta or {})), name, content_hash),
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

    def find_hash(self, content_hash: str) -> list[int]:
        """Sessions imported from a file with this content hash (oldest first)."""
        return [int(r[0]) for r in self._db.execute("SELECT id FROM sessions WHERE content_hash=? ORDER BY id", (content_hash,))]

    def save_imported(self, sessions: Sequence[ImportedSession], content_hash: str | None = None) -> list[int]:
        """Write imported sessions in one transaction (all or nothing); returns their ids."""
        ids = []
        for s in sessions:
            check_imported(s)  # before anything is written: one bad value must not poison the store
        with self.transaction():
            for s in sessions:
                started = time.time() if s.started is None else s.started
                meta = dict(s.meta)
                meta.setdefault("time_source", "import time" if s.started is None else "the file")
                sid = self.create_session(s.source, s.canvas, started=started, kind=s.kind, meta=meta, content_hash=content_hash)
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
                last = int(periods.max()) if len(xs) else int(started)
                self.roll_up(sid, (last // DAY + 1) * DAY)  # an import is complete: roll every day up
        return ids

    def add_layout(self, session_id: int, canvas: Canvas, t: float | None = None) -> None:
        """Record a new monitor layout; the session's canvas becomes the union of all seen."""
        with self.transaction():
            self._db.execute("INSERT INTO layouts(session_id, t, canvas) VALUES (?,?,?)", (session_id, time.time() if t is None else t, canvas.to_json()))
            old = Canvas.from_json(self._db.execute("SELECT canvas FROM sessions WHERE id=?", (session_id,)).fetchone()[0])
            monitors = list(old.monitors) + [m for m in canvas.monitors if m not in old.monitors]
            self._db.execute("UPDATE sessions SET canvas=? WHERE id=?", (Canvas(tuple(monitors), kind=old.kind, extra=old.extra).to_json(), session_id))

    def _add_totals(self, session_id: int, app: int, moves: int = 0, clicks: int = 0, scrolls: int = 0, dwell: float = 0.0) -> None:
        """Keep the session's and the (session, app) totals in step with what was just written."""
        self._db.execute("UPDATE sessions SET moves=moves+?, clicks=clicks+?, scrolls=scrolls+? WHERE id=?", (moves, clicks, scrolls, session_id))
        self._db.execute(
            "INSERT INTO session_apps(session_id, app, moves, clicks, scrolls, dwell) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT(session_id, app) DO UPDATE SET moves=moves+excluded.moves, clicks=clicks+excluded.clicks,"
            " scrolls=scrolls+excluded.scrolls, dwell=dwell+excluded.dwell",
            (session_id, app, moves, clicks, scrolls, float(dwell)),
        )

    def _after_write(self, session_id: int, period: int) -> None:
        """A write into a day already rolled up rebuilds that day (late writes are rare: a clock step back)."""
        row = self._db.execute("SELECT rolled_until FROM sessions WHERE id=?", (session_id,)).fetchone()
        if row is not None and period < row[0]:
            self._roll_day(session_id, period // DAY * DAY)
            self._sync_totals()

    def add_positions(self, session_id: int, rows: Iterable[Sequence], period: int = 0, app: str | None = None) -> None:
        """Add (x, y, count[, dwell]) rows to a period's counts (upsert: counts add up)."""
        rows = [(int(r[0]), int(r[1]), int(r[2]), float(r[3]) if len(r) > 3 else 0.0) for r in rows]
        if not rows:
            return
        xs, ys, cs, ds = zip(*rows)
        self.add_position_arrays(session_id, period, np.array(xs), np.array(ys), np.array(cs), np.array(ds), app=app)

    def add_position_arrays(self, session_id: int, period: int, x: Cells, y: Cells, count: Cells, dwell: Cells, app: str | None = None) -> None:
        """The bulk path for the recorder and importers: parallel arrays, converted once, not per row.

        Rows go in BULK_ROWS at a time as one multi-row VALUES statement: the
        per-row cost of executemany (binding and stepping one statement per
        row) was two thirds of saving a million-sample gaze file.
        """
        n = len(x)
        if not n:
            return
        count = np.asarray(count, np.int64)
        dwell = np.asarray(dwell, np.float64)
        flat = np.empty(4 * n, object)
        flat[0::4] = np.asarray(x, np.int64).tolist()
        flat[1::4] = np.asarray(y, np.int64).tolist()
        flat[2::4] = count.tolist()
        flat[3::4] = dwell.tolist()
        values = flat.tolist()
        with self.transaction():
            aid = self.app_id(app)
            head = "INSERT INTO positions(session_id, period, app, x, y, count, dwell) VALUES "
            row = f"({int(session_id)},{int(period)},{aid},?,?,?,?)"
            tail = " ON CONFLICT(session_id, period, app, x, y) DO UPDATE SET count=count+excluded.count, dwell=dwell+excluded.dwell"
            full = n - n % BULK_ROWS
            if full:
                chunks = iter(values[: 4 * full])
                self._db.executemany(head + ",".join([row] * BULK_ROWS) + tail, zip(*[chunks] * (4 * BULK_ROWS)))
            if full < n:
                self._db.execute(head + ",".join([row] * (n - full)) + tail, values[4 * full :])
            self._add_totals(session_id, aid, moves=int(count.sum()), dwell=float(dwell.sum()))
            self._after_write(session_id, int(period))

    def add_counts(self, session_id: int, counts: Mapping[tuple[int, int], int], dwell: Mapping[tuple[int, int], float] | None = None,
                   period: int = 0, app: str | None = None) -> None:
        """The recorder's buffers as they are: {(x, y): count} and {(x, y): seconds}."""
        dwell = dwell or {}
        keys = set(counts) | set(dwell)
        self.add_positions(session_id, ((k[0], k[1], counts.get(k, 0), dwell.get(k, 0.0)) for k in keys), period, app=app)

    def add_clicks(self, session_id: int, rows: Iterable[Sequence]) -> None:
        """(t, x, y, button[, app]) rows; button is a name such as left, right, middle."""
        by_app: dict[int, int] = {}
        out = []
        with self.transaction():
            for r in rows:
                aid = self.app_id(r[4] if len(r) > 4 else None)
                by_app[aid] = by_app.get(aid, 0) + 1
                out.append((session_id, float(r[0]), int(r[1]), int(r[2]), str(r[3]), aid))
            self._db.executemany("INSERT INTO clicks(session_id, t, x, y, button, app) VALUES (?,?,?,?,?,?)", out)
            for aid, n in by_app.items():
                self._add_totals(session_id, aid, clicks=n)

    def add_scrolls(self, session_id: int, rows: Iterable[Sequence]) -> None:
        """(t, x, y, dx, dy[, app]) rows; dy > 0 is up, as pynput reports it."""
        by_app: dict[int, int] = {}
        out = []
        with self.transaction():
            for r in rows:
                aid = self.app_id(r[5] if len(r) > 5 else None)
                by_app[aid] = by_app.get(aid, 0) + 1
                out.append((session_id, float(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), aid))
            self._db.executemany("INSERT INTO scrolls(session_id, t, x, y, dx, dy, app) VALUES (?,?,?,?,?,?,?)", out)
            for aid, n in by_app.items():
                self._add_totals(session_id, aid, scrolls=n)

    def add_screenshot(self, session_id: int, monitor: int, png: bytes, t: float | None = None) -> None:
        with self.transaction():
            self._db.execute("INSERT INTO screenshots(session_id, monitor, t, png) VALUES (?,?,?,?)", (session_id, int(monitor), time.time() if t is None else t, sqlite3.Binary(png)))

    def add_image(self, session_id: int, data: bytes, role: str = "reference", name: str | None = None) -> None:
        """Keep an image file's bytes (decoded later exactly as the file would be) for a session."""
        import hashlib

        if len(data) > MAX_IMAGE_BYTES:
            raise UserError(f"{name or 'image'}: {len(data) / 2**20:.1f} MB, over the {MAX_IMAGE_BYTES // 2**20} MB a store keeps per image")
        digest = hashlib.sha256(data).hexdigest()
        with self.transaction():
            for stmt in _IMAGES.split(";\n"):
                self._db.execute(stmt)
            self.session_row(session_id)
            self._db.execute("INSERT OR IGNORE INTO images(sha256, name, data) VALUES (?,?,?)", (digest, name, sqlite3.Binary(data)))
            self._db.execute("DELETE FROM session_images WHERE session_id=? AND role=?", (int(session_id), role))  # fires the trigger (REPLACE would not)
            self._db.execute("INSERT INTO session_images(session_id, role, sha256) VALUES (?,?,?)", (int(session_id), role, digest))

    def image(self, session_id: int, role: str = "reference") -> tuple[str, str | None, bytes] | None:
        """(sha256, name, bytes) of a session's image, or None (also in a store that never kept one)."""
        if not self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='session_images'").fetchone():
            return None
        row = self._db.execute("SELECT i.sha256, i.name, i.data FROM session_images s JOIN images i USING (sha256) WHERE s.session_id=? AND s.role=?",
                               (int(session_id), role)).fetchone()
        return None if row is None else (row[0], row[1], bytes(row[2]))

    # -- roll-ups ----------------------------------------------------------
    def roll_up(self, session_id: int, before: float) -> int:
        """Roll up every day of a session that ends by `before` and is not rolled up yet; returns how many.

        The recorder calls it at each flush with the current day's start (a
        comparison when nothing is due), importers with the day after their last.
        """
        before = int(before) // DAY * DAY
        row = self._db.execute("SELECT rolled_until FROM sessions WHERE id=?", (session_id,)).fetchone()
        if row is None or row[0] >= before:
            return 0
        start = row[0]
        done = 0
        with self.transaction():
            if start == 0:
                first = self._db.execute("SELECT MIN(period) FROM positions WHERE session_id=?", (session_id,)).fetchone()[0]
                start = before if first is None else int(first) // DAY * DAY
            for day in range(start, before, DAY):
                done += self._roll_day(session_id, day)
            self._db.execute("UPDATE sessions SET rolled_until=? WHERE id=?", (before, session_id))
            self._sync_totals()
        return done

    def unfinished(self) -> list[int]:
        """Sessions with rows in days not rolled up yet: running ones, and those whose recorder
        was killed (kill -9, a power cut) before its final flush rolled the last day up."""
        out = []
        for sid, rolled in self._db.execute("SELECT id, rolled_until FROM sessions").fetchall():
            last = self._db.execute("SELECT MAX(period) FROM positions WHERE session_id=?", (sid,)).fetchone()[0]
            if last is not None and last >= rolled:
                out.append(int(sid))
        return out

    def finish_rollups(self, session_id: int) -> int:
        """Roll every day of a session up, its last one too (the session is over)."""
        last = self._db.execute("SELECT MAX(period) FROM positions WHERE session_id=?", (int(session_id),)).fetchone()[0]
        return 0 if last is None else self.roll_up(session_id, (int(last) // DAY + 1) * DAY)

    def _roll_day(self, session_id: int, day: int) -> int:
        """(Re)build one day's roll-ups from its rows (inside a transaction). A new day is added
        to the totals when they are current; a rebuilt one leaves them to _sync_totals."""
        current = self._totals_current()
        had = self._db.execute("SELECT COUNT(*) FROM rollups WHERE session_id=? AND day=?", (session_id, day)).fetchone()[0]
        if had:
            self._db.execute("DELETE FROM rollups WHERE session_id=? AND day=?", (session_id, day))
        rows = self._db.execute("SELECT app, x, y, count, dwell FROM positions WHERE session_id=? AND period>=? AND period<?",
                                (session_id, day, day + DAY)).fetchall()
        if not rows:
            return 0
        a = np.array(rows, np.float64)
        del rows
        apps = a[:, 0].astype(np.int64)
        for aid in np.unique(apps).tolist():
            m = apps == aid
            x, y, c, d = _group_xy(a[m, 1].astype(np.int64), a[m, 2].astype(np.int64), a[m, 3].astype(np.int64), a[m, 4])
            self._db.execute(
                "INSERT INTO rollups(session_id, day, app, n, moves, dwell, xmin, xmax, ymin, ymax, data) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (session_id, day, aid, len(x), int(c.sum()), float(d.sum()), int(x.min()), int(x.max()), int(y.min()), int(y.max()), _encode(x, y, c, d)),
            )
            if current and not had:
                self._add_total(aid, x, y, c, d)
        if current and not had:
            self._db.execute("UPDATE rollup_version SET totals_at = n")
        return 1

    # -- the totals (see _TOTALS) --------------------------------------------
    def _totals_current(self) -> bool:
        row = self._db.execute("SELECT n, totals_at FROM rollup_version").fetchone()
        return row is not None and row[0] == row[1]

    def _put_total(self, app: int, p: Positions) -> None:
        if not len(p):
            self._db.execute("DELETE FROM totals WHERE app=?", (app,))
            return
        self._db.execute(
            "INSERT OR REPLACE INTO totals(app, n, moves, dwell, xmin, xmax, ymin, ymax, data) VALUES (?,?,?,?,?,?,?,?,?)",
            (app, len(p), int(p.count.sum()), float(p.dwell.sum()), int(p.x.min()), int(p.x.max()), int(p.y.min()), int(p.y.max()),
             _encode(p.x, p.y, p.count, p.dwell, packed=app != ALL_APPS)))

    def _add_total(self, app: int, x: np.ndarray, y: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
        """A new day's roll-up of one application into its total and into the all-applications one."""
        self._add_total_row(app, x, y, c, d)
        self._add_total_row(ALL_APPS, x, y, c, d)

    def _add_total_row(self, app: int, x: np.ndarray, y: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
        row = self._db.execute("SELECT n, xmin, xmax, ymin, ymax, data FROM totals WHERE app=?", (app,)).fetchone()
        if row is None:
            self._put_total(app, Positions(x, y, c, d))
            return
        merge = _Merge([tuple(row[1:5]), (int(x.min()), int(x.max()), int(y.min()), int(y.max()))])
        merge.add(*_decode(row[5], row[0]))
        merge.add(x, y, c, d)
        self._put_total(app, merge.result())

    def _sync_totals(self) -> None:
        """Rebuild the totals from the roll-ups unless they are current (inside a transaction)."""
        if self._totals_current():
            return
        self._db.execute("DELETE FROM totals")
        groups = self._db.execute("SELECT app, MIN(xmin), MAX(xmax), MIN(ymin), MAX(ymax) FROM rollups GROUP BY app").fetchall()
        every = _Merge([tuple(g[1:]) for g in groups])
        for app, x0, x1, y0, y1 in groups:
            merge = _Merge([(x0, x1, y0, y1)])
            for k, data in self._db.execute("SELECT n, data FROM rollups WHERE app=?", (app,)):
                merge.add(*_decode(data, k))
            p = merge.result()
            self._put_total(app, p)
            every.add(p.x, p.y, p.count, p.dwell)
        if groups:
            self._put_total(ALL_APPS, every.result())
        self._db.execute("UPDATE rollup_version SET totals_at = n")

    # -- managing sessions -------------------------------------------------
    def delete_sessions(self, session_ids: Sequence[int]) -> None:
        """Delete sessions and everything they hold, in one transaction (all or none)."""
        with self.transaction():
            for sid in session_ids:
                self.session_row(sid)
                self._db.execute("DELETE FROM sessions WHERE id=?", (int(sid),))
            self._sync_totals()

    def delete_session(self, session_id: int) -> None:
        self.delete_sessions([session_id])

    def rename_session(self, session_id: int, name: str | None) -> None:
        """Give a session a name (shown wherever the session is); None or empty removes it."""
        name = (name or "").strip() or None
        if name is not None and (len(name) > 200 or any(ord(ch) < 32 for ch in name)):
            raise UserError("a session name is one line of at most 200 characters", param="name")
        with self.transaction():
            self.session_row(session_id)
            self._db.execute("UPDATE sessions SET name=? WHERE id=?", (name, int(session_id)))

    def merge_sessions(self, into: int, others: Sequence[int], name: str | None = None) -> None:
        """Move everything of `others` into session `into` and delete them (one transaction).

        Counts, dwell, clicks, scrolls, applications and layouts add up; the
        canvas becomes the union; started/ended span both; the period length
        becomes the coarsest of them (time ranges are only as exact as that).
        """
        others = [int(o) for o in others if int(o) != int(into)]
        if not others:
            raise UserError("give at least two different sessions to merge")
        with self.transaction():
            keep = self.session_row(into)
            rows = [self.session_row(o) for o in others]
            canvas = Canvas.from_json(keep[9])
            monitors = list(canvas.monitors)
            extra = dict(canvas.extra)
            for r in rows:
                c = Canvas.from_json(r[9])
                monitors += [m for m in c.monitors if m not in monitors]
                if not c.extra.get("inferred"):
                    extra.pop("inferred", None)
            kind = canvas.kind if all(Canvas.from_json(r[9]).kind == canvas.kind for r in rows) else "desktop"
            marks = ",".join("?" * len(others))
            self._db.execute(
                f"INSERT INTO positions(session_id, period, app, x, y, count, dwell) SELECT ?, period, app, x, y, count, dwell FROM positions"
                f" WHERE session_id IN ({marks}) ON CONFLICT(session_id, period, app, x, y) DO UPDATE SET count=count+excluded.count, dwell=dwell+excluded.dwell",
                [into, *others])
            self._db.execute(
                f"INSERT INTO session_apps(session_id, app, moves, clicks, scrolls, dwell) SELECT ?, app, SUM(moves), SUM(clicks), SUM(scrolls), SUM(dwell)"
                f" FROM session_apps WHERE session_id IN ({marks}) GROUP BY app ON CONFLICT(session_id, app) DO UPDATE SET moves=moves+excluded.moves,"
                f" clicks=clicks+excluded.clicks, scrolls=scrolls+excluded.scrolls, dwell=dwell+excluded.dwell", [into, *others])
            for table in ("clicks", "scrolls", "layouts", "screenshots"):
                self._db.execute(f"UPDATE {table} SET session_id=? WHERE session_id IN ({marks})", [into, *others])
            ended = [r[4] for r in (keep, *rows) if r[4] is not None]
            dist = [r[7] for r in (keep, *rows)]
            meta = json.loads(keep[10] or "{}")
            meta["merged"] = meta.get("merged", []) + [{"id": r[0], "source": r[1], "name": r[16]} for r in rows]
            self._db.execute(
                "UPDATE sessions SET started=?, ended=?, active_seconds=?, idle_seconds=?, distance=?, period_seconds=?, canvas=?, meta=?,"
                " moves=?, clicks=?, scrolls=?, name=COALESCE(?, name), content_hash=NULL, rolled_until=0 WHERE id=?",
                (min(r[3] for r in (keep, *rows)), max(ended) if ended else None, sum(r[5] for r in (keep, *rows)),
                 sum(r[6] for r in (keep, *rows)), None if any(d is None for d in dist) else sum(dist),
                 max(r[8] for r in (keep, *rows)), Canvas(tuple(monitors), kind=kind, extra=extra).to_json(), json.dumps(meta),
                 sum(r[11] for r in (keep, *rows)), sum(r[12] for r in (keep, *rows)), sum(r[13] for r in (keep, *rows)),
                 (name or "").strip() or None, into))
            self._db.execute(f"DELETE FROM sessions WHERE id IN ({marks})", others)
            self._db.execute("DELETE FROM rollups WHERE session_id=?", (into,))
            newest = max([r[14] for r in (keep, *rows)] + [0])
            self.roll_up(into, newest)
            self._sync_totals()

    def session_row(self, session_id: int) -> tuple:
        row = self._db.execute(
            "SELECT id, source, kind, started, ended, active_seconds, idle_seconds, distance, period_seconds, canvas, meta,"
            " moves, clicks, scrolls, rolled_until, content_hash, name FROM sessions WHERE id=?", (int(session_id),)).fetchone()
        if row is None:
            raise UserError(f"{self.path}: no session {session_id} (see `trackheat sessions`)")
        return row

    # -- reading ---------------------------------------------------------
    _INFO_SQL = """
        SELECT s.id, s.source, s.kind, s.started, s.ended, s.active_seconds, s.idle_seconds, s.distance,
               s.period_seconds, s.canvas, s.meta, s.moves, -1, s.clicks, s.scrolls, s.name, s.content_hash
        FROM sessions s
    """

    @staticmethod
    def _info(row) -> SessionInfo:
        return SessionInfo(
            id=row[0], source=row[1], kind=row[2], started=row[3], ended=row[4], active_seconds=row[5], idle_seconds=row[6],
            distance=row[7], period_seconds=row[8], canvas=Canvas.from_json(row[9]), meta=json.loads(row[10] or "{}"),
            moves=int(row[11]), positions=int(row[12]), clicks=int(row[13]), scrolls=int(row[14]), name=row[15], content_hash=row[16],
        )

    def sessions(self) -> list[SessionInfo]:
        """Every session with its kept totals (`positions` is -1 here: see SessionInfo)."""
        return [self._info(r) for r in self._db.execute(self._INFO_SQL + " ORDER BY s.id")]

    def infos(self, session_ids: Sequence[int]) -> list[SessionInfo]:
        """Sessions in the order given, with kept totals only (`positions` -1): cheap for any selection."""
        by_id = {i.id: i for i in self.sessions()}
        for sid in session_ids:
            if sid not in by_id:
                raise UserError(f"{self.path}: no session {sid} (see `trackheat sessions`)")
        return [by_id[int(sid)] for sid in session_ids]

    def session(self, session_id: int) -> SessionInfo:
        row = self._db.execute(self._INFO_SQL + " WHERE s.id=?", (session_id,)).fetchone()
        if row is None:
            raise UserError(f"{self.path}: no session {session_id} (see `trackheat sessions`)")
        info = self._info(row)
        return dataclasses.replace(info, positions=self.distinct_positions([session_id]))

    def resolve(self, spec: str | int | Sequence[int] | None = "last") -> list[int]:
        """Session ids for --session N|all|last|N,M,... ; an unknown id is a UserError."""
        ids = [r[0] for r in self._db.execute("SELECT id FROM sessions ORDER BY id")]
        if not ids:
            raise UserError(f"{self.path}: the store holds no sessions yet")
        if isinstance(spec, (list, tuple)):
            spec = ",".join(str(int(i)) for i in spec)
        spec = "last" if spec is None else str(spec).strip()
        if spec == "all":
            return ids
        if spec == "last":
            return [ids[-1]]
        wanted: list[int] = []
        known = set(ids)
        for part in spec.split(","):
            try:  # N, or a range N-M as titles write it
                a, _, b = part.strip().partition("-")
                lo, hi = int(a), int(b or a)
            except ValueError:
                raise UserError(f"expected a number, a range such as 1-3, 'all' or 'last', got {part!r}", param="session") from None
            if hi < lo:
                raise UserError(f"a range goes up, such as {hi}-{lo}; got {part!r}", param="session")
            for n in range(lo, hi + 1):
                if n not in known:
                    if b:
                        continue  # a range may span deleted sessions
                    raise UserError(f"{self.path}: no session {n} (sessions are {ids[0]}..{ids[-1]}; see `trackheat sessions`)")
                if n not in wanted:
                    wanted.append(n)
        if not wanted:
            raise UserError(f"{self.path}: no session in {spec} (sessions are {ids[0]}..{ids[-1]}; see `trackheat sessions`)")
        return wanted

    def time_range(self, session_ids: Sequence[int], since: float | None = None, until: float | None = None) -> TimeRange:
        """The range positions can really be drawn for: `since`/`until` widened to whole periods."""
        marks = ",".join("?" * len(session_ids))
        res = self._db.execute(f"SELECT MAX(period_seconds) FROM sessions WHERE id IN ({marks})", [int(i) for i in session_ids]).fetchone()[0] or DEFAULT_PERIOD
        lo = None if since is None else math.floor(since / res) * res
        hi = None if until is None else math.ceil(until / res) * res
        return TimeRange(since, until, lo, hi, int(res))

    def _plan(self, session_ids: Sequence[int], since: float | None, until: float | None, app_ids: list[int] | None):
        """How to read a selection: roll-up rows to decode, and (session, lo, hi) period ranges to read as rows.

        A period [p, p + len) is in the range when it overlaps [since, until).
        Whole days inside the range whose roll-ups exist come from the roll-ups,
        or from the totals (one blob per application) when the selection holds
        every rolled-up session and the range every rolled-up day.
        """
        infos = self._db.execute(
            f"SELECT id, period_seconds, started, ended, rolled_until FROM sessions WHERE id IN ({','.join('?' * len(session_ids))})",
            [int(i) for i in session_ids]).fetchall()
        big = 1 << 62
        spans = []  # (sid, lo, hi, whole rolled-up days [d0, d1))
        for sid, plen, started, ended, rolled in infos:
            if until is not None and started is not None and started >= until + plen:
                continue  # the session began after the range: nothing of it is drawn
            if since is not None and ended is not None and ended + plen <= since:
                continue
            lo = -big if since is None else int(math.floor(since)) - plen + 1  # periods p > since - len
            hi = big if until is None else int(math.ceil(until))  # periods p < until
            d0 = max(0, -(-lo // DAY) * DAY) if since is not None else 0
            d1 = min(rolled, hi // DAY * DAY)
            spans.append((sid, lo, hi, d0, d1))
        app_sql, app_args = "", []
        if app_ids is not None:
            app_sql = f" AND app IN ({','.join('?' * len(app_ids))})"
            app_args = list(app_ids)
        blobs: list[tuple] = []
        ranges: list[tuple[int, int, int]] = []
        if self._totals_cover(spans, {i[0] for i in infos}):
            # The all-applications row's data is read column by column from the file (_read_columns), not fetched whole.
            q = f"SELECT app, n, moves, dwell, xmin, xmax, ymin, ymax, CASE WHEN app = {ALL_APPS} THEN NULL ELSE data END FROM totals WHERE "
            for r in self._db.execute(q + ("app = ?" if app_ids is None else "1" + app_sql), [ALL_APPS] if app_ids is None else app_args):
                blobs.append((None, None) + tuple(r))
            for sid, lo, hi, d0, d1 in spans:  # every day below rolled_until is in the totals
                if max(lo, d1) < hi:
                    ranges.append((sid, max(lo, d1), hi))
            return blobs, ranges
        for sid, lo, hi, d0, d1 in spans:
            if d1 > d0:
                q = "SELECT day, app, n, moves, dwell, xmin, xmax, ymin, ymax, data FROM rollups WHERE session_id=? AND day>=? AND day<?"
                for r in self._db.execute(q + app_sql, [sid, d0, d1] + app_args):
                    blobs.append((sid,) + tuple(r))
                # Every day below rolled_until is rolled (or empty): rows are needed only outside [d0, d1).
                if lo < d0:
                    ranges.append((sid, lo, d0))
                if d1 < hi:
                    ranges.append((sid, d1, hi))
            else:
                ranges.append((sid, lo, hi))
        return blobs, ranges

    def _totals_cover(self, spans: list[tuple[int, int, int, int, int]], selected: set[int]) -> bool:
        """Whether the totals are exactly the rolled-up part of this read: current, every session
        with roll-ups selected, and each one's range holding all of its rolled-up days."""
        if len(spans) < 2 or not self._totals_current():
            return False  # one session: its own roll-ups are as few
        rolled = {sid: (lo_day, hi_day) for sid, lo_day, hi_day in
                  self._db.execute("SELECT session_id, MIN(day), MAX(day) FROM rollups GROUP BY session_id")}
        if not rolled or not set(rolled) <= selected:
            return False
        by_sid = {sp[0]: sp for sp in spans}
        for sid, (first, last) in rolled.items():
            sp = by_sid.get(sid)
            if sp is None or sp[3] > first or sp[4] <= last:
                return False
        return True

    def positions(self, session_ids: Sequence[int], since: float | None = None, until: float | None = None,
                  apps: Sequence[str | None] | None = None, *, dwell: bool = True) -> Positions:
        """Counts and dwell per distinct (x, y), summed over the sessions, periods and applications asked for.

        `dwell=False` (a map of moves): dwell is not read, and reads as zeros."""
        app_ids = self.app_filter(session_ids, apps)
        blobs, ranges = self._plan(session_ids, since, until, app_ids)
        row_parts = []
        for sid, lo, hi in ranges:
            # The rows as they are, straight into one array (no list of tuples), grouped by (x, y) in
            # numpy: SQLite's GROUP BY sorts them through a temporary B-tree, several times slower.
            q = f"SELECT x, y, count, {'dwell' if dwell else '0.0'} FROM positions WHERE session_id=? AND period>=? AND period<?"
            args: list = [sid, lo, hi]
            if app_ids is not None:
                q += f" AND app IN ({','.join('?' * len(app_ids))})"
                args += app_ids
            a = np.fromiter(self._db.execute(q, args), _ROW)
            if len(a):
                row_parts.append(_group_xy(a["x"], a["y"], a["c"], a["d"]))
                del a
        bounds = [(b[6], b[7], b[8], b[9]) for b in blobs] + [(int(p[0].min()), int(p[0].max()), int(p[1].min()), int(p[1].max())) for p in row_parts]
        if not blobs and len(row_parts) == 1:
            return Positions(*(np.ascontiguousarray(c) for c in row_parts[0]))
        if len(blobs) == 1 and not row_parts:  # one roll-up or total: already one row per (x, y)
            return Positions(*self._columns(blobs[0], dwell))
        merge = _Merge(bounds, dwell)
        for p in row_parts:
            merge.add(*p)
        del row_parts
        for b in blobs:
            merge.add(*self._columns(b, dwell))
        return merge.result()

    def _columns(self, b: tuple, dwell: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A planned blob's columns: its data as fetched, or (None: a total) read from the file."""
        return _decode(b[10], b[3], dwell) if b[10] is not None else self._read_columns(b[2], b[3], dwell)

    def _read_columns(self, app: int, n: int, dwell: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A total's columns, one at a time through SQLite's incremental blob I/O: an uncompressed
        one is never in memory whole (a month's is ~24 MB), a compressed one is inflated as usual."""
        blobopen = getattr(self._db, "blobopen", None)  # Python 3.11+; before it, the data fetched whole
        if blobopen is None:
            return _decode(self._db.execute("SELECT data FROM totals WHERE app=?", (app,)).fetchone()[0], n, dwell)
        with blobopen("totals", "data", app, readonly=True) as blob:
            tag = blob.read(1)
            if tag not in _RAW:
                return _decode(tag + blob.read(), n, dwell)
            cols = []
            for i, (t, want) in enumerate(zip(_RAW[tag], (np.int64, np.int64, np.int64, np.float64))):
                if i == 3 and not dwell:
                    cols.append(np.broadcast_to(np.zeros(1), (n,)))
                    break
                cols.append(np.frombuffer(blob.read(n * np.dtype(t).itemsize), t, n).astype(want))
            return cols[0], cols[1], cols[2], cols[3]

    def app_totals(self, session_ids: Sequence[int], since: float | None = None, until: float | None = None,
                   apps: Sequence[str | None] | None = None) -> list[AppTotals]:
        """Moves, clicks, scrolls and active seconds (dwell) per application, most moves first."""
        app_ids = self.app_filter(session_ids, apps)
        marks = ",".join("?" * len(session_ids))
        ids = [int(i) for i in session_ids]
        tot: dict[int, list] = {}
        if since is None and until is None:
            for a, m, c, s, d in self._db.execute(f"SELECT app, SUM(moves), SUM(clicks), SUM(scrolls), SUM(dwell) FROM session_apps WHERE session_id IN ({marks}) GROUP BY app", ids):
                tot[a] = [int(m), int(c), int(s), float(d)]
        else:
            blobs, ranges = self._plan(session_ids, since, until, None)
            for b in blobs:
                t = tot.setdefault(b[2], [0, 0, 0, 0.0])
                t[0] += int(b[4])
                t[3] += float(b[5])
            for sid, lo, hi in ranges:
                for a, m, d in self._db.execute("SELECT app, SUM(count), SUM(dwell) FROM positions WHERE session_id=? AND period>=? AND period<? GROUP BY app", (sid, lo, hi)):
                    t = tot.setdefault(a, [0, 0, 0, 0.0])
                    t[0] += int(m)
                    t[3] += float(d)
            for col, table in ((1, "clicks"), (2, "scrolls")):
                where, args = self._where(session_ids, since, until, "t")
                for a, n in self._db.execute(f"SELECT app, COUNT(*) FROM {table} WHERE {where} GROUP BY app", args):
                    tot.setdefault(a, [0, 0, 0, 0.0])[col] += int(n)
        out = [AppTotals(self.app_name(a), *v) for a, v in tot.items() if (app_ids is None or a in app_ids) and (v[0] or v[1] or v[2] or v[3])]
        return sorted(out, key=lambda t: (-t.moves, -t.clicks, t.app or ""))

    def _where(self, session_ids: Sequence[int], since: float | None, until: float | None, tcol: str, app_ids: list[int] | None = None) -> tuple[str, list]:
        """WHERE for the exact-time tables (clicks, scrolls)."""
        marks = ",".join("?" * len(session_ids))
        sql = f"session_id IN ({marks})"
        args: list = [int(i) for i in session_ids]
        if since is not None:
            sql += f" AND {tcol} >= ?"
            args.append(since)
        if until is not None:
            sql += f" AND {tcol} < ?"
            args.append(until)
        if app_ids is not None:
            sql += f" AND app IN ({','.join('?' * len(app_ids))})"
            args += app_ids
        return sql, args

    def clicks(self, session_ids: Sequence[int], since: float | None = None, until: float | None = None,
               apps: Sequence[str | None] | None = None) -> list[tuple[float, int, int, str]]:
        where, args = self._where(session_ids, since, until, "t", self.app_filter(session_ids, apps))
        return self._db.execute(f"SELECT t, x, y, button FROM clicks WHERE {where} ORDER BY t", args).fetchall()

    def scrolls(self, session_ids: Sequence[int], since: float | None = None, until: float | None = None,
                apps: Sequence[str | None] | None = None) -> list[tuple[float, int, int, int, int]]:
        where, args = self._where(session_ids, since, until, "t", self.app_filter(session_ids, apps))
        return self._db.execute(f"SELECT t, x, y, dx, dy FROM scrolls WHERE {where} ORDER BY t", args).fetchall()

    def iter_position_rows(self, session_ids: Sequence[int], since: float | None = None, until: float | None = None,
                           apps: Sequence[str | None] | None = None, chunk: int = 100_000) -> Iterator[list[tuple]]:
        """The stored rows themselves, (session, period_start, app, x, y, count, dwell), in chunks (for dump)."""
        app_ids = self.app_filter(session_ids, apps)
        for sid in session_ids:
            plen = self.session_row(sid)[8]
            q = "SELECT session_id, period, app, x, y, count, dwell FROM positions WHERE session_id=?"
            args: list = [int(sid)]
            if since is not None:
                q += " AND period > ?"
                args.append(since - plen)
            if until is not None:
                q += " AND period < ?"
                args.append(until)
            if app_ids is not None:
                q += f" AND app IN ({','.join('?' * len(app_ids))})"
                args += app_ids
            cur = self._db.execute(q + " ORDER BY period, app, x, y", args)
            while True:
                rows = cur.fetchmany(chunk)
                if not rows:
                    break
                yield [(s, p, self.app_name(a), x, y, c, d) for s, p, a, x, y, c, d in rows]

    def event_rows(self, table: str, session_ids: Sequence[int], since: float | None = None, until: float | None = None,
                   apps: Sequence[str | None] | None = None) -> list[tuple]:
        """clicks as (session, t, app, x, y, button) or scrolls as (session, t, app, x, y, dx, dy), by time."""
        if table not in ("clicks", "scrolls"):
            raise ValueError(table)
        cols = "x, y, button" if table == "clicks" else "x, y, dx, dy"
        where, args = self._where(session_ids, since, until, "t", self.app_filter(session_ids, apps))
        return [(r[0], r[1], self.app_name(r[2]), *r[3:]) for r in self._db.execute(f"SELECT session_id, t, app, {cols} FROM {table} WHERE {where} ORDER BY t", args)]

    def layouts(self, session_id: int) -> list[tuple[float, Canvas]]:
        return [(t, Canvas.from_json(c)) for t, c in self._db.execute("SELECT t, canvas FROM layouts WHERE session_id=? ORDER BY t", (session_id,))]

    def screenshots(self, session_id: int) -> list[tuple[int, float, bytes]]:
        """(monitor, t, png) rows, oldest first."""
        return [(m, t, bytes(p)) for m, t, p in self._db.execute("SELECT monitor, t, png FROM screenshots WHERE session_id=? ORDER BY t, monitor", (session_id,))]

    def hotspots(self, session_ids: Sequence[int], n: int = 5, positions: Positions | None = None) -> list[list[int]]:
        p = self.positions(session_ids) if positions is None else positions
        if not len(p):
            return []
        top = np.argpartition(-p.count, n)[:n + 1] if len(p) > n + 1 else np.arange(len(p))
        # Ties at the cut: keep every position whose count reaches the n-th, then order exactly.
        cut = np.sort(p.count[top])[::-1][min(n, len(top)) - 1]
        top = np.flatnonzero(p.count >= cut)
        order = top[np.lexsort((p.y[top], p.x[top], -p.count[top]))][:n]
        return [[int(p.x[i]), int(p.y[i]), int(p.count[i])] for i in order if p.count[i] > 0]

    def clicks_by_button(self, session_ids: Sequence[int], since: float | None = None, until: float | None = None) -> dict[str, int]:
        where, args = self._where(session_ids, since, until, "t")
        return {b: int(c) for b, c in self._db.execute(f"SELECT button, COUNT(*) FROM clicks WHERE {where} GROUP BY button ORDER BY button", args)}

    def distinct_positions(self, session_ids: Sequence[int], positions: Positions | None = None) -> int:
        p = self.positions(session_ids) if positions is None else positions
        return int(np.count_nonzero(p.count > 0))

    def timeline(self, session_ids: Sequence[int]) -> list[tuple[int, int, int, float, int]]:
        """(period start, period seconds, moves, dwell seconds, clicks) per stored period of the sessions, oldest first."""
        where, args = self._where(session_ids, None, None, "period")
        moves = self._db.execute(
            f"SELECT period, (SELECT period_seconds FROM sessions WHERE id=session_id) AS n, SUM(count), SUM(dwell)"
            f" FROM positions WHERE {where} GROUP BY period, n ORDER BY period, n", args).fetchall()
        where, args = self._where(session_ids, None, None, "t")
        clicks = self._db.execute(
            f"SELECT CAST(t / n AS INTEGER) * n AS p, n, COUNT(*) FROM (SELECT t, (SELECT period_seconds FROM sessions WHERE id=session_id) AS n"
            f" FROM clicks WHERE {where}) GROUP BY p, n", args).fetchall()
        totals: dict[tuple[int, int], tuple[int, float]] = {(int(p), int(n)): (int(m), float(d)) for p, n, m, d in moves}
        n_clicks: dict[tuple[int, int], int] = {(int(p), int(n)): int(c) for p, n, c in clicks}
        keys = sorted(set(totals) | set(n_clicks))
        return [(p, n, totals.get((p, n), (0, 0.0))[0], totals.get((p, n), (0, 0.0))[1], n_clicks.get((p, n), 0)) for p, n in keys]


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


# -- opening safely and saying why not (issue 11) ---------------------------------------
# Everything a file must pass before SQLite writes a byte to it, and the real cause of a
# failure in words a user can act on (a full disk is not "not a trackheat store").

TIME_RANGE = (0.0, 4102444800.0)  # epoch seconds a stored time may take: 1970-01-01 .. 2100-01-01 (UTC)
COORD_LIMIT = 1 << 31  # |x|, |y| in pixels (as the importers' own limit): far past any desktop, far from int64 overflow
COUNT_LIMIT = 1 << 40  # one row's count (a trillion events)
SECONDS_LIMIT = 1e10  # dwell, active and idle seconds, distance in pixels: finite and below this


def _check_owned(path: Path, what: str) -> None:
    """Refuse a file another user could have planted or can change: a symlink (dangling, or
    to a file that is not ours), another user's file, a group/world-writable one."""
    if not hasattr(os, "geteuid"):  # Windows: ACLs, not modes
        return
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    me = os.geteuid()
    if stat.S_ISLNK(st.st_mode):
        try:
            target = os.stat(path)
        except OSError:
            raise UserError(f"{path}: {what} is a symlink to {os.readlink(path)!r}, which does not exist; refusing to create "
                            "a file through it (remove the link, or give the real path)") from None
        if st.st_uid != me or target.st_uid != me:
            raise UserError(f"{path}: {what} is a symlink to another user's file or made by another user; refusing to follow it "
                            "(remove the link, or give the real path)")
        st = target
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{path}: {what} is not a regular file")
    if st.st_uid != me:
        raise UserError(f"{path}: {what} belongs to another user (uid {st.st_uid}); trackheat only uses files of the user "
                        "running it (use a path of your own, or have the owner `chown` it to you)")
    if st.st_mode & 0o022:
        who = "everyone" if st.st_mode & 0o002 else "its group"
        raise UserError(f"{path}: {what} is writable by {who}, so anyone could change it; fix it with: chmod 600 {path}")


def _ro_uri(path: Path, immutable: bool = False) -> str:
    from urllib.parse import quote

    return f"file:{quote(str(path.absolute()))}?{'immutable=1' if immutable else 'mode=ro'}"


def _connect_ro(path: Path) -> sqlite3.Connection:
    """A read-only connection. mode=ro needs the -shm file or a writable directory for a WAL
    file; when neither, immutable=1 (nobody can be writing to a file in a read-only place)."""
    db = sqlite3.connect(_ro_uri(path), uri=True, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    try:
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError as e:
        db.close()
        text = str(e).lower()
        # immutable=1 takes no locks: only where nobody can be writing (a read-only directory);
        # elsewhere it could read a file another process is creating, half-written.
        if ("unable to open" not in text and "readonly" not in text) or os.access(path.parent, os.W_OK):
            raise
    return sqlite3.connect(_ro_uri(path, immutable=True), uri=True, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)


def _probe(path: Path) -> int:
    """The file's schema version, read without writing anything; UserError unless it is a
    trackheat store, a newer one, or new (empty file or empty database: version 0)."""
    if path.stat().st_size == 0:
        return 0
    try:
        db = _connect_ro(path)
        try:
            db.execute("BEGIN")  # both reads from one snapshot: another process may be creating the store
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            db.execute("COMMIT")
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        raise describe_error(e, path) from None
    if version == 0 and not tables:
        return 0  # an empty SQLite file: nothing to lose
    if version <= 0 or "sessions" not in tables:
        raise UserError(f"{path}: not a trackheat store (an SQLite database of something else, schema {version}); "
                        "trackheat leaves it untouched")
    if version > SCHEMA_VERSION:
        raise UserError(f"{path}: made by a newer trackheat (schema {version} > {SCHEMA_VERSION}); upgrade trackheat")
    return int(version)


def _wal(db: sqlite3.Connection) -> None:
    """Switch to WAL, waiting for concurrent first opens: this pragma does not go through the
    busy handler, and several processes creating one store at once got "database is locked"."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    delay = 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL").fetchone()
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e).lower() or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _open_checked(path: Path, *, create: bool, readonly: bool, for_reading: bool) -> tuple[sqlite3.Connection, bool]:
    """Owner and mode checks, then a read-only look, then (only for a trackheat store or a
    new file, and only when writing is possible and wanted) a read-write connection.
    Returns the connection and whether it may write."""
    for suffix in ("", "-wal", "-shm"):
        _check_owned(path.with_name(path.name + suffix), "the store" if not suffix else f"the store's {suffix} file")
    if not os.path.lexists(path):
        if not create:
            raise UserError(f"{path}: no such store (nothing recorded or imported yet?)")
        try:
            _create_private(path)
        except OSError as e:
            raise UserError(f"{path}: cannot create the store ({e.strerror or e})") from None
        _check_owned(path, "the store")
    writable = not readonly and os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)
    if not writable and not for_reading:
        where = "the file" if not os.access(path, os.W_OK) else "its directory"
        raise UserError(f"{path}: read-only ({where} is not writable by this user), and this command writes to the store")
    version = _probe(path)
    if not writable:
        if version == 0:  # any SQLite file: trackheat's schema starts at 1
            raise UserError(f"{path}: not a trackheat store (an SQLite database without trackheat's schema, or empty)")
        try:
            return _connect_ro(path), False
        except sqlite3.Error as e:
            raise describe_error(e, path) from None
    try:
        db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as e:
        raise describe_error(e, path) from None
    try:
        _wal(db)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as e:
        db.close()
        raise describe_error(e, path) from None
    return db, True


def _lock_holders(path: Path) -> list[str]:
    """Who holds a lock on the store or its -wal/-shm (Linux /proc/locks): 'PID 123 (trackheat)'."""
    inodes = set()
    for suffix in ("", "-wal", "-shm"):
        try:
            inodes.add(os.stat(path.with_name(path.name + suffix)).st_ino)
        except OSError:
            pass
    found: list[str] = []
    try:
        with open("/proc/locks") as f:
            lines = f.readlines()
    except OSError:
        return found
    for line in lines:
        parts = line.split()
        try:
            i = parts.index("ADVISORY") if "ADVISORY" in parts else parts.index("MANDATORY")
            pid, dev_ino = int(parts[i + 2]), parts[i + 3]
            ino = int(dev_ino.rsplit(":", 1)[1])
        except (ValueError, IndexError):
            continue
        if ino in inodes and pid != os.getpid():
            try:
                with open(f"/proc/{pid}/comm") as c:
                    name = c.read().strip()
            except OSError:
                name = "?"
            label = f"PID {pid} ({name})"
            if label not in found:
                found.append(label)
    return found


def describe_error(e: BaseException, path: Path) -> UserError:
    """A store failure as one line naming its real cause: a full disk, a read-only file or
    directory, a lock held by another process, a file that is not a trackheat store."""
    text = str(e)
    low = text.lower()
    if "full" in low:
        return UserError(f"{path}: the disk is full ({text}); the last write was rolled back; free some space and retry")
    if "readonly" in low or "read-only" in low:
        return UserError(f"{path}: read-only: the file or its directory is not writable by this user ({text})")
    if "locked" in low or "busy" in low:
        holders = _lock_holders(path)
        who = ", ".join(holders) if holders else "another process"
        return UserError(f"{path}: locked by {who} for more than {BUSY_TIMEOUT:g} s; retry when it is done")
    if "not a database" in low or "malformed" in low or "encrypted" in low:
        return UserError(f"{path}: not a trackheat store, or damaged ({text})")
    if "unable to open" in low:
        return UserError(f"{path}: cannot open it ({text}); check that it and its directory exist and are readable")
    if "disk i/o" in low:
        return UserError(f"{path}: disk I/O error ({text}); the last write was rolled back")
    return UserError(f"{path}: {text}")


def _check_range(src: str, what: str, values, lo: float, hi: float) -> None:
    a = np.asarray(values, dtype=np.float64) if not isinstance(values, np.ndarray) or values.dtype.kind not in "iu" else values
    if not len(a):
        return
    if a.dtype.kind == "f":
        bad = ~np.isfinite(a) | (a < lo) | (a > hi)
    else:
        bad = (a < lo) | (a > hi)
    if bad.any():
        v = a[np.argmax(bad)]
        raise UserError(f"{src}: {what} {float(v)!r} is out of range ({lo:g} .. {hi:g}); nothing was imported")


def check_imported(s: ImportedSession) -> None:
    """Every value an imported session would store: finite and in its column's range.

    One `Infinity` timestamp once stored `started=-inf`, and every later `sessions`,
    `stats` and `export` on that store crashed; a store never takes such a value."""
    src = s.source
    t0, t1 = TIME_RANGE
    for what, v in (("start time", s.started), ("end time", s.ended)):
        if v is not None:
            _check_range(src, what, [v], t0, t1)
    for what, v in (("active seconds", s.active_seconds), ("idle seconds", s.idle_seconds), ("distance", s.distance)):
        if v is not None:
            _check_range(src, what, [v], 0.0, SECONDS_LIMIT)
    n = len(s.xs)
    cols: list[tuple[str, Any, float, float]] = [("x", s.xs, -COORD_LIMIT, COORD_LIMIT), ("y", s.ys, -COORD_LIMIT, COORD_LIMIT)]
    if s.counts is not None:
        cols.append(("count", s.counts, 0, COUNT_LIMIT))
    if s.dwell is not None:
        cols.append(("dwell", s.dwell, 0.0, SECONDS_LIMIT))
    if s.ts is not None:
        cols.append(("timestamp", s.ts, t0, t1))
    for what, col, lo, hi in cols:
        if len(col) != n:
            raise UserError(f"{src}: {len(col)} {what} values for {n} positions; nothing was imported")
        _check_range(src, what, col, lo, hi)
    for rows, what in ((s.clicks, "click"), (s.scrolls, "scroll")):
        if rows:
            a = np.asarray([r[:3] for r in rows], dtype=np.float64)
            _check_range(src, f"{what} time", a[:, 0], t0, t1)
            _check_range(src, f"{what} position", a[:, 1:3].ravel(), -COORD_LIMIT, COORD_LIMIT)
    if s.scrolls:
        _check_range(src, "scroll step", np.asarray([r[3:5] for r in s.scrolls], dtype=np.float64).ravel(), -COORD_LIMIT, COORD_LIMIT)
