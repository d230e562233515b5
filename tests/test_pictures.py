"""What export's pictures say: titles, the colour bar (fixed width, clipping marked), tiny
pictures, one sigma everywhere, the stored screenshot as background, session ranges."""

from __future__ import annotations

import re

import cv2
import numpy as np

from trackheat import render
from trackheat.canvas import Canvas, Rect
from trackheat.outputs.export import export_session
from trackheat.store import Store

from conftest import trackheat

T0 = 1_790_000_000.0


def make_store(path, screenshot: bytes | None = None) -> Store:
    st = Store(path)
    canvas = Canvas((Rect(0, 0, 640, 400),))
    rng = np.random.default_rng(5)
    for k in range(2):
        sid = st.create_session("test", canvas, started=T0 + 100 * k)
        xs, ys = rng.integers(0, 640, 300), rng.integers(0, 400, 300)
        st.add_counts(sid, {(int(x), int(y)): 1 for x, y in zip(xs, ys)} | {(320, 200): 400})
        st.add_clicks(sid, [(T0 + i, int(x), int(y), "left") for i, (x, y) in enumerate(zip(xs[:40], ys[:40]))] +
                      [(T0 + 50 + i, 100, 100, "left") for i in range(60)])
        st.update_session(sid, ended=T0 + 100 * k + 60)
        if screenshot is not None:
            st.add_screenshot(sid, 1, screenshot, T0)
    return st


def test_bar_width_is_fixed_across_labels_and_amounts():
    img = np.zeros((1080, 1920, 3), np.uint8)
    widths = {render.draw_colorbar(img, "turbo", label, unit="per 22 px blob", top=top, scale=scale, title="t", clipped=clip).shape[1]
              for label, top, scale, clip in [("moves", 140, "max", False), ("clicks", 8.26, "log", False),
                                              ("seconds", 0.00001, "p99", True), ("moves", 123456.0, "sqrt", False)]}
    assert len(widths) == 1, widths


def test_clipping_is_marked_on_the_bar():
    img = np.zeros((400, 640, 3), np.uint8)
    plain = render.draw_colorbar(img, "turbo", "clicks", unit="per blob", top=8.0, scale="p99")
    clipped = render.draw_colorbar(img, "turbo", "clicks", unit="per blob", top=8.0, scale="p99", clipped=True)
    assert plain.shape == clipped.shape
    diff = cv2.absdiff(plain, clipped).max(axis=2)
    ys, xs = np.nonzero(diff)
    assert len(ys) > 50  # a cap above the bar and a >= sign by the top amount
    top_red = render.rgb_of("turbo", 1.0)
    assert any(tuple(int(c) for c in clipped[y, x]) == top_red for y, x in zip(ys, xs))


def test_title_says_each_thing_once_and_sigma_agrees(tmp_path):
    st = make_store(tmp_path / "s.db")
    for kind in ("moves", "clicks"):
        r = export_session(st, tmp_path / kind, session="1-2", kind=kind, size="320")
        words = re.findall(r"[a-z]+", r.title)
        assert words.count(kind) == 1, r.title
        assert r.title.startswith("sessions 1-2 | ")
        assert f"sigma {r.sigma:.2g} px" in r.title or f"sigma {r.sigma:.0f} px" in r.title
    st.close()
    p = trackheat("export", "--db", tmp_path / "s.db", "--session", "1,2", "--kind", "clicks", "--size", "320", "-o", tmp_path / "c", check=True)
    sig = re.search(r"sigma ([0-9.]+) px", p.stdout).group(1)
    r2 = export_session(Store(tmp_path / "s.db"), tmp_path / "c2", session="1,2", kind="clicks", size="320")
    assert f"sigma {sig} px" in r2.title
    assert "scale p99" in r2.title  # clicks' default: one spot of 120 clicks would hide the rest under max


def test_tiny_picture_gets_no_bar_and_says_so(tmp_path):
    make_store(tmp_path / "s.db").close()
    p = trackheat("export", "--db", tmp_path / "s.db", "--size", "10x10", "-o", tmp_path / "o", check=True)
    assert "no colour bar" in p.stdout
    assert cv2.imread(str(tmp_path / "o" / "overlay.png")).shape == (10, 10, 3)
    p = trackheat("export", "--db", tmp_path / "s.db", "--size", "320x200", "-o", tmp_path / "o2", check=True)
    assert "no colour bar" not in p.stdout
    assert cv2.imread(str(tmp_path / "o2" / "overlay.png")).shape[1] > 320


def test_stored_screenshot_is_the_default_background(tmp_path):
    shot = np.zeros((400, 640, 3), np.uint8)
    shot[:, :, 1] = 200  # green: nothing else in a picture is this colour
    ok, png = cv2.imencode(".png", shot)
    st = make_store(tmp_path / "s.db", screenshot=png.tobytes())
    r = export_session(st, tmp_path / "o", session="1")
    over = cv2.imread(str(r.overlay))
    pic = over[-400:, :640]  # below the title strip, left of the bar
    assert float(np.median(pic[..., 1].astype(int) - pic[..., 2])) > 60  # the screenshot shows through
    st.close()


def test_session_ranges_and_lists():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        st = make_store(Path(d) / "s.db")
        assert st.resolve("1-2") == [1, 2] == st.resolve("1,2")
        st.close()
