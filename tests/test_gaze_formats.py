"""EyeLink ASC and Tobii Studio importers: the real files in ../shared, and hand-made bad ones.

Real files: SR Research EyeLink recordings from pymovements' test files, Tobii
Studio exports from EMDAT's sample data (see each folder's SOURCE.md). The
excerpts in tests/data keep a few lines of each, with attribution (tests/data/README.md).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SHARED, need
from trackheat.errors import BadInput, UserError
from trackheat.importers import ImportOptions
from trackheat.importers import eyelink, tobii_studio

EYELINK = SHARED / "gaze" / "eyelink"
STUDIO = SHARED / "gaze" / "tobii-studio"
DATA = ROOT / "tests" / "data"


def opts(**kw) -> ImportOptions:
    o = ImportOptions()
    for k, v in kw.items():
        setattr(o, k, v)
    return o


# -- EyeLink -------------------------------------------------------------------
@pytest.mark.parametrize("name, size, n_fix, eye", [
    ("eyelink_monocular_example.asc", (1280, 1024), 2, "left"),
    ("eyelink_monocular_2khz_example.asc", (1280, 1024), 2, "left"),
    ("eyelink_monocular_no_dummy_example.asc", (1920, 1080), 2, "left"),
    ("eyelink_binocular_example.asc", (1920, 1080), 4, "mean of both"),
])
def test_eyelink_real_files_give_their_efix_fixations(name, size, n_fix, eye):
    path = need(EYELINK / name)
    [s] = eyelink._read(path, opts())
    assert (s.canvas.bounds.width, s.canvas.bounds.height) == size
    assert s.meta["points"] == "fixations" and s.meta["eye"] == eye
    assert s.moves == n_fix and s.dropped == 0
    # Each EFIX at its own x, y (pixel it falls in), duration-weighted.
    blocks, _ = eyelink.parse(path)
    want = sorted((int(math.floor(x)), int(math.floor(y))) for _, _, _, x, y in blocks[0].fix)
    assert sorted(zip(s.xs.tolist(), s.ys.tolist())) == want
    total = sum(d for _, _, d, _, _ in blocks[0].fix) / 1000 * (0.5 if eye.startswith("mean") else 1)
    assert float(s.dwell.sum()) == pytest.approx(total)
    assert s.meta["messages"] and all(not m[1].startswith("!CAL") for m in s.meta["messages"])


def test_eyelink_samples_skip_missing_values_and_pick_the_eye():
    path = need(EYELINK / "eyelink_binocular_example.asc")
    left = eyelink._read(path, opts(fixations="none", eye="left"))[0]
    right = eyelink._read(path, opts(fixations="none", eye="right"))[0]
    mean = eyelink._read(path, opts(fixations="none"))[0]
    assert left.meta["points"] == "gaze samples"
    # First sample line: 1408660  964.3  541.5  288.0  960.5  538.8  305.0
    assert (left.xs[0], left.ys[0]) == (964, 541)
    assert (right.xs[0], right.ys[0]) == (960, 538)
    assert (mean.xs[0], mean.ys[0]) == (962, 540)  # (964.3 + 960.5) / 2, (541.5 + 538.8) / 2
    assert left.moves + left.skipped == 368 and left.skipped > 0  # blink rows are '.'
    assert mean.moves >= max(left.moves, right.moves)  # one eye is enough for the mean
    no_dummy = eyelink._read(need(EYELINK / "eyelink_monocular_no_dummy_example.asc"), opts(fixations="none"))[0]
    assert no_dummy.skipped == 69 and no_dummy.moves == 228
    with pytest.raises(UserError, match="right eye was not recorded"):
        eyelink._read(need(EYELINK / "eyelink_monocular_example.asc"), opts(eye="right"))


def test_eyelink_px_per_degree_and_messages_in_meta():
    [s] = eyelink._read(need(EYELINK / "eyelink_monocular_example.asc"), opts())
    assert s.meta["px_per_degree"] == pytest.approx((37.17 + 37.75) / 2)
    texts = [m[1] for m in s.meta["messages"]]
    assert "TRIALID 0" in texts and "DISPLAY_COORDS 0 0 1279 1023" in texts
    assert [m[0] for m in s.meta["messages"] if m[1] == "TRIALID 0"] == [2154540.0]


def asc(tmp_path: Path, body: str, name: str = "t.asc") -> Path:
    p = tmp_path / name
    p.write_text("** CONVERTED FROM test.edf\n**\n\n" + body)
    return p


def test_eyelink_blocks_become_sessions_and_unknown_size_is_reported(tmp_path):
    body = ("MSG\t100 TRIALID 1\nSTART\t100 \tLEFT\tSAMPLES\tEVENTS\nSAMPLES\tGAZE\tLEFT\tRATE\t1000.00\n"
            "100\t  10.0\t  20.0\t 500.0\t...\n101\t  11.0\t  21.0\t 500.0\t...\nEND\t102 \tSAMPLES\tEVENTS\tRES\t 30.00\t 30.00\n"
            "MSG\t200 TRIALID 2\nSTART\t200 \tRIGHT\tSAMPLES\tEVENTS\n200\t  30.0\t  40.0\t 500.0\t...\nEND\t201 \tSAMPLES\tEVENTS\n")
    ss = eyelink._read(asc(tmp_path, body), opts(fixations="none"))
    assert [s.meta["recording id"] for s in ss] == ["block 1", "block 2"]
    assert [s.moves for s in ss] == [2, 1]
    assert ss[1].meta["eye"] == "right" and (ss[1].xs[0], ss[1].ys[0]) == (30, 40)
    assert ss[0].meta["messages"] == [[100.0, "TRIALID 1"]] and ss[1].meta["messages"] == [[200.0, "TRIALID 2"]]
    assert ss[0].meta["assumed_size"] == [1920, 1080]
    sized = eyelink._read(asc(tmp_path, body), opts(fixations="none", reference_size=(800, 600)))
    assert "assumed_size" not in sized[0].meta and sized[0].canvas.bounds.width == 800


@pytest.mark.parametrize("body, line, needle", [
    ("START\t1 \tLEFT\tSAMPLES\n1\t  1.0\t  x2\t 3.0\t...\n", 5, "sample y is not a number: 'x2'"),
    ("START\t1 \tLEFT\tSAMPLES\n1\t  1.0\n", 5, "needs time, x, y and pupil"),
    ("START\t1 \tLEFT\tSAMPLES\nEFIX L 1\t2\n", 5, "EFIX needs"),
    ("START\t1 \tLEFT\tSAMPLES\nEFIX L 1\t2\t1\tabc\t3\t4\n", 5, "EFIX x is not a number"),
    ("MSG\t5 DISPLAY_COORDS 0 0 0 0\n", 4, "empty screen"),
    ("START\t1 \tLEFT\tSAMPLES\nSAMPLES\tHREF\tLEFT\n", 5, "not GAZE"),
    ("START\t1 \tLEFT\tSAMPLES\n1\t" + "1" * 100 + "\t2\t3\t...\n", 5, "a field of 100 bytes"),
    ("MSG\t1 hello\n", None, "no samples and no fixations"),
])
def test_eyelink_bad_input_names_file_and_line(tmp_path, body, line, needle):
    p = asc(tmp_path, body)
    with pytest.raises(BadInput) as e:
        eyelink._read(p, opts())
    assert needle in str(e.value)
    assert e.value.line == line and e.value.path == str(p)


def test_eyelink_hostile_long_message_is_bounded(tmp_path):
    p = asc(tmp_path, "MSG\t1 " + "A" * 5_000_000 + "\nSTART\t1 \tLEFT\n1\t 1.0\t 2.0\t 3.0\t...\n")
    [s] = eyelink._read(p, opts(fixations="none"))
    assert len(s.meta["messages"][0][1]) <= eyelink.MAX_MESSAGE


def test_eyelink_excerpt_in_repo_matches_the_real_file():
    """tests/data keeps the first fixation of the binocular file: the same EFIX as the full file."""
    [s] = eyelink._read(DATA / "eyelink-binocular-excerpt.asc", opts())
    assert s.canvas.bounds.width == 1920 and s.moves == 2
    assert sorted(zip(s.xs.tolist(), s.ys.tolist())) == [(956, 541), (961, 540)]


# -- Tobii Studio ---------------------------------------------------------------
def test_studio_fixation_export_reads_preamble_and_skips_unmapped():
    path = need(STUDIO / "P61-Fixation-Data.tsv")
    [s] = tobii_studio._read(path, opts())
    assert (s.canvas.bounds.width, s.canvas.bounds.height) == (1280, 1024)
    assert s.meta["points"] == "fixations" and "assumed_size" not in s.meta
    rows = [line.rstrip("\n").split("\t") for line in path.read_text().splitlines()[19:] if line.strip()]
    unmapped = sum(1 for r in rows if r[3] == "-1" or r[4] == "-1")
    assert s.skipped == unmapped > 0
    assert s.moves + s.skipped + s.dropped == len(rows)
    assert (s.xs[0], s.ys[0]) == (513, 518)  # first row: 12  26  633  513  518
    assert float(s.dwell[0]) == pytest.approx(0.633)


def test_studio_event_export_gives_a_mouse_session_of_clicks_and_no_keys():
    path = need(STUDIO / "P61-Event-Data.tsv")
    [m] = tobii_studio._read(path, opts())
    assert m.kind == "mouse" and (m.canvas.bounds.width, m.canvas.bounds.height) == (1280, 1024)
    text = path.read_text(errors="replace")
    left = text.count("\tLeftMouseClick\t")
    right = text.count("\tRightMouseClick\t")
    assert len(m.clicks) == left + right > 1000
    assert (m.clicks[0][1], m.clicks[0][2], m.clicks[0][3]) == (666, 443, "left")
    assert "KeyPress" not in repr(m.meta)


def test_studio_3_single_table_without_preamble(tmp_path):
    p = tmp_path / "studio3.tsv"
    header = ["RecordingTimestamp", "RecordingResolution", "MouseEvent", "MouseEventX (ADCSpx)", "MouseEventY (ADCSpx)", "GazeEventType",
              "GazeEventDuration", "FixationIndex", "FixationPointX (MCSpx)", "FixationPointY (MCSpx)", "GazePointX (ADCSpx)", "GazePointY (ADCSpx)"]
    rows = [
        ["0", "1024 x 768", "", "", "", "Fixation", "100", "1", "100", "200", "101", "199"],
        ["17", "1024 x 768", "", "", "", "Fixation", "100", "1", "100", "200", "99", "201"],
        ["33", "1024 x 768", "Left", "500", "400", "Saccade", "20", "", "", "", "300", "300"],
        ["50", "1024 x 768", "", "", "", "Fixation", "250", "2", "700", "600"],  # ragged: trailing cells left out
    ]
    p.write_text("\t".join(header) + "\n" + "\n".join("\t".join(r) for r in rows) + "\n")
    assert tobii_studio._detect(header_line := "\t".join(header), p)
    gaze, mouse = tobii_studio._read(p, opts())
    assert gaze.canvas.bounds.width == 1024 and gaze.moves == 2
    assert sorted(zip(gaze.xs.tolist(), gaze.ys.tolist(), gaze.dwell.tolist())) == [(100, 200, 0.1), (700, 600, 0.25)]
    assert mouse.kind == "mouse" and [(c[1], c[2], c[3]) for c in mouse.clicks] == [(500, 400, "left")]
    samples = tobii_studio._read(p, opts(fixations="none"))[0]
    assert samples.meta["points"] == "gaze samples" and samples.moves == 3 and samples.skipped == 1
    assert header_line


@pytest.mark.parametrize("text, line, needle", [
    ("Data properties:\n\nScreen resolution: 1280 x 1024\n\nFixationIndex\tTimestamp\tFixationDuration\tMappedFixationPointX\tMappedFixationPointY\n"
     "1\t0\t100\tabc\t5\n", 6, "MappedFixationPointX is not a number: 'abc'"),
    ("Data properties:\n\nFixationIndex\tTimestamp\tFixationDuration\tMappedFixationPointX\tMappedFixationPointY\n1\t0\t100\t5\t5\t9\t9\n", 4, "expected 5 columns"),
    ("Data properties:\n" + "x\n" * 300, 201, "no table header"),
    ("Data properties:\n\nFixationIndex\tTimestamp\tFixationDuration\tMappedFixationPointX\tMappedFixationPointY\n1\t0\t-5\t5\t5\n", 4, "negative"),
])
def test_studio_bad_input_names_file_and_line(tmp_path, text, line, needle):
    p = tmp_path / "bad.tsv"
    p.write_text(text)
    with pytest.raises(BadInput) as e:
        tobii_studio._read(p, opts())
    assert needle in str(e.value) and e.value.line == line


def test_studio_without_resolution_reports_the_assumed_display(tmp_path):
    p = tmp_path / "nores.tsv"
    p.write_text("Data properties:\n\nFixationIndex\tTimestamp\tFixationDuration\tMappedFixationPointX\tMappedFixationPointY\n1\t0\t100\t5\t5\n")
    [s] = tobii_studio._read(p, opts())
    assert s.meta["assumed_size"] == [1920, 1080]


# -- Tobii Pro Lab: delimiters, units, sensors, resolution, ragged rows ---------------
PL_UNITS = ["Recording timestamp [ms]", "Sensor", "Recording name", "Recording resolution width", "Recording resolution height",
            "Event", "Event value", "Gaze point X [DACS px]", "Gaze point Y [DACS px]", "Mouse position X [DACS px]", "Mouse position Y [DACS px]",
            "Eye movement type", "Gaze event duration [ms]", "Eye movement type index", "Fixation point X [DACS px]", "Fixation point Y [DACS px]"]
PL_ROWS = [
    ["0", "Eye Tracker", "Rec 1", "1280", "1024", "", "", "100", "200", "", "", "Fixation", "150", "1", "101", "201"],
    ["8", "Mouse", "Rec 1", "1280", "1024", "", "", "", "", "640", "512", "", "", "", "", ""],
    ["16", "Eye Tracker", "Rec 1", "1280", "1024", "", "", "102", "202", "", "", "Fixation", "150", "1", "101", "201"],
    ["20", "Mouse", "Rec 1", "1280", "1024", "MouseEvent", "Down, Left", "", "", "650", "520", "", "", "", "", ""],
    ["24", "Gyroscope", "Rec 1", "1280", "1024", "", "", "", "", "", "", "", "", "", "", ""],
    ["33", "Eye Tracker", "Rec 1", "1280", "1024", "", "", "900", "700", "", "", "Saccade", "20", "1", ""],  # ragged: last cell left out
]


def prolab(tmp_path: Path, delimiter: str, header=PL_UNITS, rows=PL_ROWS, name="export") -> Path:
    from trackheat import importers  # noqa: F401

    p = tmp_path / (name + (".tsv" if delimiter == "\t" else ".csv"))
    def line(cells):  # a cell holding the delimiter is quoted, as Pro Lab's CSV does
        return delimiter.join(f'"{c}"' if delimiter in c else c for c in cells)

    p.write_text(line(header) + "\n" + "\n".join(line(r) for r in rows) + "\n", encoding="utf-8")
    return p


@pytest.mark.parametrize("delimiter", ["\t", ",", ";"])
def test_prolab_any_delimiter_gives_gaze_and_mouse_sessions(tmp_path, delimiter):
    from trackheat import importers

    p = prolab(tmp_path, delimiter)
    assert importers.detect(p, ImportOptions()).name == "tobii-tsv"
    gaze, mouse = importers.read(p, ImportOptions())
    assert gaze.kind == "gaze" and gaze.meta["points"] == "fixations"
    assert (gaze.canvas.bounds.width, gaze.canvas.bounds.height) == (1280, 1024) and "assumed_size" not in gaze.meta
    assert list(zip(gaze.xs.tolist(), gaze.ys.tolist())) == [(101, 201)] and gaze.dwell.tolist() == [0.15]
    assert mouse.kind == "mouse" and list(zip(mouse.xs.tolist(), mouse.ys.tolist())) == [(640, 512), (650, 520)]
    assert [(c[1], c[2], c[3]) for c in mouse.clicks] == [(650, 520, "left")]
    # The mouse session runs on the gaze's clock: 8 ms after the first gaze sample.
    assert mouse.ts[0] - gaze.started == pytest.approx(0.008, abs=1e-5)
    samples = importers.read(p, _o(fixations="none"))[0]
    assert samples.meta["points"] == "gaze samples"
    assert list(zip(samples.xs.tolist(), samples.ys.tolist())) == [(100, 200), (102, 202), (900, 700)]  # no mouse or gyro rows


def _o(**kw) -> ImportOptions:
    return opts(**kw)


def test_prolab_headers_without_units_and_no_resolution_report_the_assumption(tmp_path):
    from trackheat import importers

    header = ["Recording timestamp", "Gaze point X", "Gaze point Y"]
    p = prolab(tmp_path, ",", header, [["0", "10", "20"], ["8000", "30", "40"]])
    [s] = importers.read(p, ImportOptions())
    assert s.meta["assumed_size"] == [1920, 1080] and s.moves == 2
    assert s.ts[1] - s.ts[0] == pytest.approx(0.008, abs=1e-5)  # no unit: microseconds, Pro Lab's default
    [sized] = importers.read(p, _o(reference_size=(800, 600)))
    assert "assumed_size" not in sized.meta


def test_prolab_row_two_cells_short_is_one_line_error(tmp_path):
    from trackheat import importers

    rows = [r[:] for r in PL_ROWS]
    rows[2] = rows[2][:-2]
    p = prolab(tmp_path, "\t", rows=rows)
    with pytest.raises(BadInput) as e:
        importers.read(p, ImportOptions())
    assert e.value.line == 4 and "expected 16 columns" in str(e.value)


def test_prolab_huge_cell_is_refused_not_cut(tmp_path, monkeypatch):
    from trackheat import importers
    from trackheat.importers import gaze_table

    monkeypatch.setattr(gaze_table, "MAX_CUT_BYTES", 1 << 16)
    rows = [["0", "Eye Tracker", "R", "1280", "1024", "", "", str(i), "5", "", "", "", "", "", "", ""] for i in range(200)]
    rows[150][2] = "R" * 10_000
    p = prolab(tmp_path, "\t", rows=rows)
    with pytest.raises(BadInput) as e:
        importers.read(p, _o(fixations="none"))
    assert e.value.line == 152 and "10,000 bytes" in str(e.value)


# -- older Pupil Core -----------------------------------------------------------------
def test_old_pupil_core_header_reads_like_the_new_one(tmp_path):
    from trackheat import importers

    new = tmp_path / "gaze_positions.csv"
    new.write_text("gaze_timestamp,world_index,confidence,norm_pos_x,norm_pos_y\n10.0,1,0.9,0.25,0.75\n10.1,2,0.3,0.5,0.5\n10.2,3,0.95,0.5,0.5\n")
    old = tmp_path / "old" / "gaze_positions.csv"
    old.parent.mkdir()
    old.write_text("timestamp,index,confidence,norm_pos_x,norm_pos_y,base_data,gaze_point_3d_x\n10.0,1,0.9,0.25,0.75,x,1\n10.1,2,0.3,0.5,0.5,x,1\n10.2,3,0.95,0.5,0.5,x,1\n")
    assert importers.detect(old, ImportOptions()).name == "pupil-core-gaze"
    [a], [b] = importers.read(new, ImportOptions()), importers.read(old, ImportOptions())
    assert (a.xs.tolist(), a.ys.tolist(), a.skipped) == (b.xs.tolist(), b.ys.tolist(), b.skipped) == ([320, 640], [180, 360], 1)
    pupil = tmp_path / "pupil_positions.csv"
    pupil.write_text("timestamp,index,id,confidence,norm_pos_x,norm_pos_y,diameter\n1,1,0,1,0.5,0.5,30\n")
    with pytest.raises(BadInput, match="unknown format"):
        importers.detect(pupil, ImportOptions())


# -- `trackheat gaze` over every real file: peaks, folders, normalization, JSON, messages ---------
GAZE_ROOT = SHARED / "gaze"


def ref_image(tmp_path: Path, w: int, h: int) -> Path:
    import cv2

    p = tmp_path / f"ref{w}x{h}.png"
    cv2.imwrite(str(p), np.full((h, w, 3), 200, np.uint8))
    return p


def peak(result) -> np.ndarray:
    return np.array(result.peak, float)


@pytest.mark.parametrize("samples, fixations, size, tolerance", [
    # The same recording drawn from its samples and from the tracker's own fixations: the peaks agree
    # within 1.5 % of the reference's width (the blur is 1 % of it).
    ("eyelink/eyelink_binocular_example.asc", "eyelink/eyelink_binocular_example.asc", (1920, 1080), 0.015),
    ("eyelink/eyelink_monocular_no_dummy_example.asc", "eyelink/eyelink_monocular_no_dummy_example.asc", (1920, 1080), 0.015),
    ("eyelink/eyelink_monocular_example.asc", "eyelink/eyelink_monocular_example.asc", (1280, 1024), 0.015),
    ("pupil-core-tutorial/gaze_positions.csv", "pupil-core-tutorial/fixations.csv", (1280, 720), 0.015),
])
def test_real_samples_peak_where_the_files_own_fixations_do(tmp_path, samples, fixations, size, tolerance):
    from trackheat.outputs import gaze

    ref = ref_image(tmp_path, *size)
    a = gaze.heatmap([need(GAZE_ROOT / samples)], ref, tmp_path / "s", options=opts(fixations="none"))
    b = gaze.heatmap([need(GAZE_ROOT / fixations)], ref, tmp_path / "f", options=opts(fixations="file"))
    assert np.hypot(*(peak(a) - peak(b))) <= tolerance * size[0], (a.peak, b.peak)


def test_every_real_gaze_file_draws(tmp_path):
    """Acceptance: each file in ../shared/data/gaze reads and draws (folders as given), peak inside the reference."""
    from trackheat.outputs import gaze

    need(GAZE_ROOT)
    ref = ref_image(tmp_path, 1280, 1024)
    drawn = 0
    for f in sorted(GAZE_ROOT.rglob("*")):
        if f.suffix not in (".csv", ".tsv", ".asc") or f.name == "blinks.csv" or f.name == "P61-Event-Data.tsv":
            continue
        r = gaze.heatmap([f], ref, tmp_path / f.stem)
        assert 0 <= r.peak[0] < 1280 and 0 <= r.peak[1] < 1024 and r.density.max() > 0
        drawn += 1
    assert drawn == 11  # 4 EyeLink, 4 + 2 Pupil Core, 1 Tobii Studio fixation export (its event export is mouse clicks: tested above)


def test_cli_folder_json_and_left_out_members(tmp_path):
    ref = ref_image(tmp_path, 1280, 720)
    proc = trackheat_cli("gaze", need(GAZE_ROOT / "pupil-core-tutorial"), "--reference", ref, "-o", tmp_path / "o", "--fixations", "idt", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    [rec], img = lines[:-1], lines[-1]
    assert rec["file"].endswith("gaze_positions.csv") and rec["points"] == "fixations (I-DT)"
    assert rec["samples"] == 1611 and rec["fixations"] > 10 and rec["skipped"] == 441
    assert set(rec) >= {"samples", "fixations", "skipped", "off_reference", "weight"}
    assert rec["weight"] == pytest.approx(rec["seconds"], abs=1e-3)
    assert img["weight"] == "duration" and (tmp_path / "o" / "overlay.png").exists()
    err = proc.stderr.splitlines()
    assert any(e.endswith("fixations.csv: left out: holds fixations, not gaze samples (use its own: file)") for e in err)
    assert any("blinks.csv: left out" in e for e in err)


def test_cli_normalize_recording_gives_each_recording_weight_one_and_top_fixes_the_scale(tmp_path):
    ref = ref_image(tmp_path, 1920, 1080)
    files = [need(EYELINK / "eyelink_binocular_example.asc"), need(EYELINK / "eyelink_monocular_no_dummy_example.asc")]
    proc = trackheat_cli("gaze", *files, "--reference", ref, "-o", tmp_path / "o", "--normalize", "recording", "--json")
    recs = [json.loads(x) for x in proc.stdout.splitlines()[:-1]]
    assert proc.returncode == 0 and [r["weight"] for r in recs] == [1.0, 1.0]
    dur = trackheat_cli("gaze", *files, "--reference", ref, "-o", tmp_path / "d", "--normalize", "duration", "--json")
    recs_d = [json.loads(x) for x in dur.stdout.splitlines()[:-1]]
    assert all(0 < r["weight"] < 1 for r in recs_d)  # fixation time over recording time
    # --top: the same map under a higher fixed top is fainter, pixel for pixel.
    import cv2

    own = trackheat_cli("gaze", files[0], "--reference", ref, "-o", tmp_path / "t1")
    fixed = trackheat_cli("gaze", files[0], "--reference", ref, "-o", tmp_path / "t2", "--top", "10")
    assert own.returncode == fixed.returncode == 0
    a = cv2.imread(str(tmp_path / "t1" / "heatmap.png"), cv2.IMREAD_UNCHANGED)
    b = cv2.imread(str(tmp_path / "t2" / "heatmap.png"), cv2.IMREAD_UNCHANGED)
    assert a[..., 3].astype(int).sum() > b[..., 3].astype(int).sum()


def test_cli_says_when_it_assumes_the_display(tmp_path):
    ref = ref_image(tmp_path, 800, 600)
    p = tmp_path / "export.tsv"
    p.write_text("Recording timestamp [ms]\tGaze point X\tGaze point Y\n0\t100\t100\n10\t110\t100\n")
    proc = trackheat_cli("gaze", p, "--reference", ref, "-o", tmp_path / "o")
    assert proc.returncode == 0
    assert proc.stderr.strip() == f"{p}: assuming a 1920x1080 display; give --reference-size WxH"
    quiet = trackheat_cli("gaze", p, "--reference", ref, "-o", tmp_path / "o", "--reference-size", "1920x1080")
    assert quiet.returncode == 0 and quiet.stderr == ""


@pytest.mark.parametrize("args, needle", [
    (["eyelink_monocular_example.asc", "--fixations", "file", "--eye", "right"], "right eye was not recorded"),
    (["bad.asc"], "bad.asc:5: sample x is not a number"),
    (["gaze_positions.csv", "--fixations", "file"], "--fixations: "),
    (["eyelink_monocular_example.asc", "--top", "-1"], "--top: expected a positive number"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, args, needle):
    (tmp_path / "bad.asc").write_text("** CONVERTED FROM x.edf\n**\nSTART\t1 \tLEFT\tSAMPLES\n1\t 1.0\t 2.0\t 3.0\t...\n2\tnope\t 2.0\t 3.0\t...\n")
    files = {"eyelink_monocular_example.asc": need(EYELINK / "eyelink_monocular_example.asc"), "bad.asc": tmp_path / "bad.asc",
             "gaze_positions.csv": need(GAZE_ROOT / "pupil-core-tutorial" / "gaze_positions.csv")}
    argv = [files.get(a, a) for a in args]
    proc = trackheat_cli("gaze", *argv, "--reference", ref_image(tmp_path, 1280, 1024), "-o", tmp_path / "o", "--db", tmp_path / "s.db")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and needle in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_cli_import_eyelink_and_studio_into_a_store(tmp_path):
    db = tmp_path / "s.db"
    proc = trackheat_cli("import", "--db", db, "--json", need(EYELINK / "eyelink_binocular_example.asc"), need(STUDIO / "P61-Event-Data.tsv"))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [r["format"] for r in rows] == ["eyelink", "tobii-studio"]
    assert rows[0]["moves"] == 4 and rows[1]["clicks"] == 1236
    from trackheat.store import Store

    with Store(db) as st:
        kinds = sorted(st.session(r["session"]).kind for r in rows)
    assert kinds == ["gaze", "mouse"]


def trackheat_cli(*args):
    from conftest import trackheat

    return trackheat(*args)


import json  # noqa: E402


def test_cli_detection_thresholds_in_degrees(tmp_path):
    """Pupil Player's own settings (1.5 deg pairwise = 2.12 deg of x + y extent, 80 ms) find about its 36 fixations; the default 1 deg fewer."""
    ref = ref_image(tmp_path, 1280, 720)
    gaze_csv = need(GAZE_ROOT / "pupil-core-tutorial" / "gaze_positions.csv")

    def count(*extra):
        proc = trackheat_cli("gaze", gaze_csv, "--reference", ref, "-o", tmp_path / "o", "--fixations", "idt", "--json", *extra)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.splitlines()[0])["fixations"]

    wide = count("--dispersion", "2.12", "--min-fixation", "80")
    assert 30 <= wide <= 45 and count() < wide
    bad = trackheat_cli("gaze", gaze_csv, "--reference", ref, "-o", tmp_path / "o", "--fixations", "idt", "--velocity", "0")
    assert bad.returncode == 2 and bad.stderr.strip() == "trackheat gaze: --velocity: expected a positive number, got 0"


def test_cli_prolab_with_mouse_rows_reports_both_sessions_and_draws_only_gaze(tmp_path):
    ref = ref_image(tmp_path, 1280, 1024)
    p = prolab(tmp_path, ",")
    db = tmp_path / "s.db"
    proc = trackheat_cli("gaze", p, "--reference", ref, "-o", tmp_path / "o", "--db", db, "--json")
    assert proc.returncode == 0, proc.stderr
    gaze_rec, mouse_rec, img = [json.loads(x) for x in proc.stdout.splitlines()]
    assert (gaze_rec["kind"], gaze_rec["fixations"], gaze_rec["weight"]) == ("gaze", 1, 0.15)
    assert (mouse_rec["kind"], mouse_rec["clicks"], mouse_rec["weight"]) == ("mouse", 1, 0.0)
    assert abs(img["peak"][0] - 101) <= 3 and abs(img["peak"][1] - 201) <= 3  # the fixation, not the mouse at (640, 512)
    text = trackheat_cli("gaze", p, "--reference", ref, "-o", tmp_path / "o2")
    assert "mouse, 2 positions and 1 clicks (not drawn on the gaze map)" in text.stdout


def test_studio_all_data_export_gives_samples_and_clicks(tmp_path):
    """Studio 1.x/2.x All-Data: preamble, then samples (GazePointX/Y, -1 = none) with events on their own rows."""
    header = ["Timestamp", "Number", "GazePointXLeft", "GazePointYLeft", "ValidityLeft", "GazePointXRight", "GazePointYRight", "ValidityRight",
              "FixationIndex", "GazePointX", "GazePointY", "Event", "EventKey", "Data1", "Data2", "Descriptor", "StimuliName"]
    rows = [
        ["0", "1", "100", "200", "0", "104", "204", "0", "1", "102", "202", "", "", "", "", "", "Screen"],
        ["17", "2", "-1", "-1", "4", "-1", "-1", "4", "", "-1", "-1", "", "", "", "", "", "Screen"],
        ["20", "", "", "", "", "", "", "", "", "", "", "LeftMouseClick", "1", "640", "480", "", "Screen"],
        ["25", "", "", "", "", "", "", "", "", "", "", "KeyPress", "65", "65", "", "A", "Screen"],
        ["33", "3", "300", "400", "0", "304", "404", "0", "2", "302", "402", "", "", "", "", "", "Screen"],
    ]
    p = tmp_path / "All-Data.tsv"
    p.write_text("Data properties:\n\nRecording name: Rec 1\nScreen resolution: 1024 x 768\n\n"
                 + "\t".join(header) + "\n" + "\n".join("\t".join(r) for r in rows) + "\n")
    from trackheat import importers

    assert importers.detect(p, ImportOptions()).name == "tobii-studio"
    gaze, mouse = importers.read(p, ImportOptions())
    assert gaze.meta["points"] == "gaze samples" and gaze.canvas.bounds.width == 1024
    assert list(zip(gaze.xs.tolist(), gaze.ys.tolist())) == [(102, 202), (302, 402)]
    assert gaze.skipped == 3  # the -1 row and the two event rows, which carry no gaze
    assert [(c[1], c[2], c[3]) for c in mouse.clicks] == [(640, 480, "left")]
    assert "KeyPress" not in repr(mouse.meta) and len(mouse.clicks) == 1
