"""Eye-tracker exports: Pupil Labs (Neon, Pupil Cloud enrichments, Neon Player,
Pupil Core Player), Tobii Pro Lab, and a plain gaze CSV.

Every gaze format becomes `kind="gaze"` sessions on an image canvas (the
reference image, surface or scene camera), positions in pixels of that
canvas. Gaze samples count one each; fixations count one each and carry
their duration (seconds) as dwell, so a heatmap can weigh by either
(`--weight count|duration`; fixations default to duration, as Pupil Cloud's
heatmap does). The formats live in gaze_pupil and gaze_tobii; the shared
rules (skipped/dropped rows, y flip, one session per recording) in gaze_build.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trackheat.errors import UserError
from trackheat.importers.base import Format, ImportedSession, ImportOptions
from trackheat.importers import eyelink, gaze_pupil, gaze_tobii, tobii_studio
from trackheat.importers.gaze_build import Points, build
from trackheat.importers.gaze_table import read_table

# Plain CSV: x,y[,duration]. duration is milliseconds (eye-tracker exports give
# fixation durations in ms); "duration [s]" says seconds.
DURATIONS = {"duration": 1e-3, "duration [ms]": 1e-3, "duration_ms": 1e-3, "duration [s]": 1.0, "duration_s": 1.0}


def _csv_cols(header: str) -> list[str]:
    return [c.strip().lower() for c in header.split(",")]


def _csv_detect(header: str, path: Path) -> bool:
    cols = _csv_cols(header)
    return len(cols) == 3 and cols[:2] == ["x", "y"] and cols[2] in DURATIONS


def _csv_read(path: Path, options: ImportOptions) -> list[ImportedSession]:
    t = read_table(path)
    cols = [h.strip().lower() for h in t.header]
    if cols[:2] != ["x", "y"] or len(cols) > 3 or (len(cols) == 3 and cols[2] not in DURATIONS):
        raise UserError(f"{path}: gaze-csv expects the header x,y or x,y,duration (duration in ms; 'duration [s]' for seconds), got {','.join(t.header)[:120]!r}")
    xs, ys = t.floats(t.header[0]), t.floats(t.header[1])
    duration = t.floats(t.header[2]) * DURATIONS[cols[2]] if len(cols) == 3 else None
    if duration is not None and (duration < 0).any():
        from trackheat.errors import BadInput

        raise BadInput(path, "a duration is negative", t.line_of(int(np.flatnonzero(duration < 0)[0])))
    if options.reference_size:
        size = options.reference_size
    elif options.normalized:
        raise UserError(f"{path}: normalized coordinates need the size of the image they are drawn on: give `reference_size` WIDTHxHEIGHT")
    else:
        ok = np.isfinite(xs) & np.isfinite(ys) & (xs >= 0) & (ys >= 0)
        size = (int(np.max(xs[ok])) + 1, int(np.max(ys[ok])) + 1) if ok.any() else (1, 1)
    pts = Points(xs, ys, duration=duration)
    return build(path, "gaze-csv", pts, size, options, normalized=options.normalized, space="reference image" if options.reference_size else "pixels")


FORMATS: list[Format] = [
    *gaze_pupil.FORMATS,
    *gaze_tobii.FORMATS,
    *tobii_studio.FORMATS,
    *eyelink.FORMATS,
    Format("gaze-csv", "x,y,duration (plain gaze CSV, px or --normalized; duration in ms; x,y alone with --format gaze-csv)", _csv_detect, _csv_read),
]

# Formats whose files say which pixel space they are in (a device's camera);
# the others need the reference image's size (see trackheat.outputs.gaze).
NATIVE_SIZE = {"neon-gaze", "neon-fixations", "pupil-core-gaze", "pupil-core-fixations", "tobii-tsv", "tobii-studio", "eyelink"}
