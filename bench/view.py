"""Benchmark of `trackheat view`: control-change latency on a one-week store, and page weight.

Target (issue 13): a control change shows the new image in <= 150 ms of server time at
1920x1080 on a week of recording (bench/_week.py: 7 days x 8 hours over 5 applications),
and the page's first load is <= 300 KB. The baseline, measured in the same run on the same
store, is `trackheat export` of the same selection (the command, and its library call), which
is what a user without the viewer runs for every change.

The viewer runs for real (`trackheat view` in a subprocess, the page's own HTTP requests);
server time is the X-Render-Ms header the server sets around its work, wall time is the
request as the browser would see it. Prints a Markdown table; `make bench` collects it.
"""

from __future__ import annotations

import http.client
import os
import shutil
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _week import make_week_store  # noqa: E402

REPEATS = 3


class Client:
    def __init__(self, url: str) -> None:
        u = urlsplit(url)
        self.port = u.port
        self.token = parse_qs(u.query)["token"][0]
        self.cookie = ""

    def get(self, path: str) -> tuple[int, dict, bytes, float]:
        t0 = time.perf_counter()
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        c.request("GET", path, headers={"Host": f"127.0.0.1:{self.port}", "Cookie": self.cookie})
        r = c.getresponse()
        body = r.read()
        dt = time.perf_counter() - t0
        headers = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        if "set-cookie" in headers:
            self.cookie = headers["set-cookie"].split(";")[0]
        return r.status, headers, body, dt


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="trackheat-bench-view-"))
    try:
        return run(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the week's store is ~100 MB


def run(tmp: Path) -> int:
    db = tmp / "week.db"
    t0 = time.monotonic()
    tot = make_week_store(db)
    print(f"store: 7 days x 8 h, {tot['moves']:,} moves in {tot['rows']:,} (period, x, y) rows, {tot['clicks']:,} clicks, "
          f"{db.stat().st_size / 1e6:.0f} MB (built in {time.monotonic() - t0:.0f} s)\n")

    # Baseline: the CLI export of the whole week at 1920x1080, as a command and as the library call.
    cli = []
    for i in range(REPEATS):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "trackheat", "export", "--db", str(db), "--session", "all", "-o", str(tmp / f"cli{i}")], check=True, capture_output=True)
        cli.append(time.perf_counter() - t)
    from trackheat.store import Store
    from trackheat.outputs.export import export_session

    lib = []
    with Store(db, create=False) as s:
        for i in range(REPEATS):
            t = time.perf_counter()
            export_session(s, tmp / f"lib{i}", session="all")
            lib.append(time.perf_counter() - t)

    # The viewer.
    out = tmp / "view.out"
    with open(out, "w") as o:
        proc = subprocess.Popen([sys.executable, "-m", "trackheat", "view", "--db", str(db), "--no-browser"], stdout=o, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "http://" not in out.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"viewer did not start: {out.read_text()}")
            time.sleep(0.05)
        url = out.read_text().split(" at ", 1)[1].split()[0]
        c = Client(url)
        page = 0
        first = [f"/?token={c.token}", "/static/viewer.css", "/static/viewer.js", "/api/sessions"]
        for p in first:
            st, _, body, _ = c.get(p)
            assert st == 200, (p, st)
            page += len(body)
        sessions = json.loads(c.get("/api/sessions")[2])["sessions"]
        ids = ",".join(str(s["id"]) for s in sessions)
        extra = 0
        for p in (f"/api/timeline?sessions={sessions[-1]['id']}", f"/api/stats?sessions={sessions[-1]['id']}"):
            st, _, body, _ = c.get(p)
            assert st == 200, (p, st, body[:200])
            extra += len(body)

        base = {"sessions": ids, "kind": "moves", "monitor": "all", "scale": "max", "colormap": "turbo", "alpha": "0.65"}

        def image(**change) -> tuple[float, float, int]:
            q = dict(base, **change)
            st, h, body, dt = c.get(f"/api/image/overlay.png?{urlencode(q)}")
            assert st == 200, (q, st, body[:200])
            return float(h["x-render-ms"]), dt * 1000, len(body)

        rows: list[tuple[str, str, float | None, float]] = []
        cold = image()
        rows.append(("data", "first picture of the week (store read)", cold[0], cold[1]))
        image(size="960")  # the page's own first picture, 960 px wide: that grid is cached too
        # Display controls: the selection's points are cached; three different values each, median.
        display = [
            ("colormap", [{"colormap": c} for c in ("inferno", "magma", "viridis")]),
            ("scale", [{"scale": c} for c in ("log", "sqrt", "p99")]),
            ("opacity", [{"alpha": a} for a in ("0.4", "0.5", "0.8")]),
            ("sigma (a new density grid)", [{"sigma": x} for x in ("30", "40", "15")]),
            ("colormap, shown 960 px wide (the page's size on a 1600 px window)", [{"colormap": c, "size": "960"} for c in ("inferno", "magma", "viridis")]),
            ("sigma, shown 960 px wide", [{"sigma": x, "size": "960"} for x in ("30", "40", "15")]),
        ]
        for name, variants in display:
            got = [image(**v) for v in variants]
            rows.append(("display", name, statistics.median(g[0] for g in got), statistics.median(g[1] for g in got)))
        # Data controls: a new selection of points, read from the store once, then cached.
        day = sessions[3]
        data = [
            ("kind moves -> dwell", {"kind": "dwell"}),
            ("kind moves -> clicks", {"kind": "clicks"}),
            ("one application (code)", {"apps": "code"}),
            ("time range: one day (brush)", {"since": str(day["start"]), "until": str(day["start"] + 8 * 3600)}),
            ("time range: one hour (brush)", {"since": str(day["start"] + 3600), "until": str(day["start"] + 7200)}),
        ]
        for name, ch in data:
            server, wall, _n = image(**ch)
            rows.append(("data", name, server, wall))
        again = image(colormap="inferno")
        rows.append(("display", "options seen before (PNG cache)", again[0], again[1]))
        # The panels beside the picture, for the same selection (one application): stats and the counts download.
        one_app = {"sessions": ids, "apps": "code"}
        st, _, body, dt = c.get(f"/api/stats?{urlencode(one_app)}")
        assert st == 200, body[:200]
        rows.append(("panel", "stats panel, one application (`stats --json --app code`)", None, dt * 1000))
        day_app = dict(one_app, since=str(day["start"]), until=str(day["start"] + 8 * 3600))
        st, _, body, dt = c.get(f"/api/counts.csv?{urlencode(day_app)}")
        assert st == 200, body[:200]
        rows.append(("panel", f"counts CSV of one application's day (dump's writer, {len(body) / 1e6:.1f} MB)", None, dt * 1000))
        shown = cold[2]
    finally:
        proc.terminate()
        proc.wait(30)

    cli_ms = statistics.median(cli) * 1000
    lib_ms = statistics.median(lib) * 1000
    print("| what changed (1920x1080, the whole week unless said) | kind of change | server ms | request ms | vs `trackheat export` command |")
    print("|---|---|---:|---:|---:|")
    print(f"| `trackheat export --session all` (the command, median of {REPEATS}) | everything | - | {cli_ms:.0f} | 1.00x |")
    print(f"| `export_session()` (the library call, median of {REPEATS}) | everything | {lib_ms:.0f} | - | {lib_ms / cli_ms:.2f}x |")
    for kind, name, server_ms, wall in rows:
        print(f"| view: {name} | {kind} | {'-' if server_ms is None else f'{server_ms:.0f}'} | {wall:.0f} | {wall / cli_ms:.3f}x |")
    worst = max(r[2] or 0.0 for r in rows if r[0] == "display" and "960" not in r[1])
    worst_data = max(r[2] or 0.0 for r in rows if r[0] == "data")
    print(f"\nworst display-control change (colormap, scale, opacity, sigma; medians): {worst:.0f} ms server time (target <= 150 ms); "
          f"worst data change (kind, application, time range: a store read): {worst_data:.0f} ms")
    print(f"first page load: {page / 1024:.1f} KB (HTML, CSS, JS, sessions list; target <= 300 KB); "
          f"then {extra / 1024:.1f} KB of timeline and stats, and the picture itself: {shown / 1024:.0f} KB PNG")
    print(f"machine load average while measuring: {os.getloadavg()[0]:.1f} (2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
