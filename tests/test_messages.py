"""What the command says when something is off: short, true, and pointing at the fix."""

from __future__ import annotations

from conftest import ROOT, headless_env, trackheat

from trackheat.importers import FORMATS


def test_unknown_format_names_the_header_and_the_listing(tmp_path):
    f = tmp_path / "odd.csv"
    f.write_text("alpha,beta,gamma,delta,epsilon,zeta\n1,2,3,4,5,6\n")
    p = trackheat("import", "--db", tmp_path / "s.db", f)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    line = p.stderr.strip()
    assert "'alpha', 'beta', 'gamma'" in line and "6 columns" in line
    assert "trackheat import --formats" in line and len(line) < 250
    p = trackheat("import", "--formats", check=True)
    for fmt in FORMATS:
        assert fmt.name in p.stdout


def test_header_only_csv_is_refused(tmp_path):
    f = tmp_path / "empty.csv"
    f.write_text("x,y\n")
    p = trackheat("import", "--db", tmp_path / "s.db", f)
    assert p.returncode == 2 and "no rows" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s.db").exists() or "session" not in trackheat("sessions", "--db", tmp_path / "s.db").stdout


def test_mistyped_option_shows_the_subcommands_usage_and_the_closest_option(tmp_path):
    p = trackheat("export", "--sesion", "2", "-o", tmp_path / "o")
    assert p.returncode == 2
    assert p.stderr.startswith("usage: trackheat export ")
    assert "did you mean --session?" in p.stderr
    p = trackheat("live", "--webcam", "x", "--blnd", "full")
    assert p.returncode == 2 and p.stderr.startswith("usage: trackheat live ") and "--blend" in p.stderr


def test_gaze_sessions_are_told_in_gaze_words(tmp_path):
    f = ROOT / "sample_logs" / "gaze" / "rim" / "fixations.csv"
    p = trackheat("import", "--db", tmp_path / "s.db", f, check=True)
    assert "fixations" in p.stdout and "off the reference" in p.stdout
    assert "moves" not in p.stdout and "clicks" not in p.stdout
    rows = trackheat("sessions", "--db", tmp_path / "s.db", check=True).stdout.splitlines()[1:]
    assert rows and all(" fixations " in r and " moves " not in r for r in rows)


def test_wayland_says_what_does_not_work_and_how_to_try_anyway(tmp_path):
    p = trackheat("record", "--db", tmp_path / "s.db", env=headless_env(WAYLAND_DISPLAY="wayland-0", XDG_SESSION_TYPE="wayland"))
    assert p.returncode == 2
    assert "global pointer events" in p.stderr and "screen capture" not in p.stderr and "--force-x11" in p.stderr
    # with --force-x11 it goes on to XWayland's DISPLAY (none here: the X11 message)
    p = trackheat("record", "--force-x11", "--db", tmp_path / "s.db", env=headless_env(WAYLAND_DISPLAY="wayland-0", XDG_SESSION_TYPE="wayland"))
    assert p.returncode == 2 and "Wayland" not in p.stderr and "DISPLAY" in p.stderr


def test_monitor_all_and_ranges_are_accepted(tmp_path):
    p = trackheat("live", "--webcam", "x", "--monitor", "all")
    assert p.returncode == 2 and "go with --screen" in p.stderr  # parsed: `all` is a monitor
    p = trackheat("live", "--webcam", "x", "--monitor", "first")
    assert p.returncode == 2 and "monitor number or all" in p.stderr


def test_an_inferred_canvas_is_said_with_its_outliers_and_screen_sets_it(tmp_path):
    import json

    f = tmp_path / "o.csv"
    rows = [f"{(37 * i) % 1900},{(53 * i) % 1000}" for i in range(300)] + ["-5,2", "99999,3"]
    f.write_text("x,y\n" + "\n".join(rows) + "\n")
    db = tmp_path / "s.db"
    p = trackheat("import", "--db", db, f, check=True)
    assert "warning" in p.stderr and "inferred" in p.stderr and "1 of 302 points" in p.stderr and "--screen" in p.stderr
    p = trackheat("import", "--db", db, "--again", "--screen", "1920x1080", f, check=True)
    assert "warning" not in p.stderr and "2 dropped rows" in p.stdout
    listing = json.loads(trackheat("sessions", "--db", db, "--json", check=True).stdout)
    assert listing[1]["canvas"] == [1920, 1080] and listing[1]["moves"] == 300
