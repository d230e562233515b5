"""`trackheat aggregate`: many inputs summed on Dask equal drawing them from one store.

Real Dask throughout: an in-process LocalCluster, the command's default
cluster of worker processes, and a `dask scheduler` with two `dask worker`
processes on 127.0.0.1 started here. The reference is always the existing
command (`export --session all` over one store holding the same sessions,
or `gaze` over the same files), so the sum is checked against what trackheat
already draws, within 1e-5 of the peak.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from trackheat import defaults
from trackheat.canvas import Canvas, Rect
from trackheat.store import Store

from conftest import IN_CI, MOUSE_DYNAMICS, ROOT, need, one_line_error, trackheat

T0 = 1_790_000_000.0  # on an hour boundary
TOL = 1e-5  # of the peak
SAMPLE_GAZE = ROOT / "sample_logs" / "gaze"


def need_dask() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        msg = "dask.distributed is not installed (make test installs the [dask] extra)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


def assert_same_density(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape, (a.shape, b.shape)
    peak = float(max(np.abs(a).max(), np.abs(b).max()))
    assert peak > 0
    worst = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
    assert worst <= TOL * peak, f"differs by {worst / peak:.2e} of the peak"


# -- synthetic sessions ------------------------------------------------------------------------
def make_session(store: Store, rng: np.random.Generator, canvas: Canvas, hour: int, n: int = 3000) -> int:
    """A session with clustered moves (two periods), dwell and clicks, on `canvas`."""
    b = canvas.bounds
    sid = store.create_session("synthetic", canvas, started=T0 + hour * 3600)
    centres = rng.uniform([b.left + 40, b.top + 40], [b.right - 40, b.bottom - 40], size=(6, 2))
    for k, period in enumerate((T0 + hour * 3600, T0 + (hour + 1) * 3600)):
        c = centres[rng.integers(0, len(centres), n)]
        xy = np.rint(c + rng.normal(0, 25, size=(n, 2))).astype(np.int64)
        xy[:, 0] = np.clip(xy[:, 0], b.left - 30, b.right + 30)  # a few off the canvas, as real logs have
        xy[:, 1] = np.clip(xy[:, 1], b.top - 30, b.bottom + 30)
        rows = {}
        for (x, y), cnt, dw in zip(xy.tolist(), rng.integers(1, 20, n).tolist(), rng.exponential(0.3, n).tolist()):
            r = rows.setdefault((x, y), [0, 0.0])
            r[0] += cnt
            r[1] += dw
        store.add_positions(sid, [(x, y, c_, d) for (x, y), (c_, d) in rows.items()], period=int(period))
    clicks = [(T0 + hour * 3600 + i, int(x), int(y), "left") for i, (x, y) in enumerate(rng.uniform([b.left, b.top], [b.right, b.bottom], (80, 2)))]
    store.add_clicks(sid, clicks)
    store.update_session(sid, ended=T0 + (hour + 2) * 3600)
    return sid


def build(tmp: Path, canvases: list[list[Canvas]], seed: int = 7) -> tuple[list[Path], Path]:
    """Stores s0, s1, ... (store i holds sessions on canvases[i]) and one store holding every session in the same order."""
    parts = []
    everything = tmp / "all.db"
    rng_seed = seed
    with Store(everything) as whole:
        for i, group in enumerate(canvases):
            p = tmp / "stores" / f"s{i}.db"
            p.parent.mkdir(parents=True, exist_ok=True)
            with Store(p) as part:
                for j, c in enumerate(group):
                    rng_seed += 1
                    make_session(part, np.random.default_rng(rng_seed), c, hour=2 * (i + j))
                    make_session(whole, np.random.default_rng(rng_seed), c, hour=2 * (i + j))
            parts.append(p)
    return parts, everything


SCREEN = Canvas.desktop([Rect(0, 0, 1280, 720)])
TWO = Canvas.desktop([Rect(0, 0, 1280, 720), Rect(1280, 0, 800, 600)])


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> tuple[list[Path], Path]:
    return build(tmp_path_factory.mktemp("agg"), [[SCREEN, SCREEN], [SCREEN], [SCREEN, SCREEN, SCREEN], [SCREEN]])


def export_density(db: Path, out: Path, *args: str) -> np.ndarray:
    trackheat("export", "--db", db, "--session", "all", "-o", out, "--density", out / "d.npy", *args, check=True)
    return np.load(out / "d.npy")


# -- equality --------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [(), ("--kind", "dwell"), ("--kind", "clicks"), ("--size", "640x360"), ("--sigma", "9")])
def test_in_process_cluster_equals_export_of_one_store(stores, tmp_path, extra):
    """The library on an in-process LocalCluster of threads, every kind and size."""
    need_dask()
    from trackheat.outputs.aggregate import aggregate

    parts, whole = stores
    want = export_density(whole, tmp_path / "export", *extra)
    opts = dict(zip(extra[::2], extra[1::2]))
    r = aggregate(parts, tmp_path / "agg", kind=opts.get("--kind", "moves"), size=opts.get("--size"), sigma=opts.get("--sigma"),
                  density_path=tmp_path / "agg" / "d.npy", workers=2, processes=False)
    assert_same_density(np.load(tmp_path / "agg" / "d.npy"), want)
    assert len(r.inputs) == 4 and not r.skipped
    assert sum(i["sessions"] for i in r.inputs) == 7


def test_command_on_its_default_cluster_equals_export(stores, tmp_path):
    """The real command, its LocalCluster of worker processes, a folder as input, --json totals."""
    need_dask()
    parts, whole = stores
    want = export_density(whole, tmp_path / "export", "--since", "2026-09-21T00:00")
    out = tmp_path / "agg"
    proc = trackheat("aggregate", parts[0].parent, "-o", out, "--density", out / "d.npy", "--json", "--since", "2026-09-21T00:00", check=True)
    assert_same_density(np.load(out / "d.npy"), want)
    lines = [json.loads(s) for s in proc.stdout.splitlines()]
    per_input, summary = lines[:-1], lines[-1]
    assert sorted(Path(i["input"]).name for i in per_input) == ["s0.db", "s1.db", "s2.db", "s3.db"]
    with Store(whole) as st:
        moves = sum(s.moves for s in st.sessions())
    # Every move on the canvas is counted once: the per-input totals add up to the store's.
    assert sum(i["total"] for i in per_input) <= moves
    assert sum(i["total"] for i in per_input) > 0.9 * moves
    assert summary["inputs"] == 4 and summary["skipped"] == 0 and "LocalCluster" in summary["engine"]
    for name in ("heatmap.png", "overlay.png"):
        assert cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED) is not None


def test_two_monitors_and_monitor_crop_equal_export(tmp_path):
    need_dask()
    from trackheat.outputs.aggregate import aggregate

    parts, whole = build(tmp_path, [[TWO], [TWO, TWO]])
    for monitor in ("all", "2"):
        want = export_density(whole, tmp_path / f"export{monitor}", "--monitor", monitor)
        aggregate(parts, tmp_path / f"agg{monitor}", monitor=monitor, density_path=tmp_path / f"a{monitor}.npy", workers=1, processes=False)
        assert_same_density(np.load(tmp_path / f"a{monitor}.npy"), want)


def test_few_pixels_many_moves_drawn_as_export_draws_them(tmp_path):
    """A resting cursor: 40 pixels with thousands of moves. The stores' totals promise many points,
    but export stamps so few; aggregate counts again at the grid export blurs, and still matches."""
    need_dask()
    from trackheat.outputs.aggregate import aggregate

    rng = np.random.default_rng(3)
    parts = []
    with Store(tmp_path / "all.db") as whole:
        for i in range(2):
            rows = [(int(x), int(y), int(c), 0.0) for x, y, c in zip(rng.integers(100, 1200, 20), rng.integers(100, 650, 20), rng.integers(500, 3000, 20))]
            with Store(tmp_path / f"p{i}.db") as st:
                for target in (st, whole):
                    sid = target.create_session("rest", SCREEN, started=T0)
                    target.add_positions(sid, rows, period=int(T0))
                    target.update_session(sid, ended=T0 + 60)
            parts.append(tmp_path / f"p{i}.db")
    want = export_density(tmp_path / "all.db", tmp_path / "export")
    aggregate(parts, tmp_path / "agg", density_path=tmp_path / "a.npy", workers=1, processes=False)
    assert_same_density(np.load(tmp_path / "a.npy"), want)


# -- a real scheduler and two worker processes ------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """`dask scheduler` and two `dask worker` processes (one thread each) on 127.0.0.1."""
    need_dask()
    from distributed import Client

    d = tmp_path_factory.mktemp("dask")
    address = f"tcp://127.0.0.1:{_free_port()}"
    log = open(d / "cluster.log", "w")
    (d / "tmp").mkdir()
    env = dict(os.environ, TMPDIR=str(d / "tmp"))  # the workers' temporary files, watched by the tests
    procs = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                               "--no-dashboard", "--no-show"], stdout=log, stderr=subprocess.STDOUT, cwd=d)]
    try:
        for i in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                                           "--name", f"w{i}", "--local-directory", str(d / f"w{i}")], stdout=log, stderr=subprocess.STDOUT, cwd=d, env=env))
        deadline = time.monotonic() + 60
        with Client(address, timeout=60) as c:
            while len(c.scheduler_info()["workers"]) < 2:
                assert time.monotonic() < deadline, (d / "cluster.log").read_text()
                time.sleep(0.2)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()


def test_scheduler_and_two_workers_equal_export(stores, dask_cluster, tmp_path):
    from distributed import Client

    parts, whole = stores
    want = export_density(whole, tmp_path / "export", "--kind", "dwell")
    out = tmp_path / "agg"
    proc = trackheat("aggregate", *parts, "-o", out, "--kind", "dwell", "--density", out / "d.npy", "--scheduler", dask_cluster, check=True)
    assert dask_cluster in proc.stdout
    assert_same_density(np.load(out / "d.npy"), want)
    # Both worker processes counted inputs: the work really went to the cluster.
    with Client(dask_cluster, timeout=30) as c:
        ran = c.run(lambda dask_worker: sum(1 for t in dask_worker.state.log if "count-" in str(t)))
    assert len(ran) == 2


# -- the 20 real mouse-dynamics sessions ---------------------------------------------------------
def test_twenty_real_sessions_each_in_its_own_store_draw_the_same_picture(tmp_path):
    need_dask()
    src = need(MOUSE_DYNAMICS)
    files = sorted(src.glob("*.csv"))
    assert len(files) == 20
    whole = tmp_path / "all.db"
    trackheat("import", "--db", whole, *files, check=True, timeout=600)
    from trackheat import importers

    for i, f in enumerate(files):
        with Store(tmp_path / "each" / f"{i:02d}.db") as st:
            st.save_imported(importers.read(f))
    want = export_density(whole, tmp_path / "export", "--scale", defaults.SCALE)  # aggregate's scale (export's is per kind)
    out = tmp_path / "agg"
    proc = trackheat("aggregate", tmp_path / "each", "-o", out, "--density", out / "d.npy", check=True, timeout=600)
    assert "20 inputs" in proc.stdout
    assert_same_density(np.load(out / "d.npy"), want)
    # The same picture: colour levels at most one apart (float rounding at a level's edge), and
    # those few pixels a rounding, not a region.
    from trackheat import render

    la, lb = (render.normalize_u8(d).astype(int) for d in (np.load(out / "d.npy"), want))
    assert np.abs(la - lb).max() <= 1
    a = cv2.imread(str(out / "heatmap.png"), cv2.IMREAD_UNCHANGED)
    b = cv2.imread(str(tmp_path / "export" / "heatmap.png"), cv2.IMREAD_UNCHANGED)
    assert a.shape == b.shape
    assert (a != b).any(axis=2).mean() < 1e-3


# -- gaze exports -------------------------------------------------------------------------------------
def test_gaze_exports_equal_the_gaze_command(tmp_path):
    need_dask()
    from trackheat.outputs.aggregate import aggregate

    rim = SAMPLE_GAZE / "rim"
    files = [rim / "fixations.csv"]
    ref = rim / "reference_image.jpeg"
    trackheat("gaze", *files, *files, "--reference", ref, "-o", tmp_path / "gaze", "--density", tmp_path / "g.npy", check=True)
    r = aggregate([*files, *files], tmp_path / "agg", reference=ref, density_path=tmp_path / "a.npy", workers=2, processes=False)
    assert_same_density(np.load(tmp_path / "a.npy"), np.load(tmp_path / "g.npy"))
    assert len(r.inputs) == 2 and r.inputs[0]["weights"] == ["duration"]


# -- `dump` Parquet files ----------------------------------------------------------------------------
def test_parquet_dumps_equal_export_of_the_same_rows(tmp_path):
    """Files in `trackheat dump --format parquet`'s columns, written here with pyarrow, summed with a store."""
    need_dask()
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        msg = "pyarrow is not installed (make test installs the [parquet] extra)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    from trackheat.outputs.aggregate import aggregate

    rng = np.random.default_rng(5)
    inputs = []
    with Store(tmp_path / "all.db") as whole:
        for i in range(3):
            xy = np.unique(np.rint(rng.normal([600, 350], [200, 120], (4000, 2))).astype(np.int64), axis=0)
            xy = xy[(xy[:, 0] >= 0) & (xy[:, 1] >= 0)]
            counts = rng.integers(1, 9, len(xy))
            dwell = rng.exponential(0.4, len(xy))
            sid = whole.create_session("dump", Canvas.covering(xy[:, 0], xy[:, 1]), started=T0)
            whole.add_positions(sid, [(int(x), int(y), int(c), float(d)) for (x, y), c, d in zip(xy, counts, dwell)], period=int(T0))
            whole.update_session(sid, ended=T0 + 600)
            table = pa.table({"session": np.full(len(xy), i + 1), "period_start": np.full(len(xy), T0), "app": [None] * len(xy),
                              "x": xy[:, 0], "y": xy[:, 1], "count": counts, "dwell": dwell})
            pq.write_table(table, tmp_path / f"d{i}.parquet")
            inputs.append(tmp_path / f"d{i}.parquet")
    for kind in ("moves", "dwell"):
        want = export_density(tmp_path / "all.db", tmp_path / f"export-{kind}", "--kind", kind)
        r = aggregate(inputs, tmp_path / f"agg-{kind}", kind=kind, density_path=tmp_path / f"{kind}.npy", workers=2, processes=False)
        assert_same_density(np.load(tmp_path / f"{kind}.npy"), want)
        assert [i["format"] for i in r.inputs] == ["parquet"] * 3


# -- canvases -----------------------------------------------------------------------------------------
def test_different_screens_refused_then_normalized(tmp_path):
    need_dask()
    big = Canvas.desktop([Rect(0, 0, 1920, 1080)])
    small = Canvas.desktop([Rect(0, 0, 1280, 720)])
    paths = []
    for name, c in (("big.db", big), ("small.db", small)):
        with Store(tmp_path / name) as st:
            sid = st.create_session("t", c, started=T0)
            b = c.bounds
            st.add_positions(sid, [(b.width // 2, b.height // 2, 50, 1.0)], period=int(T0))  # the centre of each screen
        paths.append(tmp_path / name)
    proc = trackheat("aggregate", *paths, "-o", tmp_path / "no", "--workers", "1")
    one_line_error(proc, "different screens", "1920x1080", "1280x720", "--normalize-canvas")
    assert not (tmp_path / "no" / "heatmap.png").exists()
    out = tmp_path / "yes"
    proc = trackheat("aggregate", *paths, "-o", out, "--normalize-canvas", "--density", out / "d.npy", "--workers", "1", check=True)
    assert "rescaled" in proc.stdout and "1280x720 -> 1920x1080" in proc.stdout
    d = np.load(out / "d.npy")
    assert d.shape == (1080, 1920)
    y, x = np.unravel_index(int(np.argmax(d)), d.shape)
    assert abs(x - 960) <= 2 and abs(y - 540) <= 2  # both centres landed on the output's centre


# -- bad inputs -----------------------------------------------------------------------------------------
@pytest.fixture
def one_good(tmp_path) -> Path:
    p = tmp_path / "good.db"
    with Store(p) as st:
        make_session(st, np.random.default_rng(1), SCREEN, hour=0, n=500)
    return p


def test_non_store_file_stops_or_is_skipped(one_good, tmp_path):
    need_dask()
    fake = tmp_path / "notes.db"
    fake.write_text("these are my notes, not a store\n")
    proc = trackheat("aggregate", one_good, fake, "-o", tmp_path / "out", "--workers", "1")
    one_line_error(proc, str(fake), "not a trackheat store", "--skip-bad")
    assert not (tmp_path / "out").exists()
    proc = trackheat("aggregate", one_good, fake, "-o", tmp_path / "out", "--workers", "1", "--skip-bad", check=True)
    assert f"skipped {fake}" in proc.stdout and "1 skipped" in proc.stdout
    assert (tmp_path / "out" / "heatmap.png").exists()


def test_sqlite_file_that_is_not_a_store(one_good, tmp_path):
    need_dask()
    import sqlite3

    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE t (a)")
    before = other.read_bytes()
    proc = trackheat("aggregate", one_good, other, "-o", tmp_path / "out", "--workers", "1")
    one_line_error(proc, str(other), "not a trackheat store")
    assert other.read_bytes() == before  # opened read-only: nothing written into someone else's database


def test_newer_schema_store_is_refused_untouched(one_good, tmp_path):
    need_dask()
    import sqlite3

    newer = tmp_path / "newer.db"
    newer.write_bytes(one_good.read_bytes())
    with sqlite3.connect(newer) as c:
        c.execute("PRAGMA user_version=999")
    before = newer.read_bytes()
    proc = trackheat("aggregate", one_good, newer, "-o", tmp_path / "out", "--workers", "1")
    one_line_error(proc, str(newer), "newer trackheat")
    assert newer.read_bytes() == before


def test_damaged_store_is_named(one_good, tmp_path):
    need_dask()
    cut = tmp_path / "cut.db"
    data = one_good.read_bytes()
    cut.write_bytes(data[: len(data) // 3])  # the header says more pages than there are
    proc = trackheat("aggregate", one_good, cut, "-o", tmp_path / "out", "--workers", "1")
    one_line_error(proc, str(cut))


def test_unreadable_file_is_named(one_good, tmp_path):
    """Permission denied. Root reads anything, so as root the command runs without the capabilities
    that override file permissions (setpriv, util-linux), as any other user would."""
    need_dask()
    locked = tmp_path / "locked.db"
    locked.write_bytes(one_good.read_bytes())
    locked.chmod(0)
    cmd = [sys.executable, "-m", "trackheat", "aggregate", str(one_good), str(locked), "-o", str(tmp_path / "out"), "--workers", "1"]
    if os.geteuid() == 0:
        caps = "-dac_override,-dac_read_search"
        cmd = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", *cmd]
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    one_line_error(proc, str(locked), "Permission denied", "--skip-bad")
    assert not (tmp_path / "out").exists()


def test_absent_scheduler_is_one_line_within_the_timeout(one_good, tmp_path):
    need_dask()
    port = _free_port()  # nothing listens there
    t0 = time.monotonic()
    proc = trackheat("aggregate", one_good, "-o", tmp_path / "out", "--scheduler", f"tcp://127.0.0.1:{port}", timeout=60)
    took = time.monotonic() - t0
    one_line_error(proc, "--scheduler", f"127.0.0.1:{port}", "no Dask scheduler")
    assert took < 30, took


def test_missing_dask_extra_is_one_line(one_good, tmp_path):
    """As on an install without the [dask] extra: `distributed` cannot be imported."""
    block = tmp_path / "block"
    (block / "distributed").mkdir(parents=True)
    (block / "distributed" / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["PYTHONPATH"] = str(block)
    proc = trackheat("aggregate", one_good, "-o", tmp_path / "out", env=env)
    one_line_error(proc, "pip install 'trackheat[dask]'")


def test_help_needs_no_display_and_no_dask(tmp_path):
    proc = trackheat("aggregate", "--help", check=True)
    assert "--scheduler" in proc.stdout and "--normalize-canvas" in proc.stdout and "--skip-bad" in proc.stdout


# -- applications: --app, as export --app ------------------------------------------------------------
def make_app_session(store: Store, rng: np.random.Generator, hour: int, n: int = 2500) -> int:
    """A session whose moves and clicks fall in two applications (a browser left, an editor right) and some in none."""
    sid = store.create_session("recorder", SCREEN, started=T0 + hour * 3600)
    for app, centre in (("firefox", (350, 360)), ("editor", (930, 360)), (None, (640, 650))):
        xy = np.clip(np.rint(rng.normal(centre, 60, (n, 2))), [0, 0], [1279, 719]).astype(np.int64)
        rows: dict[tuple[int, int], list] = {}
        for (x, y), c, d in zip(xy.tolist(), rng.integers(1, 9, n).tolist(), rng.exponential(0.2, n).tolist()):
            r = rows.setdefault((x, y), [0, 0.0])
            r[0] += c
            r[1] += d
        store.add_positions(sid, [(x, y, c, d) for (x, y), (c, d) in rows.items()], period=int(T0 + hour * 3600), app=app)
        store.add_clicks(sid, [(T0 + hour * 3600 + i, int(x), int(y), "left", app) for i, (x, y) in enumerate(xy[:40].tolist())])
    # the screen's far corner, so that a dump (no layout: its canvas covers its points) has the store's screen
    store.add_positions(sid, [(1279, 719, 1, 0.1)], period=int(T0 + hour * 3600))
    store.update_session(sid, ended=T0 + (hour + 1) * 3600)
    return sid


@pytest.fixture(scope="module")
def app_stores(tmp_path_factory) -> tuple[list[Path], Path]:
    """Two stores recorded with two applications, and one store holding both sessions."""
    d = tmp_path_factory.mktemp("apps")
    parts = []
    with Store(d / "all.db") as whole:
        for i in range(2):
            with Store(d / f"a{i}.db") as part:
                for st in (part, whole):
                    make_app_session(st, np.random.default_rng(40 + i), hour=i)
            parts.append(d / f"a{i}.db")
    return parts, d / "all.db"


@pytest.mark.parametrize("apps", [("firefox",), ("firefox", "editor"), ("(none)",)])
def test_app_equals_export_app(app_stores, tmp_path, apps):
    """--app as export has it, and (none): the events with no application, the name the
    error lists them by."""
    need_dask()
    parts, whole = app_stores
    flags = [a for app in apps for a in ("--app", app)]
    for kind in ("moves", "clicks"):
        want = export_density(whole, tmp_path / f"export-{kind}", "--kind", kind, "--scale", defaults.SCALE, *flags)
        out = tmp_path / f"agg-{kind}"
        proc = trackheat("aggregate", *parts, "-o", out, "--kind", kind, "--density", out / "d.npy", "--workers", "1", "--json", *flags, check=True)
        got = np.load(out / "d.npy")
        assert_same_density(got, want)
        summary = json.loads(proc.stdout.splitlines()[-1])
        assert summary["inputs"] == 2
    # Something really was left out: without --app the picture has more in it.
    everything = export_density(whole, tmp_path / "export-all")
    assert everything.sum() > got.sum() * 1.1 and got.sum() > 0
    if apps == ("(none)",):  # stats and dump take it too, and it is what the other names leave out
        stats = json.loads(trackheat("stats", "--db", whole, "--session", "all", "--app", "(none)", "--json", check=True).stdout)
        named = json.loads(trackheat("stats", "--db", whole, "--session", "all", "--app", "firefox", "--app", "editor", "--json", check=True).stdout)
        total = json.loads(trackheat("stats", "--db", whole, "--session", "all", "--json", check=True).stdout)
        assert stats["moves"] > 0 and stats["moves"] + named["moves"] == total["moves"]
        trackheat("dump", "--db", whole, "--session", "all", "--app", "(none)", "--format", "csv", "-o", tmp_path / "none.csv", check=True)
        assert (tmp_path / "none.csv").stat().st_size > 0


def test_app_in_parquet_dumps_equals_export_app(app_stores, tmp_path):
    """`trackheat dump --format parquet` files carry the app column; --app chooses rows by it."""
    need_dask()
    parts, whole = app_stores
    dumps = []
    for i, p in enumerate(parts):
        dumps.append(tmp_path / f"d{i}.parquet")
        trackheat("dump", "--db", p, "--session", "all", "--format", "parquet", "-o", dumps[-1], check=True)
    want = export_density(whole, tmp_path / "export", "--app", "editor", "--scale", defaults.SCALE)
    out = tmp_path / "agg"
    trackheat("aggregate", *dumps, "-o", out, "--app", "editor", "--density", out / "d.npy", "--workers", "1", check=True)
    assert_same_density(np.load(out / "d.npy"), want)


def test_unknown_app_is_one_line_naming_the_apps_the_inputs_have(app_stores, tmp_path):
    need_dask()
    parts, whole = app_stores
    trackheat("dump", "--db", parts[0], "--session", "all", "--format", "parquet", "-o", tmp_path / "d.parquet", check=True)
    for inputs in (parts, [tmp_path / "d.parquet"]):
        proc = trackheat("aggregate", *inputs, "-o", tmp_path / "out", "--app", "firefox", "--app", "slack", "--workers", "1")
        line = one_line_error(proc, "--app", "'slack'", "editor", "firefox", "(none)")
        assert "slack" not in line.split("have:")[1]
    assert not (tmp_path / "out").exists()
    # export says the same thing of one store
    one_line_error(trackheat("export", "--db", whole, "--session", "all", "--app", "slack", "-o", tmp_path / "out"), "--app", "'slack'", "firefox")


# -- small inputs: drawn as export draws them (it stamps few points) -------------------------------------
@pytest.mark.parametrize("n, extra, stamped", [(6, (), True), (100, (), True), (40, ("--kind", "clicks"), True), (300, ("--sigma", "3"), True),
                                                (3000, (), False)])
def test_small_inputs_equal_export_exactly(tmp_path, n, extra, stamped):
    """Few points: export stamps a patch per point, where counting and blurring differ by up to
    1 % of the peak; aggregate ships the points and draws them by export's own choice."""
    need_dask()
    from trackheat.accumulate import density

    rng = np.random.default_rng(n)
    parts = []
    with Store(tmp_path / "all.db") as whole:
        for i in range(3):
            xy = rng.integers([60, 60], [1220, 660], (n, 2))
            counts = rng.integers(1, 5, n)
            with Store(tmp_path / f"p{i}.db") as st:
                for target in (st, whole):
                    sid = target.create_session("few", SCREEN, started=T0 + i)
                    target.add_positions(sid, [(int(x), int(y), int(c), 0.5) for (x, y), c in zip(xy, counts)], period=int(T0))
                    target.add_clicks(sid, [(T0 + i + k, int(x), int(y), "left") for k, (x, y) in enumerate(xy[:n].tolist())])
                    target.update_session(sid, ended=T0 + 60)
            parts.append(tmp_path / f"p{i}.db")
    want = export_density(tmp_path / "all.db", tmp_path / "export", *extra, "--scale", defaults.SCALE)
    out = tmp_path / "agg"
    trackheat("aggregate", *parts, "-o", out, "--density", out / "d.npy", "--workers", "2", *extra, check=True)
    got = np.load(out / "d.npy")
    assert_same_density(got, want)
    # The case this is about: export stamped (its renderer chose to for this many points), or not.
    sigma = {"--kind": 0.5 * 14.686, "--sigma": 3.0}.get(extra[0], 14.686) if extra else 14.686
    assert (density.choose_method(3 * n, 1280, 720, sigma) == "stamp") == stamped


# -- inputs named by URL, read by the workers through fsspec ----------------------------------------------
class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """A static file server that answers Range requests (as web servers and object stores do;
    http.server alone does not): what pyarrow needs to read a Parquet file's footer and columns."""

    def log_message(self, *args) -> None:
        pass

    def send_head(self):
        rng = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not rng or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        a, _, b = rng.removeprefix("bytes=").partition("-")
        start = int(a) if a else max(0, size - int(b))
        end = min(int(b), size - 1) if a and b else size - 1
        fh = open(path, "rb")
        fh.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self._left = end - start + 1
        return fh

    def copyfile(self, source, outputfile) -> None:
        left = getattr(self, "_left", None)
        if left is None:
            return super().copyfile(source, outputfile)
        outputfile.write(source.read(left))


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """(folder, base URL): an HTTP server on 127.0.0.1 serving a folder, for the module's tests."""
    root = tmp_path_factory.mktemp("web")
    handler = functools.partial(RangeHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_urls_through_a_scheduler_and_two_workers_equal_export(stores, dask_cluster, web, tmp_path):
    """Stores over HTTP and as file:// URLs, read by two worker processes (each copies a store to
    a private temporary file and removes it), sum to what export draws from one store."""
    import shutil

    parts, whole = stores
    root, base = web
    for p in parts[:2]:
        shutil.copy(p, root / p.name)
    inputs = [f"{base}/{parts[0].name}", f"{base}/{parts[1].name}", parts[2].resolve().as_uri(), parts[3]]
    want = export_density(whole, tmp_path / "export")
    out = tmp_path / "agg"
    proc = trackheat("aggregate", *inputs, "-o", out, "--density", out / "d.npy", "--json", "--scheduler", dask_cluster, check=True)
    assert_same_density(np.load(out / "d.npy"), want)
    named = [json.loads(s)["input"] for s in proc.stdout.splitlines()[:-1]]
    assert sorted(named) == sorted(map(str, inputs))
    tmp = Path(dask_cluster_tmp(dask_cluster))
    assert not [p for p in tmp.iterdir() if p.name.startswith("trackheat-fetch-")]  # every copy removed


def dask_cluster_tmp(address: str) -> str:
    """The workers' temporary folder (their TMPDIR), asked of the workers themselves."""
    from distributed import Client

    with Client(address, timeout=30) as c:
        dirs = set(c.run(lambda: __import__("tempfile").gettempdir()).values())
    assert len(dirs) == 1, dirs
    return dirs.pop()


def test_parquet_over_http_read_in_place_equals_export(app_stores, dask_cluster, web, tmp_path):
    """A `dump` Parquet file read by the workers over HTTP with range requests (pyarrow through fsspec)."""
    parts, whole = app_stores
    root, base = web
    trackheat("dump", "--db", whole, "--session", "all", "--format", "parquet", "-o", root / "all.parquet", check=True)
    want = export_density(whole, tmp_path / "export", "--app", "firefox", "--scale", defaults.SCALE)
    out = tmp_path / "agg"
    trackheat("aggregate", f"{base}/all.parquet", "-o", out, "--app", "firefox", "--density", out / "d.npy", "--scheduler", dask_cluster, check=True)
    assert_same_density(np.load(out / "d.npy"), want)


def test_bad_urls_are_one_line(one_good, web, tmp_path):
    need_dask()
    root, base = web
    (root / "notes.db").write_text("not a store\n")
    cases = [
        ("nosuch://somewhere/a.db", ["nosuch://somewhere/a.db", "unknown URL protocol"]),
        (f"{base}/missing.db", [f"{base}/missing.db", "no such file"]),
        (f"{base}/notes.db", [f"{base}/notes.db", "not a trackheat store"]),
        (f"http://127.0.0.1:{_free_port()}/a.db", ["127.0.0.1", "cannot read"]),
        ("file:///dev/zero", ["file:///dev/zero", "not a file"]),  # (a device never ends: refused before any copy)
        (f"file://{root}", [f"file://{root}", "directory"]),
    ]
    for url, words in cases:
        start = time.monotonic()
        proc = trackheat("aggregate", one_good, url, "-o", tmp_path / "out", "--workers", "1", timeout=120)
        line = one_line_error(proc, *words)
        assert "trackheat-fetch-" not in line  # told of the URL, never of the temporary copy
        assert time.monotonic() - start < 60, url
    assert not (tmp_path / "out").exists()


# -- batches and the forms of a partial ---------------------------------------------------------------------
def test_many_inputs_in_few_tasks_mixing_points_cells_and_grids(tmp_path):
    """24 stores on one worker: 4 tasks of 6 stores. Tiny stores travel as points, big ones as
    non-zero cells or a dense grid; every mix is added, and the sum is export's picture."""
    need_dask()
    from trackheat.accumulate.cluster import batches
    from trackheat.outputs.aggregate import POINTS_SHIPPED, aggregate

    rng = np.random.default_rng(11)
    parts = []
    with Store(tmp_path / "all.db") as whole:
        for i in range(24):
            big = i % 6 == 5
            n = POINTS_SHIPPED + 5000 if big else int(rng.integers(5, 400))
            key = rng.choice(1280 * 720, n, replace=False) if big else rng.integers(0, 1280 * 720, n)
            key = np.unique(key)
            x, y = key % 1280, key // 1280
            c, d = rng.integers(1, 9, len(key)), rng.exponential(0.3, len(key))
            with Store(tmp_path / "each" / f"s{i:02d}.db") as st:
                for target in (st, whole):
                    sid = target.create_session("mix", SCREEN, started=T0 + i)
                    target.add_position_arrays(sid, int(T0), x, y, c, d)
                    target.update_session(sid, ended=T0 + 60)
            parts.append(tmp_path / "each" / f"s{i:02d}.db")
    assert [len(b) for b in batches(parts, [1] * 24, workers=1, most=1e9)] == [6, 6, 6, 6]
    assert batches(list(range(4)), [1, 1, 1, 5], workers=1, most=1e9) == [[0], [1], [2], [3]]  # small ones first: still four
    assert [len(b) for b in batches(list(range(10)), [1] * 10, workers=1, most=2)] == [2] * 5  # more batches when each would be too big
    for kind in ("moves", "dwell"):
        want = export_density(tmp_path / "all.db", tmp_path / f"export-{kind}", "--kind", kind, "--scale", defaults.SCALE)
        r = aggregate([tmp_path / "each"], tmp_path / f"agg-{kind}", kind=kind, density_path=tmp_path / f"{kind}.npy", workers=1, processes=False)
        assert_same_density(np.load(tmp_path / f"{kind}.npy"), want)
        assert len(r.inputs) == 24


def test_partials_add_in_any_form():
    """add() of points, non-zero cells and dense grids: each sum is the dense sum of the parts."""
    from trackheat.accumulate.aggregate import Partial, Placement, Plan, Selection, _sparse, add

    plan = Plan(Selection(), 64, 48, 2.0, "blur", placement=Placement(Rect(0, 0, 64, 48)), points_cap=10)
    rng = np.random.default_rng(2)
    few = Partial(points=(np.array([3, 5, 3]), np.array([4, 6, 4]), np.array([1.0, 2.0, 3.0])))
    sparse_grid = np.zeros((48, 64))
    sparse_grid[rng.integers(0, 48, 20), rng.integers(0, 64, 20)] = 1.5
    full_grid = rng.random((48, 64))
    cells, dense = Partial(**_sparse(sparse_grid)), Partial(**_sparse(full_grid))
    assert cells.cells is not None and dense.grid is not None
    as_grid = np.zeros((48, 64))
    as_grid[4, 3], as_grid[6, 5] = 4.0, 2.0
    both = add(few, few, plan)
    assert both.points is not None and len(both.points[0]) == 2  # one point per distinct pixel, as one store holds them
    assert np.array_equal(both.points[2], [8.0, 4.0])
    for a, b, want in [(few, cells, as_grid + sparse_grid), (cells, few, as_grid + sparse_grid), (cells, cells, 2 * sparse_grid),
                       (dense, cells, full_grid + sparse_grid), (few, dense, as_grid + full_grid), (dense, dense, 2 * full_grid)]:
        before = [p.dense() if p.points is None else p.points[2].copy() for p in (a, b)]
        s = add(a, b, plan)
        assert np.allclose(s.dense(), want)
        after = [p.dense() if p.points is None else p.points[2] for p in (a, b)]
        assert all(np.array_equal(x, y) for x, y in zip(before, after))  # a task never changes its inputs
    # Points as Dask delivers them: arrays over a received buffer, not always 8-byte aligned.
    raw = bytearray(8 * 3 * 3 + 1)
    odd = [np.frombuffer(memoryview(raw)[1 + 24 * k:1 + 24 * (k + 1)], np.int64 if k < 2 else np.float64) for k in range(3)]
    odd[0][:], odd[1][:], odd[2][:] = [3, 5, 3], [4, 6, 4], [1.0, 2.0, 3.0]
    assert not odd[0].flags.aligned
    assert np.allclose(add(Partial(points=tuple(odd)), cells, plan).dense(), as_grid + sparse_grid)
    many = Partial(points=(np.arange(8), np.arange(8), np.ones(8)))
    assert add(many, Partial(points=(np.arange(8) + 20, np.arange(8), np.ones(8))), plan).points is None  # 16 > 10 points: counted


# -- older stores: schema 1, read as they are --------------------------------------------------------------
def test_v1_stores_are_read_untouched_and_equal_export(tmp_path):
    """Stores written by trackheat's schema-1 code (tests/fixtures/store_v1.py, verbatim) are read
    read-only: nothing is migrated or written, and their sum is export's picture of the same sessions."""
    need_dask()
    import importlib.util

    spec = importlib.util.spec_from_file_location("store_v1", ROOT / "tests" / "fixtures" / "store_v1.py")
    v1 = importlib.util.module_from_spec(spec)
    sys.modules["store_v1"] = v1  # dataclasses look their module up
    spec.loader.exec_module(v1)
    parts = []
    with Store(tmp_path / "all.db") as whole:
        for i in range(3):
            p = tmp_path / "v1" / f"old{i}.db"
            p.parent.mkdir(exist_ok=True)
            with v1.Store(p) as old:
                make_session(old, np.random.default_rng(70 + i), SCREEN, hour=2 * i, n=1500)
            make_session(whole, np.random.default_rng(70 + i), SCREEN, hour=2 * i, n=1500)
            parts.append(p)
    import sqlite3

    for p in parts:
        with sqlite3.connect(p) as c:
            assert c.execute("PRAGMA user_version").fetchone()[0] == 1
    def files() -> dict:  # every file beside the stores, and the content of all but SQLite's shared-memory index
        return {f.name: (b"" if f.name.endswith("-shm") else f.read_bytes()) for f in sorted((tmp_path / "v1").iterdir())}

    before = files()
    for kind in ("moves", "clicks"):
        want = export_density(tmp_path / "all.db", tmp_path / f"export-{kind}", "--kind", kind, "--scale", defaults.SCALE)
        out = tmp_path / f"agg-{kind}"
        trackheat("aggregate", *parts, "-o", out, "--kind", kind, "--density", out / "d.npy", "--workers", "1", check=True)
        assert_same_density(np.load(out / "d.npy"), want)
    assert files() == before  # not migrated, not written, nothing made beside them
    # an application asked of stores that predate applications: they have none
    proc = trackheat("aggregate", *parts, "-o", tmp_path / "no", "--app", "firefox", "--workers", "1")
    one_line_error(proc, "--app", "'firefox'", "(none)")
