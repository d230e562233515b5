"""Pupil Labs exports: Neon / Pupil Cloud, its enrichments, Neon Player and Pupil Core Player.

Column names as the Pupil Labs documentation lists them (docs.pupil-labs.com:
Neon "Recording Format", Reference Image Mapper and Marker Mapper "Export
Format", Neon Player "Surface Tracker") and as Pupil Player's surface tracker
writes them (pupil_src/shared_modules/surface_tracker/background_tasks.py).

Coordinates: Neon and the Reference Image Mapper give pixels with the origin
top-left; Marker Mapper and Neon Player surfaces give 0..1 with the origin
top-left (outside 0..1 is off the surface); Pupil Core gives 0..1 with the
origin bottom-left, so y flips.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trackheat.importers.base import Format, ImportedSession, ImportOptions
from trackheat.importers.gaze_build import CORE_PX_PER_DEGREE, CORE_WORLD, NEON_PX_PER_DEGREE, NEON_SCENE, Points, build, reference_size
from trackheat.importers.gaze_table import Table, read_table


def _cols(header: str) -> set[str]:
    return {c.strip().strip('"').lower() for c in header.split(",")}


def _has(*names: str):
    """A detector: the header holds every one of `names`."""
    want = {n.lower() for n in names}
    return lambda header, path: want <= _cols(header)


def _groups(t: Table) -> tuple[np.ndarray | None, list[str] | None]:
    if not t.has("recording id"):
        return None, None
    labels, group = t.groups("recording id")
    return group, labels


def _ns(t: Table, name: str) -> tuple[np.ndarray, float]:
    """UTC nanoseconds -> (seconds since the first row, epoch seconds of that row).

    Relative times keep sample gaps exact; epoch seconds as float64 would
    round them to ~0.2 us.
    """
    ns = t.ints(name)
    base = int(ns[0]) if len(ns) else 0
    return (ns - base) / 1e9, base / 1e9


def _time(t: Table, name: str) -> dict:
    rel, t0 = _ns(t, name)
    return {"t": rel, "t0": t0, "epoch": True}


# -- Neon / Pupil Cloud timeseries --------------------------------------------
NEON_GAZE = ["timestamp [ns]", "gaze x [px]", "gaze y [px]"]
NEON_FIX = ["start timestamp [ns]", "duration [ms]", "fixation x [px]", "fixation y [px]"]


def _neon_gaze(path: Path, options: ImportOptions) -> list[ImportedSession]:
    t = read_table(path)
    t.require(NEON_GAZE, "neon-gaze")
    # "worn" is 1.0/0.0 (or True/False): samples while nobody wore Neon are not gaze.
    skip = ~t.bools("worn") if t.has("worn") else None
    group, labels = _groups(t)
    pts = Points(t.floats("gaze x [px]"), t.floats("gaze y [px]"), skip=skip, **_time(t, "timestamp [ns]"), group=group, labels=labels)
    size = reference_size(path, options, NEON_SCENE, "")
    return _with_ppd(build(path, "neon-gaze", pts, size, options), NEON_PX_PER_DEGREE * size[0] / NEON_SCENE[0])


def _neon_fixations(path: Path, options: ImportOptions) -> list[ImportedSession]:
    t = read_table(path)
    t.require(NEON_FIX, "neon-fixations")
    group, labels = _groups(t)
    pts = Points(t.floats("fixation x [px]"), t.floats("fixation y [px]"), **_time(t, "start timestamp [ns]"),
                 duration=t.floats("duration [ms]") / 1000.0, group=group, labels=labels)
    return build(path, "neon-fixations", pts, reference_size(path, options, NEON_SCENE, ""), options)


# -- Reference Image Mapper ----------------------------------------------------
RIM_GAZE = ["timestamp [ns]", "gaze detected in reference image", "gaze position in reference image x [px]", "gaze position in reference image y [px]"]
RIM_FIX = ["start timestamp [ns]", "duration [ms]", "fixation detected in reference image", "fixation x [px]", "fixation y [px]"]
RIM_SIZE = "Reference Image Mapper pixels are the reference image's, and no reference_image.jpeg is beside the file"


def _rim_gaze(path: Path, options: ImportOptions) -> list[ImportedSession]:
    t = read_table(path)
    t.require(RIM_GAZE, "rim-gaze")
    group, labels = _groups(t)
    pts = Points(t.floats("gaze position in reference image x [px]"), t.floats("gaze position in reference image y [px]"),
                 skip=~t.bools("gaze detected in reference image"), **_time(t, "timestamp [ns]"), group=group, labels=labels)
    return build(path, "rim-gaze", pts, reference_size(path, options, None, RIM_SIZE), options, space="reference image")


def _rim_fixations(path: Path, options: ImportOptions) -> list[ImportedSession]:
    t = read_table(path)
    t.require(RIM_FIX, "rim-fixations")
    group, labels = _groups(t)
    pts = Points(t.floats("fixation x [px]"), t.floats("fixation y [px]"), skip=~t.bools("fixation detected in reference image"),
                 **_time(t, "start timestamp [ns]"), duration=t.floats("duration [ms]") / 1000.0, group=group, labels=labels)
    return build(path, "rim-fixations", pts, reference_size(path, options, None, RIM_SIZE), options, space="reference image")


# -- Marker Mapper (Pupil Cloud) and Neon Player surfaces ---------------------
MM_GAZE = ["timestamp [ns]", "gaze detected on surface", "gaze position on surface x [normalized]", "gaze position on surface y [normalized]"]
MM_FIX = ["start timestamp [ns]", "duration [ms]", "fixation detected on surface", "fixation x [normalized]", "fixation y [normalized]"]
SURFACE_SIZE = "surface coordinates are 0..1 and need the size of the image they are drawn on"


def _mm_gaze(path: Path, options: ImportOptions) -> list[ImportedSession]:
    t = read_table(path)
    t.require(MM_GAZE, "marker-mapper-gaze")
    group, labels = _groups(t)
    pts = Points(t.floats("gaze position on surface x [normalized]"), t.floats("gaze position on surface y [normalized]"),
                 skip=~t.bools("gaze detected on surface"), **_time(t, "timestamp [ns]"), group=group, labels=labels)
    return build(path, "marker-mapper-gaze", pts, reference_size(path, options, None, SURFACE_SIZE), options, normalized=True, space="surface")


def _mm_fixations(path: Path, options: ImportOptions) -> list[ImportedSession]:
    t = read_table(path)
    t.require(MM_FIX, "marker-mapper-fixations")
    group, labels = _groups(t)
    pts = Points(t.floats("fixation x [normalized]"), t.floats("fixation y [normalized]"), skip=~t.bools("fixation detected on surface"),
                 **_time(t, "start timestamp [ns]"), duration=t.floats("duration [ms]") / 1000.0, group=group, labels=labels)
    return build(path, "marker-mapper-fixations", pts, reference_size(path, options, None, SURFACE_SIZE), options, normalized=True, space="surface")


# -- Pupil Core Player ----------------------------------------------------------
CORE_GAZE = ["gaze_timestamp", "confidence", "norm_pos_x", "norm_pos_y"]
# Pupil Capture/Player before v1.4 named the first two columns timestamp,index (the same data).
CORE_GAZE_OLD = ["timestamp", "index", "confidence", "norm_pos_x", "norm_pos_y"]
CORE_SURF_GAZE = ["gaze_timestamp", "x_norm", "y_norm", "on_surf", "confidence"]
CORE_SURF_FIX = ["fixation_id", "start_timestamp", "duration", "norm_pos_x", "norm_pos_y", "on_surf"]
CORE_FIX = ["start_timestamp", "duration", "norm_pos_x", "norm_pos_y"]


def _core_gaze(path: Path, options: ImportOptions) -> list[ImportedSession]:
    t = read_table(path)
    t.require(CORE_GAZE if t.has("gaze_timestamp") or not t.has("timestamp") else CORE_GAZE_OLD, "pupil-core-gaze")
    low = ~(t.floats("confidence") >= options.confidence)
    pts = Points(t.floats("norm_pos_x"), t.floats("norm_pos_y"), skip=low, t=t.floats("gaze_timestamp" if t.has("gaze_timestamp") else "timestamp"))
    size = reference_size(path, options, CORE_WORLD, "")
    return _with_ppd(build(path, "pupil-core-gaze", pts, size, options, normalized=True, flip_y=True, space="world camera"), CORE_PX_PER_DEGREE * size[0] / CORE_WORLD[0])


def _with_ppd(sessions: list[ImportedSession], ppd: float) -> list[ImportedSession]:
    """Pixels per degree of the camera, for fixation detection in degrees."""
    for s in sessions:
        s.meta["px_per_degree"] = round(ppd, 3)
    return sessions


def _core_surface_gaze(path: Path, options: ImportOptions) -> list[ImportedSession]:
    t = read_table(path)
    t.require(CORE_SURF_GAZE, "pupil-core-surface-gaze")
    skip = ~t.bools("on_surf") | ~(t.floats("confidence") >= options.confidence)
    pts = Points(t.floats("x_norm"), t.floats("y_norm"), skip=skip, t=t.floats("gaze_timestamp"))
    return build(path, "pupil-core-surface-gaze", pts, reference_size(path, options, None, SURFACE_SIZE), options, normalized=True, flip_y=True, space="surface")


def _first_per(ids: np.ndarray) -> np.ndarray:
    """Rows where an id appears first (Pupil Player repeats a fixation on every world frame it spans)."""
    _, first = np.unique(ids, return_index=True)
    return np.sort(first)


def _core_surface_fixations(path: Path, options: ImportOptions) -> list[ImportedSession]:
    t = read_table(path)
    t.require(CORE_SURF_FIX, "pupil-core-surface-fixations")
    rows = _first_per(t.raw("fixation_id"))
    pts = Points(t.floats("norm_pos_x")[rows], t.floats("norm_pos_y")[rows], skip=~t.bools("on_surf")[rows],
                 t=t.floats("start_timestamp")[rows], duration=t.floats("duration")[rows] / 1000.0)
    return build(path, "pupil-core-surface-fixations", pts, reference_size(path, options, None, SURFACE_SIZE), options, normalized=True, flip_y=True, space="surface")


def _core_fixations(path: Path, options: ImportOptions) -> list[ImportedSession]:
    t = read_table(path)
    t.require(CORE_FIX, "pupil-core-fixations")
    pts = Points(t.floats("norm_pos_x"), t.floats("norm_pos_y"), t=t.floats("start_timestamp"), duration=t.floats("duration") / 1000.0)
    return build(path, "pupil-core-fixations", pts, reference_size(path, options, CORE_WORLD, ""), options, normalized=True, flip_y=True, space="world camera")


def _not(detect, *names: str):
    bad = {n.lower() for n in names}
    return lambda header, path: detect(header, path) and not (bad & _cols(header))


# Specific before general: RIM and surface files also hold "fixation x [px]"-like names.
FORMATS = [
    Format("rim-gaze", "Reference Image Mapper gaze.csv: " + ", ".join(RIM_GAZE), _has(*RIM_GAZE), _rim_gaze),
    Format("rim-fixations", "Reference Image Mapper fixations.csv: " + ", ".join(RIM_FIX), _has(*RIM_FIX), _rim_fixations),
    Format("marker-mapper-gaze", "Marker Mapper gaze.csv or Neon Player gaze_positions_on_surface_<name>.csv: " + ", ".join(MM_GAZE), _has(*MM_GAZE), _mm_gaze),
    Format("marker-mapper-fixations", "Marker Mapper fixations.csv or Neon Player fixations_on_surface_<name>.csv: " + ", ".join(MM_FIX), _has(*MM_FIX), _mm_fixations),
    Format("neon-gaze", "Neon / Pupil Cloud gaze.csv: " + ", ".join(NEON_GAZE) + " [, worn, recording id]", _has(*NEON_GAZE), _neon_gaze),
    Format("neon-fixations", "Neon / Pupil Cloud fixations.csv: " + ", ".join(NEON_FIX), _not(_has(*NEON_FIX), "fixation detected in reference image", "fixation detected on surface"), _neon_fixations),
    Format("pupil-core-surface-gaze", "Pupil Player surfaces/gaze_positions_on_surface_<name>.csv: " + ",".join(CORE_SURF_GAZE), _has(*CORE_SURF_GAZE), _core_surface_gaze),
    Format("pupil-core-surface-fixations", "Pupil Player surfaces/fixations_on_surface_<name>.csv: " + ",".join(CORE_SURF_FIX), _has(*CORE_SURF_FIX), _core_surface_fixations),
    Format("pupil-core-gaze", "Pupil Player gaze_positions.csv: " + ",".join(CORE_GAZE) + " (before v1.4: " + ",".join(CORE_GAZE_OLD) + ")",
           lambda h, p: _not(_has(*CORE_GAZE), "on_surf")(h, p) or _not(_has(*CORE_GAZE_OLD), "on_surf", "diameter", "gaze_timestamp")(h, p), _core_gaze),
    Format("pupil-core-fixations", "Pupil Player fixations.csv: " + ",".join(CORE_FIX), _not(_has(*CORE_FIX), "on_surf"), _core_fixations),
]
