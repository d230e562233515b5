"""Column access to delimited eye-tracker exports, fast enough for million-row files.

Eye trackers sample at 200 Hz and more: an hour of Neon gaze is ~700,000
rows. The csv module spends ~5 s per million 10-column rows on a small
machine, most of it building Python objects for cells nobody reads. Exports
from Pupil Labs and Tobii are plain (no quotes, one record per line), so the
fast path finds the delimiters with numpy over the raw bytes and cuts only the
wanted columns out as fixed-width byte strings. Anything unusual (quotes,
ragged rows) takes the csv module path, which also gives exact line numbers
for the error message.
"""

from __future__ import annotations

import csv
import gc
import mmap
import os
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import as_strided

from trackheat.errors import BadInput

TRUE = (b"1", b"1.0", b"true", b"True", b"TRUE")
FALSE = (b"0", b"0.0", b"false", b"False", b"FALSE", b"")


class Table:
    """A delimited file's header and its columns as numpy byte-string arrays."""

    def __init__(self, path: Path, header: list[str], columns: dict[int, np.ndarray] | None, data, row_starts: np.ndarray, delimiter: str) -> None:
        self.path = path
        self.header = header
        self._names = {name.strip().lower(): i for i, name in reversed(list(enumerate(header)))}
        self._cols = columns  # slow path: every column, already split
        self._data = data
        self._row_starts = row_starts  # byte offset of each data row (for line numbers)
        self.delimiter = delimiter
        self._fast: tuple | None = None
        self.n = len(row_starts)

    # -- names -----------------------------------------------------------
    def has(self, name: str) -> bool:
        return name.lower() in self._names

    def find(self, *names: str, prefix: bool = False) -> str | None:
        """The first header name equal to (or, with prefix, starting with) one of `names`."""
        for want in names:
            w = want.lower()
            if w in self._names:
                return self.header[self._names[w]].strip()
            if prefix:
                for h in self.header:
                    hl = h.strip().lower()
                    if hl.startswith(w + " [") or hl.startswith(w + " ("):
                        return h.strip()
        return None

    def require(self, names: list[str], fmt: str) -> None:
        missing = [n for n in names if not self.has(n)]
        if missing:
            raise BadInput(self.path, f"missing column{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)} for format {fmt} (header: {self.delimiter.join(h.strip() for h in self.header)[:200]})", 1)

    def line_of(self, row: int) -> int:
        """1-based line number in the file of data row `row` (for error messages only)."""
        return bytes(self._data[: int(self._row_starts[row])]).count(b"\n") + 1

    # -- cells -----------------------------------------------------------
    def raw(self, name: str, first: int | None = None, rows: np.ndarray | None = None) -> np.ndarray:
        """A column as an array of bytes strings (fixed width, numpy dtype S).

        `first`: only that many rows; `rows`: only these (ascending) rows, cut
        without cutting the rest (a million-row export's 30,000 fixations).
        """
        if not self.has(name):
            raise BadInput(self.path, f"missing column {name!r}", 1)
        i = self._names[name.lower()]
        pick = slice(None, first) if rows is None else rows
        if self._cols is not None:
            return self._cols[i][pick]
        if first is not None or rows is not None:
            s, e = self._bounds(i)
            return self._cut_rows(s[pick], e[pick])
        return self._cut(i)

    def _bounds(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        assert self._fast is not None  # _bounds is only used on tables read by the fast path
        a, pad, starts, ends, inner = self._fast
        s = starts if i == 0 else inner[:, i - 1] + 1
        e = ends if i == len(self.header) - 1 else inner[:, i]
        return np.minimum(s, e), e  # a ragged row's missing last cell: empty, at its line end

    def _cut(self, i: int) -> np.ndarray:
        return self._cut_rows(*self._bounds(i))

    def _cut_rows(self, s: np.ndarray, e: np.ndarray) -> np.ndarray:
        assert self._fast is not None
        a = self._fast[0]
        lengths = e - s
        n = len(s)
        w = max(int(lengths.max()) if n else 1, 1)
        if w > MAX_FIELD or (n * w > max(MAX_CUT_BYTES, 4 * len(a)) and w > MAX_CELL):
            # One huge cell would make the fixed-width column n times its size: refuse it instead.
            k = int(np.argmax(lengths))
            raise BadInput(self.path, f"a cell of {int(lengths[k]):,} bytes (more than {MAX_CELL:,}): not an export's value", self.line_of(k))
        inside = len(a) - w  # a w-byte window starting at or before this ends inside the data
        k = int(np.searchsorted(s, inside, side="right")) if n else 0  # rows are in file order
        windows = as_strided(a, shape=(max(inside + 1, 0), w), strides=(1, 1))
        if k == n:
            cells = windows[s]  # one contiguous w-byte slice per row
        else:  # the file's last cells: cut from a zero-padded copy of its tail
            cells = np.empty((n, w), np.uint8)
            cells[:k] = windows[s[:k]]
            s0 = int(s[k])
            tail = np.zeros(len(a) - s0 + w, np.uint8)
            tail[: len(a) - s0] = a[s0:]
            cells[k:] = as_strided(tail, shape=(len(a) - s0 + 1, w), strides=(1, 1))[s[k:] - s0]
        if (lengths != w).any():
            cells *= np.arange(w, dtype=lengths.dtype)[None, :] < lengths[:, None]  # zero past each cell's end: S dtype ends at trailing NULs
        return cells.view(f"S{w}").ravel()

    def groups(self, name: str) -> tuple[list[str], np.ndarray | None]:
        """Distinct values of an id column in order of appearance, and each row's group.

        The common case (one recording per file) is checked without building
        the strings; returns (values, None) when every row holds the same one.
        """
        if not self.has(name):
            raise BadInput(self.path, f"missing column {name!r}", 1)
        if not self.n:
            return [], None
        if self._cols is None:
            # Block by block: a million 36-byte UUIDs would otherwise be cut (and compared)
            # into column-sized temporaries, just to find they are all the same.
            s, e = self._bounds(self._names[name.lower()])
            first = self._cut_rows(s[:1], e[:1])[0]
            if all((self._cut_rows(s[k : k + GROUP_BLOCK], e[k : k + GROUP_BLOCK]) == first).all() for k in range(0, self.n, GROUP_BLOCK)):
                return [first.decode("utf-8", "replace")], None
        return groups_of(self.raw(name))

    def floats(self, name: str, *, decimal_comma: bool = False, first: int | None = None, rows: np.ndarray | None = None) -> np.ndarray:
        """A numeric column (or its `first`/`rows` rows) as float64; empty cells and NaN are NaN, anything else is BadInput."""
        col = self.raw(name, first, rows)
        if decimal_comma and len(col) and (col.view(np.uint8) == 44).any():  # replace() costs ~50 ms per million cells: only when needed
            col = np.char.replace(col, b",", b".")
        out, ok = _plain_floats(col)
        if not ok.all():
            bad = np.flatnonzero(~ok)
            out[bad] = self._floats_slow(name, col[bad], bad if rows is None else np.asarray(rows)[bad])
        return out

    def _floats_slow(self, name: str, col: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """numpy's own conversion for the cells the plain path leaves (NaN, exponents, spaces, bad cells)."""
        col = col.copy()
        empty = col == b""
        if empty.any():
            col = col.astype(f"S{max(col.dtype.itemsize, 3)}")
            col[empty] = b"nan"
        try:
            return col.astype(np.float64)
        except ValueError:
            for k, cell in enumerate(col.tolist()):
                try:
                    float(cell)
                except ValueError:
                    shown = cell.decode("utf-8", "replace")
                    shown = shown if len(shown) <= 40 else shown[:37] + "..."
                    raise BadInput(self.path, f"{name} is not a number: {shown!r}", self.line_of(int(rows[k]))) from None
            raise

    def ints(self, name: str) -> np.ndarray:
        """A whole-number column as int64 (nanosecond timestamps do not fit a float exactly)."""
        col = self.raw(name)
        fast = _plain_ints(col)
        if fast is not None:
            return fast
        try:
            return col.astype(np.int64)
        except (ValueError, OverflowError):
            f = self.floats(name)  # names the bad cell, or accepts 1.0-style integers
            if np.isnan(f).any():
                k = int(np.flatnonzero(np.isnan(f))[0])
                raise BadInput(self.path, f"{name} is empty", self.line_of(k)) from None
            big = ~(np.abs(f) < 2.0**63)
            if big.any():  # 20-digit timestamps: no clock writes them
                k = int(np.flatnonzero(big)[0])
                raise BadInput(self.path, f"{name} is out of range: {col[k].decode('utf-8', 'replace')[:40]!r}", self.line_of(k)) from None
            return f.astype(np.int64)

    def bools(self, name: str) -> np.ndarray:
        """True/False, 1/0, 1.0/0.0 (Pupil Labs writes all three); empty is False."""
        col = self.raw(name)
        out, known = _known_bools(col)
        if known.all():  # the usual file: no cell needs stripping (np.char.strip costs more than the rest)
            return out
        col = np.char.strip(col)
        out, known = _known_bools(col)
        if not known.all():
            k = int(np.flatnonzero(~known)[0])
            try:
                vals = col[~known].astype(np.float64)
            except ValueError:
                shown = col[k].decode("utf-8", "replace")[:40]
                raise BadInput(self.path, f"{name} is not a boolean (True/False, 1/0): {shown!r}", self.line_of(k)) from None
            out[~known] = vals >= 0.5
        return out



# -- bulk conversion of plain cells ----------------------------------------------
# numpy's bytes -> float64 cast goes through a general parser cell by cell
# (~0.25 s per million cells here); exports write plain decimals, which are
# read column-wise below at a fraction of that. Cells of any other shape (NaN,
# exponents, spaces, signs other than a leading minus, more digits than the
# exact path allows, garbage) go to numpy's cast, which also names bad cells.
SCAN_WIDTH = 32  # bytes: the widest cell the plain-number scan looks at (19 digits, a dot and a sign fit)
EXACT_DIGITS = 15  # a mantissa under 10**15 < 2**53 divided by 10**k (k <= 22) is correctly rounded: the same float as float(text)


def _scan(col: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits of `[-]digits[.digits]` cells: (mantissa uint64, digits, digits after the dot, dots, minus, plain).

    The mantissa is exact for up to 19 digits; `plain` is False where a cell
    holds any other byte, or a byte after its end.
    """
    n, w = len(col), col.dtype.itemsize
    if w > SCAN_WIDTH:
        # No plain number is this wide: scan the short cells only, in a column of width
        # SCAN_WIDTH. The loop below runs once per character position, so one 1 MB cell
        # made the whole column cost a million numpy passes (14 s; issue 11).
        short = np.char.str_len(col) <= SCAN_WIDTH
        parts = _scan(col[short].astype(f"S{SCAN_WIDTH}"))
        full = []
        for part in parts:
            a = np.zeros(n, part.dtype)
            a[short] = part
            full.append(a)
        return full[0], full[1], full[2], full[3], full[4], full[5]
    bt = np.ascontiguousarray(col.view(np.uint8).reshape(n, w).T)  # one contiguous row per character position
    mant = np.zeros(n, np.uint64)
    ndig = np.zeros(n, np.uint8)
    frac = np.zeros(n, np.uint8)
    dots = np.zeros(n, np.uint8)
    bad = np.zeros(n, bool)
    ended = np.zeros(n, bool)
    minus = bt[0] == 45 if w else np.zeros(n, bool)
    d = np.empty(n, np.uint8)
    isd = np.empty(n, bool)
    okc = np.empty(n, bool)
    for j in range(w):
        c = bt[j]
        np.subtract(c, 48, out=d)
        np.less(d, 10, out=isd)
        isdot = c == 46
        isnul = c == 0
        np.logical_or(isd, isdot, out=okc)
        okc |= isnul
        if j == 0:
            okc |= minus
        bad |= ~okc
        bad |= ended & ~isnul  # a byte after a NUL: not a cell numpy would read the same way
        ended |= isnul
        np.multiply(mant, 10, out=mant, where=isd)
        np.add(mant, d, out=mant, where=isd, casting="unsafe")
        ndig += isd
        frac += isd & (dots > 0)
        dots += isdot
    plain = ~bad & (dots <= 1) & (ndig <= 19)
    return mant, ndig, frac, dots, minus, plain


def _plain_floats(col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 of the plain decimal cells (empty cells: NaN), and which cells those were."""
    mant, ndig, frac, dots, minus, plain = _scan(col)
    empty = plain & (ndig == 0) & (dots == 0) & ~minus
    ok = plain & (ndig >= 1) & (ndig <= EXACT_DIGITS)
    out = mant.astype(np.float64)
    out /= 10.0 ** frac
    np.negative(out, out=out, where=minus)
    out[empty] = np.nan
    return out, ok | empty


def _plain_ints(col: np.ndarray) -> np.ndarray | None:
    """int64 of a column of plain integers, or None if any cell is not one (numpy's cast decides then)."""
    n, w = len(col), col.dtype.itemsize
    if n and w <= 19:  # the usual timestamp column: every cell the same number of digits, nothing else
        digits = np.ascontiguousarray(col.view(np.uint8).reshape(n, w).T)
        digits -= np.uint8(48)
        if (digits < 10).all():
            mant = digits[0].astype(np.uint64)
            for j in range(1, w):
                mant *= np.uint64(10)
                mant += digits[j]
            if (mant <= np.uint64(2**63 - 1)).all():
                return mant.astype(np.int64)
    mant, ndig, frac, dots, minus, plain = _scan(col)
    if not (plain.all() and (dots == 0).all() and (ndig >= 1).all() and (mant <= np.uint64(2**63 - 1)).all()):
        return None
    out = mant.astype(np.int64)
    np.negative(out, out=out, where=minus)
    return out


def _known_bools(col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = np.zeros(len(col), bool)
    known = np.zeros(len(col), bool)
    for v in TRUE:
        m = col == v
        out |= m
        known |= m
    for v in FALSE:
        known |= col == v
    return out, known




def _split_header(line: str, delimiter: str, path: Path | None = None) -> list[str]:
    try:
        header = next(csv.reader([line], delimiter=delimiter))
    except csv.Error as e:
        raise BadInput(path or "file", f"unreadable header ({e})", 1) from None
    if len(header) > MAX_COLUMNS:
        raise BadInput(path or "file", f"a header of {len(header):,} columns (more than {MAX_COLUMNS:,}): not an export", 1)
    return header


MAX_COLUMNS = 5000  # an export's header: Tobii Pro Lab writes ~100 columns
MAX_FIELD = 1 << 20  # bytes in any one cell, whatever the column: refused, never scanned
MAX_CELL = 4096  # bytes: no export writes a longer value; a longer one in a big column is refused, not cut
MAX_CUT_BYTES = 1 << 28  # a column cut up to this size is always allowed
GROUP_BLOCK = 1 << 13  # rows per block (small enough for malloc to reuse one block's memory for the next) when checking that an id column holds one value


def _load(path: Path) -> np.ndarray:
    """The file's bytes, read-only.

    Mapped rather than read: the bytes stay in the page cache where they
    already are, instead of being copied into 140 MB of fresh memory (whose
    page faults and huge-page compaction cost 0.1-0.5 s of system time per
    million-row export here). Files that cannot be mapped (pipes, empty files)
    are read. A file truncated by another program while it is being parsed
    would stop the process (SIGBUS); exports are not written while analysed.
    """
    try:
        with open(path, "rb") as fh:
            try:
                size = os.fstat(fh.fileno()).st_size
                if size > 0:
                    return np.frombuffer(mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ), np.uint8)
            except (OSError, ValueError):
                pass
            return np.frombuffer(fh.read(), np.uint8)
    except OSError as e:
        raise BadInput(path, f"cannot read: {e.strerror}") from None


CHUNK = 1 << 22  # scan 4 MB at a time: the comparison stays in cache instead of a file-sized temporary


def _low_bytes(a: np.ndarray) -> np.ndarray:
    """Offsets of every byte <= 44: line ends, CR, TAB, space, quotes and commas."""
    kind = np.int32 if len(a) < 2**31 else np.int64  # half the memory (10 offsets a row) for any file under 2 GB
    parts = [(np.flatnonzero(a[i : i + CHUNK] <= 44) + i).astype(kind) for i in range(0, len(a), CHUNK)]
    return np.concatenate(parts) if parts else np.zeros(0, kind)


def sniff_delimiter(header: str) -> str:
    """Tab, semicolon or comma: what a header line is split by (Tobii Pro Lab writes TSV or CSV)."""
    if "\t" in header:
        return "\t"
    return ";" if header.count(";") > header.count(",") else ","


def read_table(path: Path, delimiter: str = ",", ragged: bool = False) -> Table:
    """Read a delimited export: header from the first non-empty line, then the rows.

    `ragged`: a row one cell short of the header (Tobii Pro Lab leaves an
    empty last cell out) is read with that cell empty.
    """
    buf = _load(path)
    skip = 3 if bytes(buf[:3]) == b"\xef\xbb\xbf" else 0
    a = buf[skip:]
    data = a.data  # a memoryview of the array's bytes
    d = ord(delimiter)
    # One pass for both line ends and delimiters: both are <= 44 (',' or TAB).
    low = _low_bytes(a)
    kinds = a[low]
    cr = low[kinds == 13]
    if len(cr):
        nxt = cr + 1
        lone = cr[(nxt >= len(a)) | (a[np.minimum(nxt, len(a) - 1)] != 10)]
        if len(lone):  # CR-only or mixed line ends: a lone CR ends a line too (one copy of the file)
            a = a.copy()
            a[lone] = 10
            data = a.data
            kinds = a[low]
    if delimiter != " " and (kinds == 32).any():
        # Spaces inside cells ("Eye Tracker") are text, not structure: leave them out of the byte scan.
        text = kinds != 32
        low, kinds = low[text], kinds[text]
    regular = _read_regular(path, a, low, kinds, delimiter)
    if regular is not None:
        return regular
    nl = low[kinds == 10]
    delims = low[kinds == d]
    line_starts = np.concatenate(([0], nl + 1))
    line_ends = np.concatenate((nl, [len(a)]))
    # Strip a CR before the LF (Pupil Player on Windows writes CRLF).
    cr = low[kinds == 13]
    if len(cr):
        has_cr = np.isin(line_ends - 1, cr)
        line_ends = line_ends - has_cr
    keep = line_ends > line_starts
    line_starts, line_ends = line_starts[keep], line_ends[keep]
    if not len(line_starts):
        raise BadInput(path, "empty file")
    h0, h1 = int(line_starts[0]), int(line_ends[0])
    try:
        header = _split_header(bytes(a[h0:h1]).decode("utf-8"), delimiter, path)
    except UnicodeDecodeError:
        raise BadInput(path, "header is not UTF-8 text", 1) from None
    ncols = len(header)
    starts, ends = line_starts[1:], line_ends[1:]
    if len(starts):
        # Before any per-cell work: a row of millions of delimiters would become a list of
        # millions of cells in the csv module (100 MB of commas: 2.2 GB).
        # (the row bounds take the offsets' dtype: the other way round numpy copies all offsets)
        cells = np.searchsorted(delims, ends.astype(delims.dtype)) - np.searchsorted(delims, starts.astype(delims.dtype)) + 1
        k = int(np.argmax(cells))
        if cells[k] > max(MAX_COLUMNS, ncols + 1):
            raise BadInput(path, f"{int(cells[k]):,} cells in one row (the header has {ncols})", int(np.searchsorted(nl, starts[k])) + 1)
    fast = not (kinds == 34).any()  # no quotes anywhere
    if fast and len(starts):
        delims = delims[delims >= starts[0]]
        # Every row must hold exactly ncols - 1 delimiters.
        per_row = np.searchsorted(delims, ends) - np.searchsorted(delims, starts)
        short = per_row == ncols - 2
        if ragged and ncols > 1 and short.any() and bool(np.all((per_row == ncols - 1) | short)):
            # A virtual delimiter at the end of each short row: its missing cell is empty.
            delims = np.sort(np.concatenate((delims, ends[short].astype(delims.dtype))), kind="stable")
            per_row = per_row + short
        fast = bool(np.all(per_row == ncols - 1))
    if fast:
        inner = delims.reshape(len(starts), ncols - 1) if len(starts) else np.zeros((0, ncols - 1), np.int64)
        t = Table(path, header, None, data, starts, delimiter)
        t._fast = (a, None, starts, ends, inner)
        return t
    return _read_slow(path, bytes(data), header, delimiter, ragged)


def _read_regular(path: Path, a: np.ndarray, low: np.ndarray, kinds: np.ndarray, delimiter: str) -> Table | None:
    """The usual export, checked in one comparison: a header line, then rows of exactly
    ncols - 1 delimiters and a LF, and no other byte <= 44 (no quotes, CR, spaces, blank lines).

    Then the delimiter offsets are the cell bounds as they stand (a reshape, no
    copy). Anything else returns None for the general path.
    """
    if not len(a) or a[0] in (10, 13):
        return None
    is_nl = kinds == 10
    k = int(np.argmax(is_nl))
    if not is_nl[k] or (kinds[:k] == 13).any() or (kinds[:k] == 34).any():
        return None
    try:
        header = _split_header(bytes(a[: int(low[k])]).decode("utf-8"), delimiter, path)
    except UnicodeDecodeError:
        raise BadInput(path, "header is not UTF-8 text", 1) from None
    ncols = len(header)
    pos, body = low[k + 1 :], kinds[k + 1 :]
    if a[-1] != 10:  # the last row has no line end: give it one at the end of the data
        pos, body = np.concatenate((pos, [len(a)])), np.concatenate((body, [10]))
    n = len(body) // ncols
    if n == 0 or len(body) != n * ncols:
        return None
    grid = body.reshape(n, ncols)
    if not ((grid[:, -1] == 10).all() and (grid[:, :-1] == ord(delimiter)).all()):
        return None
    bounds = pos.reshape(n, ncols)
    ends = bounds[:, -1].copy()
    starts = np.empty(n, np.int64)
    starts[0] = int(low[k]) + 1
    starts[1:] = ends[:-1] + 1
    t = Table(path, header, None, a.data, starts, delimiter)
    t._fast = (a, None, starts, ends, bounds[:, :-1])
    return t


def _rows_or_bad_input(reader, path: Path):
    """A csv reader's rows; its errors (a field past MAX_FIELD, a stray quote) as BadInput."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            text = f"a field longer than {MAX_FIELD:,} bytes" if "field limit" in str(e) else str(e)
            raise BadInput(path, text, reader.line_num) from None
        if len(row) > MAX_COLUMNS:
            raise BadInput(path, f"{len(row):,} cells in one row (more than {MAX_COLUMNS:,})", reader.line_num)
        yield row


def _read_slow(path: Path, data: bytes, header: list[str], delimiter: str, ragged: bool = False) -> Table:
    """The csv module path: quotes, ragged rows; names the first bad line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise BadInput(path, f"not UTF-8 text (byte 0x{data[e.start]:02x})", line) from None
    ncols = len(header)
    rows: list[list[str]] = []
    offsets: list[int] = []
    enabled = gc.isenabled()
    gc.disable()  # millions of small lists: the cyclic GC would rescan them over and over
    try:
        lines = text.splitlines(keepends=True)
        csv.field_size_limit(MAX_FIELD)
        reader = csv.reader(lines, delimiter=delimiter)
        seen_header = False
        pos_of_line = np.cumsum([0] + [len(line.encode("utf-8")) for line in lines])
        for row in _rows_or_bad_input(reader, path):
            if not row or not any(c.strip() for c in row):
                continue
            if not seen_header:
                seen_header = True
                continue
            if ragged and len(row) == ncols - 1:
                row.append("")
            if len(row) != ncols:
                raise BadInput(path, f"expected {ncols} columns ({delimiter.join(h.strip() for h in header)[:120]}), found {len(row)}", reader.line_num)
            rows.append(row)
            offsets.append(int(pos_of_line[reader.line_num - 1]))
        cols = {i: np.array([r[i].encode("utf-8") for r in rows], dtype="S") if rows else np.zeros(0, "S1") for i in range(ncols)}
    finally:
        if enabled:
            gc.enable()
    return Table(path, header, cols, data, np.asarray(offsets, np.int64), delimiter)


def groups_of(col: np.ndarray) -> tuple[list[str], np.ndarray | None]:
    """Distinct byte strings in order of appearance, and each row's group (None: all the same)."""
    if not len(col) or (col == col[0]).all():
        return ([col[0].decode("utf-8", "replace")] if len(col) else []), None
    uniq, first, inverse = np.unique(col, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return [uniq[k].decode("utf-8", "replace") for k in order], rank[inverse.ravel()]
