"""How `trackheat live` looks and what it writes: export's look by default, a video that plays
in a browser, a snapshot worth keeping, and a window that stays off what it captures."""

from __future__ import annotations

import itertools
import re

import cv2
import numpy as np
import pytest

from conftest import IN_CI, PEDESTRIANS, need, trackheat
from trackheat import render
from trackheat.canvas import Rect
from trackheat.outputs.live import place_window
from trackheat.render import shader as render_shader
from trackheat.render.motion import MotionHeatmap
from trackheat.sources.frames import VideoSource


def read_frames(n: int) -> list[np.ndarray]:
    """The video's first n frames, read by trackheat's own webcam source (every frame kept)."""
    with VideoSource(str(need(PEDESTRIANS)), fast=True) as src:
        return [image for _, image in itertools.islice(src, n)]


def still_mask(frames: list[np.ndarray]) -> np.ndarray:
    """Pixels that never changed by more than sensor noise, well away from anything that did."""
    grays = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(np.int16) for f in frames]
    diffs = np.stack([np.abs(b - a) for a, b in zip(grays, grays[1:])])
    still = (diffs.max(axis=0) <= 12).astype(np.uint8)
    return cv2.erode(still, np.ones((21, 21), np.uint8)).astype(bool)


@pytest.mark.parametrize("native", [True, False])
def test_still_areas_of_the_video_stay_the_source_frame(native):
    """The default blend leaves a static region exactly as the source frame (no navy, grey or mauve
    tint); the heat still shows where people walk. `blend="full"` is the tutorial's tint."""
    if native and render_shader._shade is None:
        if IN_CI:
            pytest.fail("trackheat.render._shade was not built")
        pytest.skip("trackheat.render._shade was not built (no C compiler)")
    frames = read_frames(120)
    still = still_mask(frames)
    assert still.mean() > 0.04, "the video should have floor where nothing happens"
    hm, full = MotionHeatmap(), MotionHeatmap(blend="full")
    for f in frames:
        hm.update(f)
        full.update(f)
        for m in (hm, full):
            if not native:
                m._ensure(f)
                m._shader = render.LevelShader(m._shader.size, m._shader.levels_size, native=False)
    f = frames[-1]
    out = hm.render(f).copy()
    diff = cv2.absdiff(out, f).max(axis=2)
    assert int(diff[still].max()) <= 1, "a still area was tinted"
    assert float(np.mean(diff[still] == 0)) > 0.99
    assert int(diff.max()) > 60, "the heat is drawn where people walk"
    tinted = cv2.absdiff(full.render(f), f).max(axis=2)
    assert float(np.median(tinted[still])) > 20  # the whole-frame blend tints everything


def test_level_blend_follows_exports_alpha_ramp():
    """Per level: alpha * render.colour.alpha_lut (the ramp export uses), within rounding, in both builds."""
    rng = np.random.default_rng(3)
    size, lsize = (640, 360), (320, 180)
    frame = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
    lv = cv2.normalize(cv2.GaussianBlur(rng.integers(0, 256, (180, 320), dtype=np.uint8), (0, 0), 3), None, 0, 255, cv2.NORM_MINMAX)
    lv[:40] = 0
    up = cv2.resize(lv, size, interpolation=cv2.INTER_LINEAR)
    a = 0.65 * render.alpha_lut()[up].astype(np.float64)[..., None] / 255.0
    expect = frame + (render.apply_colormap(up, "turbo").astype(np.float64) - frame) * a
    for native in ([False, True] if render_shader._shade is not None else [False]):
        got = render.LevelShader(size, lsize, native=native).shade(frame, lv, np.empty_like(frame), "turbo", 0.65, render.alpha_lut())
        err = np.abs(got - expect)
        assert float(err.mean()) < 0.5 and float(err.max()) <= 8  # one level of turbo, at most
        assert np.array_equal(got[up == 0], frame[up == 0])


def test_cli_default_and_full_blend_and_the_snapshot_says_which_frame(tmp_path):
    video = need(PEDESTRIANS)
    snap = tmp_path / "s.png"
    p = trackheat("live", "--webcam", video, "--no-window", "--max-frames", "90", "--snapshot", snap, check=True)
    m = re.search(r"wrote \S+ \(the frame with the most heat: frame (\d+) of 90\)", p.stderr)
    assert m, p.stderr
    k = int(m.group(1))
    frames = read_frames(90)
    img = cv2.imread(str(snap))
    still = still_mask(frames)
    assert int(cv2.absdiff(img, frames[k - 1]).max(axis=2)[still].max()) <= 1
    p = trackheat("live", "--webcam", video, "--no-window", "--max-frames", "90", "--blend", "full", "--snapshot", snap, check=True)
    img = cv2.imread(str(snap))
    assert float(np.median(cv2.absdiff(img, frames[k - 1]).max(axis=2)[still])) > 20


def _codec(path) -> str:
    av = pytest.importorskip("av") if not IN_CI else __import__("av")
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return s.codec_context.name


@pytest.mark.parametrize("suffix,codec", [(".mp4", "h264"), (".webm", "vp9"), (".avi", "mjpeg")])
def test_out_writes_a_video_browsers_play(tmp_path, suffix, codec):
    out = tmp_path / f"clip{suffix}"
    trackheat("live", "--webcam", need(PEDESTRIANS), "--no-window", "--max-frames", "12", "--out", out, check=True)
    assert _codec(out) == codec
    assert (out.stat().st_mode & 0o777) == 0o600
    cap = cv2.VideoCapture(str(out))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 12


def test_window_goes_beside_the_captured_area():
    mon = [Rect(0, 0, 1920, 1080)]
    p = place_window((800, 600), Rect(0, 0, 800, 600), mon)
    assert p is not None and not p.covers and p.x >= 800 and "right of" in p.where
    assert p.x + p.width <= 1920 and p.y + p.height <= 1080
    # two monitors, the first captured whole: the second one
    p = place_window((1920, 1080), Rect(0, 0, 1920, 1080), mon + [Rect(1920, 0, 1280, 1024)])
    assert p.x >= 1920 and "monitor 2" in p.where and not p.covers
    # the whole only screen: a small window in a corner, on the captured area (masked out)
    p = place_window((1920, 1080), Rect(0, 0, 1920, 1080), mon)
    assert p.covers and p.width <= 480 and "corner" in p.where
    assert place_window((640, 480), None, mon) is None  # a camera: the toolkit decides
