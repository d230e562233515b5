"""`stats --app`: the viewer's stats panel is `stats --json` of the page's selection, application filter included."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import ROOT, trackheat

sys.path.insert(0, str(ROOT / "bench"))
from _week import make_week_store  # noqa: E402


@pytest.fixture(scope="module")
def week(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("stats") / "week.db"
    make_week_store(db, days=2, hours=2)
    return db


def stats(db: Path, *args: str) -> dict:
    return json.loads(trackheat("stats", "--db", db, "--session", "1", *args, "--json", check=True).stdout)


def test_app_filter_adds_up_to_the_whole(week):
    whole = stats(week)
    names = [a["app"] for a in whole["apps"]]
    assert len(names) == 5
    parts = [stats(week, "--app", n) for n in names]
    for n, p in zip(names, parts):
        assert p["only_apps"] == [n] and [a["app"] for a in p["apps"]] == [n]
        assert "idle_seconds" not in p and "distance_px" not in p  # kept per session, not per application
    for key in ("moves", "clicks", "scrolls"):
        assert sum(p[key] for p in parts) == whole[key]
    assert sum(sum(p["clicks_by_button"].values()) for p in parts) == whole["clicks"]
    two = stats(week, "--app", names[0], "--app", names[1])
    assert two["moves"] == parts[0]["moves"] + parts[1]["moves"]
    assert two["positions"] <= parts[0]["positions"] + parts[1]["positions"]
    # with a time range too: the range is said, and the filter still holds
    first = json.loads(trackheat("stats", "--db", week, "--session", "1", "--json", check=True).stdout)
    ranged = stats(week, "--app", names[0], "--since", "2000-01-01T00:00")
    assert "range" in ranged and ranged["moves"] == parts[0]["moves"] and first["moves"] == whole["moves"]


def test_unknown_app_is_exports_error(week):
    p = trackheat("stats", "--db", week, "--session", "1", "--app", "nope")
    e = trackheat("export", "--db", week, "--session", "1", "--app", "nope", "-o", week.parent / "o")
    assert p.returncode == e.returncode == 2
    assert p.stderr.replace("trackheat stats:", "") == e.stderr.replace("trackheat export:", "")
    assert p.stderr.count("\n") == 1 and "--app: no application 'nope'" in p.stderr and "it has: code, firefox" in p.stderr


def test_text_output_names_the_applications(week):
    p = trackheat("stats", "--db", week, "--session", "1", "--app", "code", check=True)
    assert "applications: code" in p.stdout and "idle" not in p.stdout
