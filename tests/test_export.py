"""`trackheat export`: the real command on real and constructed sessions, mostly with no display."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from trackheat import render
from trackheat.accumulate import density as dens
from trackheat.canvas import Canvas, Rect
from trackheat.outputs.export import UNITS, export_session
from trackheat.store import Store

from conftest import MOUSE_DYNAMICS, ROOT, need, one_line_error, trackheat

EXCERPT = ROOT / "tests" / "data" / "mouse-dynamics-user12-excerpt.csv"
T0 = 1_790_000_000.0  # 2026-09-21, on an hour boundary


def local_maxima(d: np.ndarray, min_frac: float = 0.05) -> set[tuple[int, int]]:
    """(row, column) of strict-ish local maxima above min_frac of the top."""
    dil = cv2.dilate(d, np.ones((3, 3), np.uint8))
    peaks = np.argwhere((d == dil) & (d > min_frac * d.max()))
    return {(int(r), int(c)) for r, c in peaks}


@pytest.fixture
def two_monitors(db: Path) -> Path:
    """Monitor 1 at (0, 0) 800x600; monitor 2 left of and above it: (-640, -100) 640x480."""
    with Store(db) as s:
        canvas = Canvas.desktop([Rect(0, 0, 800, 600), Rect(-640, -100, 640, 480)])
        sid = s.create_session("test", canvas, started=T0)
        s.add_positions(sid, [(100, 50, 5, 2.0), (-600, -80, 3, 30.0)], period=int(T0))
        s.add_positions(sid, [(700, 500, 4, 1.0)], period=int(T0) + 7200)  # two hours later
        s.add_clicks(sid, [(T0 + 10, 400, 300, "left")])
        s.update_session(sid, ended=T0 + 3 * 3600)
    return db


def test_export_real_mouse_dynamics_excerpt_with_no_display(db, tmp_path):
    imp = trackheat("import", "--db", db, EXCERPT, check=True)
    assert "session 1" in imp.stdout
    out = tmp_path / "out"
    proc = trackheat("export", "--db", db, "-o", out, "--density", out / "d.npy", check=True)  # conftest: no DISPLAY
    assert "heatmap.png" in proc.stdout
    heat = cv2.imread(str(out / "heatmap.png"), cv2.IMREAD_UNCHANGED)
    over = cv2.imread(str(out / "overlay.png"), cv2.IMREAD_UNCHANGED)
    d = np.load(out / "d.npy")
    with Store(db) as s:
        canvas = s.session(1).canvas
    assert heat.shape == (canvas.height, canvas.width, 4)  # RGBA, canvas size
    assert d.shape == (canvas.height, canvas.width) and d.dtype == np.float32
    alpha = heat[..., 3]
    assert (alpha[d == 0] == 0).all() and (alpha == 0).sum() > 0.2 * alpha.size  # cold areas transparent
    assert alpha.max() == 255
    # The hottest pixel is the colormap's 100 % colour, opaque.
    r, c = np.unravel_index(int(np.argmax(d)), d.shape)
    assert np.abs(heat[r, c, :3].astype(int) - render.rgb_of("turbo", 1.0)).max() <= 3
    # overlay: BGR, larger than the canvas (title strip above, colour bar at the right).
    assert over.ndim == 3 and over.shape[2] == 3
    assert over.shape[0] > canvas.height and over.shape[1] > canvas.width
    title_h = over.shape[0] - canvas.height
    bar = over[title_h:, canvas.width:].astype(int)
    sat = (bar.max(axis=2) - bar.min(axis=2)) > 60
    col = int(np.argmax(sat.sum(axis=0)))
    top_row = int(np.nonzero(sat[:, col])[0][0])
    assert np.abs(bar[top_row, col] - render.rgb_of("turbo", 1.0)).max() <= 12
    assert sat[:, col].sum() > 0.5 * canvas.height  # a tall bar


def test_one_point_csv_puts_the_peak_at_that_pixel(db, tmp_path):
    csv = tmp_path / "one.csv"
    csv.write_text("x,y\n123,45\n")
    trackheat("import", "--db", db, csv, check=True)
    trackheat("export", "--db", db, "-o", tmp_path / "a", "--density", tmp_path / "a.npy", "--sigma", "6", check=True)
    d = np.load(tmp_path / "a.npy")
    assert d.shape == (46, 124)  # the covering canvas: the point is its bottom-right pixel
    assert np.unravel_index(int(np.argmax(d)), d.shape) == (45, 123)
    bg = np.full((50, 130, 3), 90, np.uint8)  # within 10 % of the inferred 124x46
    cv2.imwrite(str(tmp_path / "bg.png"), bg)
    trackheat("export", "--db", db, "-o", tmp_path / "b", "--density", tmp_path / "b.npy", "--background", tmp_path / "bg.png", "--sigma", "6", check=True)
    d = np.load(tmp_path / "b.npy")
    assert d.shape == (50, 130)  # taken 1:1: a log's inferred canvas grows to its screenshot
    assert np.unravel_index(int(np.argmax(d)), d.shape) == (45, 123)
    assert np.allclose(d, dens.density([123], [45], width=130, height=50, sigma=6.0), atol=1e-7)


def test_negative_origin_and_monitor_crop(two_monitors, tmp_path):
    db = two_monitors
    trackheat("export", "--db", db, "-o", tmp_path / "all", "--density", tmp_path / "all.npy", "--sigma", "5", check=True)
    d = np.load(tmp_path / "all.npy")
    assert d.shape == (700, 1440)  # bounds: x -640..800, y -100..600
    assert local_maxima(d) == {(150, 740), (20, 40), (600, 1340)}  # (100,50), (-600,-80), (700,500)
    assert d[150, 740] / d[20, 40] == pytest.approx(5 / 3, rel=1e-3)
    trackheat("export", "--db", db, "-o", tmp_path / "m2", "--monitor", "2", "--density", tmp_path / "m2.npy", "--sigma", "5", check=True)
    m2 = np.load(tmp_path / "m2.npy")
    assert m2.shape == (480, 640) and local_maxima(m2) == {(20, 40)}
    heat = cv2.imread(str(tmp_path / "m2" / "heatmap.png"), cv2.IMREAD_UNCHANGED)
    assert heat.shape == (480, 640, 4)
    trackheat("export", "--db", db, "-o", tmp_path / "m1", "--monitor", "1", "--density", tmp_path / "m1.npy", "--sigma", "5", check=True)
    m1 = np.load(tmp_path / "m1.npy")
    assert m1.shape == (600, 800) and local_maxima(m1) == {(50, 100), (500, 700)}
    # The neutral background outlines both monitors; the gap of the bounding box is darker.
    over = cv2.imread(str(tmp_path / "all" / "overlay.png"))
    title_h = over.shape[0] - 700
    assert tuple(over[title_h + 650, 100]) != tuple(over[title_h + 650, 1000])  # off-desktop vs monitor 1


def test_since_until_kinds_and_dwell(two_monitors, tmp_path):
    with Store(two_monitors) as s:
        def grid(**kw):
            r = export_session(s, tmp_path / "x", density_path=tmp_path / "x.npy", sigma="5", **kw)
            return r, np.load(tmp_path / "x.npy")

        r, d = grid()
        assert r.total == 12 and d.sum() == pytest.approx(12, rel=1e-3)
        r, d = grid(until=T0 + 3600)
        assert r.total == 8 and local_maxima(d) == {(150, 740), (20, 40)}
        r, d = grid(since=T0 + 3600)
        assert r.total == 4 and local_maxima(d) == {(600, 1340)}
        r, d = grid(kind="dwell")
        assert r.total == pytest.approx(33.0) and d[20, 40] / d[150, 740] == pytest.approx(15.0, rel=1e-3)
        r, d = grid(kind="clicks")
        assert r.total == 1 and local_maxima(d) == {(400, 1040)}
        # Clicks are sharper than moves by default.
        rc = export_session(s, tmp_path / "c", kind="clicks")
        rm = export_session(s, tmp_path / "m")
        assert rc.sigma == pytest.approx(rm.sigma / 2) and rm.sigma == pytest.approx(dens.default_sigma(1440, 700))
        # Scrolls: one blob per event, weighted by its steps, sharp like clicks.
        s.add_scrolls(s.resolve("last")[0], [(T0 + 20, 600, 100, 0, 3), (T0 + 30, 600, 100, 0, -1)])
        r, d = grid(kind="scrolls")
        assert r.total == 4 and local_maxima(d) == {(200, 1240)}
        assert export_session(s, tmp_path / "s", kind="scrolls").sigma == pytest.approx(rm.sigma / 2)
    assert set(UNITS) == {"moves", "clicks", "dwell", "scrolls"}


def test_since_until_on_the_command_line(two_monitors, tmp_path):
    iso = time.strftime("%Y-%m-%dT%H:%M", time.localtime(T0 + 3600))
    proc = trackheat("export", "--db", two_monitors, "-o", tmp_path / "o", "--until", iso, "--density", tmp_path / "d.npy", "--sigma", "5", check=True)
    assert np.load(tmp_path / "d.npy").sum() == pytest.approx(8, rel=1e-3)
    proc = trackheat("export", "--db", two_monitors, "-o", tmp_path / "o", "--since", "1h")  # nothing in the last hour
    one_line_error(proc, "no moves", "time range")


def test_background_of_another_size_and_size_option(two_monitors, tmp_path):
    bg = np.zeros((70, 144, 3), np.uint8)
    bg[...] = (10, 200, 30)
    cv2.imwrite(str(tmp_path / "bg.png"), bg)
    trackheat("export", "--db", two_monitors, "-o", tmp_path / "o", "--background", tmp_path / "bg.png", "--alpha", "0.5", check=True)
    over = cv2.imread(str(tmp_path / "o" / "overlay.png"))
    title_h = over.shape[0] - 700
    assert tuple(over[title_h + 350, 300]) == (10, 200, 30)  # no heat there: the (scaled) background
    hot = over[title_h + 150, 740].astype(float)
    expect = 0.5 * np.array([10, 200, 30]) + 0.5 * np.array(render.rgb_of("turbo", 1.0))
    assert np.abs(hot - expect).max() <= 3
    trackheat("export", "--db", two_monitors, "-o", tmp_path / "s", "--size", "720x350", "--density", tmp_path / "s.npy", "--sigma", "6", check=True)
    d = np.load(tmp_path / "s.npy")
    assert d.shape == (350, 720)
    assert local_maxima(d) == {(75, 370), (10, 20), (300, 670)}  # every position halved
    heat = cv2.imread(str(tmp_path / "s" / "heatmap.png"), cv2.IMREAD_UNCHANGED)
    assert heat.shape == (350, 720, 4)


def test_stored_screenshot(two_monitors, tmp_path):
    db = two_monitors
    one_line_error(trackheat("export", "--db", db, "-o", tmp_path / "o", "--stored-screenshot"), "no stored screenshot")
    with Store(db) as s:
        ok, png1 = cv2.imencode(".png", np.full((600, 800, 3), (0, 0, 250), np.uint8))
        ok, png2 = cv2.imencode(".png", np.full((480, 640, 3), (250, 0, 0), np.uint8))
        s.add_screenshot(1, 1, png1.tobytes(), T0)
        s.add_screenshot(1, 2, png2.tobytes(), T0)
    trackheat("export", "--db", db, "-o", tmp_path / "o", "--stored-screenshot", "--sigma", "5", check=True)
    over = cv2.imread(str(tmp_path / "o" / "overlay.png"))
    t = over.shape[0] - 700
    assert tuple(over[t + 300, 1000]) == (0, 0, 250)  # monitor 1, at desktop x 360
    assert tuple(over[t + 200, 300]) == (250, 0, 0)  # monitor 2, at desktop x -340
    trackheat("export", "--db", db, "-o", tmp_path / "m2", "--stored-screenshot", "--monitor", "2", "--sigma", "5", check=True)
    over = cv2.imread(str(tmp_path / "m2" / "overlay.png"))
    assert tuple(over[over.shape[0] - 10, 600]) == (250, 0, 0)


@pytest.mark.parametrize(
    "args,words",
    [
        (["--colormap", "nope"], ["unknown colormap", "turbo"]),
        (["--scale", "p200"], ["--scale"]),
        (["--sigma", "-3"], ["--sigma"]),
        (["--sigma", "abc%"], ["--sigma"]),
        (["--size", "10xfoo"], ["--size"]),
        (["--monitor", "3"], ["--monitor", "1 (800x600 at 0,0)", "2 (640x480 at -640,-100)"]),
        (["--alpha", "1.5"], ["--alpha"]),
        (["--session", "9"], ["no session 9"]),
        (["--session", "x"], ["--session"]),
        (["--background", "/nonexistent.png"], ["no such file"]),
        (["--since", "yesterday-ish"], ["--since"]),
    ],
)
def test_bad_options_fail_with_one_line(two_monitors, tmp_path, args, words):
    one_line_error(trackheat("export", "--db", two_monitors, "-o", tmp_path / "o", *args), *words)
    assert not (tmp_path / "o" / "overlay.png").exists()


def test_empty_store_empty_session_and_missing_store(db, tmp_path):
    one_line_error(trackheat("export", "--db", tmp_path / "none.db", "-o", tmp_path / "o"), "no such store")
    with Store(db) as s:
        pass
    one_line_error(trackheat("export", "--db", db, "-o", tmp_path / "o"), "no sessions")
    with Store(db) as s:
        s.create_session("empty", Canvas.desktop([Rect(0, 0, 640, 480)]), started=T0)
    one_line_error(trackheat("export", "--db", db, "-o", tmp_path / "o"), "no moves recorded")
    one_line_error(trackheat("export", "--db", db, "-o", tmp_path / "o", "--kind", "clicks"), "no clicks recorded")
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    one_line_error(trackheat("export", "--db", db, "-o", tmp_path / "o", "--background", bad), "not an image")


def test_screenshot_needs_a_display(two_monitors, tmp_path):
    proc = trackheat("export", "--db", two_monitors, "-o", tmp_path / "o", "--screenshot")
    one_line_error(proc, "display")


@pytest.mark.display
def test_screenshot_under_xvfb(db, tmp_path, xvfb):
    with Store(db) as s:
        sid = s.create_session("test", Canvas.desktop([Rect(0, 0, xvfb.width, xvfb.height)]), started=T0)
        s.add_positions(sid, [(640, 360, 10)], period=int(T0))
    trackheat("export", "--db", db, "-o", tmp_path / "o", "--screenshot", env=xvfb.env, check=True)
    over = cv2.imread(str(tmp_path / "o" / "overlay.png"))
    t = over.shape[0] - xvfb.height
    # An empty Xvfb screen is black: a real grab, not the neutral canvas.
    assert tuple(over[t + 20, 20]) == (0, 0, 0)
    assert tuple(over[t + 360, 640]) != (0, 0, 0)


def test_every_sample_of_mouse_dynamics_exports(db, tmp_path):
    """A whole real session (not just the excerpt), every scale, two colormaps."""
    src = need(MOUSE_DYNAMICS) / "user15_session_0205904470.csv"
    trackheat("import", "--db", db, src, check=True)
    with Store(db) as s:
        for scale, cmap in [("max", "turbo"), ("p99.5", "inferno"), ("log", "viridis"), ("sqrt", "hot")]:
            r = export_session(s, tmp_path / scale, scale=scale, colormap=cmap)
            heat = cv2.imread(str(r.heatmap), cv2.IMREAD_UNCHANGED)
            assert heat.shape[2] == 4 and heat[..., 3].max() == 255
            assert (heat[..., 3] == 0).any()


def test_write_images_clips_heat_to_the_monitors(tmp_path):
    """Heat blurred into the gap beside a monitor is transparent; the saved grid keeps it."""
    from trackheat.outputs.images import write_images

    d = dens.density([48], [50], width=120, height=100, sigma=6.0)
    heat_p, over_p = write_images(d, tmp_path, outlines=[Rect(0, 0, 50, 100)], unit="moves", title="t", density_path=tmp_path / "d.npy")
    heat = cv2.imread(str(heat_p), cv2.IMREAD_UNCHANGED)
    assert heat.shape == (100, 120, 4)
    assert heat[50, 48, 3] == 255 and d[50, 55] > 0.1 * d.max()
    assert not heat[:, 50:, 3].any()
    assert np.array_equal(np.load(tmp_path / "d.npy"), d)
    over = cv2.imread(str(over_p))
    assert over.shape[0] > 100 and over.shape[1] > 120


# -- robustness found in review ------------------------------------------------------------
def test_tiny_canvas_gets_no_bar_and_says_so(tmp_path, db):
    f = tmp_path / "tiny.csv"
    f.write_text("x,y,count\n5,7,3\n-10,-20,2\n")  # a 16x28 canvas
    trackheat("import", "--db", db, f, check=True)
    out = trackheat("export", "--db", db, "-o", tmp_path / "o")
    assert out.returncode == 0, out.stderr
    overlay = cv2.imread(str(tmp_path / "o" / "overlay.png"))
    heat = cv2.imread(str(tmp_path / "o" / "heatmap.png"), cv2.IMREAD_UNCHANGED)
    assert heat.shape[:2] == (28, 16) and overlay.shape[:2] == (28, 16)
    assert "no colour bar" in out.stdout


def test_colour_bar_at_every_small_height():
    """From the minimum size up, the panel makes room for the whole bar, its labels and five ticks."""
    from trackheat import render

    for h in range(1, 140):
        out = render.draw_colorbar(np.zeros((h, 80, 3), np.uint8), "turbo", "moves", unit="moves", top=5.0, title="t")
        if h < render.MIN_BAR_SIZE[1]:
            assert out.shape == (h, 80, 3)
        else:
            assert out.shape[0] >= h + 100 or out.shape[0] >= 140 and out.shape[1] > 80


def test_absurd_coordinates_are_one_line(tmp_path, db):
    huge = tmp_path / "huge.csv"
    huge.write_text("x,y\n1e300,5\n")
    out = trackheat("import", "--db", db, huge)
    assert out.returncode == 2 and f"{huge}:2: x is out of range" in out.stderr
    far = tmp_path / "far.csv"
    far.write_text("x,y\n100000000,100000000\n1,1\n")
    trackheat("import", "--db", db, far, check=True)
    out = trackheat("export", "--db", db, "-o", tmp_path / "o")
    assert out.returncode == 2 and "--size" in out.stderr and "Traceback" not in out.stderr
    out = trackheat("export", "--db", db, "--size", "800x600", "-o", tmp_path / "o")
    assert out.returncode == 0, out.stderr


def test_unwritable_outputs_are_one_line(tmp_path, db):
    f = tmp_path / "p.csv"
    f.write_text("x,y\n10,10\n")
    out = trackheat("import", "--db", "/proc/nope/store.db", f)
    assert out.returncode == 2 and "cannot create the store" in out.stderr and out.stderr.count("\n") == 1
    trackheat("import", "--db", db, f, check=True)
    out = trackheat("export", "--db", db, "-o", "/proc/nope/out")
    assert out.returncode == 2 and "Traceback" not in out.stderr and out.stderr.count("\n") == 1


def test_logs_without_a_layout_are_one_canvas_not_monitors(tmp_path, db):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x,y\n2,3\n")
    b.write_text("x,y\n15,27\n")
    trackheat("import", "--db", db, a, b, check=True)
    assert trackheat("export", "--db", db, "--session", "all", "-o", tmp_path / "o").returncode == 0
    out = trackheat("export", "--db", db, "--session", "all", "--monitor", "2", "-o", tmp_path / "o2")
    assert out.returncode == 2 and "monitor" in out.stderr
