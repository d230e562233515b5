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

        rows = []
        cold = image()
        rows.append(("first picture of the week (store read, cold)", cold))
        changes = [
            ("colormap turbo -> inferno", {"colormap": "inferno"}),
            ("scale max -> log", {"scale": "log"}),
            ("opacity 0.65 -> 0.4", {"alpha": "0.4"}),
            ("sigma default -> 30 px", {"sigma": "30"}),
            ("kind moves -> dwell", {"kind": "dwell"}),
            ("kind moves -> clicks", {"kind": "clicks"}),
        ]
        for name, ch in changes:
            rows.append((name, image(**ch)))
        day = sessions[3]
        rows.append(("time range: one day (brush)", image(since=str(day["start"]), until=str(day["start"] + 8 * 3600))))
        rows.append(("time range: one hour (brush)", image(since=str(day["start"] + 3600), until=str(day["start"] + 7200))))
        rows.append(("the same options again (cached)", image(colormap="inferno")))
        shown = cold[2]
    finally:
        proc.terminate()
        proc.wait(30)

    cli_ms = statistics.median(cli) * 1000
    lib_ms = statistics.median(lib) * 1000
    print("| what (1920x1080, the whole week unless said) | server ms | request ms | vs `trackheat export` command |")
    print("|---|---:|---:|---:|")
    print(f"| `trackheat export --session all` (command, median of {REPEATS}) | - | {cli_ms:.0f} | 1.00x |")
    print(f"| `export_session()` (library call, median of {REPEATS}) | {lib_ms:.0f} | - | {lib_ms / cli_ms:.2f}x |")
    for name, (server, wall, _n) in rows:
        print(f"| view: {name} | {server:.0f} | {wall:.0f} | {wall / cli_ms:.3f}x |")
    worst = max(r[1][0] for r in rows[1:] if not r[0].startswith("time range"))
    print(f"\nworst control change with the selection's data cached: {worst:.0f} ms server time (target <= 150 ms)")
    print(f"first page load: {page / 1024:.1f} KB (HTML, CSS, JS, sessions list; target <= 300 KB); "
          f"then {extra / 1024:.1f} KB of timeline and stats, and the picture itself: {shown / 1024:.0f} KB PNG")
    return 0


if __name__ == "__main__":
    sys.exit(main())
