"""`trackheat live` end to end: headless files, and the screen path on a private Xvfb.

On the Xvfb, mss grabs the real screen, xdotool moves a real window and the
real pointer (which pynput really hears), and the live window is a real Qt
window that answers keys.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time

import cv2
import pytest

from conftest import PEDESTRIANS, ROOT, need, trackheat

pytestmark = pytest.mark.display


def count_frames(path) -> tuple[int, tuple[int, int]]:
    cap = cv2.VideoCapture(str(path))
    n, size = 0, (0, 0)
    while True:
        ok, f = cap.read()
        if not ok:
            break
        n += 1
        size = (f.shape[1], f.shape[0])
    cap.release()
    return n, size


# -- headless -------------------------------------------------------------------
def test_acceptance_headless_video_and_snapshot(tmp_path):
    video = need(PEDESTRIANS)
    out, snap = tmp_path / "o.avi", tmp_path / "s.png"
    p = trackheat("live", "--webcam", video, "--no-window", "--max-frames", "300", "--out", out, "--snapshot", snap, check=True)
    assert "300 frames" in p.stderr
    assert count_frames(out) == (300, (1280, 720))
    img = cv2.imread(str(snap))
    assert img.shape == (720, 1280, 3)
    # the overlay carries the colormap: jet's blue over the still floor, warm colours where people walked
    assert img[..., 2].max() > 200


def test_out_mp4_has_the_right_frame_count(tmp_path):
    out = tmp_path / "clip.mp4"
    trackheat("live", "--webcam", need(PEDESTRIANS), "--no-window", "--max-frames", "37", "--out", out, check=True)
    assert count_frames(out) == (37, (1280, 720))


def test_no_window_needs_an_output_and_no_display_means_no_window(tmp_path):
    p = trackheat("live", "--webcam", need(PEDESTRIANS), "--no-window")
    assert p.returncode == 2 and "--no-window needs --out" in p.stderr
    p = trackheat("live", "--webcam", need(PEDESTRIANS))  # no DISPLAY: must not abort in cv2.imshow
    assert p.returncode == 2 and "use --no-window" in p.stderr
    p = trackheat("live", "--screen", "--no-window", "--snapshot", tmp_path / "x.png")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "X11" in p.stderr
    p = trackheat("live", "--webcam", need(PEDESTRIANS), "--no-window", "--out", tmp_path / "x.gif")
    assert p.returncode == 2 and ".avi" in p.stderr


# -- the screen on Xvfb -------------------------------------------------------------
TARGET = textwrap.dedent("""
    import cv2, numpy as np
    cv2.namedWindow("target", cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
    img = np.full((80, 80, 3), 255, np.uint8)
    while True:
        cv2.imshow("target", img)
        if cv2.waitKey(20) == ord("q"):
            break
""")


def find_window(xvfb, name: str, timeout: float = 15.0) -> str:
    """The window of that name once it is mapped (moves sent before Qt maps it can be lost)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", name], env=xvfb.env, capture_output=True, text=True)
        if r.stdout.strip():
            return r.stdout.split()[0]
        time.sleep(0.1)
    raise AssertionError(f"no window named {name!r} appeared")


def wait_painted(x: int, y: int, timeout: float = 20.0) -> None:
    """Until the helper's white 80x80 window shows at (x, y) on the screen (a black, unpainted
    window moving over the black root would be no motion at all)."""
    from trackheat.canvas import Rect
    from trackheat.sources.screen import grab_bgra, open_mss

    deadline = time.monotonic() + timeout
    sct = open_mss()
    try:
        while time.monotonic() < deadline:
            if float(grab_bgra(sct, Rect(x + 10, y + 10, 60, 60))[..., :3].mean()) > 200:
                return
            time.sleep(0.1)
    finally:
        sct.close()
    raise AssertionError("the target window was never painted")


def test_screen_heat_follows_a_moving_window(xvfb, monkeypatch):
    from trackheat.render.motion import MotionHeatmap
    from trackheat.sources.frames import ScreenSource

    monkeypatch.setenv("DISPLAY", xvfb.display)
    helper = subprocess.Popen([sys.executable, "-c", TARGET], env=xvfb.env)
    try:
        wid = find_window(xvfb, "target")
        xvfb.xdotool("windowmove", "--sync", wid, 100, 300)
        time.sleep(0.3)
        wait_painted(100, 300)  # a busy machine may map the window before its white is drawn
        src = ScreenSource(monitor=1, max_fps=60)
        hm = MotionHeatmap()
        try:
            assert src.size == (1280, 720)
            for x in range(100, 1001, 25):
                xvfb.xdotool("windowmove", "--sync", wid, x, 300)
                time.sleep(0.05)
                src.next()  # may predate the move
                time.sleep(0.04)
                _, frame = src.next()
                hm.update(frame)
        finally:
            src.close()
    finally:
        helper.kill()
        helper.wait()
    heat = hm.heat()
    # the window (80x80 at y 300..380) travelled from x 100 to 1080
    band = heat[310:370, 160:1000]
    assert (band > 0).mean() > 0.95
    assert heat[:250, :].max() == 0.0 and heat[450:, :].max() == 0.0


def test_cursor_layer_shows_the_pointer_path(xvfb, monkeypatch):
    from trackheat.outputs.live import run_live
    from trackheat.render.motion import MotionHeatmap
    from trackheat.sources.frames import ScreenSource

    monkeypatch.setenv("DISPLAY", xvfb.display)
    xvfb.xdotool("mousemove", 50, 50)
    src = ScreenSource(monitor=1, max_fps=30)
    # Enough frames (about 3 s) for the whole path even on a loaded machine, and a slow
    # decay so the first points of the path are still visible at the end.
    hm = MotionHeatmap(decay=0.995)

    def mover():
        time.sleep(0.5)
        for x in range(100, 1101, 50):
            xvfb.xdotool("mousemove", x, 500)
            time.sleep(0.04)

    t = threading.Thread(target=mover)
    t.start()
    res = run_live(src, hm, window=False, max_frames=90, cursor=True)
    t.join()
    assert res.frames == 90
    ph = hm.points_heat()
    row = ph[500, 100:1101]
    assert (row[::50] > 0.05).all(), row[::50]
    assert ph[200, :].max() == 0.0 and ph[:, 1200:].max() < 1e-3


BLINKER = textwrap.dedent("""
    import cv2, numpy as np
    cv2.namedWindow("blinker", cv2.WINDOW_AUTOSIZE)
    cv2.moveWindow("blinker", 20, 20)
    for i in range(1000):
        cv2.imshow("blinker", np.full((160, 160, 3), 255 * ((i // 3) % 2), np.uint8))
        cv2.waitKey(30)
""")

SELF_MASK = textwrap.dedent("""
    import json, sys
    import numpy as np
    from trackheat.outputs import live
    from trackheat.render.motion import MotionHeatmap
    from trackheat.sources.frames import ScreenSource

    import subprocess
    # Something that moves elsewhere on the screen: the live window shows it (and its
    # heat), so an unmasked view sees its own content change and feeds on itself.
    blinker = subprocess.Popen([sys.executable, "-c", BLINKER_CODE])
    import time; time.sleep(1.0)
    hm = MotionHeatmap()
    rects = []
    orig_rect = live.Window.rect
    def rect(self):
        r = orig_rect(self)
        rects.append(r)
        return r
    live.Window.rect = rect
    live.run_live(ScreenSource(monitor=1, max_fps=30), hm, window=True, max_frames=40)
    x, y, w, h = rects[-1]
    heat = hm.heat()
    result = {"rect": [x, y, w, h], "inside": float(heat[y + 8:y + h - 8, x + 8:x + w - 8].max())}
    blinker.kill()
    print(json.dumps(result))
""").replace("BLINKER_CODE", repr(BLINKER))




def test_window_on_the_captured_screen_is_masked_out(xvfb):
    p = subprocess.run([sys.executable, "-c", SELF_MASK], env=xvfb.env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.strip().splitlines()[-1])
    x, y, w, h = r["rect"]
    assert w > 100 and h > 50 and 0 <= x < 1280 and 0 <= y < 720
    # The window shows the blinking screen (and its heat) inside itself; masked, none of it counts.
    # (An unmasked control run is not asserted: under Xvfb, Qt repaints reach the grabs unreliably.)
    assert r["inside"] == 0.0


def test_live_screen_window_answers_q(xvfb, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "trackheat", "live", "--screen", "--snapshot", str(tmp_path / "end.png")],
                            env=xvfb.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wid = find_window(xvfb, "trackheat live")
        time.sleep(1.0)
        assert proc.poll() is None  # it keeps running until told
        xvfb.xdotool("key", "--window", wid, "q")
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert cv2.imread(str(tmp_path / "end.png")).shape == (720, 1280, 3)
