#!/usr/bin/env python3
"""Benchmark: `aggregate` throughput in input rows per second, Dask against a plain loop.

Generates STORES stores (seeded), each a 1920x1080 screen with ROWS distinct
positions in a few periods (the rows a store's export reads), and counts them
all into one grid three ways in the same run:

- the baseline: a single-process loop over the same map and reduce functions
  (trackheat.accumulate.aggregate.count / total), no Dask at all;
- Dask LocalCluster with 1 and with 2 worker processes (one thread each),
  the engine `trackheat aggregate` runs by default; the cluster's start-up is
  shown apart from the job, since it is paid once per command;
- the whole `trackheat aggregate` command in a fresh process, for what a user waits.

Each Dask result is checked against the loop's grid (the same sum) before its
time is reported. The machine has 2 cores shared with other work: compare the
ratios within one run, not the absolute figures across runs.

Run: python bench/aggregate.py  [stores] [rows per store]
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trackheat.accumulate.aggregate import Selection, add, count, describe, find_inputs, total  # noqa: E402
from trackheat.accumulate.cluster import Engine  # noqa: E402
from trackheat.canvas import Canvas, Rect  # noqa: E402
from trackheat.outputs.aggregate import _mouse_plan  # noqa: E402
from trackheat.store import Store  # noqa: E402

STORES = 16
ROWS = 100_000
T0 = 1_790_000_000
REPEATS = 3


def make_store(path: Path, rows: int, seed: int) -> None:
    """One session on a 1920x1080 screen: `rows` distinct (period, x, y) rows around a few hot spots."""
    rng = np.random.default_rng(seed)
    with Store(path) as st:
        sid = st.create_session("bench", Canvas.desktop([Rect(0, 0, 1920, 1080)]), started=T0)
        per = rows // 4
        for k in range(4):
            centres = rng.uniform([100, 100], [1820, 980], (12, 2))
            xy = centres[rng.integers(0, 12, per * 3)] + rng.normal(0, 120, (per * 3, 2))
            xy = np.clip(np.rint(xy), [0, 0], [1919, 1079]).astype(np.int64)
            key = np.unique(xy[:, 1] * 1920 + xy[:, 0])
            if len(key) < per:  # not enough distinct: top up with uniform pixels
                extra = rng.integers(0, 1920 * 1080, per * 2)
                key = np.unique(np.concatenate([key, extra]))
            key = rng.permutation(key)[:per]
            x, y = key % 1920, key // 1920
            st.add_position_arrays(sid, T0 + 3600 * k, x, y, rng.integers(1, 30, per), rng.exponential(0.2, per))
        st.update_session(sid, ended=T0 + 4 * 3600)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def best(fn, n: int = REPEATS):
    times, out = [], None
    for _ in range(n):
        t, out = timed(fn)
        times.append(t)
    return min(times), out


def main() -> None:
    n_stores = int(sys.argv[1]) if len(sys.argv) > 1 else STORES
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else ROWS
    with tempfile.TemporaryDirectory(prefix="trackheat-bench-agg-") as tmp:
        tmp = Path(tmp)
        t_gen = time.perf_counter()
        for i in range(n_stores):
            make_store(tmp / "stores" / f"s{i:03d}.db", rows, seed=i)
        t_gen = time.perf_counter() - t_gen
        inputs, _ = find_inputs([tmp / "stores"])
        sel = Selection()
        described = [describe(i, sel) for i in inputs]
        plan = _mouse_plan(described, sel, "all", None, None, None, False)[0]

        def loop():
            return total((count(i, plan) for i in inputs), plan)

        t_loop, ref = best(loop)
        total_rows = sum(i["rows"] for i in ref.inputs)  # position rows read from the stores
        results = [("single-process loop (no Dask): baseline", t_loop, None)]
        for workers, processes in ((1, True), (2, True), (2, False)):
            t_start = time.perf_counter()
            with Engine(workers=workers, processes=processes) as eng:
                t_start = time.perf_counter() - t_start
                t_job, part = best(lambda: eng.map_reduce(count, inputs, plan, add))
            worst = float(np.abs(part.dense() - ref.dense()).max() / ref.dense().max())
            assert worst < 1e-9, worst
            what = f"{workers} worker process{'es' if workers > 1 else ''}" if processes else f"{workers} worker threads in this process"
            results.append((f"Dask LocalCluster, {what} (start-up {t_start:.1f} s, not in the time)", t_job, t_start))
        cmd = [sys.executable, "-m", "trackheat", "aggregate", str(tmp / "stores"), "-o", str(tmp / "out"), "--workers", "2"]
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        t_cmd, proc = timed(lambda: subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT))
        if proc.returncode != 0:
            raise SystemExit(f"trackheat aggregate failed: {proc.stderr}")

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}; load average {load}")
    print(f"input: {n_stores} stores x {rows:,} position rows = {total_rows:,} rows (1920x1080, generated in {t_gen:.1f} s); "
          f"grid counted: {plan.method} at {plan.width}x{plan.height}, sigma {plan.sigma:.1f} px; best of {REPEATS}")
    print()
    print("| engine | seconds | input rows/s | x baseline |")
    print("|---|---:|---:|---:|")
    for name, t, _ in results:
        print(f"| {name} | {t:.2f} | {total_rows / t:,.0f} | {t_loop / t:.2f} |")
    print(f"| `trackheat aggregate --workers 2` command, fresh process (cluster start, describe, count, draw, PNGs) | {t_cmd:.2f} | {total_rows / t_cmd:,.0f} | {t_loop / t_cmd:.2f} |")


if __name__ == "__main__":
    main()
