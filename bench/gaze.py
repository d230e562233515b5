#!/usr/bin/env python3
"""Benchmark: a 1,000,000-row Neon gaze.csv imported and rendered (target <= 3 s).

The file is generated here (seeded): 200 Hz gaze on a 1600x1200 scene camera,
fixations of log-normal duration with ~6 px jitter around points spread over
the scene, ~40 ms saccades between, 1 % of samples not worn: about 83 minutes
of recording, the shape real gaze has (clustered, not uniform noise).

The headline is what a user waits for: the `trackheat gaze` command in a fresh
process (start-up, imports, parse, render, two PNGs), the median of CMD_RUNS
runs. Below it the stages, each timed on its own in this process, and the
whole trackheat.outputs.gaze.heatmap in this process. Without --db the command
draws from memory and writes no store: the store rows show what `--db` adds.
The baseline, measured in the same run on the
same file, is numpy's own text reader (np.loadtxt of the x and y columns
alone): the ratio says how the whole import-and-render compares with just
reading two columns the obvious way.

Run: python bench/gaze.py  [rows]
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trackheat import importers  # noqa: E402
from trackheat.outputs import gaze  # noqa: E402
from trackheat.importers import ImportOptions  # noqa: E402
from trackheat.store import Store  # noqa: E402

TARGET = 3.0
CMD_RUNS = 3
HEADER = "section id,recording id,timestamp [ns],gaze x [px],gaze y [px],worn,fixation id,blink id,azimuth [deg],elevation [deg]\n"


def make_gaze_csv(path: Path, rows: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    n_fix = rows // 50 + 1
    centres = np.column_stack([rng.normal(800, 320, n_fix), rng.normal(560, 240, n_fix)])
    fix_len = np.clip(rng.lognormal(np.log(50), 0.45, n_fix), 16, 300).astype(int)  # samples at 200 Hz
    sac_len = rng.integers(6, 10, n_fix)
    seg = np.repeat(np.arange(n_fix), fix_len + sac_len)[:rows]
    within = np.arange(len(seg)) - np.repeat(np.cumsum(fix_len + sac_len) - (fix_len + sac_len), fix_len + sac_len)[:rows]
    in_fix = within < fix_len[seg]
    nxt = np.minimum(seg + 1, n_fix - 1)
    a = np.clip((within - fix_len[seg]) / sac_len[seg], 0, 1)[:, None]
    pos = np.where(in_fix[:, None], centres[seg] + rng.normal(0, 6, (rows, 2)), centres[seg] * (1 - a) + centres[nxt] * a)
    ts = 1_763_712_000_000_000_000 + np.arange(rows, dtype=np.int64) * 5_000_000
    worn = np.where(rng.random(rows) < 0.99, "1.0", "0.0")
    fid = np.where(in_fix, (seg + 1).astype(str), "")
    az, el = (pos[:, 0] - 800) / 15.5, (600 - pos[:, 1]) / 15.5
    sec, rec = "9f3c3c1e-6f0a-4a57-9d6c-3c1f0e2b7a10", "4b8e2d7c-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
    cols = [np.char.mod("%d", ts), np.char.mod("%.3f", pos[:, 0]), np.char.mod("%.3f", pos[:, 1]), worn, fid, np.full(rows, ""), np.char.mod("%.6f", az), np.char.mod("%.6f", el)]
    body = np.char.add(f"{sec},{rec},", cols[0])
    for c in cols[1:]:
        body = np.char.add(np.char.add(body, ","), c)
    with open(path, "w") as fh:
        fh.write(HEADER)
        fh.write("\n".join(body.tolist()))
        fh.write("\n")


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory(prefix="trackheat-bench-gaze-") as tmp:
        tmp = Path(tmp)
        csv_path = tmp / "gaze.csv"
        t_gen, _ = timed(lambda: make_gaze_csv(csv_path, rows))
        ref = np.full((1200, 1600, 3), 235, np.uint8)
        cv2.imwrite(str(tmp / "scene.png"), ref)
        mb = csv_path.stat().st_size / 1e6
        csv_path.read_bytes()  # warm the page cache: measure parsing, not the disk

        t_base, _ = timed(lambda: np.loadtxt(csv_path, delimiter=",", skiprows=1, usecols=(3, 4)))
        t_read, sessions = timed(lambda: importers.read(csv_path, ImportOptions()))
        s = sessions[0]
        with Store(tmp / "s.db") as st:
            t_save, ids = timed(lambda: st.save_imported(sessions))
            distinct = st.distinct_positions(ids)
            t_points, pts = timed(lambda: gaze.points(st, ids, "count", 1600, 1200))
        from trackheat.accumulate import binned
        from trackheat.outputs import images

        t_bin, grid = timed(lambda: binned.binned_density(*pts, width=1600, height=1200))
        t_write, _ = timed(lambda: images.write_images(grid, tmp / "o1", background_bgr=ref, unit="gaze samples", title="bench"))
        t_all, r = timed(lambda: gaze.heatmap([csv_path], tmp / "scene.png", tmp / "o2"))
        cmd = [sys.executable, "-m", "trackheat", "gaze", str(csv_path), "--reference", str(tmp / "scene.png"), "-o", str(tmp / "o3")]
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        cmd_times = []
        for _ in range(CMD_RUNS):
            t, proc = timed(lambda: subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT))
            if proc.returncode != 0:
                raise SystemExit(f"trackheat gaze failed: {proc.stderr}")
            cmd_times.append(t)
        t_cmd = float(np.median(cmd_times))

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}, cv2 {cv2.__version__}; load average {load}")
    print(f"input: {rows:,}-row Neon gaze.csv ({mb:.0f} MB, generated in {t_gen:.1f} s): {s.moves:,} samples kept, {s.skipped:,} skipped, {s.dropped:,} off the scene; {distinct:,} distinct pixels stored")
    print()
    print("| stage | seconds | x baseline |")
    print("|---|---:|---:|")
    runs = ", ".join(f"{t:.2f}" for t in cmd_times)
    for name, t in [
        (f"**`trackheat gaze` command, fresh process (median of {CMD_RUNS}: {runs})**", t_cmd),
        ("baseline: np.loadtxt of the x, y columns", t_base),
        ("parse (importers.read)", t_read),
        ("store (Store.save_imported, one transaction: only with --db)", t_save),
        ("read back per session (store.positions; not in the command, which draws from memory)", t_points),
        ("binned.binned_density (300 bins, sigma 3)", t_bin),
        ("images.write_images (heatmap.png + overlay.png)", t_write),
        ("trackheat.outputs.gaze.heatmap, in process", t_all),
    ]:
        print(f"| {name} | {t:.2f} | {t / t_base:.2f} |")
    print()
    verdict = "meets" if t_cmd <= TARGET else "MISSES"
    print(f"the `trackheat gaze` command: {t_cmd:.2f} s, {verdict} the {TARGET:.0f} s target (in process: {t_all:.2f} s)")


if __name__ == "__main__":
    main()
