#!/usr/bin/env python3
"""Benchmark: `aggregate` throughput in input rows per second, Dask against a plain loop.

Two sets of generated stores (seeded, one 1920x1080 session each), each
counted into one grid by the same map and reduce functions, in the same run:

- "big": STORES stores of ROWS distinct positions (the rows a store's export reads);
- "small": SMALL_STORES stores of SMALL_ROWS rows, where a task per input costs
  more in scheduling and shipping than in counting (the 10,000-store case).

Engines, per set:

- the baseline: a single-process loop over the same map and reduce functions
  (trackheat.accumulate.aggregate.count / total), no Dask at all;
- Dask LocalCluster with 1 and with 2 worker processes (one thread each), as
  `trackheat aggregate` runs: inputs in batches (count_batch), partials shipped
  as points, non-zero cells or a dense grid; and, for comparison, one task per
  input (what aggregate did before batching). The cluster's start-up is shown
  apart from the job, since it is paid once per command;
- the whole `trackheat aggregate` command in a fresh process, for what a user waits.

Each Dask result is checked against the loop's grid (the same sum) before its
time is reported. The machine has 2 cores shared with other work: compare the
ratios within one run, not the absolute figures across runs.

Run: python bench/aggregate.py  [stores] [rows per store] [small stores] [rows per small store]
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

from trackheat.accumulate.aggregate import Partial, Selection, add, count, count_batch, describe, find_inputs, total  # noqa: E402
from trackheat.accumulate.cluster import Engine, batches  # noqa: E402
from trackheat.canvas import Canvas, Rect  # noqa: E402
from trackheat.outputs.aggregate import INPUT_COST, ROWS_PER_TASK, _mouse_plan  # noqa: E402
from trackheat.store import Store  # noqa: E402

STORES = 16
ROWS = 100_000
SMALL_STORES = 400
SMALL_ROWS = 2_500
T0 = 1_790_000_000
REPEATS = 2


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


def shipped(p: Partial) -> tuple[str, int]:
    """(form, bytes) of a partial as it travels between workers."""
    if p.points is not None:
        return "points", sum(a.nbytes for a in p.points)
    if p.cells is not None:
        return "cells", sum(a.nbytes for a in p.cells)
    return "grid", 0 if p.grid is None else p.grid.nbytes


def measure(tmp: Path, name: str, n_stores: int, rows: int) -> tuple[list, str]:
    t_gen = time.perf_counter()
    for i in range(n_stores):
        make_store(tmp / name / f"s{i:04d}.db", rows, seed=i)
    t_gen = time.perf_counter() - t_gen
    inputs, _ = find_inputs([tmp / name])
    sel = Selection()
    described = [describe(i, sel) for i in inputs]
    plan = _mouse_plan(described, sel, "all", None, None, None, False)[0]
    one = count(inputs[0], plan)
    form, nbytes = shipped(one)

    def loop():
        return total((count(i, plan) for i in inputs), plan)

    t_loop, ref = best(loop)
    want = ref.dense()
    total_rows = sum(i["rows"] for i in ref.inputs)  # position rows read from the stores
    results = [("single-process loop (no Dask): baseline", t_loop)]
    for workers in (1, 2):
        t_start = time.perf_counter()
        with Engine(workers=workers, processes=True) as eng:
            t_start = time.perf_counter() - t_start
            work = batches(inputs, [d.rows + INPUT_COST for d in described], workers=workers, most=ROWS_PER_TASK)
            for label, fn, items in ((f"{len(work)} batches", count_batch, work), ("one task per input", count, inputs)):
                t_job, part = best(lambda: eng.map_reduce(fn, items, plan, add))
                worst = float(np.abs(part.dense() - want).max() / want.max())
                assert worst < 1e-6, worst  # float rounding: the sums are added in another order
                what = f"{workers} worker process{'es' if workers > 1 else ''}"
                results.append((f"Dask LocalCluster, {what}, {label} (start-up {t_start:.1f} s, not in the time)", t_job))
    cmd = [sys.executable, "-m", "trackheat", "aggregate", str(tmp / name), "-o", str(tmp / f"out-{name}"), "--workers", "2"]
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    t_cmd, proc = timed(lambda: subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT))
    if proc.returncode != 0:
        raise SystemExit(f"trackheat aggregate failed: {proc.stderr}")
    results.append(("`trackheat aggregate --workers 2` command, fresh process (cluster start, describe, count, draw, PNGs)", t_cmd))
    note = (f"{name}: {n_stores} stores x {rows:,} position rows = {total_rows:,} rows (generated in {t_gen:.1f} s); grid counted: {plan.method} "
            f"at {plan.width}x{plan.height}, sigma {plan.sigma:.1f} px; one store's partial travels as {form}, {nbytes / 1e6:.2f} MB")
    table = ["| engine | seconds | input rows/s | x baseline |", "|---|---:|---:|---:|"]
    for label, t in results:
        table.append(f"| {label} | {t:.2f} | {total_rows / t:,.0f} | {t_loop / t:.2f} |")
    return table, note


def main() -> None:
    n_stores = int(sys.argv[1]) if len(sys.argv) > 1 else STORES
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else ROWS
    n_small = int(sys.argv[3]) if len(sys.argv) > 3 else SMALL_STORES
    small_rows = int(sys.argv[4]) if len(sys.argv) > 4 else SMALL_ROWS
    load0 = os.getloadavg()
    out = []
    with tempfile.TemporaryDirectory(prefix="trackheat-bench-agg-") as tmp:
        for name, n, r in (("big", n_stores, rows), ("small", n_small, small_rows)):
            out.append(measure(Path(tmp), name, n, r))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}; "
          f"load average {', '.join(f'{x:.2f}' for x in load0)} at the start, {load} at the end; best of {REPEATS}")
    for table, note in out:
        print()
        print(note)
        print()
        print("\n".join(table))


if __name__ == "__main__":
    main()
