"""Per-application recording, for real: two X windows with different WM_CLASS (python-xlib),
focused with xdotool, a real recorder, and `stats --json` per application equal to what was sent.

Once under a real EWMH window manager (openbox: the recorder follows _NET_ACTIVE_WINDOW) and
once on a bare Xvfb (no window manager: it follows the X input focus).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from conftest import IN_CI, start_xvfb, stop_xvfb, trackheat
from test_record import Rec, moves

pytestmark = pytest.mark.display


class Desk:
    """An Xvfb with windows named by WM_CLASS, and optionally openbox managing them."""

    def __init__(self, wm: bool) -> None:
        if wm and shutil.which("openbox") is None:
            msg = "openbox is not installed (make test installs it as root; else: sudo apt-get install openbox)"
            if IN_CI:
                pytest.fail(msg)
            pytest.skip(msg)
        from Xlib import X, display

        self.x = start_xvfb()
        self.wm = subprocess.Popen(["openbox", "--sm-disable"], env=self.x.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if wm else None
        self.d = display.Display(self.x.display)
        if wm:  # openbox is ready when it sets the EWMH check window
            atom = self.d.intern_atom("_NET_SUPPORTING_WM_CHECK")
            deadline = time.monotonic() + 20
            while self.d.screen().root.get_full_property(atom, X.AnyPropertyType) is None:
                assert time.monotonic() < deadline, "openbox did not start"
                time.sleep(0.1)
        self.windows = {}
        screen = self.d.screen()
        for i, name in enumerate(("Alpha", "Beta", "Gamma")):
            w = screen.root.create_window(50 + 400 * i, 50, 300, 300, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
                                          background_pixel=screen.white_pixel)
            w.set_wm_class(name.lower(), name)
            w.set_wm_name(f"private document {i}.txt")  # a title that must never reach the store
            w.map()
            self.windows[name] = w
        self.d.sync()
        time.sleep(0.5)

    def focus(self, name: str) -> None:
        wid = self.windows[name].id
        self.x.xdotool("windowactivate" if self.wm else "windowfocus", "--sync", wid)
        time.sleep(0.4)  # the recorder's focus watcher hears it on its own connection

    def inside(self, name: str) -> tuple[int, int]:
        """A point inside the window, where a click goes to it (openbox may have moved it)."""
        out = self.x.xdotool("getwindowgeometry", "--shell", self.windows[name].id)
        g = dict(line.split("=", 1) for line in out.split())
        return int(g["X"]) + 100, int(g["Y"]) + 100

    def close(self) -> None:
        self.d.close()
        if self.wm:
            self.wm.terminate()
            self.wm.wait(10)
        stop_xvfb(self.x)


@pytest.fixture(params=["ewmh", "input-focus"])
def desk(request):
    d = Desk(wm=request.param == "ewmh")
    yield d
    d.close()


def path(x0: int, y0: int, n: int) -> list[tuple[int, int]]:
    """n moves to n different points (each one a motion event)."""
    return [(x0 + i, y0 + (i % 7)) for i in range(1, n + 1)]


def test_per_application_counts_are_exact(desk, db):
    rec = Rec(desk.x, db, "--ignore-app", "Gamma", "--flush-interval", "0.5")
    sent = {}
    for name, n_moves, n_clicks, n_scrolls in (("Alpha", 37, 2, 1), ("Beta", 23, 1, 3), ("Gamma", 30, 2, 0), ("Alpha", 11, 1, 0)):
        desk.focus(name)
        x, y = desk.inside(name)
        pts = path(x, y, n_moves)
        moves(desk.x, pts)
        for _ in range(n_clicks):
            desk.x.xdotool("click", "1")
        for _ in range(n_scrolls):
            desk.x.xdotool("click", "5")
        s = sent.setdefault(name, [0, 0, 0])
        s[0] += n_moves
        s[1] += n_clicks
        s[2] += n_scrolls
        time.sleep(0.3)
    assert rec.finish() == 0, rec.stderr
    # Gamma was ignored: nothing of it is stored, and the summary counts it (30 moves + 2 clicks).
    assert "32 events ignored in Gamma" in rec.stdout, rec.stdout
    out = trackheat("stats", "--db", db, "--json", check=True)
    apps = {a["app"]: a for a in json.loads(out.stdout)["apps"]}
    assert "Gamma" not in apps
    got = {k: [a["moves"], a["clicks"], a["scrolls"]] for k, a in apps.items() if a["moves"] or a["clicks"] or a["scrolls"]}
    # The moves into a window include the jump to its first point from wherever the pointer was.
    assert got == {"Alpha": sent["Alpha"], "Beta": sent["Beta"]}, (got, sent, rec.stderr)
    assert apps["Alpha"]["active_seconds"] > 0 and apps["Beta"]["active_seconds"] > 0
    # Only the class name is stored: no window title anywhere in the file.
    raw = db.read_bytes() + (db.with_name(db.name + "-wal").read_bytes() if db.with_name(db.name + "-wal").exists() else b"")
    assert b"private document" not in raw
    # export --app draws only that application; an unknown one lists those there are.
    only = trackheat("export", "--db", db, "--app", "Beta", "-o", db.parent / "beta", check=True)
    assert f"{sent['Beta'][0]:,} moves" in only.stdout, only.stdout
    bad = trackheat("export", "--db", db, "--app", "Gamma", "-o", db.parent / "nope")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "Gamma" in bad.stderr and "Alpha, Beta" in bad.stderr, bad.stderr


def test_concurrent_recorder_and_delete_of_another_session(xvfb, db):
    from conftest import ROOT

    trackheat("import", "--db", db, *sorted((ROOT / "sample_logs").glob("*.csv")), check=True)
    rec = Rec(xvfb, db, "--flush-interval", "0.2")
    moves(xvfb, path(100, 100, 50))
    time.sleep(0.5)
    gone = trackheat("sessions", "--db", db, "delete", "1", "--yes")
    assert gone.returncode == 0, gone.stderr
    refused = trackheat("sessions", "--db", db, "delete", "4", "--yes")
    assert refused.returncode == 2 and "being recorded" in refused.stderr
    moves(xvfb, path(300, 300, 30))
    assert rec.finish() == 0, rec.stderr
    out = json.loads(trackheat("sessions", "--db", db, "--json", check=True).stdout)
    assert [s["id"] for s in out] == [2, 3, 4]
    assert out[-1]["moves"] == 80
