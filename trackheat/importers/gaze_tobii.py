"""Tobii Pro Lab data export (TSV).

Pro Lab names columns with an optional unit that depends on the export
settings ("Gaze point X", "Gaze point X [DACS px]", "Recording timestamp [ms]"
or "[μs]"), so columns are matched by prefix. Each row is one sample of one
sensor; the fixation a sample belongs to is repeated on every row of it
(Eye movement type = Fixation, same Eye movement type index, same Fixation
point and Gaze event duration), so fixations are taken once per index.
Coordinates are display pixels (DACS px), origin top-left; a unit naming
"norm" means 0..1 of the display.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from trackheat.errors import BadInput
from trackheat.importers.base import Format, ImportedSession, ImportOptions
from trackheat.importers.gaze_build import Points, build
from trackheat.importers.gaze_table import Table, groups_of, read_table

DEFAULT_SCREEN = (1920, 1080)  # when neither --reference-size nor the export says the resolution
TIME_UNITS = {"ms": 1e-3, "μs": 1e-6, "µs": 1e-6, "us": 1e-6, "s": 1.0, "ns": 1e-9}


def _split(header: str) -> list[str]:
    return [c.strip().lower() for c in header.split("\t")]


def _starts(cols: list[str], name: str) -> bool:
    return any(c == name or c.startswith(name + " [") or c.startswith(name + " (") for c in cols)


def _detect(header: str, path: Path) -> bool:
    if "\t" not in header:
        return False
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


def _floats(t: Table, name: str) -> np.ndarray:
    return t.floats(name, decimal_comma=True)


def _size(t: Table, options: ImportOptions) -> tuple[int, int]:
    if options.reference_size:
        return options.reference_size
    wc = t.find("recording resolution width", prefix=True)
    hc = t.find("recording resolution height", prefix=True)
    if wc and hc and t.n:
        w, h = _floats(t, wc), _floats(t, hc)
        ok = np.isfinite(w) & np.isfinite(h) & (w > 0) & (h > 0)
        if ok.any():
            k = int(np.flatnonzero(ok)[0])
            return int(w[k]), int(h[k])
    return DEFAULT_SCREEN


def _read(path: Path, options: ImportOptions) -> list[ImportedSession]:
    t = read_table(path, delimiter="\t")
    tcol = t.find("recording timestamp", prefix=True)
    gx, gy = t.find("gaze point x", prefix=True), t.find("gaze point y", prefix=True)
    fx, fy = t.find("fixation point x", prefix=True), t.find("fixation point y", prefix=True)
    kind = t.find("eye movement type")
    index = t.find("eye movement type index")
    dur = t.find("gaze event duration", "eye movement event duration", prefix=True)
    if tcol is None:
        raise BadInput(path, "missing column 'Recording timestamp'", 1)
    # A Pro Lab export carries both: fixations (weighed by duration) unless the user
    # asks to count gaze samples (--weight count), which then come from 'Gaze point'.
    use_fix = bool(fx and fy) and not (options.weight == "count" and gx and gy)
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
        participant = t.find("participant name")
        if participant:
            names = np.char.add(np.char.add(t.raw(participant), b" / "), t.raw(rec))
            labels, group = groups_of(names)
        else:
            labels, group = t.groups(rec)
    if use_fix:
        assert kind and index and dur and fx and fy  # checked above
        is_fix = np.char.strip(t.raw(kind)) == b"Fixation"
        idx = t.raw(index)
        # One row per (recording, fixation index): the first sample of each fixation.
        key = idx if group is None else np.char.add(np.char.add(np.asarray(group).astype("S"), b":"), idx)
        rows = np.flatnonzero(is_fix)
        _, first = np.unique(key[rows], return_index=True)
        rows = np.sort(rows[first])
        xs, ys = _floats(t, fx)[rows], _floats(t, fy)[rows]
        duration = _floats(t, dur)[rows] * _scale_of(dur, 1e-3, path)  # Pro Lab writes ms
        pts = Points(xs, ys, t=ts[rows], duration=duration, group=None if group is None else group[rows], labels=labels)
        norm = "norm" in _unit(fx).lower()
    else:
        assert gx and gy  # checked above
        rows = np.arange(t.n)
        sensor = t.find("sensor")
        skip = None
        if sensor:  # gyroscope/accelerometer rows carry no gaze
            s = np.char.strip(t.raw(sensor))
            rows = np.flatnonzero((s == b"Eye Tracker") | (s == b""))
        pts = Points(_floats(t, gx)[rows], _floats(t, gy)[rows], skip=skip, t=ts[rows], group=None if group is None else group[rows], labels=labels)
        norm = "norm" in _unit(gx).lower()
    return build(path, "tobii-tsv", pts, _size(t, options), options, normalized=norm, space="display")


FORMATS = [
    Format("tobii-tsv", "Tobii Pro Lab data export (tab-separated): Recording timestamp, Gaze point X/Y or Fixation point X/Y, Eye movement type, Eye movement type index, Gaze event duration", _detect, _read),
]
