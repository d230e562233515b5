#!/usr/bin/env python3
"""Benchmark: eye-tracker formats and fixation detection (issue 14's targets).

- a 3.5 MB EyeLink .asc (1 kHz monocular, ~1 minute: samples, SFIX/EFIX,
  SSACC/ESACC, MSG lines, as edf2asc writes them) imported and drawn as
  `trackheat gaze` draws it (target <= 0.5 s);
- a 1,000,000-row Tobii Pro Lab TSV (Eye Tracker rows, fixations repeated on
  their samples, units in the headers) imported (target <= 1.5 s);
- I-VT and I-DT on 1,000,000 samples (1 kHz, and 120 Hz where a fixation
  is only a few dozen samples) (target <= 0.5 s).

Every file is generated here (seeded): fixations of 150-400 ms with 3 px
noise and 30 ms saccades between. Baselines, measured in the same run on the
same bytes: pandas.read_csv of the same columns when pandas is installed,
else numpy.loadtxt (Pro Lab), the csv module splitting every line (EyeLink),
and a plain per-sample Python loop of the same I-VT rule (detection).

Run: python bench/gaze_formats.py
"""

from __future__ import annotations

import csv
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trackheat import importers  # noqa: E402
from trackheat.accumulate import fixations  # noqa: E402
from trackheat.importers import ImportOptions  # noqa: E402

TARGETS = {"eyelink": 0.5, "prolab": 1.5, "detect": 0.5}
RUNS = 3


def scanpath(n: int, rate: float, seed: int = 1):
    """n samples at `rate` Hz: (t s, x, y, fixation id or -1, fixation list [(start i, end i, x, y)])."""
    rng = np.random.default_rng(seed)
    x = np.empty(n)
    y = np.empty(n)
    fid = np.full(n, -1)
    fixes = []
    i, cx, cy, k = 0, 960.0, 540.0, 0
    sac = max(int(0.03 * rate), 2)
    while i < n:
        nx, ny = rng.uniform(100, 1820), rng.uniform(100, 980)
        m = min(sac, n - i)
        x[i : i + m] = np.linspace(cx, nx, sac)[:m]
        y[i : i + m] = np.linspace(cy, ny, sac)[:m]
        i += m
        length = min(int(rng.uniform(0.15, 0.4) * rate), n - i)
        x[i : i + length], y[i : i + length], fid[i : i + length] = nx, ny, k
        if length:
            fixes.append((i, i + length - 1, nx, ny))
        i += length
        cx, cy, k = nx, ny, k + 1
    x += rng.normal(0, 3, n)
    y += rng.normal(0, 3, n)
    return np.arange(n) / rate, x, y, fid, fixes


def make_asc(path: Path, target_bytes: int = 3_500_000) -> int:
    n = target_bytes // 37
    t, x, y, _, fixes = scanpath(n, 1000.0)
    ms = 1_000_000 + np.arange(n)
    lines = np.char.add(np.char.add(np.char.add(np.char.mod("%d\t", ms), np.char.mod("%7.1f\t", x)), np.char.mod("%7.1f\t", y)), "  812.0\t...")
    events: dict[int, list[str]] = {}
    for k, (a, b, fx, fy) in enumerate(fixes):
        events.setdefault(a, []).append(f"SFIX L   {ms[a]}")
        events.setdefault(b, []).append(f"EFIX L   {ms[a]}\t{ms[b]}\t{b - a + 1}\t{fx:7.1f}\t{fy:7.1f}\t    812")
        if k % 10 == 0:
            events.setdefault(a, []).append(f"MSG\t{ms[a]} TRIAL_EVENT {k}")
    out = ["** CONVERTED FROM bench.edf using edfapi", "** DATE: Fri Nov 27 06:00:00 2026", "**", "",
           "MSG\t999990 DISPLAY_COORDS 0 0 1919 1079", f"START\t{ms[0]} \tLEFT\tSAMPLES\tEVENTS", "PRESCALER\t1", "VPRESCALER\t1",
           "PUPIL\tAREA", "EVENTS\tGAZE\tLEFT\tRATE\t1000.00\tTRACKING\tCR\tFILTER\t2", "SAMPLES\tGAZE\tLEFT\tRATE\t1000.00\tTRACKING\tCR\tFILTER\t2"]
    body = lines.tolist()
    for i in sorted(events, reverse=True):
        body[i + 1 : i + 1] = events[i]
    out += body
    out.append(f"END\t{ms[-1] + 1} \tSAMPLES\tEVENTS\tRES\t  38.00\t  38.00")
    path.write_text("\n".join(out) + "\n")
    return n


PROLAB_HEADER = ["Recording timestamp [μs]", "Sensor", "Participant name", "Recording name", "Recording resolution height",
                 "Recording resolution width", "Gaze point X [DACS px]", "Gaze point Y [DACS px]", "Eye movement type",
                 "Gaze event duration [ms]", "Eye movement type index", "Fixation point X [DACS px]", "Fixation point Y [DACS px]"]


def make_prolab(path: Path, rows: int) -> None:
    t, x, y, fid, fixes = scanpath(rows, 120.0, seed=2)
    dur = np.zeros(rows)
    fxp = np.zeros(rows)
    fyp = np.zeros(rows)
    for k, (a, b, fx, fy) in enumerate(fixes):
        dur[a : b + 1] = (b - a + 1) / 120 * 1000
        fxp[a : b + 1], fyp[a : b + 1] = fx, fy
    is_fix = fid >= 0
    cols = [np.char.mod("%d", (t * 1e6).astype(np.int64)), np.full(rows, "Eye Tracker"), np.full(rows, "P01"), np.full(rows, "Recording1"),
            np.full(rows, "1080"), np.full(rows, "1920"), np.char.mod("%d", np.rint(x)), np.char.mod("%d", np.rint(y)),
            np.where(is_fix, "Fixation", "Saccade"), np.char.mod("%d", np.rint(dur)), np.char.mod("%d", np.maximum(fid, 0) + 1),
            np.where(is_fix, np.char.mod("%d", np.rint(fxp)), ""), np.where(is_fix, np.char.mod("%d", np.rint(fyp)), "")]
    body = cols[0]
    for c in cols[1:]:
        body = np.char.add(np.char.add(body, "\t"), c)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\t".join(PROLAB_HEADER) + "\n")
        fh.write("\n".join(body.tolist()))
        fh.write("\n")


def best(fn, runs: int = RUNS):
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def csv_split(path: Path) -> int:
    """Baseline for .asc: the csv module reading every tab-separated line, floats of the sample lines' x and y."""
    n = 0
    with open(path, newline="") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if row and row[0][:1].isdigit():
                try:
                    float(row[1]), float(row[2])
                    n += 1
                except ValueError:
                    pass
    return n


def loop_ivt(t, x, y, threshold: float) -> int:
    """Baseline for detection: the I-VT rule as a per-sample Python loop (point-to-point velocity)."""
    count, run = 0, 0
    tl, xl, yl = t.tolist(), x.tolist(), y.tolist()
    for i in range(1, len(tl)):
        v = ((xl[i] - xl[i - 1]) ** 2 + (yl[i] - yl[i - 1]) ** 2) ** 0.5 / (tl[i] - tl[i - 1])
        if v < threshold:
            run += 1
        else:
            count += run >= 2
            run = 0
    return count


def draw(path: Path, ref: Path, out: Path):
    from trackheat.outputs import gaze

    return gaze.heatmap([path], ref, out)


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="trackheat-bench-formats-") as tmp:
        tmp = Path(tmp)
        ref = tmp / "screen.png"
        cv2.imwrite(str(ref), np.full((1080, 1920, 3), 235, np.uint8))

        asc = tmp / "rec.asc"
        n_asc = make_asc(asc)
        mb = asc.stat().st_size / 1e6
        asc.read_bytes()
        t_base, _ = best(lambda: csv_split(asc))
        t_read, ss = best(lambda: importers.read(asc, ImportOptions()))
        t_draw, r = best(lambda: draw(asc, ref, tmp / "o1"))
        rows.append((f"EyeLink .asc, {mb:.1f} MB ({n_asc:,} samples, {ss[0].moves:,} EFIX): import + draw (`gaze.heatmap`)", t_draw, t_base, "eyelink"))
        rows.append(("  of which import (importers.read)", t_read, t_base, None))
        rows.append(("  baseline: csv module over every line, floats of x, y", t_base, t_base, None))

        tsv = tmp / "prolab.tsv"
        make_prolab(tsv, 1_000_000)
        mb2 = tsv.stat().st_size / 1e6
        tsv.read_bytes()
        try:
            import pandas as pd

            name = "pandas.read_csv of the time, x, y, type, index, duration columns"
            t_base2, _ = best(lambda: pd.read_csv(tsv, sep="\t", usecols=[0, 6, 7, 8, 9, 10, 11, 12]), 1)
        except ImportError:
            name = "numpy.loadtxt of the time, gaze x, gaze y columns (pandas is not installed)"
            t_base2, _ = best(lambda: np.loadtxt(tsv, delimiter="\t", skiprows=1, usecols=(0, 6, 7)), 1)
        t_pl, ss2 = best(lambda: importers.read(tsv, ImportOptions()))
        rows.append((f"Tobii Pro Lab TSV, 1,000,000 rows ({mb2:.0f} MB; {ss2[0].moves:,} fixations): import (importers.read)", t_pl, t_base2, "prolab"))
        rows.append((f"  baseline: {name}", t_base2, t_base2, None))

        for rate in (1000.0, 120.0):
            t, x, y, _, fixes = scanpath(1_000_000, rate, seed=3)
            t_ivt, f1 = best(lambda: fixations.detect("ivt", t, x, y))
            t_idt, f2 = best(lambda: fixations.detect("idt", t, x, y))
            t_loop, _ = best(lambda: loop_ivt(t, x, y, 1050.0), 1)
            rows.append((f"I-VT, 1,000,000 samples at {rate:g} Hz ({len(f1):,} fixations of {len(fixes):,} generated)", t_ivt, t_loop, "detect"))
            rows.append((f"I-DT, 1,000,000 samples at {rate:g} Hz ({len(f2):,} fixations)", t_idt, t_loop, "detect"))
            rows.append(("  baseline: the I-VT rule as a per-sample Python loop", t_loop, t_loop, None))

    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}; load average {load}; best of {RUNS}")
    print()
    print("| what | seconds | x baseline | target |")
    print("|---|---:|---:|---|")
    for name, t, base, target in rows:
        goal = "" if target is None else f"<= {TARGETS[target]} s: {'met' if t <= TARGETS[target] else 'MISSED'}"
        print(f"| {name} | {t:.3f} | {t / base:.2f} | {goal} |")


if __name__ == "__main__":
    main()
