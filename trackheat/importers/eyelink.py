"""SR Research EyeLink `.asc` files (EDF converted to text by edf2asc).

The format, as the EyeLink 1000 User Manual (section 4, "Data files") and
edf2asc's output define it, one record per line:

- samples: a line starting with the time (ms on the tracker clock, `.5` on
  2 kHz recordings), then tab-separated fields: `x y pupil` for a monocular
  recording, `xl yl pl xr yr pr` for a binocular one, then optional velocity
  (`VEL`), resolution (`RES`) and `INPUT` fields and the flags (`...`); a
  missing value is `.` (blinks, lost tracking).
- events: `SFIX/EFIX <eye> <start> <end> <dur> <x> <y> <pupil>`,
  `SSACC/ESACC`, `SBLINK/EBLINK`, `MSG <time> <text>`, `INPUT`, `BUTTON`.
- `START <time> LEFT|RIGHT ... SAMPLES EVENTS` opens a recording block and
  `END <time> ... RES <xres> <yres>` closes it (RES: pixels per degree).
- `MSG <time> DISPLAY_COORDS <left> <top> <right> <bottom>` (inclusive
  bounds: `0 0 1279 1023` is 1280x1024) and `GAZE_COORDS` give the screen.

One session per recording block (`START`...`END`); a file with samples but no
block (a hand-cut excerpt) is one session. Fixations are the file's `EFIX`
events (weighed by duration) unless samples are asked for; `MSG` lines, apart
from calibration chatter (`!CAL`), are kept in the session's metadata as
`[tracker ms, text]` so a later time filter can cut by trial.

Sample lines are parsed with numpy over the raw bytes (they are ~95 % of a
file); event and message lines, a few per second, line by line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import as_strided

from trackheat.errors import BadInput, UserError
from trackheat.importers.base import Format, ImportedSession, ImportOptions
from trackheat.importers.gaze_build import Points, build
from trackheat.importers.gaze_table import _load, _plain_floats

DEFAULT_DISPLAY = (1920, 1080)  # when the file names no DISPLAY_COORDS/GAZE_COORDS and no size is given
MAX_FIELD = 64  # bytes in one sample field: a longer one is not a sample (and would blow up the column cut)
MAX_MESSAGE = 200  # characters of a MSG kept in metadata
MAX_MESSAGES = 20000  # MSG lines kept per session (the rest are counted)
EYES = ("left", "right", "mean")
COORDS = re.compile(rb"^MSG\s+[\d.]+\s+(?:-?\d+\s+)?(DISPLAY_COORDS|GAZE_COORDS)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)")


def _detect(header: str, path: Path) -> bool:
    return header.startswith("** CONVERTED FROM") or (path.suffix.lower() == ".asc" and (header.startswith("**") or header.startswith("MSG")))


@dataclass
class _Block:
    """One recording block: what START and SAMPLES say, and where it lies in the file."""

    line: int  # 0-based line index of START (-1: no START in the file)
    end_line: int  # line index of END (or the file's end)
    eyes: str = ""  # "L", "R" or "LR"
    start_ms: float | None = None
    ppd: list[float] = field(default_factory=list)  # END's RES x, y (pixels per degree)
    size: tuple[int, int] | None = None
    fix: list[tuple[str, float, float, float, float]] = field(default_factory=list)  # (eye, start ms, dur ms, x, y)
    messages: list[list] = field(default_factory=list)
    dropped_messages: int = 0
    blinks: int = 0


def _size(kind: bytes, left: float, top: float, right: float, bottom: float) -> tuple[int, int]:
    """DISPLAY_COORDS / GAZE_COORDS bounds -> (width, height).

    EyeLink writes inclusive bounds (0 0 1279 1023: 1280x1024); some experiment
    software sends the size itself (0 0 1920 1080). Screens are even-sized, so
    an odd span + 1 means the bounds were the size.
    """
    def span(lo: float, hi: float) -> int:
        n = int(round(hi - lo)) + 1
        return n - 1 if n % 2 else n

    return span(left, right), span(top, bottom)


def _lines(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, before any CR) of every line."""
    nl = np.flatnonzero(a == 10)
    starts = np.concatenate(([0], nl + 1))
    ends = np.concatenate((nl, [len(a)]))
    if len(a) and a[-1] == 10:
        starts, ends = starts[:-1], ends[:-1]
    has_cr = (ends > starts) & (a[np.maximum(ends - 1, 0)] == 13)
    return starts, ends - has_cr


def _text(a: np.ndarray, s: int, e: int) -> bytes:
    return bytes(a[s:e])


def _parse_control(path: Path, a: np.ndarray, starts: np.ndarray, ends: np.ndarray, control: np.ndarray) -> list[_Block]:
    """Blocks, fixations, messages and screen size from the non-sample lines."""
    blocks: list[_Block] = []
    cur: _Block | None = None
    size: tuple[int, int] | None = None
    pending: list[list] = []  # MSGs since the last block ended (TRIALID comes before START)
    pending_dropped = 0
    for i in control.tolist():
        s, e = int(starts[i]), int(ends[i])
        if e - s < 3:
            continue
        head = bytes(a[s : s + 8])
        if head.startswith(b"MSG"):
            line = _text(a, s, min(e, s + 4 * MAX_MESSAGE))
            m = COORDS.match(line)
            if m:
                try:
                    sz = _size(m.group(1), *(float(m.group(k)) for k in range(2, 6)))
                except ValueError:
                    raise BadInput(path, f"{m.group(1).decode()}: not four numbers", i + 1) from None
                if sz[0] <= 0 or sz[1] <= 0:
                    raise BadInput(path, f"{m.group(1).decode()} gives an empty screen ({sz[0]}x{sz[1]})", i + 1)
                if m.group(1) == b"DISPLAY_COORDS" or size is None:
                    size = sz
                if cur is not None and (m.group(1) == b"DISPLAY_COORDS" or cur.size is None):
                    cur.size = sz
            parts = line.split(None, 2)
            if len(parts) < 2:
                raise BadInput(path, "MSG without a time", i + 1)
            try:
                t = float(parts[1])
            except ValueError:
                raise BadInput(path, f"MSG time is not a number: {parts[1][:20].decode('latin-1')!r}", i + 1) from None
            text = parts[2].decode("utf-8", "replace")[:MAX_MESSAGE] if len(parts) > 2 else ""
            if text.startswith("!CAL") or text.startswith("-") and "!CAL" in text[:8]:
                continue
            target = cur.messages if cur is not None else pending
            if len(target) < MAX_MESSAGES:
                target.append([t, text])
            elif cur is not None:
                cur.dropped_messages += 1
            else:
                pending_dropped += 1
            continue
        word = head.split(None, 1)[0] if head.strip() else b""
        if word in (b"EFIX",):
            f = _text(a, s, min(e, s + 256)).split()
            if len(f) < 7:
                raise BadInput(path, f"EFIX needs eye, start, end, duration, x, y; found {len(f) - 1} fields", i + 1)
            try:
                start, dur = float(f[2]), float(f[4])
            except ValueError:
                raise BadInput(path, "EFIX start or duration is not a number", i + 1) from None
            x, y = _num(f[5], path, i, "EFIX x"), _num(f[6], path, i, "EFIX y")
            if dur < 0:
                raise BadInput(path, f"EFIX duration is negative ({dur:g} ms)", i + 1)
            if cur is not None:
                cur.fix.append((f[1].decode("latin-1").upper(), start, dur, x, y))
        elif word == b"START":
            f = _text(a, s, min(e, s + 256)).split()
            eyes = "".join(sorted({"L" if w == b"LEFT" else "R" for w in f if w in (b"LEFT", b"RIGHT")}))
            try:
                t0 = float(f[1])
            except (IndexError, ValueError):
                raise BadInput(path, "START without a time", i + 1) from None
            cur = _Block(i, len(starts), eyes=eyes, start_ms=t0, size=size)
            cur.messages, pending = pending, []
            cur.dropped_messages, pending_dropped = pending_dropped, 0
            blocks.append(cur)
        elif word == b"SAMPLES" and cur is not None:
            f = _text(a, s, min(e, s + 256)).split()
            if len(f) > 1 and f[1] != b"GAZE":
                raise BadInput(path, f"samples are {f[1].decode('latin-1')} coordinates, not GAZE (screen pixels): convert the EDF with edf2asc's default gaze output", i + 1)
            eyes = "".join(sorted({"L" if w == b"LEFT" else "R" for w in f if w in (b"LEFT", b"RIGHT")}))
            if eyes:
                cur.eyes = eyes
        elif word == b"END" and cur is not None:
            f = _text(a, s, min(e, s + 256)).split()
            if b"RES" in f:
                k = f.index(b"RES")
                try:
                    cur.ppd = [float(v) for v in f[k + 1 : k + 3]]
                except ValueError:
                    cur.ppd = []
            cur.end_line = i
            cur = None
        elif word == b"EBLINK" and cur is not None:
            cur.blinks += 1
    if not blocks:
        b = _Block(-1, len(starts), size=size)
        b.messages = pending
        b.dropped_messages = pending_dropped
        blocks.append(b)
    return blocks


def _num(cell: bytes, path: Path, i: int, what: str) -> float:
    if cell.strip() == b".":
        return float("nan")
    try:
        return float(cell)
    except ValueError:
        raise BadInput(path, f"{what} is not a number: {cell[:20].decode('latin-1')!r}", i + 1) from None


def _cells(path: Path, a: np.ndarray, s: np.ndarray, e: np.ndarray, lines: np.ndarray, what: str) -> np.ndarray:
    """Cut one field of many lines as fixed-width byte strings (leading spaces stripped)."""
    n = len(s)
    if not n:
        return np.zeros(0, "S1")
    lengths = e - s
    if lengths.max() > MAX_FIELD:
        k = int(np.argmax(lengths > MAX_FIELD))
        raise BadInput(path, f"{what}: a field of {int(lengths[k])} bytes is not a sample value", int(lines[k]) + 1)
    w = max(int(lengths.max()), 1)
    pad = np.zeros(len(a) + w, np.uint8)
    pad[: len(a)] = a
    cells = as_strided(pad, shape=(len(a) + 1, w), strides=(1, 1))[s].copy()
    cells *= np.arange(w)[None, :] < lengths[:, None]
    # Strip the leading spaces edf2asc pads with: shift each cell left by its count of them.
    lead = np.argmax(cells != 32, axis=1)
    if lead.any():
        idx = np.minimum(np.arange(w)[None, :] + lead[:, None], w)
        cells = np.concatenate((cells, np.zeros((n, 1), np.uint8)), axis=1)
        cells = np.take_along_axis(cells, idx, axis=1)
    return np.ascontiguousarray(cells).view(f"S{w}").ravel()


def _floats(path: Path, cells: np.ndarray, lines: np.ndarray, what: str) -> np.ndarray:
    """Sample values: '.' (and an empty field) is missing, anything else must be a number."""
    missing = (cells == b".") | (cells == b"")
    col = cells.copy()
    col[missing] = b""
    out, ok = _plain_floats(col)
    bad = ~ok & ~missing
    if bad.any():
        for k in np.flatnonzero(bad).tolist():
            try:
                out[k] = float(col[k])
            except ValueError:
                shown = col[k].decode("latin-1")
                raise BadInput(path, f"{what} is not a number: {shown!r}", int(lines[k]) + 1) from None
    out[missing] = np.nan
    return out


def parse(path: Path) -> tuple[list[_Block], dict]:
    """The whole file: blocks (with fixations and messages) and the samples' columns per block."""
    a = _load(path)
    if bytes(a[:3]) == b"\xef\xbb\xbf":
        a = a[3:]
    if not len(a):
        raise BadInput(path, "empty file")
    starts, ends = _lines(a)
    first = a[np.minimum(starts, len(a) - 1)]
    nonempty = ends > starts
    is_sample = nonempty & (first >= 48) & (first <= 57)
    control = np.flatnonzero(nonempty & ~is_sample)
    blocks = _parse_control(path, a, starts, ends, control)
    sample_lines = np.flatnonzero(is_sample)
    # Which block each sample line belongs to (-1: outside every START..END).
    b_start = np.array([b.line for b in blocks], np.int64)
    b_end = np.array([b.end_line for b in blocks], np.int64)
    owner = np.searchsorted(b_start, sample_lines, side="right") - 1
    inside = (owner >= 0) & (sample_lines < b_end[np.maximum(owner, 0)])
    owner = np.where(inside, owner, -1)
    # Tabs of sample lines only.
    tabs = np.flatnonzero(a == 9)
    ls, le = starts[sample_lines], ends[sample_lines]
    lo = np.searchsorted(tabs, ls)
    hi = np.searchsorted(tabs, le)
    ntabs = hi - lo
    columns: dict = {"owner": owner, "lines": sample_lines, "fields": {}}
    for nt in np.unique(ntabs).tolist():
        rows = np.flatnonzero(ntabs == nt)
        if nt < 3:
            k = int(rows[0])
            raise BadInput(path, f"a sample line needs time, x, y and pupil (tab-separated); found {nt + 1} field{'s' if nt else ''}", int(sample_lines[k]) + 1)
        t = tabs[lo[rows][:, None] + np.arange(nt)[None, :]]
        columns["fields"][nt] = (rows, ls[rows], le[rows], t)
    return blocks, columns


def _field(path: Path, a_cols: dict, a: np.ndarray, nt: int, j: int, what: str) -> np.ndarray:
    rows, ls, le, t = a_cols["fields"][nt]
    s = ls if j == 0 else t[:, j - 1] + 1
    e = t[:, j] if j < nt else le
    lines = a_cols["lines"][rows]
    return _floats(path, _cells(path, a, s, e, lines, what), lines, what)


def _read(path: Path, options: ImportOptions) -> list[ImportedSession]:
    eye = options.eye
    if eye is not None and eye not in EYES:
        raise UserError(f"eye: expected left, right or mean, got {eye!r}")
    mode = options.fixations
    blocks, cols = parse(path)
    a = _load(path)
    if bytes(a[:3]) == b"\xef\xbb\xbf":
        a = a[3:]
    owner, lines = cols["owner"], cols["lines"]
    n = len(lines)
    tm = np.full(n, np.nan)
    xl = np.full(n, np.nan)
    yl = np.full(n, np.nan)
    xr = np.full(n, np.nan)
    yr = np.full(n, np.nan)
    binocular_rows = np.zeros(n, bool)
    for nt, (rows, *_rest) in cols["fields"].items():
        tm[rows] = _field(path, cols, a, nt, 0, "sample time")
        # Which layout: the block's eyes say; 7+ fields before the flags is binocular.
        eyes_of = np.array([b.eyes for b in blocks] + [""], dtype=object)[owner[rows]]
        bino = np.array([e == "LR" for e in eyes_of], bool) if len(rows) else np.zeros(0, bool)
        if nt < 6:
            bino[:] = False
        x1, y1 = _field(path, cols, a, nt, 1, "sample x"), _field(path, cols, a, nt, 2, "sample y")
        if bino.any():
            x2, y2 = _field(path, cols, a, nt, 4, "sample right x"), _field(path, cols, a, nt, 5, "sample right y")
        else:
            x2 = y2 = np.full(len(rows), np.nan)
        right_only = np.array([e == "R" for e in eyes_of], bool) if len(rows) else np.zeros(0, bool)
        xl[rows] = np.where(right_only, np.nan, x1)
        yl[rows] = np.where(right_only, np.nan, y1)
        xr[rows] = np.where(right_only, x1, np.where(bino, x2, np.nan))
        yr[rows] = np.where(right_only, y1, np.where(bino, y2, np.nan))
        binocular_rows[rows] = bino
    if np.isnan(tm).any():
        k = int(np.flatnonzero(np.isnan(tm))[0])
        raise BadInput(path, "sample time is missing", int(lines[k]) + 1)

    has_fix = any(b.fix for b in blocks)
    use_fix = mode == "file" or (mode is None and has_fix and options.weight != "count")
    if mode == "file" and not has_fix:
        raise BadInput(path, "no EFIX events: this file has no fixations of its own (detect them from the samples instead)")
    if not n and not has_fix:
        raise BadInput(path, "no samples and no fixations (EFIX)")

    def pick(bl: _Block) -> str:
        if eye in ("left", "right"):
            want = eye[0].upper()
            if bl.eyes and want not in bl.eyes:
                raise UserError(f"{path}: the {eye} eye was not recorded (recorded: {'both' if bl.eyes == 'LR' else {'L': 'left', 'R': 'right'}[bl.eyes]})")
            return want
        return "mean" if bl.eyes == "LR" else (bl.eyes or "L")

    out: list[ImportedSession] = []
    for k, bl in enumerate(blocks):
        which = pick(bl)
        given = options.reference_size or bl.size
        assumed = given is None
        size: tuple[int, int] = DEFAULT_DISPLAY if given is None else given
        label = f"block {k + 1}" if len(blocks) > 1 else None
        if use_fix:
            fx = [f for f in bl.fix if which == "mean" or f[0] == which]
            arr = np.array([f[1:] for f in fx], np.float64).reshape(-1, 4)
            dur = arr[:, 1] / 1000.0
            if which == "mean" and bl.eyes == "LR":
                dur = dur * 0.5  # both eyes' fixations, each for half its time: the heat of the mean eye
            pts = Points(arr[:, 2], arr[:, 3], t=arr[:, 0] / 1000.0, duration=dur)
        else:
            rows = np.flatnonzero(owner == k)
            if which == "L":
                x, y = xl[rows], yl[rows]
            elif which == "R":
                x, y = xr[rows], yr[rows]
            else:
                with np.errstate(invalid="ignore"):
                    x = np.where(np.isnan(xl[rows]), xr[rows], np.where(np.isnan(xr[rows]), xl[rows], (xl[rows] + xr[rows]) / 2))
                    y = np.where(np.isnan(yl[rows]), yr[rows], np.where(np.isnan(yr[rows]), yl[rows], (yl[rows] + yr[rows]) / 2))
            pts = Points(x, y, t=tm[rows] / 1000.0)
        [s] = build(path, "eyelink", pts, size, options, space="display")
        s.meta["eye"] = {"L": "left", "R": "right", "mean": "mean of both"}[which]
        if label:
            s.meta["recording id"] = label
            s.source = f"eyelink:{path.name}#{k + 1}"
        if bl.ppd:
            s.meta["px_per_degree"] = round(float(np.mean(bl.ppd)), 3)
        if assumed:
            s.meta["assumed_size"] = list(DEFAULT_DISPLAY)
        if bl.start_ms is not None:
            s.meta["tracker_start_ms"] = bl.start_ms
        s.meta["messages"] = bl.messages
        if bl.dropped_messages:
            s.meta["messages_dropped"] = bl.dropped_messages
        s.meta["fixations_in_file"] = len(bl.fix)
        out.append(s)
    return out


FORMATS = [
    Format("eyelink", "SR Research EyeLink .asc (edf2asc): '** CONVERTED FROM' header, samples, EFIX events, DISPLAY_COORDS", _detect, _read),
]
