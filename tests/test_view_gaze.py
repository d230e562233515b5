"""Gaze sessions in `trackheat view`: drawn over the reference image the store kept, the same PNG as
`trackheat gaze` writes for the same options (checked byte for byte in headless Chromium)."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np
import pytest

from conftest import ROOT, trackheat
from test_view import browser, choose, served, wait, wait_shown  # noqa: F401  (browser: the module's Chromium)

RIM = ROOT / "sample_logs" / "gaze" / "rim"
REFERENCE = RIM / "reference_image.jpeg"


@pytest.fixture(scope="module")
def gaze_db(tmp_path_factory) -> Path:
    """The Reference Image Mapper sample's two recordings saved by `gaze --db`, and a plain fixation file with no reference."""
    tmp = tmp_path_factory.mktemp("viewgaze")
    db = tmp / "gaze.db"
    trackheat("gaze", RIM / "gaze.csv", "--reference", REFERENCE, "-o", tmp / "first", "--db", db, check=True)
    trackheat("import", ROOT / "sample_logs" / "gaze" / "plain" / "fixations.csv", "--reference-size", "800x600", "--db", db, check=True)
    return db


@pytest.fixture(scope="module")
def gaze_viewer(gaze_db):
    yield from served(gaze_db)


def fetched(drv, url: str) -> bytes:
    """The bytes of a URL as the page itself fetches it (its cookie, its origin)."""
    b64 = drv.execute_async_script(
        """const done = arguments[arguments.length - 1];
        fetch(arguments[0], {credentials: "same-origin"}).then(r => r.arrayBuffer()).then(b => {
          const u = new Uint8Array(b); let s = "";
          for (let i = 0; i < u.length; i += 32768) s += String.fromCharCode.apply(null, u.subarray(i, i + 32768));
          done(btoa(s));
        });""", url)
    return base64.b64decode(b64)


def gaze_png(tmp: Path, *args: str) -> bytes:
    out = tmp / f"gaze-{abs(hash(args))}"
    trackheat("gaze", RIM / "gaze.csv", "--reference", REFERENCE, "-o", out, *args, check=True)
    return (out / "overlay.png").read_bytes()


def decode(png: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)


def test_gaze_sessions_are_drawn_over_their_reference_as_gaze_draws_them(gaze_viewer, browser, tmp_path):  # noqa: F811
    drv = browser
    drv.get(gaze_viewer.url)
    wait(drv, lambda d: len(d.find_elements("css selector", "#sessions tbody tr")) == 3)
    # The plain file (session 3, last, ticked first) kept no reference: drawn on its outline, and the page says why.
    wait_shown(drv, "sessions=3&")
    assert "no reference image was kept" in drv.find_element("css selector", "#bg-a").text
    drv.find_element("css selector", "tr[data-id='3'] .pick-a").click()
    drv.find_element("css selector", "tr[data-id='1'] .pick-a").click()
    drv.find_element("css selector", "tr[data-id='2'] .pick-a").click()
    url, shown_png = wait_shown(drv, "sessions=1%2C2&")
    assert "reference image reference_image.jpeg" in drv.find_element("css selector", "#bg-a").text
    assert drv.find_element("css selector", "#bins-box").is_displayed()
    assert drv.find_element("css selector", "#sigma-out").text == "default"

    # Full size (the download): trackheat gaze's own PNG, byte for byte.
    href = drv.find_element("css selector", "#dl-overlay").get_attribute("href")
    assert fetched(drv, href) == gaze_png(tmp_path, "--weight", "count")
    heat_href = drv.find_element("css selector", "#dl-heatmap").get_attribute("href")
    heat = fetched(drv, heat_href)
    assert heat == (tmp_path / f"gaze-{abs(hash(('--weight', 'count')))}" / "heatmap.png").read_bytes()

    # README's picture of a gaze selection, made here (written to docs/ only with TRACKHEAT_UPDATE_DOCS=1).
    shot = tmp_path / "viewer-gaze.png"
    assert drv.get_screenshot_as_file(str(shot)) and decode(shot.read_bytes()).std() > 10
    if os.environ.get("TRACKHEAT_UPDATE_DOCS") == "1":
        shutil.copyfile(shot, ROOT / "docs" / "viewer-gaze.png")

    # Shown at the figure's width: the reference scaled down, untouched wherever nobody looked.
    shown_img = decode(shown_png)
    w = int(parse_qs(urlsplit(url).query)["size"][0])
    ref = decode(REFERENCE.read_bytes())
    h = round(ref.shape[0] * w / ref.shape[1])
    small = cv2.resize(ref, (w, h), interpolation=cv2.INTER_AREA)
    body = shown_img[-h:, :w]  # under the title strip, left of the colour bar
    same = np.all(body == small, axis=2).mean()
    assert 0.3 < same < 0.999, same

    # Other options: bins, sigma (in bins), colormap, scale, opacity: still gaze's bytes.
    drv.execute_script("const b = document.querySelector('#bins'); b.value = 200; b.dispatchEvent(new Event('change'));"
                       "const s = document.querySelector('#sigma'); s.value = 5; s.dispatchEvent(new Event('input'));"
                       "const a = document.querySelector('#alpha'); a.value = 0.5; a.dispatchEvent(new Event('input'));")
    choose(drv, "#colormap", "jet")
    choose(drv, "#scale", "sqrt")
    wait_shown(drv, "bins=200", "sigma=5", "alpha=0.5", "colormap=jet", "scale=sqrt")
    assert drv.find_element("css selector", "#sigma-out").text == "5 bins"
    href = drv.find_element("css selector", "#dl-overlay").get_attribute("href")
    options = ("--weight", "count", "--bins", "200", "--sigma", "5", "--alpha", "0.5", "--colormap", "jet", "--scale", "sqrt")
    assert fetched(drv, href) == gaze_png(tmp_path, *options)

    # dwell = weight duration. The store sums each pixel's fixation seconds before they are binned, gaze sums
    # the samples in file order: the same numbers added in another order, so a float may differ in its last
    # bit, and a pixel on a colour level's edge then takes the next level (measured: 1 pixel of 2.2 million,
    # by 2 in one channel of jet). Counts are whole numbers, exact in any order: those are byte for byte above.
    choose(drv, "#kind", "dwell")
    wait_shown(drv, "kind=dwell", "bins=200")
    href = drv.find_element("css selector", "#dl-overlay").get_attribute("href")
    mine = decode(fetched(drv, href)).astype(int)
    theirs = decode(gaze_png(tmp_path, *options[2:], "--weight", "duration")).astype(int)
    assert mine.shape == theirs.shape
    diff = np.abs(mine - theirs)
    assert diff.max() <= 8 and diff.any(axis=2).sum() <= 20, (diff.max(), diff.any(axis=2).sum())

    # Mouse kinds a gaze session does not have: one line, no picture.
    choose(drv, "#kind", "clicks")
    wait(drv, lambda d: "no clicks" in d.find_element("css selector", "#cap-a").text)


def test_a_gaze_selection_compares_with_itself_to_nothing(gaze_viewer, browser):  # noqa: F811
    drv = browser
    drv.get(gaze_viewer.url)
    wait(drv, lambda d: len(d.find_elements("css selector", "#sessions tbody tr")) == 3)
    drv.find_element("css selector", "tr[data-id='3'] .pick-a").click()
    drv.find_element("css selector", "tr[data-id='1'] .pick-a").click()
    choose(drv, "#compare", "diff")
    drv.find_element("css selector", "tr[data-id='2'] .pick-b").click()
    url, diff = wait_shown(drv, "/api/difference.png", "b_sessions=2")
    img = decode(diff)
    w = int(parse_qs(urlsplit(url).query)["size"][0])
    ref = decode(REFERENCE.read_bytes())
    h = round(ref.shape[0] * w / ref.shape[1])
    d = img[-h:, :w].astype(int)
    # Two recordings of one reference: red where the first looked more, blue where the second did, over the reference.
    assert (d[..., 2] - d[..., 0] > 60).sum() > 100 and (d[..., 0] - d[..., 2] > 60).sum() > 100
