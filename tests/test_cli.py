"""The command works on a server with no screen, and never imports display libraries to do so."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT, headless_env, trackheat


def test_help_with_no_display():
    out = trackheat("--help", env=headless_env())
    assert out.returncode == 0, out.stderr
    for cmd in ("record", "live", "import", "sessions", "stats", "export", "gaze"):
        assert cmd in out.stdout


def test_every_subcommand_help_with_no_display():
    for cmd in ("record", "stop", "live", "import", "sessions", "stats", "export", "gaze"):
        out = trackheat(cmd, "--help", env=headless_env())
        assert out.returncode == 0 and "usage: trackheat" in out.stdout, (cmd, out.stderr)


def test_console_script_and_module_are_the_same_program():
    exe = ROOT / ".venv" / "bin" / "trackheat"
    if not exe.exists():  # installed elsewhere (a system-wide pip install)
        exe = "trackheat"
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, env=headless_env())
    assert out.returncode == 0 and out.stdout.startswith("trackheat ")
    assert out.stdout == trackheat("--version").stdout


def test_building_the_cli_imports_no_display_library():
    code = (
        "import sys, trackheat.cli as c; c.build_parser();"
        "bad = [m for m in ('pynput', 'mss', 'Xlib') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=headless_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_sessions_and_stats_with_no_display(db):
    trackheat("import", "--db", db, ROOT / "sample_logs" / "editor.csv", check=True)
    trackheat("import", "--db", db, ROOT / "sample_logs" / "browser.csv", check=True)
    listing = json.loads(trackheat("sessions", "--db", db, "--json", check=True).stdout)
    assert [s["id"] for s in listing] == [1, 2]
    assert all(s["moves"] > 1000 and s["canvas"] == [1920, 1080] for s in listing)
    text = trackheat("sessions", "--db", db, check=True).stdout
    assert "editor.csv" in text and "browser.csv" in text
    both = json.loads(trackheat("stats", "--db", db, "--session", "all", "--json", check=True).stdout)
    assert both["moves"] == sum(s["moves"] for s in listing)
    assert set(both) >= {"moves", "positions", "clicks", "clicks_by_button", "scrolls", "hotspots"}
    last = json.loads(trackheat("stats", "--db", db, "--json", check=True).stdout)
    assert last["sessions"] == [2] and last["moves"] == listing[1]["moves"]
    human = trackheat("stats", "--db", db, check=True).stdout
    assert "moves" in human and "hot spots" in human


def test_env_var_chooses_the_store(tmp_path):
    db = tmp_path / "via-env.db"
    env = headless_env(TRACKHEAT_DB=str(db))
    trackheat("import", ROOT / "sample_logs" / "editor.csv", env=env, check=True)
    assert db.exists()
    assert json.loads(trackheat("stats", "--json", env=env, check=True).stdout)["moves"] > 0


def test_missing_store_and_unknown_session_are_one_line(tmp_path, db):
    out = trackheat("stats", "--db", tmp_path / "nope.db")
    assert out.returncode == 2 and "no such store" in out.stderr and out.stderr.count("\n") == 1
    trackheat("import", "--db", db, ROOT / "sample_logs" / "editor.csv", check=True)
    out = trackheat("stats", "--db", db, "--session", "9")
    assert out.returncode == 2 and "no session 9" in out.stderr and "Traceback" not in out.stderr
    out = trackheat("stats", "--db", db, "--session", "first")
    assert out.returncode == 2 and "--session" in out.stderr
