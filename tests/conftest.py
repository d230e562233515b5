"""Shared fixtures: a private Xvfb per test module, the trackheat command, data paths.

Tests never touch a real DISPLAY: each display-needing module gets its own Xvfb
on a display number Xvfb picks itself (-displayfd), so parallel runs and a
developer's desktop cannot collide. With CI=true a missing Xvfb fails the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
MOUSE_DYNAMICS = SHARED / "mouse-dynamics"
PUPIL_CORE = SHARED / "gaze" / "pupil-core"
PEDESTRIANS = SHARED / "video" / "pedestrians.avi"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(path: Path) -> Path:
    """Shared data the test needs: fail in CI, skip elsewhere, when it is missing."""
    if not path.exists():
        msg = f"{path} is missing (../shared/data beside the checkout)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def headless_env(**extra: str) -> dict[str, str]:
    """The environment of a machine with no screen at all."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    env.update(extra)
    return env


def trackheat(*args: str, env: dict | None = None, timeout: float = 120, check: bool = False, **kw) -> subprocess.CompletedProcess:
    """Run the real command in a subprocess (`python -m trackheat`)."""
    proc = subprocess.run([sys.executable, "-m", "trackheat", *map(str, args)], capture_output=True, text=True, env=env if env is not None else headless_env(), timeout=timeout, cwd=ROOT, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"trackheat {' '.join(map(str, args))} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def one_line_error(proc: subprocess.CompletedProcess, *words: str) -> str:
    """Exit 2, exactly one line on stderr, prefixed with the subcommand run (`trackheat export: `),
    containing each of `words`, no traceback: a command's failure as the user sees it. The line is returned."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    args = [str(a) for a in proc.args]
    at = next(i for i in range(len(args) - 1) if args[i] == "-m" and args[i + 1] == "trackheat")  # `python -m trackheat SUBCOMMAND ...`
    assert lines[0].startswith(f"trackheat {args[at + 2]}: "), (args[at + 2], lines[0])
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@dataclass
class Xvfb:
    display: str
    width: int
    height: int
    proc: subprocess.Popen

    @property
    def env(self) -> dict[str, str]:
        return headless_env(DISPLAY=self.display)

    def xdotool(self, *args: str | int) -> str:
        out = subprocess.run(["xdotool", *map(str, args)], env=self.env, capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"xdotool {' '.join(map(str, args))}: {out.stderr.strip()}")
        return out.stdout


def start_xvfb(width: int = 1280, height: int = 720, *extra: str) -> Xvfb:
    """A private Xvfb on a free display (-displayfd); `extra` are more Xvfb arguments (-maxclients N)."""
    missing = [t for t in ("Xvfb", "xdotool") if shutil.which(t) is None]
    if missing:
        msg = f"{' and '.join(missing)} not installed (make test installs them as root; else: sudo apt-get install xvfb xdotool)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    r, w = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(w), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp", "-noreset", "+extension", "XTEST", *extra],
        pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(w)
    number = b""
    deadline = time.monotonic() + 20
    while not number.endswith(b"\n") and time.monotonic() < deadline:
        chunk = os.read(r, 16)
        if not chunk:
            break
        number += chunk
    os.close(r)
    if not number.strip():
        proc.kill()
        raise RuntimeError("Xvfb did not report a display number")
    return Xvfb(f":{number.decode().strip()}", width, height, proc)


def stop_xvfb(x: Xvfb) -> None:
    x.proc.terminate()
    try:
        x.proc.wait(10)
    except subprocess.TimeoutExpired:
        x.proc.kill()


@pytest.fixture(scope="module")
def xvfb():
    """A private X server for this test module (1280x720)."""
    x = start_xvfb()
    yield x
    stop_xvfb(x)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.db"
