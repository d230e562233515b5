"""Tobii Studio exports: fixation data, event data and all data (versions 1-3).

Studio 1.x/2.x text exports open with a preamble ("Data properties:",
"Recording name:", "Screen resolution: 1280 x 1024" or "Recording
resolution:\t 1280 x 1024", filter settings) and then a tab-separated table:

- Fixation data: FixationIndex, Timestamp (ms), FixationDuration (ms),
  MappedFixationPointX/Y (px; -1 means the fixation was not mapped to the
  media, and is skipped).
- Event data: Timestamp, Event, EventKey, Data1, Data2, Descriptor; a
  LeftMouseClick/RightMouseClick carries its position in Data1/Data2. Only
  mouse clicks are kept: key presses are keystrokes, which trackheat never
  stores.
- All data: Timestamp, Number, GazePointXLeft ..., GazePointX, GazePointY
  (-1: no gaze), FixationIndex, Event, Data1, Data2.

Studio 3.x writes one table with no preamble: RecordingTimestamp,
RecordingResolution ("1280 x 1024"), GazePointX (ADCSpx)/(MCSpx),
FixationIndex, GazeEventType, GazeEventDuration, FixationPointX (MCSpx),
MouseEvent, MouseEventX (ADCSpx)... (names as Tobii Studio's manual, "Data
export", lists them). Its fixations are taken once per FixationIndex.

Mouse clicks become a session of kind "mouse" beside the gaze one: trackheat
draws mouse and gaze alike.
"""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import numpy as np

from trackheat.activity import timeline_stats
from trackheat.canvas import Canvas, Rect
from trackheat.errors import BadInput
from trackheat.importers.base import Format, ImportedSession, ImportOptions
from trackheat.importers.gaze_build import Points, build

DEFAULT_SCREEN = (1920, 1080)
MAX_PREAMBLE = 200  # lines before the table: more is not a Studio export
MAX_FIELD = 1 << 16  # bytes in one cell (csv's own limit is 128 KB; nothing here is that long)
RESOLUTION = re.compile(r"(?:screen|recording)\s+resolution\s*:?\s*(\d+)\s*[x×]\s*(\d+)", re.I)
BUTTONS = {"LeftMouseClick": "left", "RightMouseClick": "right", "Left": "left", "Right": "right", "Middle": "middle"}


def _detect(header: str, path: Path) -> bool:
    h = header.strip().lower()
    if h.startswith("data properties") or h.startswith("system properties"):
        return True
    cols = [c.strip().lower() for c in header.split("\t")]
    return "recordingtimestamp" in cols and any(c.startswith("gazepointx") or c.startswith("fixationpointx") or c.startswith("mouseeventx") for c in cols)


def _is_header(cells: list[str]) -> bool:
    names = {c.strip().lower() for c in cells}
    return ("timestamp" in names or "recordingtimestamp" in names) and len(names) >= 3


def read_rows(path: Path) -> tuple[tuple[int, int] | None, list[str], list[tuple[int, list[str]]]]:
    """(screen size from the preamble, header, [(line, cells)]) of a Studio export."""
    size = None
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    old_limit = csv.field_size_limit(MAX_FIELD)
    reader = None
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            for cells in reader:
                line = reader.line_num
                if header is None:
                    text = "\t".join(cells)
                    m = RESOLUTION.search(text)
                    if m:
                        size = (int(m.group(1)), int(m.group(2)))
                    if _is_header(cells):
                        header = [c.strip() for c in cells]
                    elif line > MAX_PREAMBLE:
                        raise BadInput(path, f"no table header (Timestamp, ...) in the first {MAX_PREAMBLE} lines", line)
                    continue
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
                    raise BadInput(path, f"expected {len(header)} columns, found {len(cells)}", line)
                if len(cells) < len(header):
                    cells = cells + [""] * (len(header) - len(cells))  # ragged rows: Studio drops trailing empty cells
                rows.append((line, cells))
    except csv.Error as e:
        raise BadInput(path, f"not a tab-separated table: {e}", reader.line_num + 1 if reader else None) from None
    finally:
        csv.field_size_limit(old_limit)
    if header is None:
        raise BadInput(path, "no table header (Timestamp, ...) after the preamble")
    return size, header, rows


class _Cols:
    def __init__(self, path: Path, header: list[str], rows: list[tuple[int, list[str]]]) -> None:
        self.path = path
        self.lower = [h.lower() for h in header]
        self.rows = rows
        self.lines = np.array([r[0] for r in rows], np.int64)

    def find(self, *names: str) -> int | None:
        for n in names:
            n = n.lower()
            for i, h in enumerate(self.lower):
                if h == n or h.startswith(n + " ("):
                    return i
        return None

    def text(self, i: int) -> list[str]:
        return [r[1][i].strip() for r in self.rows]

    def floats(self, i: int, what: str) -> np.ndarray:
        out = np.empty(len(self.rows))
        for k, (line, cells) in enumerate(self.rows):
            c = cells[i].strip().replace(",", ".")
            if not c:
                out[k] = np.nan
                continue
            try:
                out[k] = float(c)
            except ValueError:
                shown = c if len(c) <= 40 else c[:37] + "..."
                raise BadInput(self.path, f"{what} is not a number: {shown!r}", line) from None
        return out


def mouse_session(path: Path, fmt: str, size: tuple[int, int], t: np.ndarray, x: np.ndarray, y: np.ndarray,
                  clicks: list[tuple[float, float, float, str]], shift: float, meta: dict) -> ImportedSession:
    """A mouse session on the recording's display: positions (if any) and clicks, times shifted like the gaze's."""
    ok = np.isfinite(t) & np.isfinite(x) & np.isfinite(y)
    t, x, y = t[ok], x[ok], y[ok]
    order = np.argsort(t, kind="stable")
    t, x, y = t[order], x[order], y[order]
    xi, yi = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    dwell, active, idle, dist = timeline_stats(t, x, y, 30.0)
    ts = t + shift
    cl = [(float(ct + shift), int(np.floor(cx)), int(np.floor(cy)), b) for ct, cx, cy, b in clicks if np.isfinite(cx) and np.isfinite(cy)]
    times = [c[0] for c in cl] + ([float(ts[0]), float(ts[-1])] if len(ts) else [])
    started = min(times) if times else None
    ended = max(times) if times else None
    return ImportedSession(source=f"{fmt}:{path.name}#mouse", canvas=Canvas.desktop([Rect(0, 0, int(size[0]), int(size[1]))]), xs=xi, ys=yi,
                           dwell=dwell, ts=ts if len(ts) else None, kind="mouse", started=started, ended=ended, clicks=cl,
                           distance=dist, active_seconds=active, idle_seconds=idle, skipped=int((~ok).sum()),
                           meta={**meta, "format": fmt, "file": str(path), "points": "mouse positions", "space": "display", "reference_size": list(size)})


def _read(path: Path, options: ImportOptions) -> list[ImportedSession]:
    size, header, rows = read_rows(path)
    c = _Cols(path, header, rows)
    assumed = None
    if options.reference_size:
        size = options.reference_size
    res_col = c.find("recordingresolution")
    if size is None and res_col is not None:
        for v in c.text(res_col):
            m = re.match(r"\s*(\d+)\s*[x×]\s*(\d+)", v)
            if m:
                size = (int(m.group(1)), int(m.group(2)))
                break
    if size is None:
        size, assumed = DEFAULT_SCREEN, list(DEFAULT_SCREEN)
    mode = options.fixations
    tcol = c.find("recordingtimestamp", "timestamp")
    if tcol is None:
        raise BadInput(path, "missing column 'Timestamp' (or 'RecordingTimestamp')", 1)
    t = c.floats(tcol, header[tcol]) / 1000.0
    out: list[ImportedSession] = []
    fix_x = c.find("mappedfixationpointx", "fixationpointx")
    fix_y = c.find("mappedfixationpointy", "fixationpointy")
    gaze_x, gaze_y = c.find("gazepointx"), c.find("gazepointy")
    dur_col = c.find("fixationduration", "gazeeventduration")
    idx_col = c.find("fixationindex")
    has_fix = fix_x is not None and fix_y is not None and dur_col is not None
    has_gaze = gaze_x is not None and gaze_y is not None
    if mode == "file" and not has_fix:
        raise BadInput(path, "no fixation columns (MappedFixationPointX/FixationPointX, FixationDuration/GazeEventDuration): this file has no fixations of its own", 1)
    if mode in ("none", "ivt", "idt") and not has_gaze and has_fix:
        raise BadInput(path, "a fixation export has no gaze samples to draw or detect fixations in", 1)
    use_fix = has_fix and (mode in (None, "file")) and not (options.weight == "count" and has_gaze)
    pts = None
    if use_fix:
        assert fix_x is not None and fix_y is not None and dur_col is not None  # has_fix
        x, y, d = c.floats(fix_x, header[fix_x]), c.floats(fix_y, header[fix_y]), c.floats(dur_col, header[dur_col]) / 1000.0
        keep = np.isfinite(x) & np.isfinite(y)
        ev = c.find("gazeeventtype")
        if ev is not None:
            keep &= np.array([v == "Fixation" for v in c.text(ev)], bool)
        if idx_col is not None:  # Studio 3 repeats a fixation on every sample of it: take each index once
            idx = np.array(c.text(idx_col), dtype=object)
            rows_k = np.flatnonzero(keep)
            _, first = np.unique(idx[rows_k].astype(str), return_index=True)
            keep_rows = np.sort(rows_k[first])
        else:
            keep_rows = np.flatnonzero(keep)
        if (d[keep_rows] < 0).any():
            k = int(keep_rows[np.flatnonzero(d[keep_rows] < 0)[0]])
            raise BadInput(path, "a fixation duration is negative", int(c.lines[k]))
        unmapped = (x[keep_rows] == -1) | (y[keep_rows] == -1)  # Studio's "not mapped to the media"
        pts = Points(x[keep_rows], y[keep_rows], skip=unmapped, t=t[keep_rows], duration=d[keep_rows])
    elif has_gaze:
        assert gaze_x is not None and gaze_y is not None
        x, y = c.floats(gaze_x, header[gaze_x]), c.floats(gaze_y, header[gaze_y])
        pts = Points(x, y, skip=(x == -1) | (y == -1), t=t)
    now = time.time()
    shift = now - float(np.nanmax(t)) if len(t) and np.isfinite(t).any() else now
    if pts is not None:
        out += build(path, "tobii-studio", pts, size, options, space="display")
        if assumed:
            out[-1].meta["assumed_size"] = assumed
    # Mouse clicks: Studio 1-2 event rows (Event = LeftMouseClick, Data1/Data2), Studio 3 MouseEvent columns.
    clicks: list[tuple[float, float, float, str]] = []
    ev_col, d1, d2 = c.find("event"), c.find("data1"), c.find("data2")
    if ev_col is not None and d1 is not None and d2 is not None:
        names = c.text(ev_col)
        rows_c = [k for k, n in enumerate(names) if n in ("LeftMouseClick", "RightMouseClick")]
        for k in rows_c:
            line, cells = rows[k]
            try:
                clicks.append((float(t[k]), float(cells[d1]), float(cells[d2]), BUTTONS[names[k]]))
            except ValueError:
                raise BadInput(path, f"{names[k]}: Data1/Data2 are not a position: {cells[d1][:20]!r}, {cells[d2][:20]!r}", line) from None
    me, mx, my = c.find("mouseevent"), c.find("mouseeventx"), c.find("mouseeventy")
    if me is not None and mx is not None and my is not None:
        xs_m, ys_m = c.floats(mx, header[mx]), c.floats(my, header[my])
        for k, v in enumerate(c.text(me)):
            if v in ("Left", "Right", "Middle") and np.isfinite(xs_m[k]) and np.isfinite(ys_m[k]):
                clicks.append((float(t[k]), float(xs_m[k]), float(ys_m[k]), BUTTONS[v]))
    if clicks:
        mouse = mouse_session(path, "tobii-studio", size, np.zeros(0), np.zeros(0), np.zeros(0), clicks, shift, {"clicks_only": True})
        if assumed:
            mouse.meta["assumed_size"] = assumed
        out.append(mouse)
    if not out:
        raise BadInput(path, "neither fixations, gaze samples nor mouse clicks in this Tobii Studio export")
    return out


FORMATS = [
    Format("tobii-studio", "Tobii Studio export: 'Data properties' preamble, then FixationIndex/Timestamp/... or Timestamp/Event/Data1/Data2; or RecordingTimestamp, GazePointX (ADCSpx)", _detect, _read),
]
