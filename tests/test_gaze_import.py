"""Gaze importers: each format lands on the right pixels, with the right weights and sessions.

Small files are written here with each format's exact column names; the real
Pupil Core exports in ../shared are checked against an independent csv-module
reading of the same rows.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import PUPIL_CORE, ROOT, need
from trackheat import importers
from trackheat.errors import BadInput, UserError
from trackheat.importers import ImportOptions
from trackheat.importers.gaze_table import read_table
from trackheat.store import Store

NEON_H = "section id,recording id,timestamp [ns],gaze x [px],gaze y [px],worn,fixation id,blink id,azimuth [deg],elevation [deg]"
NEON_FIX_H = "section id,recording id,fixation id,start timestamp [ns],end timestamp [ns],duration [ms],fixation x [px],fixation y [px],azimuth [deg],elevation [deg]"
RIM_H = "section id,recording id,timestamp [ns],gaze detected in reference image,gaze position in reference image x [px],gaze position in reference image y [px],fixation id,blink id"
RIM_FIX_H = "section id,recording id,fixation id,start timestamp [ns],end timestamp [ns],duration [ms],fixation detected in reference image,fixation x [px],fixation y [px]"
MM_H = "section id,recording id,timestamp [ns],gaze detected on surface,gaze position on surface x [normalized],gaze position on surface y [normalized],fixation id,blink id"
MM_FIX_H = "section id,recording id,fixation id,start timestamp [ns],end timestamp [ns],duration [ms],fixation detected on surface,fixation x [normalized],fixation y [normalized]"
NP_H = "timestamp [ns],gaze detected on surface,gaze position on surface x [normalized],gaze position on surface y [normalized]"
CORE_H = "gaze_timestamp,world_index,confidence,norm_pos_x,norm_pos_y,base_data,gaze_point_3d_x,gaze_point_3d_y,gaze_point_3d_z"
CORE_SRF_H = "world_timestamp,world_index,gaze_timestamp,x_norm,y_norm,x_scaled,y_scaled,on_surf,confidence"
CORE_SRF_FIX_H = "world_timestamp,world_index,fixation_id,start_timestamp,duration,dispersion,norm_pos_x,norm_pos_y,x_scaled,y_scaled,on_surf"
TOBII_H = ["Recording timestamp [μs]", "Sensor", "Recording name", "Recording resolution height", "Recording resolution width", "Gaze point X [DACS px]",
           "Gaze point Y [DACS px]", "Eye movement type", "Gaze event duration [ms]", "Eye movement type index", "Fixation point X [DACS px]", "Fixation point Y [DACS px]"]
S, R1, R2 = "3f2a0b1c-0000-4000-8000-000000000001", "9b1e6c2d-0000-4000-8000-000000000002", "c0ffee00-0000-4000-8000-000000000003"
T0 = 1_763_712_000_000_000_000


def write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def read(path: Path, **kw) -> list[importers.ImportedSession]:
    return importers.read(path, ImportOptions(**kw))


def pixels(s) -> list[tuple[int, int]]:
    return list(zip(s.xs.tolist(), s.ys.tolist()))


# -- Neon / Pupil Cloud --------------------------------------------------------
def test_neon_gaze_pixels_worn_and_bad_rows(tmp_path):
    f = write(tmp_path / "gaze.csv", NEON_H, [
        f"{S},{R1},{T0},100.4,200.6,1.0,1,,0,0",
        f"{S},{R1},{T0 + 5_000_000},1599.9,1199.99,1.0,1,,0,0",  # last pixel
        f"{S},{R1},{T0 + 10_000_000},50,50,0.0,,,0,0",  # not worn: skipped
        f"{S},{R1},{T0 + 15_000_000},,,1.0,,,0,0",  # empty: skipped
        f"{S},{R1},{T0 + 20_000_000},nan,3,1.0,,,0,0",  # NaN: skipped
        f"{S},{R1},{T0 + 25_000_000},1700,10,1.0,,,0,0",  # off the scene camera: dropped
        f"{S},{R1},{T0 + 30_000_000},-0.5,10,1.0,,,0,0",  # dropped
        f"{S},{R1},{T0 + 35_000_000},0,0,1.0,,,0,0",
    ])
    [s] = read(f)
    assert s.source.startswith("neon-gaze:")
    assert s.kind == "gaze"
    assert (s.canvas.kind, s.canvas.width, s.canvas.height) == ("image", 1600, 1200)
    assert pixels(s) == [(100, 200), (1599, 1199), (0, 0)]
    assert (s.skipped, s.dropped) == (3, 2)
    assert s.counts.tolist() == [1, 1, 1]
    assert s.started == pytest.approx(T0 / 1e9) and s.ended == pytest.approx(T0 / 1e9 + 0.035)
    assert s.meta["recording id"] == R1 and s.meta["weight"] == "count"


def test_neon_worn_true_false_and_reference_size(tmp_path):
    f = write(tmp_path / "gaze.csv", NEON_H, [f"{S},{R1},{T0 + i * 5_000_000},{10 * i},{5 * i},{'True' if i != 2 else 'False'},,,0,0" for i in range(5)])
    [s] = read(f, reference_size=(800, 600))
    assert (s.canvas.width, s.canvas.height) == (800, 600)
    assert pixels(s) == [(0, 0), (10, 5), (30, 15), (40, 20)]
    assert s.skipped == 1
    # Gaze samples carry the gap to the next sample as dwell (200 Hz: 5 ms; the gap over the skipped one is 10 ms).
    assert s.dwell.tolist() == pytest.approx([0.005, 0.010, 0.005, 0.005])


def test_neon_fixations_weigh_by_duration(tmp_path):
    f = write(tmp_path / "fixations.csv", NEON_FIX_H, [
        f"{S},{R1},1,{T0},{T0 + 250_000_000},250,400.2,300.7,0,0",
        f"{S},{R1},2,{T0 + 300_000_000},{T0 + 1_300_000_000},1000,800,600,0,0",
        f"{S},{R1},3,{T0 + 1_400_000_000},{T0 + 1_500_000_000},100,2000,600,0,0",  # off the scene: dropped
    ])
    [s] = read(f)
    assert s.source.startswith("neon-fixations:")
    assert pixels(s) == [(400, 300), (800, 600)]
    assert s.counts.tolist() == [1, 1]
    assert s.dwell.tolist() == pytest.approx([0.25, 1.0])
    assert s.dropped == 1 and s.meta["weight"] == "duration"
    assert s.ended == pytest.approx((T0 + 1_500_000_000) / 1e9)
    [c] = read(f, weight="count")
    assert c.meta["weight"] == "count" and c.dwell.tolist() == pytest.approx([0.25, 1.0])


# -- Reference Image Mapper ----------------------------------------------------
def test_rim_several_recordings_give_several_sessions(tmp_path):
    rows = []
    for k in range(6):
        rec = R1 if k % 2 == 0 else R2
        rows.append(f"{S},{rec},{T0 + k * 5_000_000},true,{100 + k},{50 + k},,")
    rows.append(f"{S},{R2},{T0 + 99},false,,,,")  # reference not localised: skipped
    rows.append(f"{S},{R1},{T0 + 98},false,900,20,,")  # not detected: skipped
    f = write(tmp_path / "gaze.csv", RIM_H, rows)
    s1, s2 = read(f, reference_size=(640, 480))
    assert [s.meta["recording id"] for s in (s1, s2)] == [R1, R2]
    assert pixels(s1) == [(100, 50), (102, 52), (104, 54)]
    assert pixels(s2) == [(101, 51), (103, 53), (105, 55)]
    assert (s1.skipped, s2.skipped) == (1, 1)
    assert s1.source != s2.source and s1.canvas.width == 640


def test_rim_fixations_and_reference_image_beside(tmp_path):
    import cv2

    f = write(tmp_path / "fixations.csv", RIM_FIX_H, [
        f"{S},{R1},1,{T0},{T0 + 1},300,true,10.5,20.5",
        f"{S},{R1},2,{T0 + 2},{T0 + 3},700,false,,",
        f"{S},{R1},3,{T0 + 4},{T0 + 5},200,true,330,20",  # outside the 320-wide image: dropped
    ])
    with pytest.raises(UserError, match="reference.size"):
        read(f)
    cv2.imwrite(str(tmp_path / "reference_image.jpeg"), np.zeros((240, 320, 3), np.uint8))
    [s] = read(f)
    assert (s.canvas.width, s.canvas.height) == (320, 240)
    assert pixels(s) == [(10, 20)] and s.dwell.tolist() == pytest.approx([0.3])
    assert (s.skipped, s.dropped) == (1, 1)


# -- Marker Mapper / Neon Player surfaces -----------------------------------------
def test_marker_mapper_scales_normalized_top_left(tmp_path):
    f = write(tmp_path / "gaze.csv", MM_H, [
        f"{S},{R1},{T0},true,0.25,0.5,,",
        f"{S},{R1},{T0 + 5_000_000},true,0,1,,",
        f"{S},{R1},{T0 + 10_000_000},true,1.2,0.5,,",  # off the surface: dropped
        f"{S},{R1},{T0 + 15_000_000},false,0.5,0.5,,",  # not on the surface: skipped
        f"{S},{R1},{T0 + 20_000_000},false,,,,",  # surface not localised: skipped
    ])
    with pytest.raises(UserError, match="reference.size"):
        read(f)
    [s] = read(f, reference_size=(800, 600))
    assert pixels(s) == [(200, 300), (0, 599)]  # no y flip: origin top-left
    assert (s.skipped, s.dropped) == (2, 1)
    fx = write(tmp_path / "fixations.csv", MM_FIX_H, [f"{S},{R1},1,{T0},{T0 + 1},500,true,0.5,0.25"])
    [sf] = read(fx, reference_size=(800, 600))
    assert pixels(sf) == [(400, 150)] and sf.dwell.tolist() == pytest.approx([0.5])


def test_neon_player_surface_file(tmp_path):
    f = write(tmp_path / "gaze_positions_on_surface_Screen.csv", NP_H, [f"{T0},True,0.1,0.9", f"{T0 + 1},False,0.2,0.2"])
    [s] = read(f, reference_size=(1000, 500))
    assert s.source.startswith("marker-mapper-gaze:") and pixels(s) == [(100, 450)] and s.skipped == 1


# -- Pupil Core -----------------------------------------------------------------
def test_core_flips_y_and_skips_low_confidence(tmp_path):
    f = write(tmp_path / "gaze_positions.csv", CORE_H, [
        "100.000,0,0.99,0.25,0.75,100.0-0 100.0-1,0,0,0",
        "100.005,0,0.95,0,0,x,0,0,0",  # bottom-left corner
        "100.010,0,0.30,0.5,0.5,x,0,0,0",  # low confidence: skipped
        "100.015,0,0.97,1.1,0.5,x,0,0,0",  # off the world camera: dropped
    ])
    [s] = read(f)
    assert (s.canvas.width, s.canvas.height) == (1280, 720)
    assert pixels(s) == [(320, 180), (0, 719)]
    assert (s.skipped, s.dropped) == (1, 1)
    [low] = read(f, confidence=0.2)
    assert low.skipped == 0 and (640, 360) in pixels(low)


def test_core_surfaces(tmp_path):
    g = write(tmp_path / "gaze_positions_on_surface_Page.csv", CORE_SRF_H, [
        "1.0,0,1.001,0.5,0.25,0.5,0.25,True,0.99",
        "1.0,0,1.002,1.5,0.25,1.5,0.25,False,0.99",  # not on the surface: skipped
        "1.0,0,1.003,0.5,0.25,0.5,0.25,True,0.10",  # low confidence: skipped
    ])
    [s] = read(g, reference_size=(400, 200))
    assert pixels(s) == [(200, 150)] and s.skipped == 2
    fx = write(tmp_path / "fixations_on_surface_Page.csv", CORE_SRF_FIX_H, [
        # Pupil Player writes a fixation once per world frame it spans: count it once.
        "1.00,0,7,0.99,300.0,1.0,0.5,0.5,0.5,0.5,True",
        "1.03,1,7,0.99,300.0,1.0,0.5,0.5,0.5,0.5,True",
        "1.06,2,7,0.99,300.0,1.0,0.5,0.5,0.5,0.5,True",
        "1.40,12,8,1.35,100.0,1.0,0.1,0.9,0.1,0.9,True",
    ])
    [sf] = read(fx, reference_size=(400, 200))
    assert pixels(sf) == [(200, 100), (40, 20)]
    assert sf.dwell.tolist() == pytest.approx([0.3, 0.1])


def _core_reference(path: Path, confidence: float, w: int = 1280, h: int = 720):
    """The same rules, row by row with the csv module: what the fast reader must match."""
    keep, skipped, dropped = [], 0, 0
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    head = rows[0]
    ci, xi, yi = head.index("confidence"), head.index("norm_pos_x"), head.index("norm_pos_y")
    for r in rows[1:]:
        c, x, y = float(r[ci]), float(r[xi]), float(r[yi])
        if not (c >= confidence) or math.isnan(x) or math.isnan(y):
            skipped += 1
        elif 0 <= x <= 1 and 0 <= y <= 1:
            keep.append((min(int(math.floor(x * w)), w - 1), min(int(math.floor((1 - y) * h)), h - 1)))
        else:
            dropped += 1
    return keep, skipped, dropped


@pytest.mark.parametrize("name", ["Saccade_gaze_positions.csv", "SmoothPursuit_gaze_positions.csv", "VOR_gaze_positions.csv", "smooth-pursuit-gaze_positions.csv"])
def test_real_pupil_core_exports(name):
    path = need(PUPIL_CORE / name)
    [s] = read(path)
    keep, skipped, dropped = _core_reference(path, 0.6)
    assert s.source == f"pupil-core-gaze:{name}"
    assert sorted(pixels(s)) == sorted(keep)
    assert (s.skipped, s.dropped) == (skipped, dropped)
    assert len(keep) > 1000
    # 120-200 Hz: a sample stands for a few milliseconds, and the session's time adds up.
    assert 0.002 < float(np.median(s.dwell)) < 0.02
    assert s.active_seconds == pytest.approx(float(s.dwell.sum()))


def test_real_core_file_starting_with_an_empty_line():
    path = need(PUPIL_CORE / "SmoothPursuit_gaze_positions.csv")
    assert path.read_bytes()[:1] in (b"\n", b"\r")
    t = read_table(path)
    assert t.header[0] == "gaze_timestamp" and t.line_of(0) == 3
    assert t.n == 2774


# -- Tobii Pro Lab ------------------------------------------------------------------
def _tsv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.write_text("\t".join(header) + "\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_tobii_fixation_once_per_index_and_duration(tmp_path):
    rows = []
    for k in range(10):  # fixation 1: 10 samples at (100, 100), 500 ms
        rows.append([1000 + k * 8333, "Eye Tracker", "Rec1", 1080, 1920, 100 + k % 2, 100, "Fixation", 500, 1, 100, 100])
        rows.append([1001 + k * 8333, "Gyroscope", "Rec1", 1080, 1920, "", "", "Fixation", 500, 1, 100, 100])
    for k in range(3):  # a saccade between
        rows.append([90000 + k * 8333, "Eye Tracker", "Rec1", 1080, 1920, 300 + 100 * k, 300, "Saccade", 25, 1, "", ""])
    for k in range(4):  # fixation 2: 4 samples at (1500, 900), 100 ms
        rows.append([120000 + k * 8333, "Eye Tracker", "Rec1", 1080, 1920, 1500, 900, "Fixation", 100, 2, 1500, 900])
    rows.append([160000, "Eye Tracker", "Rec1", 1080, 1920, "", "", "EyesNotFound", 50, 1, "", ""])
    f = _tsv(tmp_path / "export.tsv", TOBII_H, rows)
    [s] = read(f)
    assert s.source.startswith("tobii-tsv:")
    assert (s.canvas.width, s.canvas.height) == (1920, 1080)  # from "Recording resolution"
    assert pixels(s) == [(100, 100), (1500, 900)]
    assert s.dwell.tolist() == pytest.approx([0.5, 0.1])
    assert s.counts.tolist() == [1, 1]


def test_tobii_gaze_points_without_fixation_columns(tmp_path):
    header = ["Recording timestamp", "Sensor", "Gaze point X", "Gaze point Y"]
    rows = [[0, "Eye Tracker", 10, 20], [8333, "Eye Tracker", "", ""], [16666, "Accelerometer", "", ""], [25000, "Eye Tracker", 30, 40], [33333, "Eye Tracker", 5000, 40]]
    f = _tsv(tmp_path / "gaze.tsv", header, rows)
    [s] = read(f, reference_size=(1280, 1024))
    assert pixels(s) == [(10, 20), (30, 40)]
    assert (s.skipped, s.dropped) == (1, 1)  # the empty eye-tracker row; the accelerometer row is not gaze at all


# -- plain gaze CSV ---------------------------------------------------------------------
def test_gaze_csv_pixels_normalized_and_durations(tmp_path):
    f = write(tmp_path / "fix.csv", "x,y,duration", ["10,20,250", "30.7,40.2,750"])
    [s] = read(f)
    assert s.source.startswith("gaze-csv:") and pixels(s) == [(10, 20), (30, 40)]
    assert s.dwell.tolist() == pytest.approx([0.25, 0.75]) and s.meta["weight"] == "duration"
    n = write(tmp_path / "norm.csv", "x,y", ["0.5,0.5", "0.1,0.2"])
    with pytest.raises(UserError, match="reference.size"):
        read(n, format="gaze-csv", normalized=True)
    [sn] = read(n, format="gaze-csv", normalized=True, reference_size=(200, 100))
    assert pixels(sn) == [(100, 50), (20, 20)] and sn.meta["weight"] == "count"


# -- bad input ---------------------------------------------------------------------------------
def test_unknown_header_lists_the_gaze_formats(tmp_path):
    from trackheat.importers import listing

    f = write(tmp_path / "what.csv", "foo,bar,baz", ["1,2,3"])
    with pytest.raises(BadInput) as e:
        read(f)
    msg = str(e.value)
    assert "'foo', 'bar', 'baz'" in msg and "trackheat import --formats" in msg  # the listing names them
    for name in ("neon-gaze", "rim-gaze", "marker-mapper-gaze", "pupil-core-gaze", "tobii-tsv", "gaze-csv"):
        assert name in listing()
    assert "\n" not in msg


def test_missing_columns_and_bad_cells_name_the_line(tmp_path):
    f = write(tmp_path / "gaze.csv", "timestamp [ns],gaze x [px]", [f"{T0},1"])
    with pytest.raises(BadInput, match="missing column 'gaze y \\[px\\]'"):
        read(f, format="neon-gaze")
    g = write(tmp_path / "g2.csv", NEON_H, [f"{S},{R1},{T0},1,2,1.0,,,0,0", f"{S},{R1},{T0 + 1},abc,2,1.0,,,0,0"])
    with pytest.raises(BadInput, match=r"g2.csv:3: gaze x \[px\] is not a number: 'abc'"):
        read(g)
    r = write(tmp_path / "g3.csv", NEON_H, [f"{S},{R1},{T0},1,2,1.0,,,0,0", f"{S},{R1},{T0 + 1},1,2"])
    with pytest.raises(BadInput, match="g3.csv:3: expected 10 columns"):
        read(r)


def test_quoted_export_takes_the_csv_path(tmp_path):
    f = write(tmp_path / "gaze.csv", NEON_H, [f'"{S}","{R1}",{T0},"12.5",7,1.0,,,0,0', f"{S},{R1},{T0 + 5},13,8,1.0,,,0,0"])
    [s] = read(f)
    assert pixels(s) == [(12, 7), (13, 8)]


def test_two_recordings_sum_in_the_store(tmp_path):
    a = write(tmp_path / "a.csv", "x,y,duration", ["10,10,100", "20,20,200"])
    b = write(tmp_path / "b.csv", "x,y,duration", ["10,10,300", "30,30,400"])
    with Store(tmp_path / "s.db") as st:
        ids = st.save_imported(read(a, reference_size=(64, 64))) + st.save_imported(read(b, reference_size=(64, 64)))
        p = st.positions(ids)
        got = {(x, y): (c, d) for x, y, c, d in zip(p.x.tolist(), p.y.tolist(), p.count.tolist(), p.dwell.tolist())}
        assert got == {(10, 10): (2, pytest.approx(0.4)), (20, 20): (1, pytest.approx(0.2)), (30, 30): (1, pytest.approx(0.4))}
        assert {st.session(i).kind for i in ids} == {"gaze"}


# -- the fast cell paths ----------------------------------------------------------------
def test_plain_cells_parse_exactly_as_float_and_odd_cells_fall_back(tmp_path):
    """The column-wise decimal path must give the very float float() gives; anything else keeps numpy's cast."""
    rng = np.random.default_rng(7)
    plain = [f"{v:.{k}f}" for v, k in zip(rng.normal(0, 1e4, 3000), rng.integers(0, 9, 3000))]
    plain += ["0", "-0", "007", ".5", "5.", "-.5", "123456789012345", "0.1", "1599.999"]
    odd = ["nan", "NaN", "1e5", "-2.5E-3", " 7", "8 ", "+3", "inf", "1234567890123456.7", "0.12345678901234567"]
    cells = plain + odd + [""]
    rows = [f"{S},{R1},{T0 + i},{c},{c},1.0,,,0,0" for i, c in enumerate(cells)]
    t = read_table(write(tmp_path / "gaze.csv", NEON_H, rows))
    got = t.floats("gaze x [px]")
    want = [float(c) if c.strip() else math.nan for c in cells]
    assert [math.copysign(1, g) for g in got[: len(plain)]] == [math.copysign(1, w) for w in want[: len(plain)]]  # -0 stays -0
    for g, w, c in zip(got.tolist(), want, cells):
        assert (math.isnan(g) and math.isnan(w)) or g == w, c
    assert t.ints("timestamp [ns]").tolist() == [T0 + i for i in range(len(cells))]  # 19 digits, exact
    bad = write(tmp_path / "bad.csv", NEON_H, rows[:5] + [f"{S},{R1},{T0},1.2.3,4,1.0,,,0,0"])
    with pytest.raises(BadInput, match=r"bad.csv:7: gaze x \[px\] is not a number: '1.2.3'"):
        read_table(bad).floats("gaze x [px]")
    ts_bad = write(tmp_path / "ts.csv", NEON_H, rows[:3] + [f"{S},{R1},,1,4,1.0,,,0,0"])
    with pytest.raises(BadInput, match=r"ts.csv:5: timestamp \[ns\] is empty"):
        read_table(ts_bad).ints("timestamp [ns]")


def test_regular_and_general_table_paths_agree(tmp_path, monkeypatch):
    """A plain file takes the one-reshape path; CRLF, blank lines or no final newline must read the same."""
    from trackheat.importers import gaze_table

    regular = []
    real = gaze_table._read_regular
    monkeypatch.setattr(gaze_table, "_read_regular", lambda *a: regular.append(real(*a) is not None) or real(*a))
    rows = [f"{S},{R1 if i % 3 else R2},{T0 + i * 5_000_000},{i * 1.5:.3f},{i % 7},{'1.0' if i % 5 else '0.0'},,,0,0" for i in range(40)]
    text = NEON_H + "\n" + "\n".join(rows) + "\n"
    variants = {"plain": text, "crlf": text.replace("\n", "\r\n"), "blank": text.replace(rows[10] + "\n", rows[10] + "\n\n"), "no-final-newline": text[:-1]}
    seen = []
    for name, body in variants.items():
        path = tmp_path / f"{name}.csv"
        path.write_bytes(body.encode())
        t = read_table(path)
        assert t.n == 40, name
        seen.append((t.floats("gaze x [px]").tolist(), t.ints("timestamp [ns]").tolist(), t.bools("worn").tolist(), t.groups("recording id")[0], t.line_of(39)))
        [s1, s2] = read(path)  # two recordings
        assert s1.moves + s2.moves + s1.skipped + s2.skipped == 40
    for other in seen[1:]:
        assert other[:4] == seen[0][:4]
    assert seen[0][4] == 41 and seen[2][4] == 42  # line numbers count the blank line
    assert regular[::2] == [True, False, False, True]  # (read() reads each file a second time)


def test_cells_at_the_end_of_the_file_are_cut_whole(tmp_path):
    """The file is mapped, not padded: the last cells (long ones too) must be cut from its tail exactly."""
    long_id = "r" * 150
    for end in ("\n", ""):
        path = tmp_path / f"end{len(end)}.csv"
        path.write_bytes(f"x,y,recording id\n1.5,2,{long_id}\n3.25,4,{long_id[:-1]}Z{end}".encode())
        t = read_table(path)
        assert t.floats("x").tolist() == [1.5, 3.25] and t.ints("y").tolist() == [2, 4]
        assert t.groups("recording id") == ([long_id, long_id[:-1] + "Z"], pytest.approx([0, 1]))
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(BadInput, match="empty file"):
        read_table(empty)


def test_tobii_weight_count_draws_gaze_samples_not_fixations():
    """A Pro Lab export holds both: fixations by default, gaze samples when asked to count."""
    from trackheat import importers
    from trackheat.importers import ImportOptions

    tsv = ROOT / "sample_logs" / "gaze" / "tobii" / "data_export.tsv"
    [fix] = importers.read(tsv, ImportOptions())
    [gaze] = importers.read(tsv, ImportOptions(weight="count"))
    assert fix.moves == 40  # one per fixation, however many sample rows repeat it
    assert gaze.moves == 1711 and gaze.skipped == 40 and gaze.dropped == 56
