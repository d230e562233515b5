"""The renderer: exact blob placement, the three density paths agreeing, colours and alpha."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from trackheat import render
from trackheat.accumulate import binned
from trackheat.accumulate import density as dens
from trackheat.accumulate import kernel as kern
from trackheat.accumulate import reduced
from trackheat.accumulate import splat
from trackheat.render import shader as render_shader
from trackheat.errors import UserError

from conftest import IN_CI, ROOT, headless_env

METHODS = ["stamp", "blur", "reduced"]


def peak(d: np.ndarray) -> tuple[int, int]:
    """(row, column) of the maximum."""
    r, c = np.unravel_index(int(np.argmax(d)), d.shape)
    return int(r), int(c)


@pytest.mark.parametrize("method", METHODS)
def test_single_point_peaks_at_exactly_its_pixel(build, method):
    # A wide, short canvas: swapped x and y would land out of range or elsewhere.
    w, h, sigma = 300, 90, 14.0  # sigma 14 lets `reduced` really shrink (factor 2)
    for x, y in [(200, 30), (13, 77), (299, 0), (0, 89)]:
        d = dens.density([x], [y], width=w, height=h, sigma=sigma, method=method)
        assert d.shape == (h, w) and d.dtype == np.float32
        assert peak(d) == (y, x), (method, x, y)


def test_float_coordinates_round_to_the_nearest_pixel():
    d = dens.density([10.4, 30.6], [5.49, 20.51], width=50, height=30, sigma=1.0, method="stamp")
    assert d[5, 10] == pytest.approx(d.max())
    assert d[21, 31] == pytest.approx(d.max())


@pytest.mark.parametrize("method", METHODS)
def test_blob_is_symmetric(build, method):
    x, y = 120, 80
    d = dens.density([x], [y], width=240, height=160, sigma=13.0, method=method)
    tol = 1e-5 if method != "reduced" else 2e-3 * float(d.max())
    for k in (1, 5, 13, 26, 38):
        assert d[y, x + k] == pytest.approx(d[y, x - k], abs=tol)
        assert d[y + k, x] == pytest.approx(d[y - k, x], abs=tol)
        assert d[y + k, x] == pytest.approx(d[y, x + k], abs=tol)  # round, not stretched along one axis
        assert d[y + k, x + k] == pytest.approx(d[y - k, x - k], abs=tol)
    assert d[y, x + 5] < d[y, x] and d[y, x + 26] < d[y, x + 13]


@pytest.mark.parametrize("method", METHODS)
def test_sum_equals_weighted_count_away_from_edges(build, method):
    xs, ys, ws = [100, 200, 150, 150], [80, 90, 60, 60], [2.0, 5.0, 1.0, 0.5]
    d = dens.density(xs, ys, ws, width=300, height=160, sigma=12.0, method=method)
    assert float(d.sum(dtype=np.float64)) == pytest.approx(8.5, rel=2e-3)
    unweighted = dens.density(xs, ys, width=300, height=160, sigma=12.0, method=method)
    assert float(unweighted.sum(dtype=np.float64)) == pytest.approx(4.0, rel=2e-3)


def test_edge_blob_is_cut_not_folded_back():
    d = dens.density([0], [0], width=100, height=100, sigma=5.0, method="stamp")
    # A quarter of the blob falls on the canvas (plus the row and column through the centre).
    assert 0.25 < float(d.sum()) < 0.33
    assert peak(d) == (0, 0)


@pytest.mark.parametrize("w,h,sigma", [(640, 360, 20.0), (500, 700, 17.0), (900, 500, 50.0), (1920, 1080, 22.03)])
def test_three_paths_agree_within_one_percent_of_peak(build, w, h, sigma):
    rng = np.random.default_rng(int(sigma * 100))
    for n in (1, 7, 300, 5000):
        xs = rng.integers(0, w, n)
        ys = rng.integers(0, h, n)
        # Edges and corners: truncated patches.
        xs = np.concatenate([xs, [0, w - 1, 0, w - 1, 0, w // 2, w - 2]])
        ys = np.concatenate([ys, [0, 0, h - 1, h - 1, h // 3, h - 1, 1]])
        ws = rng.uniform(0.5, 3.0, len(xs))
        grids = {m: dens.density(xs, ys, ws, width=w, height=h, sigma=sigma, method=m) for m in METHODS}
        grids["auto"] = dens.density(xs, ys, ws, width=w, height=h, sigma=sigma)
        grids["lanczos"] = dens.density(xs, ys, ws, width=w, height=h, sigma=sigma, method="reduced", upsize="lanczos")
        ref = grids["stamp"]
        top = float(ref.max())
        for name, g in grids.items():
            err = float(np.abs(g - ref).max()) / top
            assert err < 0.01, (name, n, err)
    assert kern.reduction_factor(sigma) >= 2  # the reduced path really reduced


def test_reduced_path_is_chosen_for_many_points_and_large_sigma():
    assert dens.choose_method(1_000_000, 3840, 2160, 44.0) == "reduced"
    assert dens.choose_method(3, 3840, 2160, 44.0) == "stamp"
    assert dens.choose_method(200_000, 640, 480, 3.0) == "blur"


def test_negative_origin_places_points(build):
    # A monitor left of and above the primary: desktop (-1920, -200) is array [0, 0].
    d = dens.density([-1900, 10], [-150, 300], width=3840, height=1280, sigma=3.0, origin=(-1920, -200))
    assert d[50, 20] == pytest.approx(d.max(), rel=1e-6)
    assert d[500, 1930] == pytest.approx(d[50, 20], rel=1e-6)
    assert d.sum() == pytest.approx(2.0, rel=1e-3)


def test_points_outside_are_ignored(build):
    d = dens.density([-1, 5, 100, 5, 10, np.nan], [5, -1, 5, 100, 10, 3], width=100, height=100, sigma=2.0)
    assert d.sum() == pytest.approx(1.0, rel=1e-4)
    assert peak(d) == (10, 10)
    assert not dens.density([], [], width=10, height=5, sigma=2.0).any()


def test_default_sigma_is_one_percent_of_diagonal():
    assert dens.default_sigma(1920, 1080) == pytest.approx(22.03, abs=0.01)
    assert dens.default_sigma(3840, 2160) == pytest.approx(44.06, abs=0.01)


def test_binned_density_is_pupil_clouds_method():
    w, h = 1600, 900
    d = binned.binned_density([400, 400, 1200], [300, 300, 700], width=w, height=h, bins=300, sigma=3.0)
    assert d.shape == (h, w) and d.dtype == np.float32
    r, c = peak(d)
    assert abs(r - 300) <= 6 and abs(c - 400) <= 6  # a bin is 5.3 px here
    assert float(d.sum()) == pytest.approx(3.0, rel=0.02)
    assert d[700, 1200] == pytest.approx(d[r, c] / 2, rel=0.1)
    assert d.min() >= 0.0


def test_keypoint_heatmaps():
    kp = np.array([[10, 20, 1], [299, 199, 1], [np.nan, 5, 1], [-50, 5, 1], [40, 40, 0], [-2, 100, 1]], float)
    k = dens.keypoint_heatmaps(kp, width=300, height=200, sigma=4.0, peak=2.0)
    assert k.shape == (6, 200, 300) and k.dtype == np.float32
    assert peak(k[0]) == (20, 10) and k[0].max() == pytest.approx(2.0)
    assert peak(k[1]) == (199, 299) and k[1].max() == pytest.approx(2.0)  # corner: truncated patch
    assert k[1].sum() < k[0].sum() / 3
    assert not k[2].any() and not k[3].any() and not k[4].any()
    assert 0 < k[5].max() < 2.0 and peak(k[5]) == (100, 0)  # centre just outside: partly visible
    assert dens.keypoint_heatmaps(np.zeros((0, 2)), width=4, height=3, sigma=1).shape == (0, 3, 4)


# -- colour -------------------------------------------------------------------
def test_diverging_map_is_transparent_in_the_middle_blue_below_red_above():
    levels = np.array([[0.0, 0.45, 0.5, 0.55, 1.0]], np.float32)
    rgba = render.colorize(levels, render.DIVERGING, top=1.0)
    assert rgba[0, 2, 3] == 0  # equal: transparent
    assert rgba[0, 0, 3] == 255 and rgba[0, 4, 3] == 255 and 0 < rgba[0, 1, 3] == rgba[0, 3, 3] < 255
    r, g, b = (int(v) for v in rgba[0, 0, :3])
    assert b > r + 50  # less: blue
    r, g, b = (int(v) for v in rgba[0, 4, :3])
    assert r > b + 50  # more: red


def test_every_opencv_colormap_by_name():
    import cv2

    names = {n[len("COLORMAP_"):].lower() for n in dir(cv2) if n.startswith("COLORMAP_")}
    assert names | {render.DIVERGING} == set(render.COLORMAPS)  # plus trackheat's own diverging map
    assert {"turbo", "jet", "inferno", "hot", "viridis", "magma"} <= names
    ramp = np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16)
    for name in render.COLORMAPS:
        rgba = render.colorize(ramp, name)
        assert rgba.shape == (16, 16, 4) and rgba.dtype == np.uint8
        bgr = render.apply_colormap(ramp, name)
        assert bgr.shape == (16, 16, 3)
        # RGBA is the colormap's BGR reversed.
        assert (rgba[..., :3] == bgr[..., ::-1]).all(), name
        assert render.colormap_id(name.upper()) == render.COLORMAPS[name]


def test_unknown_colormap_lists_names():
    with pytest.raises(UserError) as e:
        render.colormap_id("rainbowish")
    assert "turbo" in str(e.value) and "viridis" in str(e.value)


def test_apply_colormap_uint8_fast_path_matches_float():
    v = np.linspace(0, 1, 1000, dtype=np.float32).reshape(10, 100)
    u8 = render.to_u8(v)
    out = np.empty((10, 100, 3), np.uint8)
    assert render.apply_colormap(u8, "inferno", out=out) is out
    assert (out == render.apply_colormap(v, "inferno")).all()


@pytest.mark.parametrize("scale", ["max", "p99.5", "p50", "log", "sqrt"])
def test_alpha_is_zero_where_density_is_zero(scale):
    d = dens.density([50, 52, 150], [40, 41, 60], [100, 1, 5], width=200, height=100, sigma=4.0)
    rgba = render.colorize(d, "turbo", scale)
    assert (rgba[..., 3][d == 0] == 0).all()
    assert (d == 0).sum() > 10000
    assert rgba[40, 50, 3] == 255  # the top is opaque
    assert rgba[60, 150, 3] > 0  # the small blob shows


def test_normalize_scales():
    d = np.array([[0, 1, 2, 4, 100]], np.float32)
    assert render.normalize(d, "max").tolist()[0] == pytest.approx([0, 0.01, 0.02, 0.04, 1])
    p = render.normalize(d, "p50")  # percentile of the active pixels: 1, 2, 4, 100 -> 3
    assert p[0, 4] == 1.0 and p[0, 3] == 1.0 and p[0, 1] == pytest.approx(1 / 3)
    lg = render.normalize(d, "log")
    sq = render.normalize(d, "sqrt")
    assert lg[0, 0] == 0 and lg[0, 4] == pytest.approx(1) and sq[0, 1] == pytest.approx(0.1)
    assert lg[0, 1] > sq[0, 1] > 0.01  # both lift the long tail
    assert np.all(np.diff(lg[0]) > 0) and np.all(np.diff(sq[0]) > 0)
    assert not render.normalize(np.zeros((3, 3)), "log").any()
    for bad in ("p0", "p101", "median", "pxx", ""):
        with pytest.raises(UserError):
            render.normalize(d, bad)


def test_scale_value_inverts_normalize():
    for scale in ("max", "log", "sqrt"):
        for f in (0.0, 0.25, 0.5, 1.0):
            v = render.scale_value(f, 200.0, scale)
            assert render.normalize(np.array([[v, 200.0]], np.float32), scale)[0, 0] == pytest.approx(f, abs=1e-5)


def test_normalize_u8_matches_normalize():
    d = dens.density(np.arange(0, 300, 7), np.arange(0, 300, 7) % 97, width=300, height=100, sigma=5)
    for scale in ("max", "p99", "log", "sqrt"):
        a = render.normalize_u8(d, scale).astype(int)
        b = np.rint(render.normalize(d, scale) * 255).astype(int)
        assert np.abs(a - b).max() <= 1, scale
    buf = np.empty(d.shape, np.uint8)
    assert render.normalize_u8(d, "max", out=buf) is buf


def test_overlay_over_background_of_another_size():
    d = dens.density([100], [50], width=400, height=200, sigma=8.0)
    rgba = render.colorize(d)
    bg = np.zeros((50, 100, 3), np.uint8)
    bg[...] = (10, 200, 30)
    out = render.overlay(bg, rgba, alpha=0.7)
    assert out.shape == (200, 400, 3)
    assert tuple(out[190, 390]) == (10, 200, 30)  # transparent: the background shows
    assert tuple(out[50, 100]) != (10, 200, 30)
    hot = np.array(render.rgb_of("turbo", 1.0), float)
    expect = 0.3 * np.array([10, 200, 30]) + 0.7 * hot
    assert np.abs(out[50, 100].astype(float) - expect).max() <= 2
    assert (render.overlay(bg, rgba, alpha=0.0)[:, :] == (10, 200, 30)).all()


def test_blend_in_place():
    a = np.full((20, 30, 3), 100, np.uint8)
    b = np.full((20, 30, 3), 200, np.uint8)
    out = np.empty_like(a)
    assert render.blend(a, b, 0.25, out=out) is out
    assert (out == 125).all()


def test_colorbar_reads_top_to_bottom():
    img = np.zeros((300, 400, 3), np.uint8)
    out = render.draw_colorbar(img, "turbo", "moves", unit="per blob", top=1234.0, title="session 1")
    h, w = out.shape[:2]
    assert h > 300 and w > 400
    # Find the bar: the column right of the picture with the most saturated pixels (text is grey).
    panel = out[:, 400:].astype(int)
    colourful = (panel.max(axis=2) - panel.min(axis=2)) > 60
    col = int(np.argmax(colourful.sum(axis=0)))
    first = int(np.nonzero(colourful[:, col])[0][0])
    last = first
    while last + 1 < h and tuple(panel[last + 1, col]) != (200, 200, 200):  # down to the bar's frame
        last += 1
    rows = [first, last]
    top_colour, bottom_colour = panel[first, col], panel[last, col]
    assert np.abs(top_colour.astype(int) - render.rgb_of("turbo", 1.0)).max() <= 12
    assert np.abs(bottom_colour.astype(int) - render.rgb_of("turbo", 0.0)).max() <= 12
    assert rows[-1] - rows[0] > 150


def test_fmt_amount():
    assert [render.fmt_amount(v) for v in (0, 0.5, 3.14159, 87.4, 1234, 45678, 2.5e6)] == ["0", "0.5", "3.14", "87.4", "1234", "45.7k", "2.5M"]


def test_render_and_export_import_with_no_display():
    code = "import sys, trackheat.render, trackheat.outputs.export, trackheat.cli.export; bad = [m for m in ('mss', 'pynput') if m in sys.modules]; assert not bad, bad"
    proc = subprocess.run([sys.executable, "-c", code], env=headless_env(), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_reduced_unweighted_fast_path_equals_weighted():
    """Unweighted points take a packed-bincount path; ones as weights take the general one."""
    rng = np.random.default_rng(5)
    xs, ys = rng.integers(0, 1000, 50_000), rng.integers(0, 700, 50_000)
    a = dens.density(xs, ys, width=1000, height=700, sigma=30.0, method="reduced")
    b = dens.density(xs, ys, np.ones(len(xs)), width=1000, height=700, sigma=30.0, method="reduced")
    assert np.array_equal(a, b)
    exact = dens.density(xs, ys, width=1000, height=700, sigma=30.0, method="blur")
    assert float(a.sum(dtype=np.float64)) == pytest.approx(float(exact.sum(dtype=np.float64)), rel=1e-3)


def test_reduced_crowded_bin_falls_back_exactly():
    """A resting cursor (many points on one pixel) overflows the one-pass packing: the fallback must give the same grid."""
    rng = np.random.default_rng(6)
    xs = np.concatenate([rng.integers(0, 1000, 20_000), np.full(5_000, 321)])
    ys = np.concatenate([rng.integers(0, 700, 20_000), np.full(5_000, 123)])
    a = dens.density(xs, ys, width=1000, height=700, sigma=30.0, method="reduced")
    b = dens.density(xs, ys, np.ones(len(xs)), width=1000, height=700, sigma=30.0, method="reduced")
    assert np.array_equal(a, b)
    py, px = np.unravel_index(int(np.argmax(a)), a.shape)
    assert abs(int(py) - 123) <= 1 and abs(int(px) - 321) <= 1
    exact = dens.density(xs, ys, width=1000, height=700, sigma=30.0, method="blur")
    assert float(np.abs(a - exact).max()) <= 0.01 * float(exact.max())


def test_one_pass_sums_refuses_overflow_and_decodes_exactly():
    rng = np.random.default_rng(7)
    n, q = 500, 12.0
    key = rng.integers(0, n, 3000)
    ix, iy = rng.integers(0, 40, 3000), rng.integers(0, 40, 3000)
    ax_of, ay_of = rng.integers(0, 12, 40), rng.integers(0, 12, 40)
    wt = np.empty(3000)
    total, sx, sy, sxy = reduced._one_pass_sums(key, wt, ix, iy, ax_of, ay_of, q, n)
    ax, ay = ax_of[ix].astype(float), ay_of[iy].astype(float)
    assert np.array_equal(total, np.bincount(key, minlength=n).astype(float))
    assert np.array_equal(sx, np.bincount(key, ax, n) * (1 / q))
    assert np.array_equal(sy, np.bincount(key, ay, n) * (1 / q))
    assert np.array_equal(sxy, np.bincount(key, ax * ay, n) * (1 / (q * q)))
    crowded = key.copy()
    crowded[:200] = 7  # 200 points in one bin: more than 67 (the most that fit for q = 12)
    assert reduced._one_pass_sums(crowded, wt, ix, iy, ax_of, ay_of, q, n) is None


# -- the live overlay's shader -------------------------------------------------------
SHADER_SIZES = [
    ((1920, 1080), (960, 540)),  # factor 2: the vectorized path
    ((1280, 720), (1280, 720)),  # no scaling
    ((3840, 2160), (960, 540)),  # factor 4
    ((1000, 600), (333, 200)),  # no integer factor
    ((50, 30), (25, 15)),  # too short for two bands
    ((52, 28), (13, 7)),  # factor 4, widths that leave a scalar tail
    ((26, 14), (13, 7)),  # factor 2, the same
    ((7, 5), (3, 2)),
]


def _shader_inputs(size, levels_size, seed=1):
    import cv2

    rng = np.random.default_rng(seed)
    (w, h), (pw, ph) = size, levels_size
    frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    lv = cv2.GaussianBlur(rng.integers(0, 256, (ph, pw), dtype=np.uint8), (0, 0), 2)
    lv = cv2.normalize(lv, None, 0, 255, cv2.NORM_MINMAX)
    lv[: max(ph // 4, 1), : max(pw // 4, 1)] = 0  # a cold corner and a hot edge
    lv[:, -1] = 255
    return frame, lv


@pytest.mark.skipif(render_shader._shade is None, reason="trackheat._shade was not built (no C compiler)")
@pytest.mark.parametrize("size,levels_size", SHADER_SIZES)
def test_native_shader_scales_levels_like_opencv(size, levels_size):
    """The C loop's scaled levels are bilinear with OpenCV's geometry, correctly rounded.

    Against the exact (float) bilinear value: within 1/2 at factors 1, 2 and 4
    (exact weights), within 3/4 elsewhere (11-bit weights). cv2.resize itself
    truncates in its fixed-point steps, so against it: within 1.
    """
    import cv2

    frame, lv = _shader_inputs(size, levels_size)
    (w, h), (pw, ph) = size, levels_size
    identity = np.zeros((256, 4), np.uint16)
    identity[:, :3] = np.arange(256, dtype=np.uint16)[:, None] * 256  # alpha 1: out = the level itself
    out = np.empty_like(frame)
    render_shader._shade.shade(frame, lv, identity, 0, out, render_shader._taps(w, pw), render_shader._taps(h, ph), w, h, pw, ph, 0, h)
    got = out[..., 1].astype(np.float64)
    assert (out[..., 0] == out[..., 2]).all()

    def axis(n_out, n_in):
        s = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
        i0 = np.floor(s).astype(int)
        return i0, np.minimum(i0 + 1, n_in - 1), s - i0

    x0, x1, fx = axis(w, pw)
    y0, y1, fy = axis(h, ph)
    a = lv.astype(np.float64)
    rows = a[y0] * (1 - fy)[:, None] + a[y1] * fy[:, None]
    exact = rows[:, x0] * (1 - fx) + rows[:, x1] * fx
    exact_weights = w % pw == 0 and h % ph == 0 and (w // pw) in (1, 2, 4) and (h // ph) in (1, 2, 4)
    assert float(np.abs(got - exact).max()) <= (0.5 if exact_weights else 0.75) + 1e-9
    assert int(cv2.absdiff(out[..., 1], cv2.resize(lv, size, interpolation=cv2.INTER_LINEAR)).max()) <= 1


@pytest.mark.parametrize("size,levels_size", SHADER_SIZES)
@pytest.mark.parametrize("alpha", [0.0, 0.4, 1.0])
def test_level_shader_is_resize_colour_blend(size, levels_size, alpha):
    """Both builds draw frame*(1-alpha) + colormap(levels scaled up)*alpha: OpenCV exactly, C within rounding."""
    import cv2

    frame, lv = _shader_inputs(size, levels_size)
    colour = render.apply_colormap(cv2.resize(lv, size, interpolation=cv2.INTER_LINEAR), "jet")
    expect = render.blend(frame, colour, alpha)
    slow = render.LevelShader(size, levels_size, native=False)
    assert not slow.native
    assert int(cv2.absdiff(slow.shade(frame, lv, np.empty_like(frame), "jet", alpha), expect).max()) == 0
    if render_shader._shade is None:
        return
    fast = render.LevelShader(size, levels_size)
    got = fast.shade(frame, lv, np.empty_like(frame), "jet", alpha)
    diff = cv2.absdiff(got, expect)
    # one level of rounding moves jet by up to 4 per channel, and alpha is applied in 1/256
    # steps (0.4 -> 102/256: up to 1/2 on a bright pixel); alpha 0 is the frame itself
    assert int(diff.max()) <= (0 if alpha == 0.0 else 1 + int(np.ceil(4 * alpha)))
    assert float(np.mean(diff)) < 0.35


def test_native_shader_is_built_in_ci():
    from conftest import IN_CI

    if IN_CI:
        assert render_shader._shade is not None, "make test should have built trackheat._shade (gcc and Python headers)"
    assert render.LevelShader((8, 8), (4, 4)).native == (render_shader._shade is not None)
    if render_shader._shade is not None and platform.machine().lower() in ("x86_64", "amd64"):
        assert render_shader._shade.simd == "sse2"  # the streaming, vectorized paths were compiled in


@pytest.mark.skipif(render_shader._shade is None, reason="trackheat._shade was not built (no C compiler)")
def test_native_shader_refuses_what_would_read_out_of_bounds():
    frame, lv = _shader_inputs((40, 20), (20, 10))
    out = np.empty_like(frame)
    lut = render_shader._shade_lut(2, 154)
    good = (render_shader._taps(40, 20), render_shader._taps(20, 10))
    bad_x = good[0].copy()
    bad_x[5, 1] = 20  # one past the levels' last column
    with pytest.raises(ValueError, match="xtab"):
        render_shader._shade.shade(frame, lv, lut, 154, out, bad_x, good[1], 40, 20, 20, 10, 0, 20)
    with pytest.raises(ValueError, match="levels"):
        render_shader._shade.shade(frame, lv[:5], lut, 154, out, *good, 40, 20, 20, 10, 0, 20)
    with pytest.raises(ValueError, match="rows"):
        render_shader._shade.shade(frame, lv, lut, 154, out, *good, 40, 20, 20, 10, 0, 21)
    with pytest.raises(ValueError, match="too large"):  # h*w*3 would wrap around: refused, not trusted
        render_shader._shade.shade(frame, lv, lut, 154, out, good[0], good[1], 40, 1 << 62, 20, 10, 0, 10)
    with pytest.raises(ValueError, match="frame"):
        render.LevelShader((40, 20), (20, 10)).shade(frame[:, :30], lv, out, "jet", 0.4)
    with pytest.raises(ValueError, match="alpha"):
        render.LevelShader((40, 20), (20, 10)).shade(frame, lv, out, "jet", float("nan"))


def test_level_shader_on_the_pool_thread_does_not_wait_on_itself():
    """The band pool has one thread; a shade() running there draws both bands itself."""
    frame, lv = _shader_inputs((320, 200), (160, 100))
    shader = render.LevelShader((320, 200), (160, 100))
    out = render_shader._pool().submit(shader.shade, frame, lv, np.empty_like(frame), "jet", 0.4).result(timeout=10)
    assert out.shape == frame.shape and int(np.abs(out.astype(int) - frame).max()) > 0


# -- the C pass over the points (accumulate/_splat.c) and the factor-2 path (issue 16) ---------
BUILDS = ["native", "numpy"]


@pytest.fixture(params=BUILDS)
def build(request, monkeypatch):
    """Every density path with the C pass and without it (numpy, as where no compiler was at hand)."""
    if request.param == "native":
        need_splat()
    else:
        monkeypatch.setattr(splat, "_splat", None)
    return request.param


def need_splat() -> None:
    """The C pass: fail in CI (make test builds it), skip elsewhere when it was not built."""
    if not splat.available():
        if IN_CI:
            pytest.fail("trackheat.accumulate._splat was not built")
        pytest.skip("trackheat.accumulate._splat was not built")


def need_points_blur() -> None:
    """The C pass with its four-row blur (blur_points): fail in CI (its machine has it), else skip."""
    need_splat()
    if splat.simd() not in ("avx512", "avx2"):
        msg = f"blur_points needs AVX2 or AVX-512 (this CPU's best is {splat.simd()})"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


def _edge_points(rng, w, h, n):
    xs = np.concatenate([rng.integers(0, w, n), [0, w - 1, 0, w - 1, 0, w // 2, w - 2, w - 1]])
    ys = np.concatenate([rng.integers(0, h, n), [0, 0, h - 1, h - 1, h // 3, h - 1, 1, h // 2]])
    return xs, ys


@pytest.mark.parametrize("w,h,sigma", [(640, 360, 2.0), (300, 200, 4.5), (640, 360, 6.0), (333, 517, 9.5), (1280, 720, 12.0), (700, 400, 30.0)])
def test_every_path_equals_the_exact_sum(build, w, h, sigma):
    """Stamp, blur and reduced (factor 2 from sigma 6) against the exact sum of the truncated
    Gaussians (the per-point stamp in numpy), edges and corners included, weighted or not."""
    rng = np.random.default_rng(int(sigma * 10) + w)
    for n in (1, 7, 300, 5000):
        xs, ys = _edge_points(rng, w, h, n)
        for ws in (None, rng.uniform(0.5, 3.0, len(xs))):
            ref = np.zeros((h, w), np.float32)
            kern._stamp(ref, xs, ys, ws, kern.gaussian_patch(sigma))
            top = float(ref.max())
            for m in ("auto", "stamp", "blur", "reduced"):
                g = dens.density(xs, ys, ws, width=w, height=h, sigma=sigma, method=m)
                assert g.shape == (h, w) and g.dtype == np.float32
                err = float(np.abs(g - ref).max()) / top
                assert err < 0.01, (build, m, n, ws is None, err)
    if sigma >= 6:
        assert kern.reduction_factor(sigma) >= 2


def test_factor_two_from_sigma_six():
    assert [kern.reduction_factor(s) for s in (2, 5.9, 6, 8, 13.9, 14, 20.9, 21, 44)] == [1, 1, 2, 2, 2, 2, 2, 3, 6]
    assert dens.choose_method(1_000_000, 3840, 2160, 8.0, native=True) == "reduced"
    assert dens.choose_method(1_000_000, 3840, 2160, 8.0, native=False) == "reduced"
    assert dens.choose_method(1_000, 1920, 1080, 2.0, native=True) == "stamp"
    assert dens.choose_method(10_000_000, 1920, 1080, 2.0, native=True) == "blur"


def test_points_off_the_canvas_add_nothing(build):
    """A point one pixel outside must not lend its tail to the edge (C skips it, numpy drops it)."""
    w, h = 120, 80
    for m in ("stamp", "blur", "reduced"):
        d = dens.density([-1, w, 5, 5, np.nan], [5, 5, -1, h, 5], width=w, height=h, sigma=7.0, method=m)
        assert not d.any(), m
        d = dens.density([-1, 60, 10**12], [5, 40, 3], [3.0, 1.0, 9.0], width=w, height=h, sigma=7.0, method=m)
        ref = dens.density([60], [40], width=w, height=h, sigma=7.0, method="stamp")
        assert float(np.abs(d - ref).max()) <= 0.01 * float(ref.max()), m


def test_float_and_origin_inputs_take_the_same_path(build):
    rng = np.random.default_rng(11)
    xs, ys = rng.uniform(-50, 900, 4000), rng.uniform(-50, 500, 4000)
    for sigma in (3.0, 8.0, 25.0):
        a = dens.density(xs, ys, width=800, height=450, sigma=sigma, origin=(-20.0, 10.0))
        b = dens.density(xs + 20.0, ys - 10.0, width=800, height=450, sigma=sigma)
        assert float(np.abs(a - b).max()) <= 1e-6 * float(b.max())


@pytest.mark.parametrize("halves", [False, True])
def test_crowded_cell_beyond_float32_is_still_exact(monkeypatch, halves):
    """2^24 is where float32 stops counting whole numbers: a resting cursor with 2M samples on
    one spot at factor 2 (9 of each one's 16 sixteenths on its nearest centre) goes past it, and
    the grid must be redone in float64."""
    need_splat()
    monkeypatch.setattr(splat, "TWO_HALVES", 1000 if halves else 1 << 40)
    n = 2_000_000
    assert n * 9 > 2**24
    xs = np.concatenate([np.full(n, 201), np.arange(0, 400, 3)])
    ys = np.concatenate([np.full(n, 99), np.arange(0, 400, 3) % 300])
    d = dens.density(xs, ys, width=400, height=300, sigma=9.0, method="reduced")
    # The exact sum, from one stamp per distinct spot times its count (2M float32 adds would not be exact).
    exact = dens.density(xs[n - 1:], ys[n - 1:], np.r_[float(n), np.ones(len(xs) - n)], width=400, height=300, sigma=9.0, method="stamp")
    assert float(np.abs(d - exact).max()) <= 0.01 * float(exact.max())
    assert float(d.sum(dtype=np.float64)) == pytest.approx(float(exact.sum(dtype=np.float64)), rel=2e-3)


def test_native_split_counts_and_shares_exactly():
    """The C pass gives the same grid as numpy's bincounts (count, or the reduced path's shares), cell for cell."""
    need_splat()
    rng = np.random.default_rng(12)
    w, h = 301, 203
    xs, ys = _edge_points(rng, w, h, 20_000)
    for f in (1, 2, 3, 5):
        for ws in (None, rng.uniform(0.5, 3.0, len(xs))):
            if f == 1:
                grid, scale = splat.split(xs, ys, ws, splat.identity(w), splat.identity(h), 1, w, h)
                ref = np.bincount(ys * w + xs, weights=ws, minlength=w * h).reshape(h, w)
            else:
                m = 2
                wl, hl = -(-w // f) + 2 * m, -(-h // f) + 2 * m
                xt, yt = splat.table(*reduced._split_table(w, f, m)), splat.table(*reduced._split_table(h, f, m))
                grid, scale = splat.split(xs, ys, ws, xt, yt, 2 * f, wl, hl)
                ref = reduced._split_numpy(xs, ys, ws, w, h, f, m, wl, hl)
            np.testing.assert_allclose(grid * np.float64(scale), ref, rtol=1e-6, atol=1e-9)


def test_native_split_refuses_what_would_write_out_of_bounds():
    need_splat()
    from trackheat.accumulate import _splat

    xs, ys = np.array([1, 2]), np.array([1, 2])
    grid = np.zeros((10, 10), np.float32)
    table = splat.identity(10)
    _splat.split(xs, ys, None, table, table, 1, grid, 10, 10, False)
    assert grid.sum() == 2
    bad = table.copy()
    bad[3, 0] = 10  # a cell past the grid
    with pytest.raises(ValueError):
        _splat.split(xs, ys, None, bad, table, 1, grid, 10, 10, False)
    with pytest.raises(ValueError):  # shares need their right and lower neighbours inside
        _splat.split(xs, ys, None, splat.identity(10), table, 4, grid, 10, 10, False)
    with pytest.raises(ValueError):
        _splat.split(xs, ys, None, table, table, 1, np.zeros((9, 10), np.float32), 10, 10, False)
    with pytest.raises(ValueError):
        _splat.split(xs, ys[:1], None, table, table, 1, grid, 10, 10, False)
    with pytest.raises(ValueError):
        _splat.stamp(xs, ys, None, np.ones((3, 3), np.float32), 2, grid, 10, 10)


def test_two_halves_on_two_threads_give_the_same_grid(monkeypatch):
    """Many points are added in two halves (one on trackheat.pool's helper thread): the same
    grid as one pass, exactly for counts (whole numbers), to rounding for weights."""
    need_splat()
    rng = np.random.default_rng(13)
    w, h = 640, 360
    xs, ys = _edge_points(rng, w, h, 60_000)
    ws = rng.uniform(0.5, 3.0, len(xs))
    for sigma in (3.0, 9.0, 30.0):
        one = [dens.density(xs, ys, wt, width=w, height=h, sigma=sigma) for wt in (None, ws)]
        monkeypatch.setattr(splat, "TWO_HALVES", 1000)
        two = [dens.density(xs, ys, wt, width=w, height=h, sigma=sigma) for wt in (None, ws)]
        monkeypatch.setattr(splat, "TWO_HALVES", 1 << 40)
        assert np.array_equal(one[0], two[0]), sigma
        np.testing.assert_allclose(one[1], two[1], rtol=1e-5, atol=1e-6 * float(one[1].max()))
    # from the helper thread itself: one pass (it must never wait on itself)
    monkeypatch.setattr(splat, "TWO_HALVES", 1000)
    from trackheat.pool import helper

    got = helper().submit(dens.density, xs, ys, width=w, height=h, sigma=9.0).result(timeout=30)
    assert np.array_equal(got, dens.density(xs, ys, width=w, height=h, sigma=9.0))


def _simd_levels() -> list[str]:
    """The C blur's vector codes this CPU can run (each is tested): 'base', then 'avx2', 'avx512'."""
    if not splat.available():
        return ["base"]
    best = splat.simd()
    return ["base", "avx2", "avx512"][: ["base", "avx2", "avx512"].index(best) + 1]


@pytest.fixture(params=["base", "avx2", "avx512"])
def simd(request):
    """Each vector code of the C blur in turn (one this CPU lacks: a failure in CI, else a skip)."""
    need_splat()
    from trackheat.accumulate import _splat

    if request.param not in _simd_levels():  # CI's machine has all three
        msg = f"this CPU has no {request.param} (its best is {splat.simd()})"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    _splat.set_simd(request.param)
    try:
        yield request.param
    finally:
        _splat.set_simd("avx512")  # (at most that: the CPU's best again)


@pytest.mark.parametrize("two", [False, True])
def test_native_blur_equals_opencv_in_float64(monkeypatch, two, simd):
    """The C separable blur (ring of rows, kernel symmetry, empty rows skipped, one or two bands
    of rows on two threads; in AVX-512, shifts in registers and four output rows at a time, for
    radii up to 16, 32 and 48, longer ones by the AVX2-style code) against cv2.sepFilter2D in
    float64 with zero outside, at widths that are not whole vectors, grids shorter than the kernel,
    heights that are not whole groups of four rows, and rows left empty."""
    monkeypatch.setattr(splat, "TWO_BANDS", 1 if two else 1 << 40)
    rng = np.random.default_rng(14)
    cases = [(1, 1, 1.0, 1.0), (5, 7, 2.0, 0.5), (37, 130, 2.0, 1.0), (20, 65, 9.0, 0.25), (300, 201, 4.5, 1.0),
             (3, 40, 5.0, 1.0), (61, 97, 5.3, 1.0), (62, 98, 5.7, 1.0), (45, 160, 10.5, 2.0), (46, 161, 10.6, 1.0), (90, 333, 15.9, 1.0),
             (91, 334, 16.2, 1.0)]
    sparse = [(40, 300, 2.0, 1.0), (33, 97, 4.9, 1.0), (25, 64, 1.0, 3.0)]  # (a few values a row: each adds its kernel)
    for h, w, sigma, scale in cases + sparse:  # (radii 16-17, 31-32 and 48-49: each side of each limit)
        g = rng.poisson(0.7, (h, w)).astype(np.float32)
        if (h, w, sigma, scale) in sparse:  # values at both ends of rows too, where the kernel's vectors would leave the row
            g = np.zeros((h, w), np.float32)
            for y in range(h):
                g[y, rng.choice([0, 1, 5, 14, w // 2, w - 17, w - 3, w - 1], 3)] = rng.uniform(0.5, 9, 3)
        g[h // 3:h // 2] = 0  # empty rows: written as zeros where all their neighbours are empty too
        k = kern.gaussian_kernel_1d(sigma)
        got = kern._blur(g, sigma, scale=scale)
        ref = cv2.sepFilter2D(g.astype(np.float64), cv2.CV_64F, k, k * scale, borderType=cv2.BORDER_CONSTANT)
        assert got.shape == (h, w) and got.dtype == np.float32
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6 * max(float(ref.max()), 1e-30))
    assert {kern.kernel_radius(c[2]) for c in cases} >= {16, 17, 31, 32, 48, 49}
    from trackheat.accumulate import _splat

    g = np.ones((4, 4), np.float32)
    k3 = np.ones(3, np.float32)
    with pytest.raises(ValueError):
        _splat.blur(g, g, 4, 4, k3, k3, 0, 4)  # in place would read what it wrote
    with pytest.raises(ValueError):
        _splat.blur(g, np.empty((4, 4), np.float32), 4, 4, k3, np.ones(5, np.float32), 0, 4)
    with pytest.raises(ValueError):
        _splat.blur(g, np.empty((4, 4), np.float32), 4, 4, k3, k3, 2, 5)


def test_native_blur_of_a_large_grid_streams_its_rows_exactly(simd):
    """From 16 MB of output (a 4K grid) the AVX-512 blur streams whole aligned rows past the cache:
    the same grid as a small blur of each part (and as OpenCV) where it does, and where the width is
    not a whole vector (ordinary stores)."""
    rng = np.random.default_rng(16)
    for h, w in [(2048, 2048), (1100, 3850)]:
        counts = np.zeros((h, w), np.uint16)
        ix, iy = rng.integers(0, w, 200_000), rng.integers(0, h, 200_000)
        np.add.at(counts, (iy, ix), 1)
        k = kern.gaussian_kernel_1d(2.5).astype(np.float32)
        got = splat.blur(counts, k, k)
        assert got.ctypes.data % 64 == 0
        ref = cv2.sepFilter2D(counts.astype(np.float32), cv2.CV_32F, k, k, borderType=cv2.BORDER_CONSTANT)
        np.testing.assert_allclose(got, ref, rtol=0, atol=2e-6 * float(ref.max()))


def test_uint16_counts_banded_or_not_and_their_blur_are_exact(monkeypatch):
    """counts16 (direct, in two halves, or bucketed by band of rows first) counts every point on the
    canvas exactly and none off it; the blur of the uint16 counts (plus the second half's grid) is
    the blur of their float sum; a pixel past 65535 points gives None (the float count is used)."""
    need_splat()
    rng = np.random.default_rng(15)
    w, h = 333, 517
    xs = np.concatenate([rng.integers(-3, w + 3, 300_000), [-1, w, 5, 5]])
    ys = np.concatenate([rng.integers(-3, h + 3, 300_000), [5, 5, -1, h]])
    inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    ref = np.bincount(ys[inside] * w + xs[inside], minlength=w * h).reshape(h, w)
    k = kern.gaussian_kernel_1d(3.0).astype(np.float32)
    for banded, halves in [(False, False), (False, True), (True, True)]:
        monkeypatch.setattr(splat, "TWO_HALVES", 1000 if halves else 1 << 40)
        monkeypatch.setattr(splat, "TWO_HALVES_CACHED", 1000 if halves else 1 << 40)
        monkeypatch.setattr(splat, "BANDED_POINTS", 1000 if banded else 1 << 40)
        monkeypatch.setattr(splat, "BANDED_PIXELS", 1000 if banded else 1 << 40)
        monkeypatch.setattr(splat, "BAND_SHIFT", 4)
        got = splat.counts16(xs, ys, w, h)
        assert got is not None
        total = got[0].astype(np.int64) + (0 if got[1] is None else got[1])
        assert np.array_equal(total, ref), (banded, halves)
        assert (got[1] is None) == (banded or not halves)
        blurred = splat.blur(got[0], k, k, got[1])
        np.testing.assert_allclose(blurred, splat.blur(total.astype(np.float32), k, k), rtol=1e-6, atol=1e-6)
        crowded = splat.counts16(np.full(140_000, 3), np.full(140_000, 4), w, h)  # (each half past 65535)
        assert crowded is None, (banded, halves)
    monkeypatch.setattr(splat, "BANDED_PIXELS", 1000)
    d = dens.density(np.full(70_000, 3), np.full(70_000, 4), width=w, height=h, sigma=2.0, method="blur")
    ref = dens.density([3], [4], [70_000.0], width=w, height=h, sigma=2.0, method="stamp")  # (one float count)
    assert float(np.abs(d - ref).max()) <= 1e-5 * float(ref.max())


@pytest.mark.parametrize("two", [False, True])
def test_points_blurred_band_by_band_equal_the_blur_of_their_count(monkeypatch, two, simd):
    """blur_points (the points bucketed by band of rows, each band counted just before the four-row
    blur reads it, in AVX-512 or AVX2) gives the blur of the full-size count exactly: bands of 64
    down to 4 rows (wider canvases), points off every side, counts not a whole number of chunks,
    fewer points than a chunk, one or two threads; a pixel past 65535 points gives None (density()
    counts in float). Without either, density() does not use it and the C side refuses."""
    if simd == "base":
        from trackheat.accumulate import _splat

        assert not splat.points_blur_ok(700, 410, 6) and not dens.points_blur(1000, 700, 410, 6)
        with pytest.raises(ValueError, match="AVX2"):
            _splat.blur_points(np.zeros(1, np.int64), np.zeros(1, np.int64), 1024, 700, 410, 6, np.zeros(1, np.uint16),
                               np.zeros((9, 1), np.int64), np.empty((410, 700), np.float32), np.ones(3, np.float32),
                               np.ones(3, np.float32), False, 64, True)
        return
    monkeypatch.setattr(splat, "TWO_BANDS", 1 if two else 1 << 40)
    rng = np.random.default_rng(21)
    for w, h, n, sigma in [(700, 410, 150_000, 2.0), (1920, 70, 3000, 4.0), (3840, 45, 20_000, 2.0), (9000, 33, 5000, 3.0),
                           (64, 9, 700, 5.5), (333, 517, 1, 2.0), (1000, 600, 1025, 15.9)]:
        xs = np.concatenate([rng.integers(-3, w + 3, n), [-1, w, 5, 5, 10**12, -(10**12)]])
        ys = np.concatenate([rng.integers(-3, h + 3, n), [5, 5, -1, h, 3, 3]])
        inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
        counts = np.bincount(ys[inside] * w + xs[inside], minlength=w * h).reshape(h, w).astype(np.float32)
        k = kern.gaussian_kernel_1d(sigma).astype(np.float32)
        assert splat.points_blur_ok(w, h, len(k) // 2), (w, splat.band_shift(w))
        got = splat.blur_points(xs, ys, w, h, k, k)
        assert got is not None and got.ctypes.data % 64 == 0
        np.testing.assert_array_equal(got, splat.blur(counts, k, k), err_msg=str((w, h, n, sigma)))
    assert [splat.band_shift(w) for w in (700, 1920, 3840, 9000, 20000)] == [6, 5, 4, 2, 1]
    k = kern.gaussian_kernel_1d(2.0).astype(np.float32)
    assert splat.blur_points(np.full(70_000, 3), np.full(70_000, 4), 50, 40, k, k) is None  # (one pixel past 65535)
    d = dens.density(np.full(70_000, 3), np.full(70_000, 4), width=50, height=40, sigma=2.0, method="blur")
    ref = dens.density([3], [4], [70_000.0], width=50, height=40, sigma=2.0, method="stamp")
    assert float(np.abs(d - ref).max()) <= 1e-5 * float(ref.max())


def test_points_blurred_on_the_modules_own_worker_by_two_callers_and_after_a_fork():
    """blur_points shares its work with _splat's own thread: two Python threads calling it at
    once (one has the worker, the other works alone) and a forked child (which has no worker until
    it starts its own) each get the blur of their own count, bit for bit."""
    need_points_blur()
    from trackheat.accumulate import _splat

    if not _splat.WORKER:  # (CI's Linux machine has one)
        if IN_CI:
            pytest.fail("_splat was built without its worker thread")
        pytest.skip("no worker thread on this platform (Windows)")
    rng = np.random.default_rng(8)
    w, h = 900, 700
    k = kern.gaussian_kernel_1d(2.5).astype(np.float32)
    sets = [(rng.integers(0, w, n), rng.integers(0, h, n)) for n in (300_000, 40_000, 5_000, 120_000)]

    def expected(xs, ys):
        return splat.blur(np.bincount(ys * w + xs, minlength=w * h).reshape(h, w).astype(np.float32), k, k)

    want = [expected(xs, ys) for xs, ys in sets]
    got: dict = {}

    def call(i: int) -> None:
        for _ in range(5):
            got.setdefault(i, []).append(splat.blur_points(*sets[i], w, h, k, k))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(sets))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, outs in got.items():
        assert len(outs) == 5
        for out in outs:
            np.testing.assert_array_equal(out, want[i])
    pid = os.fork()  # (the worker is running in this process now)
    if pid == 0:
        ok = np.array_equal(splat.blur_points(*sets[0], w, h, k, k), want[0])
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


@pytest.mark.parametrize("source, x86", [("trackheat/accumulate/_splat.c", "#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))"),
                                          ("trackheat/render/_shade.c", "#if defined(__SSE2__) || defined(_M_X64)")])
def test_c_modules_compile_without_their_x86_vector_code(tmp_path, source, x86):
    """On an ARM machine (a Raspberry Pi, a recent Mac) the C modules compile without their x86
    vector code: checked here by turning that code off in a copy (a name left inside it once broke
    that build, and pip would have fallen back to numpy without a word)."""
    import shutil
    import sysconfig

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        if IN_CI:
            pytest.fail("no C compiler (make test builds the C modules with one)")
        pytest.skip("no C compiler")
    text = (ROOT / source).read_text()
    assert text.count(x86) == 1
    copy = tmp_path / Path(source).name
    copy.write_text(text.replace(x86, "#if 0"))
    proc = subprocess.run([cc, "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-Wno-missing-field-initializers",
                           "-Wno-cast-function-type", "-I", sysconfig.get_paths()["include"], str(copy)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_bucketed_points_refuse_what_would_leave_their_buffers():
    """The C side checks the chunk and block sizes, the buffers' sizes, the band's width and the
    kernel's length; one chunk or many, one block of rows or many, alone or with the worker, give
    the same grid."""
    need_points_blur()
    from trackheat.accumulate import _splat

    w, h, shift = 20, 12, 2
    xs, ys = np.arange(-1, 22), np.arange(-1, 22) % 13  # (some left, right and below the canvas)
    k = np.ones(3, np.float32)
    nb = ((h - 1) >> shift) + 2
    cells, dst = np.empty(len(xs), np.uint16), np.empty((h, w), np.float32)

    def call(chunk=4, shift=shift, cells=cells, offs=None, dst=dst, kx=k, block=5, alone=False):
        offs = np.empty((nb + 1, -(-len(xs) // chunk)), np.int64) if offs is None else offs
        return _splat.blur_points(xs, ys, chunk, w, h, shift, cells, offs, dst, kx, kx, False, block, alone)

    assert call() is False
    whole = dst.copy()
    assert call(chunk=1000, block=1000, alone=True) is False and np.array_equal(dst, whole)
    inside = (xs >= 0) & (xs < w) & (ys < h)
    count = np.bincount(ys[inside] * w + xs[inside], minlength=w * h).reshape(h, w).astype(np.float32)
    np.testing.assert_array_equal(whole, splat.blur(count, k, k))
    for bad in [dict(chunk=0, offs=np.empty((nb + 1, 6), np.int64)), dict(block=0), dict(cells=cells[:10]), dict(offs=np.empty((nb, 6), np.int64)),
                dict(dst=dst[:11]), dict(shift=12), dict(kx=np.ones(99, np.float32))]:  # (a band of 4096 rows passes 16 bits)
        with pytest.raises(ValueError):
            call(**bad)


@pytest.mark.parametrize("f", [2, 3, 6])
def test_reduced_shares_from_the_counts_equal_the_split(monkeypatch, f):
    """With many points the reduced path counts at full resolution and splits every pixel's count
    (downsplit, two bands of coarse rows): cell for cell the grid split() adds point by point."""
    need_splat()
    rng = np.random.default_rng(16 + f)
    w, h = 700, 410
    xs, ys = _edge_points(rng, w, h, 200_000)
    m, wl, hl = reduced.coarse_shape(w, h, f)
    xt, yt = splat.table(*reduced._split_table(w, f, m)), splat.table(*reduced._split_table(h, f, m))
    ref, scale = splat.split(xs, ys, None, xt, yt, 2 * f, wl, hl)
    ref = ref.copy()
    for bands in (1 << 40, 1):
        monkeypatch.setattr(splat, "TWO_BANDS", bands)
        counts = splat.counts16(xs, ys, w, h)
        assert counts is not None
        got = splat.downsplit(counts, xt, yt, 2 * f, wl, hl)
        assert got is not None and got[1] == scale
        assert np.array_equal(got[0], ref)
    monkeypatch.setattr(splat, "DOWNSPLIT_MIN", 0.0)
    sigma = 7.0 * f
    exact = dens.density(xs, ys, width=w, height=h, sigma=sigma, method="blur")
    d = dens.density(xs, ys, width=w, height=h, sigma=sigma, method="reduced")
    assert float(np.abs(d - exact).max()) <= 0.01 * float(exact.max())


def test_points_at_any_byte_offset_are_read(build):
    """Points deserialized from a Dask worker's buffer may be unaligned: every path copies them
    to aligned arrays first (the C code reads whole int64s)."""
    rng = np.random.default_rng(17)
    w, h = 400, 300
    xs, ys = rng.integers(0, w, 3000), rng.integers(0, h, 3000)
    ws = rng.uniform(0.5, 2.0, 3000)

    def unaligned(a):
        raw = np.zeros(a.nbytes + 1, np.uint8)
        view = raw[1:].view(a.dtype)
        view[:] = a
        assert not view.flags.aligned
        return view

    for sigma in (2.0, 9.0):
        for wt in (None, ws):
            for m in ("stamp", "blur", "reduced"):
                ref = dens.density(xs, ys, wt, width=w, height=h, sigma=sigma, method=m)
                got = dens.density(unaligned(xs), unaligned(ys), None if wt is None else unaligned(wt), width=w, height=h, sigma=sigma, method=m)
                assert np.array_equal(got, ref), (sigma, wt is None, m)
            c = dens.count(unaligned(xs), unaligned(ys), None if wt is None else unaligned(wt), width=w, height=h, sigma=sigma, method="reduced")
            assert np.array_equal(c, dens.count(xs, ys, wt, width=w, height=h, sigma=sigma, method="reduced"))
