"""MotionHeatmap and the camera/file source on the real pedestrian video (no display needed).

The video (OpenCV's vtest.avi: people crossing a hall seen from above) goes
through the same VideoSource that `--webcam FILE` uses. What the heat should
be is checked against masks the test computes itself from plain frame
differences, and against the seed's starter pipeline written out below.
"""

from __future__ import annotations

import sys
import time

import cv2
import numpy as np
import pytest

from conftest import PEDESTRIANS, ROOT, need, trackheat
from trackheat.errors import UserError
from trackheat.render.motion import MotionHeatmap, auto_process_scale
from trackheat.sources.frames import VideoSource

sys.path.insert(0, str(ROOT / "bench"))
from _seeds import seed_pipeline  # noqa: E402  (the seed as written, shared with bench/live.py)

N = 120  # frames used by most tests (about 2.4 s of video)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """The first N frames, read through the webcam path's source (every frame: fast)."""
    src = VideoSource(str(need(PEDESTRIANS)), fast=True)
    out = []
    try:
        for _, f in src:
            out.append(f.copy())
            if len(out) == N:
                break
    finally:
        src.close()
    assert len(out) == N
    return out


def test_heat_where_people_walk_and_none_on_still_floor(frames):
    hm = MotionHeatmap()
    assert (hm.process_scale, auto_process_scale(1280, 720)) == (None, 1.0)
    for f in frames:
        hm.update(f)
    heat = hm.heat()
    assert heat.shape == (720, 1280) and heat.dtype == np.float32
    assert 0.0 <= heat.min() and heat.max() <= 1.0 and heat.max() > 0.99

    grays = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(np.int16) for f in frames]
    diffs = np.stack([np.abs(b - a) for a, b in zip(grays, grays[1:])])
    # Where the picture changed a lot between two frames, there must be heat.
    changed = diffs.max(axis=0) > 60
    assert changed.mean() > 0.02
    assert (heat[changed] > 0).mean() > 0.97
    # Floor that never changed by more than sensor noise, away from anything that did
    # (blur and dilation spread motion by a few pixels): no heat at all.
    still = diffs.max(axis=0) <= 12
    still = cv2.erode(still.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    assert still.mean() > 0.15, "the video should have large floor areas where nothing happens"
    assert float(heat[still].max()) == 0.0
    # and the heat is where the walkers were, not spread evenly
    assert heat[changed].mean() > 10 * heat[~changed].mean()


def test_equals_the_seed_at_full_resolution(frames):
    hm = MotionHeatmap(process_scale=1.0, blend="full")
    worst_heat, worst_px = 0.0, 0
    for f, (norm, overlay) in zip(frames, seed_pipeline(frames)):
        hm.update(f)
        ours = hm.render(f)
        worst_heat = max(worst_heat, float(np.abs(hm.heat() - norm).max()))
        worst_px = max(worst_px, int(cv2.absdiff(ours, overlay).max()))
    assert worst_heat <= 1e-5
    assert worst_px <= 2  # the seed truncates to uint8, the renderer rounds


def test_reduced_process_scale_finds_the_same_places(frames):
    full, half = MotionHeatmap(process_scale=1.0), MotionHeatmap(process_scale=0.5)
    for f in frames:
        full.update(f)
        half.update(f)
    a, b = full.heat() > 0.1, half.heat() > 0.1
    assert half.heat().shape == (720, 1280)
    iou = (a & b).sum() / (a | b).sum()
    assert iou > 0.6


def test_after_motion_stops_heat_falls_by_decay_per_frame(frames):
    hm = MotionHeatmap(decay=0.9)
    for f in frames[:60]:
        hm.update(f)
    last = frames[59]
    acc0 = hm.accumulator.copy()
    for _ in range(20):
        hm.update(last)  # nothing moves any more
    np.testing.assert_allclose(hm.accumulator, acc0 * np.float32(0.9) ** 20, rtol=1e-4, atol=1e-30)
    # Once the strongest pixel is below one frame of motion, the shown heat fades too.
    while hm.top() > hm.floor or hm.accumulator.max() >= hm.floor:
        hm.update(last)
    h0 = hm.heat()
    assert h0.max() > 0
    for _ in range(10):
        hm.update(last)
    np.testing.assert_allclose(hm.heat(), h0 * 0.9**10, rtol=1e-4, atol=1e-7)
    for _ in range(60):
        hm.update(last)
    assert hm.heat().max() < 0.01


def test_reset_clears(frames):
    hm = MotionHeatmap()
    for f in frames[:30]:
        hm.update(f)
    assert hm.heat().max() > 0
    hm.reset()
    assert hm.heat().max() == 0.0
    hm.update(frames[100])  # far from the last frame before the reset: must not count as motion
    assert hm.heat().max() == 0.0 and hm.active_fraction() == 0.0
    hm.update(frames[101])
    assert hm.heat().max() > 0


def test_render_blends_through_the_renderer(frames):
    hm = MotionHeatmap(alpha=0.4, colormap="jet", blend="full")
    for f in frames[:30]:
        hm.update(f)
    out = hm.render(frames[29])
    assert out.shape == frames[29].shape and out.dtype == np.uint8
    from trackheat import render

    u8 = render.normalize_u8(hm.accumulator, top=hm.top())
    expect = render.blend(frames[29], render.apply_colormap(u8, "jet"), 0.4)
    assert int(cv2.absdiff(out, expect).max()) <= 3
    assert int(cv2.absdiff(out, frames[29]).max()) > 50  # the heat really is drawn


@pytest.mark.parametrize("size,scale", [((1920, 1080), None), ((3840, 2160), None), ((1280, 720), None), ((1920, 1080), 0.3)])
def test_render_scales_the_levels_up_then_colours_them(frames, size, scale):
    """At every scale render() is the levels scaled up (bilinear), coloured and blended: no seam
    between the two bands of rows, a blob across the band boundary drawn whole."""
    from trackheat import render

    hm = MotionHeatmap(process_scale=scale, blend="full")
    for i, f in enumerate(frames[:12]):
        f = cv2.resize(f, size)
        hm.update(f)
        if i == 6:
            hm.add_points([300, 900], [int(size[1] / 2) - 1, 100])  # a blob across the band boundary
        out = hm.render(f).copy()
    u8 = render.normalize_u8(hm.accumulator, top=hm.top())
    cv2.max(u8, render.normalize_u8(hm._points, top=max(float(hm._points.max()), hm.floor)), dst=u8)
    colour = render.apply_colormap(cv2.resize(u8, size, interpolation=cv2.INTER_LINEAR), "jet")
    assert u8.max() == 255 and (u8 == 0).mean() > 0.2  # hot and cold rows on both sides
    assert int(cv2.absdiff(out, render.blend(f, colour, 0.4)).max()) <= 3
    snap = hm.heat_bgr()
    assert np.mean(cv2.absdiff(snap, colour)) < 0.1 and int(cv2.absdiff(snap, colour).max()) <= 12  # one level of jet


def test_ignore_boxes_never_count_as_motion(frames):
    hm = MotionHeatmap(process_scale=0.5)
    box = (400, 200, 300, 250)
    for f in frames[:40]:
        hm.update(f, ignore=[box])
    heat = hm.heat()
    x, y, w, h = box
    assert heat[y + 4:y + h - 4, x + 4:x + w - 4].max() == 0.0
    assert heat.max() > 0


def test_4k_frames_are_processed_at_a_quarter():
    hm = MotionHeatmap()
    a = np.zeros((2160, 3840, 3), np.uint8)
    b = a.copy()
    b[1000:1100, 2000:2200] = 255
    hm.update(a)
    hm.update(b)
    assert hm.scale == 0.25
    heat = hm.heat()
    assert heat.shape == (2160, 3840)
    assert heat[1050, 2100] > 0.9 and heat[100, 100] == 0.0
    assert hm.render(b).shape == b.shape


def test_cursor_layer_blobs_peak_at_the_points():
    hm = MotionHeatmap()
    f = np.zeros((1080, 1920, 3), np.uint8)
    hm.update(f)
    assert hm.add_points([300, 1500], [200, 900]) == 2
    ph = hm.points_heat()
    assert ph[200, 300] > 0.9 and ph[900, 1500] > 0.9 and ph[600, 900] == 0.0
    hm.update(f)
    assert hm.points_heat()[200, 300] < ph[200, 300]  # it decays with the frames
    hm.show_points = False
    off = hm.render(f).copy()
    hm.show_points = True
    on = hm.render(f)
    assert int(cv2.absdiff(on, off)[200, 300].max()) > 20 and int(cv2.absdiff(on, off)[600, 900].max()) == 0


def test_file_is_paced_and_keeps_only_the_newest_frame():
    src = VideoSource(str(need(PEDESTRIANS)))  # paced at the file's 50 fps
    try:
        assert src.fps == 50.0 and src.paced
        t0 = time.monotonic()
        stamps = []
        for t, f in src:
            stamps.append((t, time.monotonic() - t0))
            time.sleep(0.1)  # a slow consumer: 5 frame periods per frame
            if len(stamps) == 8:
                break
    finally:
        src.close()
    video_t = [s[0] for s in stamps]
    assert all(b - a >= 0.06 for a, b in zip(video_t[1:], video_t[2:]))  # frames were skipped, not queued
    lag = [wall - vt for vt, wall in stamps]
    assert max(lag) < 0.15  # latency does not build up
    assert src.dropped >= 20


def test_fast_file_delivers_every_frame_in_order():
    src = VideoSource(str(need(PEDESTRIANS)), fast=True)
    try:
        ts = [t for t, _ in zip((t for t, _ in src), range(100))]
    finally:
        src.close()
    assert len(ts) == 100
    np.testing.assert_allclose(np.diff(ts), 1 / 50, rtol=1e-9)


def test_missing_camera_and_file_are_user_errors():
    with pytest.raises(UserError, match="camera 9 cannot be opened"):
        VideoSource(9)
    with pytest.raises(UserError, match="no such file"):
        VideoSource("/nonexistent/clip.avi")
    p = trackheat("live", "--webcam", "9", "--no-window", "--out", "/tmp/never.avi")
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == ["trackheat live: camera 9 cannot be opened: no such camera, or it is busy or not permitted"]
