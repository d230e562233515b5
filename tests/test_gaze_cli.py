"""`trackheat gaze`: the real command, headless, on every sample format; peaks, weights, bins, errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import ROOT, trackheat
from trackheat.outputs import gaze
from trackheat.importers import ImportOptions
from trackheat.store import Store

SAMPLES = ROOT / "sample_logs" / "gaze"
REFERENCE = SAMPLES / "reference.png"
SAMPLE_FILES = [
    "neon/gaze.csv", "neon/fixations.csv", "rim/gaze.csv", "rim/fixations.csv",
    "marker-mapper/gaze.csv", "marker-mapper/fixations.csv",
    "neon-player/gaze_positions_on_surface_Page.csv", "neon-player/fixations_on_surface_Page.csv",
    "pupil-core/gaze_positions.csv", "pupil-core/surfaces/gaze_positions_on_surface_Page.csv", "pupil-core/surfaces/fixations_on_surface_Page.csv",
    "tobii/data_export.tsv", "plain/fixations.csv",
]
CORE_H = "gaze_timestamp,world_index,confidence,norm_pos_x,norm_pos_y,base_data"


def reference(tmp_path: Path, w: int, h: int) -> Path:
    p = tmp_path / f"ref_{w}x{h}.png"
    img = np.full((h, w, 3), 200, np.uint8)
    cv2.rectangle(img, (w // 4, h // 4), (w // 2, h // 2), (40, 90, 160), -1)
    cv2.imwrite(str(p), img)
    return p


def peak_of(d: np.ndarray) -> tuple[int, int]:
    y, x = np.unravel_index(int(np.argmax(d)), d.shape)
    return int(x), int(y)


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_every_sample_format_writes_both_images_headless(tmp_path, name):
    out = tmp_path / "out"
    p = trackheat("gaze", SAMPLES / name, "--reference", REFERENCE, "-o", out, "--json")
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    *sessions, images = lines
    assert sessions and all(s["count"] > 0 for s in sessions)
    ref = cv2.imread(str(REFERENCE))
    heat = cv2.imread(str(out / "heatmap.png"), cv2.IMREAD_UNCHANGED)
    over = cv2.imread(str(out / "overlay.png"), cv2.IMREAD_COLOR)
    assert heat.shape == (ref.shape[0], ref.shape[1], 4)  # RGBA at the reference's size
    assert heat[..., 3].max() == 255 and heat[..., 3].min() == 0  # hot somewhere, transparent elsewhere
    assert over.shape[0] >= ref.shape[0] and over.shape[1] > ref.shape[1]  # title and colour bar around it
    # Every sample reads the same simulated page: nobody looks at the footer (y > 1130 of 1200).
    px, py = images["peak"]
    assert 0 <= px < ref.shape[1] and 100 < py < 1130


def test_core_point_at_quarter_three_quarters_peaks_at_25_25(tmp_path):
    f = tmp_path / "gaze_positions.csv"
    f.write_text(CORE_H + "\n" + "10.0,0,0.99,0.25,0.75,10.0-0\n")
    ref = reference(tmp_path, 1000, 600)
    out = tmp_path / "out"
    p = trackheat("gaze", f, "--reference", ref, "-o", out, "--density", out / "d.npy", "--json", check=True)
    d = np.load(out / "d.npy")
    assert d.shape == (600, 1000)
    x, y = peak_of(d)
    bin_px = 1000 / 300  # one histogram bin
    assert abs(x - 250) <= bin_px and abs(y - 150) <= bin_px
    assert json.loads(p.stdout.splitlines()[-1])["peak"] == [x, y]


def _fixations(path: Path, rows: list[tuple[float, float, int]]) -> Path:
    path.write_text("x,y,duration\n" + "".join(f"{x},{y},{d}\n" for x, y, d in rows))
    return path


def test_duration_weighting_and_override(tmp_path):
    ref = reference(tmp_path, 800, 600)
    # Two short fixations at A, one long one at B.
    f = _fixations(tmp_path / "fix.csv", [(200, 150, 100), (200, 150, 100), (600, 450, 900)])
    by_time = gaze.heatmap([f], ref, tmp_path / "a", sigma=2)
    by_count = gaze.heatmap([f], ref, tmp_path / "b", options=ImportOptions(weight="count"), sigma=2)
    assert by_time.weight == "duration" and by_count.weight == "count"
    assert np.hypot(*np.subtract(by_time.peak, (600, 450))) < 5
    assert np.hypot(*np.subtract(by_count.peak, (200, 150))) < 5
    # Linear in the weights: B/A is 900/200 by time, 1/2 by count.
    a, b = (200, 150), (600, 450)
    assert by_time.density[b[1], b[0]] / by_time.density[a[1], a[0]] == pytest.approx(4.5, rel=0.05)
    assert by_count.density[b[1], b[0]] / by_count.density[a[1], a[0]] == pytest.approx(0.5, rel=0.05)


def test_two_recordings_add_up_without_normalization(tmp_path):
    ref = reference(tmp_path, 640, 480)
    one = _fixations(tmp_path / "one.csv", [(100, 100, 300), (320, 240, 200)])
    two = _fixations(tmp_path / "two.csv", [(320, 240, 500), (500, 400, 100), (500, 400, 100)])
    d1 = gaze.heatmap([one], ref, tmp_path / "1").density
    d2 = gaze.heatmap([two], ref, tmp_path / "2").density
    both = gaze.heatmap([one, two], ref, tmp_path / "12")
    assert len(both.sessions) == 2
    np.testing.assert_allclose(both.density, d1 + d2, rtol=1e-4, atol=1e-6 * float(both.density.max()))


@pytest.mark.parametrize("w,h,bins", [(1600, 900, (300, 169)), (900, 1600, (169, 300)), (1000, 1000, (300, 300))])
def test_histogram_has_300_bins_on_the_wider_side(tmp_path, w, h, bins):
    ref = reference(tmp_path, w, h)
    f = _fixations(tmp_path / "one.csv", [(w * 0.4, h * 0.6, 100)])
    r = gaze.heatmap([f], ref, tmp_path / "o", sigma=0)
    assert r.bins == bins
    # With no blur, one point fills one bin: its footprint is W/bx by H/by pixels.
    d = r.density
    hot_cols = np.flatnonzero(d.max(axis=0) > 0.5 * d.max())
    hot_rows = np.flatnonzero(d.max(axis=1) > 0.5 * d.max())
    assert len(hot_cols) == pytest.approx(w / bins[0], abs=2)
    assert len(hot_rows) == pytest.approx(h / bins[1], abs=2)


def test_session_space_is_scaled_to_the_reference(tmp_path):
    # Neon fixations live in the 1600x1200 scene camera; drawn on an 800x600 frame they halve.
    f = tmp_path / "fixations.csv"
    f.write_text("section id,recording id,fixation id,start timestamp [ns],end timestamp [ns],duration [ms],fixation x [px],fixation y [px],azimuth [deg],elevation [deg]\n"
                 "s,r,1,1763712000000000000,1763712000300000000,300,1200,300,0,0\n")
    r = gaze.heatmap([f], reference(tmp_path, 800, 600), tmp_path / "o")
    assert np.hypot(r.peak[0] - 600, r.peak[1] - 150) <= 4


def test_db_keeps_sessions_and_a_bad_file_imports_nothing(tmp_path):
    db = tmp_path / "gaze.db"
    ref = reference(tmp_path, 1600, 1200)
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    p = trackheat("gaze", SAMPLES / "rim" / "gaze.csv", bad, "--reference", ref, "-o", tmp_path / "o", "--db", db)
    assert p.returncode == 2
    assert p.stderr.startswith("trackheat gaze: ") and len(p.stderr.strip().splitlines()) == 1
    assert "unknown format" in p.stderr and "trackheat import --formats" in p.stderr
    assert not db.exists() or Store(db).sessions() == []
    assert not (tmp_path / "o" / "overlay.png").exists()
    p = trackheat("gaze", SAMPLES / "rim" / "gaze.csv", "--reference", ref, "-o", tmp_path / "o", "--db", db, check=True)
    with Store(db) as st:
        infos = st.sessions()
        assert len(infos) == 2  # two recording ids in one RIM file
        assert {s.kind for s in infos} == {"gaze"}
        assert {(s.canvas.kind, s.canvas.width, s.canvas.height) for s in infos} == {("image", 1600, 1200)}
    assert "session 1:" in p.stdout and "session 2:" in p.stdout


@pytest.mark.parametrize("make,needle", [
    (lambda d: d / "missing.png", "no such file"),
    (lambda d: (d / "notimg.png").write_text("not an image") and d / "notimg.png", "not an image"),
])
def test_unreadable_reference_is_one_line_exit_2(tmp_path, make, needle):
    ref = make(tmp_path)
    p = trackheat("gaze", SAMPLES / "plain" / "fixations.csv", "--reference", ref, "-o", tmp_path / "o")
    assert p.returncode == 2
    assert needle in p.stderr and len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_mixed_samples_and_fixations_ask_for_weight(tmp_path):
    ref = reference(tmp_path, 1600, 1200)
    p = trackheat("gaze", SAMPLES / "neon" / "gaze.csv", SAMPLES / "neon" / "fixations.csv", "--reference", ref, "-o", tmp_path / "o")
    assert p.returncode == 2 and "--weight" in p.stderr
    p = trackheat("gaze", SAMPLES / "neon" / "gaze.csv", SAMPLES / "neon" / "fixations.csv", "--reference", ref, "-o", tmp_path / "o", "--weight", "duration", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.splitlines()[-1])["weight"] == "duration"


def test_plain_xy_csv_is_gaze_here(tmp_path):
    f = tmp_path / "xy.csv"
    f.write_text("x,y\n0.5,0.25\n0.5,0.25\n")
    ref = reference(tmp_path, 400, 200)
    p = trackheat("gaze", f, "--reference", ref, "-o", tmp_path / "o", "--normalized", "--json", check=True)
    last = json.loads(p.stdout.splitlines()[-1])
    assert abs(last["peak"][0] - 200) <= 2 and abs(last["peak"][1] - 50) <= 2 and last["weight"] == "count"


def test_drawn_points_are_what_the_store_holds(tmp_path):
    from trackheat.accumulate import binned

    ref = reference(tmp_path, 1600, 1200)
    sessions = gaze.read_files([SAMPLES / "rim" / "gaze.csv", SAMPLES / "neon" / "fixations.csv"], ImportOptions(weight="duration"), (1600, 1200))
    flat = [s for _, ss in sessions for s in ss]
    with Store(tmp_path / "s.db") as st:
        ids = [i for _, ss in sessions for i in st.save_imported(ss)]
        stored = gaze.points(st, ids, "duration", 1600, 1200)
    mem = gaze.session_points(flat, "duration", 1600, 1200)
    d_stored = binned.binned_density(*stored, width=1600, height=1200)
    d_mem = binned.binned_density(*mem, width=1600, height=1200)
    assert len(stored[0]) < len(mem[0])  # the store summed repeated pixels
    np.testing.assert_allclose(d_mem, d_stored, rtol=1e-5, atol=1e-6 * float(d_mem.max()))
    assert gaze.heatmap([SAMPLES / "rim" / "gaze.csv"], ref, tmp_path / "o", options=ImportOptions(weight="duration")).density.max() > 0


def test_without_a_store_nothing_is_written_but_the_images_and_errors_still_surface(tmp_path, monkeypatch):
    """Without a store the sessions are drawn from memory: no database file appears anywhere
    (not in the output folder, not in a temporary one), and errors are still the command's."""
    import tempfile

    from trackheat.errors import UserError

    ref = reference(tmp_path, 1600, 1200)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    r = gaze.heatmap([SAMPLES / "neon" / "gaze.csv"], ref, tmp_path / "o")
    assert all(sid is None for sid, _, _ in r.sessions) and sum(s.moves for _, _, s in r.sessions) > 0
    assert (tmp_path / "o" / "overlay.png").exists()
    assert not [q for q in tmp_path.rglob("*") if q.suffix == ".db" or q.name.endswith(("-wal", "-journal"))]

    off = tmp_path / "off.csv"
    off.write_text("x,y,duration\n5000,5000,100\n")
    with pytest.raises(UserError, match="nothing to draw"):
        gaze.heatmap([off], ref, tmp_path / "o2")
