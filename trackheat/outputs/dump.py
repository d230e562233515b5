"""`trackheat dump`: the counts a heatmap is drawn from, in CSV, JSON or Parquet.

Three tables, with these exact column names (the `aggregate` command and the
README's pandas example read them):
- positions: session, period_start, app, x, y, count, dwell
  (one row per stored (session, period, application, pixel); period_start in
  epoch seconds, dwell in seconds, app empty/null for events with no application);
- clicks: session, t, app, x, y, button;
- scrolls: session, t, app, x, y, dx, dy.
CSV and Parquet write positions to the file named and the others beside it
(`OUT.clicks.csv`, `OUT.scrolls.csv`); JSON writes one object holding the three.
Rows are streamed in chunks, so a month of positions does not sit in memory.
Files are created 0600 like the store: they hold the same data.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from trackheat.errors import UserError

if TYPE_CHECKING:
    from trackheat.store import Store

FORMATS = ("csv", "json", "parquet")
POSITION_COLUMNS = ("session", "period_start", "app", "x", "y", "count", "dwell")
CLICK_COLUMNS = ("session", "t", "app", "x", "y", "button")
SCROLL_COLUMNS = ("session", "t", "app", "x", "y", "dx", "dy")


@dataclass
class DumpResult:
    files: list[Path]
    positions: int  # rows
    moves: int  # sum of count
    clicks: int
    scrolls: int


def sibling(out: Path, table: str) -> Path:
    """Where the clicks or scrolls of a CSV/Parquet dump go: beside it, named after it."""
    return out.with_name(f"{out.stem}.{table}{out.suffix}")


def _open_private(path: Path, binary: bool = False) -> IO[Any]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    if binary:
        return os.fdopen(fd, "wb")
    return os.fdopen(fd, "w", newline="", encoding="utf-8")


def require_pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise UserError("Parquet needs pyarrow: pip install 'trackheat[parquet]'", param="format") from None
    return pyarrow


def dump(store: Store, out: str | Path, fmt: str = "csv", *, session: str | Sequence[int] = "last", since: float | None = None,
         until: float | None = None, apps: Sequence[str | None] | None = None) -> DumpResult:
    """Write the selection's positions, clicks and scrolls; returns what was written."""
    if fmt not in FORMATS:
        raise UserError(f"expected one of {', '.join(FORMATS)}, got {fmt!r}", param="format")
    if since is not None and until is not None and until <= since:
        raise UserError("`until` must be later than `since`", param="until")
    pa = require_pyarrow() if fmt == "parquet" else None
    ids = store.resolve(session)
    store.app_filter(ids, apps)  # an unknown application fails before any file is made
    out = Path(out)
    if out.is_dir():
        raise UserError(f"{out}: is a folder; give a file name", param="out")
    if not out.parent.is_dir():
        raise UserError(f"{out.parent}: no such folder", param="out")
    chunks = store.iter_position_rows(ids, since, until, apps)
    clicks = store.event_rows("clicks", ids, since, until, apps)
    scrolls = store.event_rows("scrolls", ids, since, until, apps)
    if fmt == "csv":
        files, n, moves = _csv(out, chunks, clicks, scrolls)
    elif fmt == "json":
        files, n, moves = _json(out, chunks, clicks, scrolls)
    else:
        files, n, moves = _parquet(pa, out, chunks, clicks, scrolls)
    return DumpResult(files, n, moves, len(clicks), len(scrolls))


def positions_csv(f: IO[str], chunks: Iterable[list[tuple]]) -> tuple[int, int]:
    """The positions table as CSV into an open text file (newline=""): (rows, moves).
    The one writer of it: `dump --format csv` and the viewer's counts download."""
    n = moves = 0
    w = csv.writer(f)
    w.writerow(POSITION_COLUMNS)
    for rows in chunks:
        w.writerows((s, p, "" if a is None else a, x, y, c, repr(float(d))) for s, p, a, x, y, c, d in rows)
        n += len(rows)
        moves += sum(r[5] for r in rows)
    return n, moves


def _csv(out: Path, chunks: Iterator[list[tuple]], clicks: list, scrolls: list) -> tuple[list[Path], int, int]:
    with _open_private(out) as f:
        n, moves = positions_csv(f, chunks)
    files = [out]
    for table, cols, rows in (("clicks", CLICK_COLUMNS, clicks), ("scrolls", SCROLL_COLUMNS, scrolls)):
        path = sibling(out, table)
        with _open_private(path) as f:
            w = csv.writer(f)
            w.writerow(cols)
            w.writerows((r[0], repr(float(r[1])), "" if r[2] is None else r[2], *r[3:]) for r in rows)
        files.append(path)
    return files, n, moves


def _json(out: Path, chunks: Iterator[list[tuple]], clicks: list, scrolls: list) -> tuple[list[Path], int, int]:
    n = moves = 0
    with _open_private(out) as f:
        f.write('{"positions": [')
        first = True
        for rows in chunks:
            for r in rows:
                f.write(("" if first else ",") + "\n" + json.dumps(dict(zip(POSITION_COLUMNS, r))))
                first = False
            n += len(rows)
            moves += sum(r[5] for r in rows)
        for table, cols, rows in (("clicks", CLICK_COLUMNS, clicks), ("scrolls", SCROLL_COLUMNS, scrolls)):
            f.write(f'\n], "{table}": [')
            f.write(",".join("\n" + json.dumps(dict(zip(cols, r))) for r in rows))
        f.write("\n]}\n")
    return [out], n, moves


def _parquet(pa, out: Path, chunks: Iterator[list[tuple]], clicks: list, scrolls: list) -> tuple[list[Path], int, int]:
    import pyarrow.parquet as pq

    schema = pa.schema([("session", pa.int64()), ("period_start", pa.int64()), ("app", pa.string()), ("x", pa.int64()),
                        ("y", pa.int64()), ("count", pa.int64()), ("dwell", pa.float64())])
    n = moves = 0
    with _open_private(out, binary=True) as f, pq.ParquetWriter(f, schema) as w:
        for rows in chunks:
            cols = list(zip(*rows))
            w.write_table(pa.table([pa.array(c, type=schema.field(i).type) for i, c in enumerate(cols)], schema=schema))
            n += len(rows)
            moves += sum(cols[5])
        if n == 0:
            w.write_table(schema.empty_table())
    files = [out]
    for table, schema2, rows in (
        ("clicks", pa.schema([("session", pa.int64()), ("t", pa.float64()), ("app", pa.string()), ("x", pa.int64()), ("y", pa.int64()), ("button", pa.string())]), clicks),
        ("scrolls", pa.schema([("session", pa.int64()), ("t", pa.float64()), ("app", pa.string()), ("x", pa.int64()), ("y", pa.int64()),
                               ("dx", pa.int64()), ("dy", pa.int64())]), scrolls),
    ):
        path = sibling(out, table)
        columns: list = list(zip(*rows)) if rows else [[] for _ in schema2]
        with _open_private(path, binary=True) as f:
            pq.write_table(pa.table([pa.array(list(c), type=schema2.field(i).type) for i, c in enumerate(columns)], schema=schema2), f)
        files.append(path)
    return files, n, moves
