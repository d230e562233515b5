"""`trackheat view` for real: the command in a subprocess, the page in headless Chromium (Debian's
chromium + chromedriver, driven by Selenium), a recorder under Xvfb for the live view.

What the page shows is compared byte for byte with `trackheat export` of the same options; the
security tests talk raw HTTP to the server (http.client sends the Host and path exactly as given).
"""

from __future__ import annotations

import base64
import csv
import http.client
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import IN_CI, ROOT, headless_env, start_xvfb, stop_xvfb, trackheat

sys.path.insert(0, str(ROOT / "bench"))
from _week import make_week_store  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DOCS_SHOT = ROOT / "docs" / "viewer.png"


def need_tool(*paths: str) -> None:
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        msg = f"{', '.join(missing)} not installed (make test installs chromium and chromium-driver as root)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


class Viewer:
    """`trackheat view --no-browser` in a subprocess; `url` is the line it printed."""

    def __init__(self, db: Path, env: dict | None = None, *args: str) -> None:
        self.out = db.with_name(f"view.{time.monotonic_ns()}.out")
        self.err = self.out.with_suffix(".err")
        with open(self.out, "w") as o, open(self.err, "w") as e:
            self.proc = subprocess.Popen([sys.executable, "-m", "trackheat", "view", "--db", str(db), "--no-browser", *args],
                                         stdout=o, stderr=e, env=env or headless_env(), cwd=ROOT)
        deadline = time.monotonic() + 30
        while "http://" not in self.out.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"viewer did not start: {self.out.read_text()} {self.err.read_text()}")
            time.sleep(0.05)
        line = self.out.read_text().strip()
        self.url = line.split(" at ", 1)[1].split()[0]
        u = urlsplit(self.url)
        self.host, self.port = u.hostname, u.port
        self.token = parse_qs(u.query)["token"][0]

    def get(self, path: str, host: str | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.putrequest("GET", path, skip_host=True)
        c.putheader("Host", host or f"127.0.0.1:{self.port}")
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(20)


@pytest.fixture(scope="module")
def week(tmp_path_factory) -> Path:
    """Two days of two hours of generated use (four stored periods) with a stored screenshot."""
    db = tmp_path_factory.mktemp("view") / "week.db"
    make_week_store(db, days=2, hours=2)
    from trackheat.store import Store

    with Store(db) as s:
        s.add_screenshot(1, 1, (ROOT / "sample_logs" / "editor.png").read_bytes())
    return db


def served(db: Path):
    """A viewer on `db` for a module's tests (yield from it in a fixture); at the end it must stop
    cleanly: exit status 0, no traceback."""
    v = Viewer(db)
    yield v
    assert v.stop() == 0, v.err.read_text()
    assert "Traceback" not in v.err.read_text()


@pytest.fixture(scope="module")
def viewer(week):
    yield from served(week)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    need_tool(CHROMIUM, CHROMEDRIVER)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path_factory.mktemp("downloads")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1600,1000", "--force-device-scale-factor=1"):
        opts.add_argument(a)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.downloads = downloads
    yield drv
    drv.quit()


# -- helpers for the page -------------------------------------------------------------------------
def wait(drv, what, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(drv, timeout, poll_frequency=0.1).until(lambda d: what(d))


def shown(drv, img: str = "#img-a") -> tuple[str, bytes]:
    """(the URL the picture came from, the PNG bytes the page shows)."""
    url, b64 = drv.execute_async_script(
        """const done = arguments[arguments.length - 1];
        const img = document.querySelector(arguments[0]), url = img.dataset.url;
        if (!img.blob) return done(["", ""]);
        img.blob.arrayBuffer().then(b => {
          const u = new Uint8Array(b); let s = "";
          for (let i = 0; i < u.length; i += 32768) s += String.fromCharCode.apply(null, u.subarray(i, i + 32768));
          done([url, btoa(s)]);
        });""", img)
    return url, base64.b64decode(b64)


def wait_shown(drv, *needles: str, img: str = "#img-a") -> tuple[str, bytes]:
    """Wait until the picture shown comes from a URL with every needle in it; return it."""
    wait(drv, lambda d: (lambda u: u and all(n in u for n in needles))(d.execute_script(f"return document.querySelector('{img}').dataset.url")))
    return shown(drv, img)


def choose(drv, css: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(drv.find_element("css selector", css)).select_by_value(value)


def export_args(url: str) -> list[str]:
    """The `trackheat export` options for an image URL of the page."""
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    args = ["--session", q["sessions"], "--kind", q["kind"], "--colormap", q["colormap"], "--scale", q["scale"], "--alpha", q["alpha"], "--monitor", q["monitor"]]
    for k in ("since", "until"):
        if k in q:
            args += [f"--{k}", datetime.fromtimestamp(float(q[k])).isoformat()]
    if "sigma" in q:
        args += ["--sigma", q["sigma"]]
    if "size" in q:
        args += ["--size", q["size"]]
    for app in q.get("apps", "").split(","):
        if app:
            args += ["--app", app]
    return args


def selection_args(url: str) -> list[str]:
    """The selection of a page URL (sessions, time range, applications) as `stats`/`dump` options."""
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    args = ["--session", q["sessions"]]
    for k in ("since", "until"):
        if k in q:
            args += [f"--{k}", datetime.fromtimestamp(float(q[k])).isoformat()]
    return args + [a for app in q.get("apps", "").split(",") if app for a in ("--app", app)]


def panel_is_stats(drv, db: Path, url: str) -> dict:
    """Wait until the stats panel shows `trackheat stats --json` of the picture's selection; return it."""
    want = json.loads(trackheat("stats", "--db", db, *selection_args(url), "--json", check=True).stdout)
    try:
        wait(drv, lambda d: json.loads(d.execute_script("return document.querySelector('#stats').dataset.json || 'null'") or "null") == want, timeout=30)
    except Exception:
        panel = drv.execute_script("return document.querySelector('#stats').dataset.json")
        raise AssertionError(f"stats panel {panel} != stats --json {want}") from None
    return want


def exported(db: Path, tmp: Path, args: list[str], *extra: str) -> bytes:
    out = tmp / f"export-{time.monotonic_ns()}"
    trackheat("export", "--db", db, *args, *extra, "-o", out, check=True)
    return (out / "overlay.png").read_bytes()


# -- the page -------------------------------------------------------------------------------------
def test_page_controls_show_exports_pixels(viewer, browser, week, tmp_path):
    """Pick a session, change kind, time range, colormap, scale, sigma, opacity: each picture is export's, byte for byte."""
    from selenium.webdriver.common.action_chains import ActionChains

    drv = browser
    drv.get(viewer.url)
    wait(drv, lambda d: len(d.find_elements("css selector", "#sessions tbody tr")) == 2)
    rows = drv.find_elements("css selector", "#sessions tbody tr")
    assert [r.get_attribute("data-id") for r in rows] == ["1", "2"]
    # The last session is ticked at first; pick session 1 instead (it has the stored screenshot).
    url, png = wait_shown(drv, "sessions=2&")
    assert png == exported(week, tmp_path, export_args(url))
    # Drawn at the width shown (export's --size), downloaded at full size as export writes it by default.
    shown_w = int(parse_qs(urlsplit(url).query)["size"][0])
    assert 320 <= shown_w < 1600
    assert "size=" not in drv.find_element("css selector", "#dl-overlay").get_attribute("href")
    # Recorded without `--screenshot`: the page says what it draws instead, and how to have one next time.
    assert "no screenshot was stored (`trackheat record --screenshot start`" in drv.find_element("css selector", "#bg-a").text
    drv.find_element("css selector", "tr[data-id='1'] .pick-a").click()
    drv.find_element("css selector", "tr[data-id='2'] .pick-a").click()
    url, png = wait_shown(drv, "sessions=1&")
    assert png == exported(week, tmp_path, export_args(url), "--stored-screenshot")
    assert drv.find_element("css selector", "#bg-a").text == "Drawn over: the screenshot stored with it."

    choose(drv, "#kind", "clicks")
    url, png = wait_shown(drv, "kind=clicks")
    assert png == exported(week, tmp_path, export_args(url), "--stored-screenshot")

    choose(drv, "#kind", "scrolls")
    url, png_scrolls = wait_shown(drv, "kind=scrolls")
    assert png_scrolls != png and png_scrolls == exported(week, tmp_path, export_args(url), "--stored-screenshot")
    choose(drv, "#kind", "clicks")
    url, png = wait_shown(drv, "kind=clicks")

    # One application, then two: the page lists the selection's applications.
    options = [o.get_attribute("value") for o in drv.find_elements("css selector", "#apps option")]
    assert options == ["code", "firefox", "gnome-terminal", "libreoffice", "nautilus"]
    choose(drv, "#apps", "code")
    url, png_code = wait_shown(drv, "apps=code&", "kind=clicks")
    assert png_code != png and png_code == exported(week, tmp_path, export_args(url), "--stored-screenshot")
    assert panel_is_stats(drv, week, url)["only_apps"] == ["code"]  # the stats panel follows the application filter
    choose(drv, "#apps", "firefox")
    url, png = wait_shown(drv, "apps=code%2Cfirefox&")
    assert png == exported(week, tmp_path, export_args(url), "--stored-screenshot")
    both = panel_is_stats(drv, week, url)
    assert both["only_apps"] == ["code", "firefox"] and both["moves"] == sum(a["moves"] for a in both["apps"]) > 0
    from selenium.webdriver.support.ui import Select

    Select(drv.find_element("css selector", "#apps")).deselect_all()
    drv.execute_script("document.querySelector('#apps').dispatchEvent(new Event('change'))")
    wait(drv, lambda d: "apps=" not in (d.execute_script("return document.querySelector('#img-a').dataset.url") or "apps="))

    # The time brush: drag over the second of the session's two stored hours (offsets from the canvas's centre).
    wait(drv, lambda d: d.execute_script("return state.periods.length") == 2)
    canvas = drv.find_element("css selector", "#timeline")
    w = canvas.size["width"]
    ActionChains(drv).move_to_element_with_offset(canvas, int(w * 0.25) + 5, 0).click_and_hold().move_by_offset(int(w * 0.2), 0).release().perform()
    url, png = wait_shown(drv, "since=", "kind=clicks")
    q = parse_qs(urlsplit(url).query)
    periods = drv.execute_script("return state.periods")
    assert float(q["since"][0]) == periods[1]["start"] and float(q["until"][0]) == periods[1]["start"] + 3600
    assert png == exported(week, tmp_path, export_args(url), "--stored-screenshot")
    assert "to" in drv.find_element("css selector", "#range-text").text
    assert "range" in panel_is_stats(drv, week, url)

    choose(drv, "#colormap", "jet")
    choose(drv, "#scale", "sqrt")
    url, png = wait_shown(drv, "colormap=jet", "scale=sqrt", "since=")
    assert png == exported(week, tmp_path, export_args(url), "--stored-screenshot")

    drv.execute_script("const s = document.querySelector('#sigma'); s.value = 30; s.dispatchEvent(new Event('input'));"
                       "const a = document.querySelector('#alpha'); a.value = 0.4; a.dispatchEvent(new Event('input'));")
    url, png = wait_shown(drv, "sigma=30", "alpha=0.4")
    assert png == exported(week, tmp_path, export_args(url), "--stored-screenshot")

    # Back to all time: the range is cleared and the picture changes back.
    drv.find_element("css selector", "#all-time").click()
    url, png2 = wait(drv, lambda d: (lambda r: r if "since=" not in r[0] and "sigma=30" in r[0] else None)(shown(d)))
    assert png2 != png and png2 == exported(week, tmp_path, export_args(url), "--stored-screenshot")

    # The stats panel is `stats --json` of the selection.
    wait(drv, lambda d: d.execute_script("return document.querySelector('#stats').dataset.json || ''"))
    panel = json.loads(drv.execute_script("return document.querySelector('#stats').dataset.json"))
    cli = json.loads(trackheat("stats", "--db", week, "--session", "1", "--json", check=True).stdout)
    assert panel == cli


def test_compare_side_by_side(viewer, browser, week, tmp_path):
    drv = browser
    drv.get(viewer.url)
    wait(drv, lambda d: len(d.find_elements("css selector", "#sessions tbody tr")) == 2)
    choose(drv, "#compare", "side")
    drv.find_element("css selector", "tr[data-id='1'] .pick-b").click()
    url_b, png_b = wait_shown(drv, "sessions=1&", img="#img-b")
    url_a, png_a = wait_shown(drv, "sessions=2&")
    assert drv.find_element("css selector", "#fig-b").is_displayed()
    assert png_a != png_b
    assert png_b == exported(week, tmp_path, export_args(url_b), "--stored-screenshot")
    assert png_a == exported(week, tmp_path, export_args(url_a))

    # The difference of A and B on the diverging map: red and blue where their shares differ...
    import cv2
    import numpy as np

    def picture(png: bytes, url: str) -> np.ndarray:
        img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        w = int(parse_qs(urlsplit(url).query).get("size", ["1920"])[0])
        h = round(w * 1080 / 1920)
        return img[-h:, :w].astype(int)  # under the title strip, left of the colour bar

    choose(drv, "#compare", "diff")
    url, diff = wait_shown(drv, "/api/difference.png", "b_sessions=1")
    assert not drv.find_element("css selector", "#fig-b").is_displayed()
    d = picture(diff, url)
    red = (d[..., 2] - d[..., 0] > 60).sum()
    blue = (d[..., 0] - d[..., 2] > 60).sum()
    assert red > 100 and blue > 100, (red, blue)
    # ... and nothing at all when B is A.
    drv.find_element("css selector", "tr[data-id='1'] .pick-b").click()
    drv.find_element("css selector", "tr[data-id='2'] .pick-b").click()
    url, same = wait_shown(drv, "/api/difference.png", "b_sessions=2")
    from trackheat.canvas import Rect
    from trackheat.outputs.images import neutral_background

    bare = picture(same, url)
    h, w = bare.shape[:2]
    assert np.array_equal(bare, neutral_background(w, h, [Rect(0, 0, w, h)]).astype(int))


def test_download_counts_csv_is_dumps(viewer, browser, week, tmp_path):
    """The counts download is `trackheat dump --format csv` of the page's selection, byte for byte (one writer)."""
    drv = browser
    drv.get(viewer.url)
    wait(drv, lambda d: d.find_element("css selector", "#dl-counts").get_attribute("href"))
    choose(drv, "#apps", "code")
    choose(drv, "#apps", "nautilus")
    wait(drv, lambda d: "apps=code%2Cnautilus" in d.find_element("css selector", "#dl-counts").get_attribute("href"))
    href = drv.find_element("css selector", "#dl-counts").get_attribute("href")
    for f in drv.downloads.glob("*"):
        f.unlink()
    drv.find_element("css selector", "#dl-counts").click()
    wait(drv, lambda d: [f for f in drv.downloads.glob("*.csv") if f.stat().st_size > 0 and not f.name.endswith(".crdownload")])
    time.sleep(0.3)
    (f,) = drv.downloads.glob("*.csv")
    out = tmp_path / "dump.csv"
    trackheat("dump", "--db", week, *selection_args(href), "--format", "csv", "-o", out, check=True)
    assert f.read_bytes() == out.read_bytes()
    rows = list(csv.DictReader(io.StringIO(f.read_text())))
    stats = json.loads(trackheat("stats", "--db", week, *selection_args(href), "--json", check=True).stdout)
    assert sum(int(r["count"]) for r in rows) == stats["moves"] > 0
    assert {r["app"] for r in rows} == {"code", "nautilus"} and {r["session"] for r in rows} == {"2"}
    for a in stats["apps"]:
        assert sum(int(r["count"]) for r in rows if r["app"] == a["app"]) == a["moves"]


def test_screenshot_for_readme(viewer, browser, week, tmp_path):
    """The README's picture of the viewer, made here from the page as it is.

    Written to docs/viewer.png only with TRACKHEAT_UPDATE_DOCS=1 (so a test run does not leave
    every checkout with a changed file); always made and checked.
    """
    drv = browser
    drv.week = week
    drv.set_window_size(1600, 1000)
    drv.get(viewer.url)
    wait_shown(drv, "sessions=2&")
    drv.find_element("css selector", "tr[data-id='1'] .pick-a").click()
    drv.find_element("css selector", "tr[data-id='2'] .pick-a").click()
    choose(drv, "#colormap", "inferno")
    wait_shown(drv, "sessions=1&", "colormap=inferno")
    wait(drv, lambda d: json.loads(d.execute_script("return document.querySelector('#stats').dataset.json || 'null'") or "null") == json.loads(
        trackheat("stats", "--db", d.week, "--session", "1", "--json", check=True).stdout))
    shot = tmp_path / "viewer.png"
    assert drv.get_screenshot_as_file(str(shot))
    import cv2

    img = cv2.imread(str(shot))
    assert img is not None and img.shape[1] >= 1500 and img.std() > 10
    if os.environ.get("TRACKHEAT_UPDATE_DOCS") == "1":
        DOCS_SHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS_SHOT)


# -- live --------------------------------------------------------------------------------------------
def test_live_view_follows_a_recorder_without_reload(browser, tmp_path):
    from test_record import Rec, moves

    xvfb = start_xvfb()
    db = tmp_path / "live.db"
    rec = None
    v = None
    try:
        xvfb.xdotool("mousemove", 5, 5)
        rec = Rec(xvfb, db, "--flush-interval", "0.3")
        moves(xvfb, [(100 + i, 100) for i in range(100)])
        deadline = time.monotonic() + 20
        while trackheat("stats", "--db", db, "--json").returncode != 0 or json.loads(trackheat("stats", "--db", db, "--json").stdout)["moves"] < 100:
            assert time.monotonic() < deadline, "the recorder wrote nothing"
            time.sleep(0.2)
        v = Viewer(db)
        drv = browser
        drv.get(v.url)
        url, before = wait_shown(drv, "sessions=1&")
        drv.execute_script("window.__same_page = true")
        moves(xvfb, [(900, 200 + (i % 300)) for i in range(600)])
        url2, after = wait(drv, lambda d: (lambda r: r if r[0] != url else None)(shown(d)), timeout=30)
        assert drv.execute_script("return window.__same_page === true"), "the page was reloaded"
        assert after != before
        gen = parse_qs(urlsplit(url2).query)["g"][0]
        assert int(gen) >= 1
        moves_now = int(drv.find_element("css selector", "tr[data-id='1'] td:nth-child(9)").text.replace(",", ""))
        assert moves_now >= 600
    finally:
        if v is not None:
            assert v.stop() == 0
        if rec is not None:
            rec.finish()
        stop_xvfb(xvfb)


# -- security ------------------------------------------------------------------------------------------
def test_token_required(viewer):
    for path in ("/", "/api/sessions", "/static/viewer.js", "/api/image/overlay.png?sessions=1", "/api/events"):
        status, _, body = viewer.get(path)
        assert status == 403, path
        status, _, _ = viewer.get(path + ("&" if "?" in path else "?") + "token=wrong" + viewer.token[5:])
        assert status == 403, path
    status, headers, body = viewer.get(f"/?token={viewer.token}")
    assert status == 200 and b"trackheat" in body
    cookie = headers["set-cookie"].split(";")[0]
    assert "HttpOnly" in headers["set-cookie"] and "SameSite=Strict" in headers["set-cookie"]
    status, _, body = viewer.get("/api/sessions", headers={"Cookie": cookie})
    assert status == 200 and json.loads(body)["sessions"][0]["id"] == 1
    status, _, _ = viewer.get("/api/sessions", headers={"Cookie": cookie.split("=")[0] + "=nope"})
    assert status == 403


def test_wrong_host_refused_and_no_cors(viewer):
    t = f"token={viewer.token}"
    for host in ("evil.example", f"evil.example:{viewer.port}", f"127.0.0.1:{viewer.port + 1}", "127.0.0.1", f"0.0.0.0:{viewer.port}", f"192.168.1.2:{viewer.port}"):
        status, _, _ = viewer.get(f"/api/sessions?{t}", host=host)
        assert status == 403, host
    status, headers, _ = viewer.get(f"/api/sessions?{t}", headers={"Origin": "http://evil.example"})
    assert status == 200
    assert not any(k.startswith("access-control-") for k in headers)


def test_listens_on_loopback_only(viewer):
    import psutil

    socks = [c for c in psutil.Process(viewer.proc.pid).net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert socks and all(c.laddr.ip == "127.0.0.1" for c in socks), socks
    assert {c.laddr.port for c in socks} == {viewer.port}
    if shutil.which("ss"):
        out = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
        mine = [line for line in out.splitlines() if f":{viewer.port} " in line]
        assert mine and all("127.0.0.1:" in line for line in mine)


def test_path_traversal_is_404(viewer):
    t = f"token={viewer.token}"
    assert viewer.get(f"/static/viewer.js?{t}")[0] == 200
    for path in ("/static/../app.py", "/static/../../store.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/static/..%2F..%2Fstore.py",
                 "/static//etc/passwd", "/static/%2Fetc%2Fpasswd", "/static/static/../viewer.js.bak", "/static/"):
        status, _, body = viewer.get(f"{path}?{t}")
        assert status == 404, (path, status)
        assert b"import" not in body and b"root:" not in body


def test_store_is_opened_read_only(viewer, week):
    """The viewer's connection cannot write: a v1 file stays byte for byte the same after browsing."""
    before = week.read_bytes()
    t = f"token={viewer.token}"
    assert viewer.get(f"/api/sessions?{t}")[0] == 200
    assert viewer.get(f"/api/image/overlay.png?sessions=2&{t}")[0] == 200
    assert week.read_bytes() == before
    from trackheat.store import Store

    with Store(week, readonly=True) as s:
        with pytest.raises(Exception, match="readonly"):
            s.delete_session(1)


def test_bad_options_are_one_line_422(viewer):
    t = f"token={viewer.token}"
    for q, msg in (("sessions=9", b"no session 9"), ("sessions=1&kind=keys", b"kind"), ("sessions=1&colormap=nope", b"colormap"), ("sessions=x", b"sessions")):
        status, _, body = viewer.get(f"/api/image/overlay.png?{q}&{t}")
        assert status == 422 and msg in body and b"\n" not in body.strip(), (q, body)


def test_ctrl_c_stops_cleanly(week):
    v = Viewer(week)
    assert v.get(f"/api/sessions?token={v.token}")[0] == 200
    assert v.stop(signal.SIGINT) == 0
    assert "Traceback" not in v.err.read_text()


def test_missing_extra_is_one_line(tmp_path, week):
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "starlette.py").write_text("raise ImportError('no starlette here')\n")
    env = headless_env(PYTHONPATH=str(fake) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = trackheat("view", "--db", week, "--no-browser", env=env, timeout=30)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "trackheat[view]" in p.stderr


def test_missing_store_is_one_line(tmp_path):
    p = trackheat("view", "--db", tmp_path / "none.db", "--no-browser", timeout=30)
    assert p.returncode == 2 and "no such store" in p.stderr and "Traceback" not in p.stderr
