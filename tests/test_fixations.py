"""Fixation detection (I-VT, I-DT) against known answers and against real trackers' own fixations.

Validation (README, "Fixation detection"): Pupil Player's fixations.csv of
the Pupil Core tutorial recording vs. our I-DT on the same recording's
gaze_positions.csv, and EyeLink's EFIX events vs. our I-VT on the same
file's samples.
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from conftest import SHARED, need
from trackheat.accumulate import fixations as F

TUTORIAL = SHARED / "gaze" / "pupil-core-tutorial"
EYELINK = SHARED / "gaze" / "eyelink"
CORE_WORLD = (1280, 720)


def staircase(rate: float = 500.0, seed: int = 3):
    """Three fixations (300, 200, 400 ms) joined by 20 ms saccades, with 2 px noise."""
    rng = np.random.default_rng(seed)
    parts = []
    spots = [(100.0, 100.0, 0.3), (600.0, 120.0, 0.2), (300.0, 500.0, 0.4)]
    prev = None
    for x, y, dur in spots:
        if prev is not None:
            k = int(0.02 * rate)
            parts.append(np.column_stack((np.linspace(prev[0], x, k + 2)[1:-1], np.linspace(prev[1], y, k + 2)[1:-1])))
        parts.append(np.tile([x, y], (int(dur * rate), 1)))
        prev = (x, y)
    xy = np.concatenate(parts) + rng.normal(0, 2, (sum(len(p) for p in parts), 2))
    t = np.arange(len(xy)) / rate
    return t, xy[:, 0], xy[:, 1], spots


@pytest.mark.parametrize("method", ["ivt", "idt"])
def test_staircase_gives_its_three_fixations(method):
    t, x, y, spots = staircase()
    f = F.detect(method, t, x, y)
    assert len(f) == 3
    for (sx, sy, dur), fx, fy, fd in zip(spots, f.x, f.y, f.duration):
        assert math.hypot(fx - sx, fy - sy) < 3
        assert abs(fd - dur) < 0.04  # the saccade's edges are split between its neighbours


def test_a_gap_splits_a_fixation_and_short_ones_are_dropped():
    t = np.concatenate((np.arange(0, 0.3, 0.002), np.arange(0.5, 0.8, 0.002), [0.9, 0.902]))
    x = np.full(len(t), 500.0)
    y = np.full(len(t), 400.0)
    for method in ("ivt", "idt"):
        f = F.detect(method, t, x, y)
        assert len(f) == 2, method  # 200 ms of lost tracking splits; the 2-sample tail is too short
        assert f.t[1] == pytest.approx(0.5)


def test_idt_max_duration_splits_long_fixations():
    t = np.arange(0, 1.0, 0.004)
    f = F.idt(t, np.zeros(len(t)), np.zeros(len(t)), dispersion=10, min_duration=0.08, max_duration=0.22)
    assert len(f) == 5 and (f.duration <= 0.22 + 1e-9).all()  # 4 x 220 ms and the last 120 ms


def test_unsorted_or_missing_samples_are_refused():
    with pytest.raises(ValueError):
        F.detect("ivt", [0.0, 0.2, 0.1], [0, 0, 0], [0, 0, 0])
    with pytest.raises(ValueError):
        F.detect("idt", [0.0, 0.1], [0, float("nan")], [0, 0])
    with pytest.raises(ValueError):
        F.detect("dbscan", [0.0], [0], [0])


def test_empty_and_single_sample():
    for method in ("ivt", "idt"):
        assert len(F.detect(method, [], [], [])) == 0
        assert len(F.detect(method, [0.0], [1.0], [1.0])) == 0


def _tutorial():
    gaze = need(TUTORIAL / "gaze_positions.csv")
    with open(gaze) as fh:
        rows = [r for r in csv.DictReader(fh) if float(r["confidence"]) >= 0.6]
    rows.sort(key=lambda r: float(r["gaze_timestamp"]))
    t = np.array([float(r["gaze_timestamp"]) for r in rows])
    x = np.array([float(r["norm_pos_x"]) for r in rows]) * CORE_WORLD[0]
    y = (1 - np.array([float(r["norm_pos_y"]) for r in rows])) * CORE_WORLD[1]
    with open(TUTORIAL / "fixations.csv") as fh:
        fix = list(csv.DictReader(fh))
    fs = np.array([float(r["start_timestamp"]) for r in fix])
    fd = np.array([float(r["duration"]) for r in fix]) / 1000
    fx = np.array([float(r["norm_pos_x"]) for r in fix]) * CORE_WORLD[0]
    fy = (1 - np.array([float(r["norm_pos_y"]) for r in fix])) * CORE_WORLD[1]
    return t, x, y, fs, fd, fx, fy


def match(found: F.Fixations, fs, fd, fx, fy):
    """For each reference fixation, the detected one overlapping it most in time: (matched, covered time share, distances)."""
    s2, e2 = found.t, found.t + found.duration
    matched, covered, dist = 0, 0.0, []
    for a, d, x, y in zip(fs, fd, fx, fy):
        overlap = np.minimum(e2, a + d) - np.maximum(s2, a)
        covered += float(np.clip(overlap, 0, None).sum())
        if len(overlap) and overlap.max() > 0:
            j = int(np.argmax(overlap))
            matched += 1
            dist.append(math.hypot(found.x[j] - x, found.y[j] - y))
    return matched, covered / float(np.sum(fd)), np.array(dist)


def test_idt_matches_pupil_players_fixations():
    """Pupil Player's detector: max dispersion 1.5 deg (largest pairwise angle), 80-220 ms.

    I-DT's D is x extent + y extent, at most sqrt(2) times the largest
    pairwise distance: 1.5 * sqrt(2) deg accepts every window Pupil's does.
    Pixels per degree of the 1280x720 world camera, measured on this
    recording's 3-D gaze (angle between gaze_point_3d vectors vs. norm_pos
    distance): 14.1. Tolerance: every file fixation overlapped by one of
    ours, >= 85 % of its time covered, count within 20 %, median centroid
    distance under 0.25 deg (measured: 36 of 36, 94 %, 38 vs 36, 0.07 deg).
    """
    t, x, y, fs, fd, fx, fy = _tutorial()
    ppd = 14.1
    found = F.idt(t, x, y, dispersion=1.5 * math.sqrt(2) * ppd, min_duration=0.08, max_duration=0.22)
    matched, covered, dist = match(found, fs, fd, fx, fy)
    assert matched == len(fs) == 36
    assert covered >= 0.85
    assert abs(len(found) - len(fs)) <= 0.2 * len(fs)
    assert np.median(dist) / ppd < 0.25


def test_ivt_defaults_find_pupil_players_fixations():
    """The I-VT defaults (30 deg/s, 60 ms) on the same data: nearly every file fixation is found, centroids within 1 deg."""
    t, x, y, fs, fd, fx, fy = _tutorial()
    found = F.detect("ivt", t, x, y, px_per_degree=14.1)
    matched, covered, dist = match(found, fs, fd, fx, fy)
    assert matched >= 0.9 * len(fs)
    assert np.median(dist) / 14.1 < 1.0


def test_ivt_matches_eyelink_efix_on_the_binocular_recording():
    """EyeLink's parser is velocity-based (30 deg/s): our I-VT on the left eye's samples, with the file's own
    pixels per degree (END ... RES), finds its two EFIX L fixations within 10 ms and 2 px."""
    from trackheat.importers import ImportOptions
    from trackheat.importers import eyelink

    path = need(EYELINK / "eyelink_binocular_example.asc")
    blocks, _ = eyelink.parse(path)
    options = ImportOptions()
    options.fixations, options.eye = "none", "left"
    [s] = eyelink._read(path, options)
    # Samples as the session holds them (pixels; the session clock starts at the block's first sample, here START's time):
    t = s.ts - s.started + s.meta["tracker_start_ms"] / 1000
    found = F.detect("ivt", t, s.xs + 0.5, s.ys + 0.5, px_per_degree=s.meta["px_per_degree"])
    efix = [f for f in blocks[0].fix if f[0] == "L"]
    assert len(found) == len(efix) == 2
    for (eye, start, dur, ex, ey), ft, fdur, fx, fy in zip(efix, found.t, found.duration, found.x, found.y):
        assert abs(ft * 1000 - start) <= 10
        assert abs(fdur * 1000 - dur) <= 10
        assert math.hypot(fx - ex, fy - ey) <= 2


def idt_reference(t, x, y, dispersion, min_duration, max_gap=F.MAX_GAP):
    """Salvucci & Goldberg's I-DT written out sample by sample (slow, obviously right), for comparison."""
    gaps = np.diff(t)
    period = float(np.median(gaps[(gaps > 0) & (gaps <= max_gap)]))
    n, i, out = len(t), 0, []

    def disp(a, b):
        return (x[a : b + 1].max() - x[a : b + 1].min()) + (y[a : b + 1].max() - y[a : b + 1].min())

    while i < n:
        j = i
        while j < n and t[j] - t[i] + period < min_duration - 1e-9:
            j += 1
        if j >= n or (j > i and gaps[i:j].max() > max_gap) or disp(i, j) > dispersion:
            i += 1
            continue
        while j + 1 < n and gaps[j] <= max_gap and disp(i, j + 1) <= dispersion:
            j += 1
        out.append((i, j))
        i = j + 1
    return out


@pytest.mark.parametrize("seed", range(6))
def test_idt_equals_the_sample_by_sample_definition(seed):
    """Irregular clocks (gaps) take the sparse-table path, regular ones (odd seeds) the sliding-window one."""
    rng = np.random.default_rng(seed)
    n = 3000
    if seed % 2:
        t = np.arange(n) / 300.0
    else:
        t = np.cumsum(rng.choice([0.004, 0.004, 0.004, 0.0041, 0.2], n, p=[0.4, 0.3, 0.2, 0.099, 0.001]))
    jumps = rng.random(n) < 0.02
    x = np.cumsum(np.where(jumps, rng.normal(0, 80, n), rng.normal(0, 1.5, n)))
    y = np.cumsum(np.where(jumps, rng.normal(0, 80, n), rng.normal(0, 1.5, n)))
    f = F.idt(t, x, y, dispersion=25.0, min_duration=0.1)
    assert list(zip(f.start.tolist(), f.end.tolist())) == idt_reference(t, x, y, 25.0, 0.1)
    assert len(f) > 20
