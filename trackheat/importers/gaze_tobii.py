"""Tobii Pro Lab data export (TSV or CSV).

Pro Lab names columns with an optional unit that depends on the export
settings ("Gaze point X", "Gaze point X [DACS px]", "Recording timestamp [ms]"
or "[μs]"), so columns are matched by prefix. Each row is one sample of one
sensor; the fixation a sample belongs to is repeated on every row of it
(Eye movement type = Fixation, same Eye movement type index, same Fixation
point and Gaze event duration), so fixations are taken once per index.
Coordinates are display pixels (DACS px), origin top-left; a unit naming
"norm" means 0..1 of the display.

Pro Lab saves the export tab- or comma-separated (semicolon where the decimal
mark is a comma): the delimiter is taken from the header line. Only rows of
the `Eye Tracker` sensor (or with no Sensor column) are gaze; rows of the
`Mouse` sensor (`Mouse position X/Y`) become a second session, of kind
"mouse", on the same display, with clicks from mouse events (`Event` naming
the mouse, `Event value` "Down"/"Click" and the button). A row one cell short
of the header (Pro Lab leaves an empty last cell out) is read with it empty.
The display is `Recording resolution width/height`; without it 1920x1080 is
assumed and the session says so (`assumed_size`), never silently.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from trackheat.errors import BadInput
from trackheat.importers.base import Format, ImportedSession, ImportOptions
from trackheat.importers.gaze_build import Points, build
from trackheat.importers.gaze_table import Table, groups_of, read_table, sniff_delimiter

DEFAULT_SCREEN = (1920, 1080)  # when neither --reference-size nor the export says the resolution
SIZE_ROWS = 10_000  # rows searched for the recording resolution (every row repeats it; rows of other sensors may leave it empty)
TIME_UNITS = {"ms": 1e-3, "μs": 1e-6, "µs": 1e-6, "us": 1e-6, "s": 1.0, "ns": 1e-9}


def _split(header: str) -> list[str]:
    return [c.strip().strip('"').lower() for c in header.split(sniff_delimiter(header))]


def _starts(cols: list[str], name: str) -> bool:
    return any(c == name or c.startswith(name + " [") or c.startswith(name + " (") for c in cols)


def _detect(header: str, path: Path) -> bool:
    cols = _split(header)
    return _starts(cols, "recording timestamp") and (_starts(cols, "gaze point x") or _starts(cols, "fixation point x"))


def _unit(name: str) -> str:
    m = re.search(r"[\[(]([^\])]*)[\])]\s*$", name)
    return m.group(1).strip() if m else ""


def _scale_of(name: str, default: float, path: Path) -> float:
    unit = _unit(name)
    if not unit:
        return default
    if unit not in TIME_UNITS:
        raise BadInput(path, f"column {name!r}: unknown time unit {unit!r} (expected one of {', '.join(TIME_UNITS)})", 1)
    return TIME_UNITS[unit]


def _floats(t: Table, name: str, rows: np.ndarray | None = None) -> np.ndarray:
    return t.floats(name, decimal_comma=True, rows=rows)


def _text(t: Table, name: str) -> np.ndarray:
    """A text column as bytes, stripped only if some cell needs it (strip costs ~0.1 s per million cells)."""
    col = t.raw(name)
    if len(col) and col.dtype.itemsize:
        b = col.view(np.uint8).reshape(len(col), col.dtype.itemsize)
        n = np.strings.str_len(col)
        last = b[np.arange(len(col)), np.maximum(n - 1, 0)]
        if (b[:, 0] == 32).any() or ((n > 0) & (last == 32)).any():
            return np.char.strip(col)
    return col


def _size(t: Table, options: ImportOptions) -> tuple[int, int] | None:
    """--reference-size, else the export's recording resolution, else None (the caller assumes and says so)."""
    if options.reference_size:
        return options.reference_size
    wc = t.find("recording resolution width", prefix=True)
    hc = t.find("recording resolution height", prefix=True)
    if wc and hc and t.n:
        w, h = t.floats(wc, decimal_comma=True, first=SIZE_ROWS), t.floats(hc, decimal_comma=True, first=SIZE_ROWS)
        ok = np.isfinite(w) & np.isfinite(h) & (w > 0) & (h > 0)
        if ok.any():
            k = int(np.flatnonzero(ok)[0])
            return int(w[k]), int(h[k])
    return None


def _header_line(path: Path) -> str:
    from trackheat.importers import header_of

    return header_of(path)


def _read(path: Path, options: ImportOptions) -> list[ImportedSession]:
    t = read_table(path, delimiter=sniff_delimiter(_header_line(path)), ragged=True)
    tcol = t.find("recording timestamp", prefix=True)
    gx, gy = t.find("gaze point x", prefix=True), t.find("gaze point y", prefix=True)
    fx, fy = t.find("fixation point x", prefix=True), t.find("fixation point y", prefix=True)
    kind = t.find("eye movement type")
    index = t.find("eye movement type index")
    dur = t.find("gaze event duration", "eye movement event duration", prefix=True)
    if tcol is None:
        raise BadInput(path, "missing column 'Recording timestamp'", 1)
    # A Pro Lab export carries both: fixations (weighed by duration) unless samples are
    # asked for (fixations "none", detection, or weight count), which come from 'Gaze point'.
    mode = options.fixations
    if mode == "file" and not (fx and fy):
        raise BadInput(path, "no 'Fixation point X'/'Fixation point Y' columns: this export has no fixations of its own", 1)
    if mode in ("none", "ivt", "idt") and not (gx and gy):
        raise BadInput(path, "no 'Gaze point X'/'Gaze point Y' columns: this export has no gaze samples", 1)
    use_fix = bool(fx and fy) and mode in (None, "file") and not (mode is None and options.weight == "count" and gx and gy)
    if use_fix:
        missing = [n for n, c in (("Eye movement type", kind), ("Eye movement type index", index), ("Gaze event duration", dur)) if c is None]
        if missing:
            raise BadInput(path, f"missing column{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)} (needed with 'Fixation point X')", 1)
    elif not (gx and gy):
        raise BadInput(path, "missing columns 'Gaze point X' and 'Gaze point Y' (or 'Fixation point X'/'Fixation point Y')", 1)
    ts = _floats(t, tcol) * _scale_of(tcol, 1e-6, path)  # Pro Lab's default unit is microseconds
    rec = t.find("recording name")
    group, labels = (None, None)
    if rec:
        labels, group = t.groups(rec)
        participant = t.find("participant name")
        if participant:
            p_labels, p_group = t.groups(participant)
            if p_group is None:  # one participant (the usual export): name the recordings after them
                labels = [f"{p_labels[0]} / {r}" for r in labels] if p_labels else labels
            else:
                names = np.char.add(np.char.add(t.raw(participant), b" / "), t.raw(rec))
                labels, group = groups_of(names)
    sensor = t.find("sensor")
    sens = _text(t, sensor) if sensor else None
    eye_rows = None if sens is None else (sens == b"Eye Tracker") | (sens == b"")
    if use_fix:
        assert kind and index and dur and fx and fy  # checked above
        is_fix = _text(t, kind) == b"Fixation"
        if eye_rows is not None:
            is_fix &= eye_rows
        rows = np.flatnonzero(is_fix)
        idx = t.raw(index, rows=rows)
        # One row per (recording, fixation index): the first sample of each fixation.
        key = idx if group is None else np.char.add(np.char.add(np.asarray(group)[rows].astype("S"), b":"), idx)
        _, first = np.unique(key, return_index=True)
        rows = np.sort(rows[first])
        xs, ys = _floats(t, fx, rows), _floats(t, fy, rows)
        duration = _floats(t, dur, rows) * _scale_of(dur, 1e-3, path)  # Pro Lab writes ms
        pts = Points(xs, ys, t=ts[rows], duration=duration, group=None if group is None else group[rows], labels=labels)
        norm = "norm" in _unit(fx).lower()
    else:
        assert gx and gy  # checked above
        rows = np.arange(t.n) if eye_rows is None else np.flatnonzero(eye_rows)  # gyroscope, mouse... rows carry no gaze
        pick = None if eye_rows is None else rows
        pts = Points(_floats(t, gx, pick), _floats(t, gy, pick), t=ts[rows], group=None if group is None else group[rows], labels=labels)
        norm = "norm" in _unit(gx).lower()
    size = _size(t, options)
    assumed = size is None
    size = size or DEFAULT_SCREEN
    out = []
    if len(rows) or sens is None or not (sens == b"Mouse").any():
        out = build(path, "tobii-tsv", pts, size, options, normalized=norm, space="display")
    for s in out:
        if assumed:
            s.meta["assumed_size"] = list(DEFAULT_SCREEN)
    if sens is not None and (sens == b"Mouse").any():
        out += _mouse(path, t, sens == b"Mouse", ts, group, labels, size, assumed, out)
    return out


def _mouse(path: Path, t: Table, is_mouse: np.ndarray, ts: np.ndarray, group, labels, size, assumed: bool, gaze: list[ImportedSession]) -> list[ImportedSession]:
    """The Mouse sensor's rows: one mouse session per recording, on the gaze's clock."""
    from trackheat.importers.tobii_studio import mouse_session

    mx, my = t.find("mouse position x", prefix=True), t.find("mouse position y", prefix=True)
    if not (mx and my):
        raise BadInput(path, "rows of the Mouse sensor but no 'Mouse position X'/'Mouse position Y' columns", 1)
    x, y = _floats(t, mx), _floats(t, my)
    ev, val = t.find("event"), t.find("event value")
    ev_text = np.char.lower(np.char.strip(t.raw(ev))) if ev else None
    val_text = np.char.lower(np.char.strip(t.raw(val))) if val else None
    out = []
    for g, label in enumerate(labels if group is not None else [None]):
        rows = np.flatnonzero(is_mouse & ((group == g) if group is not None else True))
        if not len(rows):
            continue
        # The gaze session of the same recording fixes the clock; alone, the mouse ends at import time.
        mate = [s for s in gaze if label is None or s.meta.get("recording id") == label]
        tg = ts if group is None else ts[group == g]
        if mate and mate[0].started is not None and np.isfinite(tg).any():
            shift = mate[0].started - float(np.nanmin(tg))
        else:
            import time

            shift = time.time() - float(np.nanmax(ts[rows]))
        clicks = []
        if ev_text is not None:
            for k in rows[np.char.find(ev_text[rows], b"mouse") >= 0].tolist():  # type: ignore[arg-type]  # bytes cells, typed as str
                v = (val_text[k] if val_text is not None else b"") + b" " + ev_text[k]
                if b"down" in v or b"click" in v or b"press" in v:
                    button = "right" if b"right" in v else "middle" if b"middle" in v else "left"
                    clicks.append((float(ts[k]), float(x[k]), float(y[k]), button))
        moved = rows[np.isfinite(x[rows]) & np.isfinite(y[rows])]
        m = mouse_session(path, "tobii-tsv", size, ts[moved], x[moved], y[moved], clicks, shift, {} if label is None else {"recording id": label})
        m.skipped = int(len(rows) - len(moved))
        if assumed:
            m.meta["assumed_size"] = list(DEFAULT_SCREEN)
        out.append(m)
    return out


FORMATS = [
    Format("tobii-tsv", "Tobii Pro Lab data export (tab- or comma-separated): Recording timestamp, Gaze point X/Y or Fixation point X/Y, Eye movement type, Eye movement type index, Gaze event duration", _detect, _read),
]
