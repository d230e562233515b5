"""A session's reference image in the store: kept once, found again, gone with its sessions, and a
file that holds one is still a schema-2 store (older trackheats read it, newer schemas are still refused)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from conftest import ROOT, trackheat
from trackheat.canvas import Canvas
from trackheat.errors import UserError
from trackheat.store import MAX_IMAGE_BYTES, SCHEMA_VERSION, Store

REFERENCE = ROOT / "sample_logs" / "gaze" / "reference.png"


def gaze_sessions(db: Path, n: int) -> list[int]:
    with Store(db) as s:
        return [s.create_session(f"test:{i}", Canvas.image(640, 480), kind="gaze") for i in range(n)]


def tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as c:
        return {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_image_kept_once_and_dropped_with_its_last_session(tmp_path):
    db = tmp_path / "s.db"
    a, b, c = gaze_sessions(db, 3)
    assert "images" not in tables(db)  # nothing is added until an image is kept
    data = REFERENCE.read_bytes()
    with Store(db) as s:
        assert s.image(a) is None
        s.add_image(a, data, name="reference.png")
        s.add_image(b, data, name="reference.png")
        s.add_image(c, b"other bytes", name="other.png")
        sha, name, got = s.image(a)
        assert got == data and name == "reference.png" and s.image(b)[0] == sha
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 2  # a and b share one copy
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    with Store(db) as s:
        s.delete_session(a)
        assert s.image(b)[2] == data  # still linked from b
        s.add_image(c, data, name="reference.png")  # c's old image has no session left
        s.delete_session(b)
        assert s.image(c)[2] == data
        s.delete_session(c)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 0
        assert con.execute("SELECT COUNT(*) FROM session_images").fetchone()[0] == 0


def test_image_size_is_bounded(tmp_path):
    db = tmp_path / "s.db"
    (a,) = gaze_sessions(db, 1)
    with Store(db) as s, pytest.raises(UserError, match="MB a store keeps"):
        s.add_image(a, b"\0" * (MAX_IMAGE_BYTES + 1), name="huge.png")


def test_a_store_with_images_is_read_as_schema_2_and_newer_schemas_still_refused(tmp_path):
    db = tmp_path / "s.db"
    (a,) = gaze_sessions(db, 1)
    with Store(db) as s:
        s.add_image(a, REFERENCE.read_bytes())
    # Read-only (the viewer's way) and read-write (a schema-2 trackheat's way): same answers, file unchanged by reading.
    before = db.read_bytes()
    with Store(db, readonly=True) as s:
        assert s.image(a)[2] == REFERENCE.read_bytes()
    assert db.read_bytes() == before
    p = trackheat("sessions", "--db", db)
    assert p.returncode == 0, p.stderr
    # Sessions deleted by SQL alone (what a trackheat that knows nothing of images runs) take their images along.
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("DELETE FROM sessions")
        assert con.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 0
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA user_version=3")
    p = trackheat("sessions", "--db", db)
    assert p.returncode == 2 and "newer trackheat" in p.stderr


def test_gaze_db_and_import_keep_the_reference(tmp_path):
    rim = ROOT / "sample_logs" / "gaze" / "rim"
    db = tmp_path / "g.db"
    ref = rim / "reference_image.jpeg"
    p = trackheat("gaze", rim / "gaze.csv", rim / "fixations.csv", "--weight", "count", "--reference", ref, "-o", tmp_path / "o", "--db", db, check=True)
    with Store(db, readonly=True) as s:
        ids = [i.id for i in s.sessions()]
        assert len(ids) >= 2
        assert all(s.image(i)[2] == ref.read_bytes() and s.image(i)[1] == ref.name for i in ids)
    # import finds the Reference Image Mapper's own reference_image.jpeg beside the file
    db2 = tmp_path / "i.db"
    trackheat("import", rim / "gaze.csv", "--db", db2, check=True)
    with Store(db2, readonly=True) as s:
        got = [s.image(x.id) for x in s.sessions()]
        assert got and all(g is not None and g[2] == ref.read_bytes() for g in got)
    # ... and keeps nothing when there is none (a plain gaze CSV)
    db3 = tmp_path / "p.db"
    trackheat("import", ROOT / "sample_logs" / "gaze" / "plain" / "fixations.csv", "--reference-size", "800x600", "--db", db3, check=True)
    with Store(db3, readonly=True) as s:
        assert all(s.image(x.id) is None for x in s.sessions())
    assert p.stderr == ""


def test_gaze_says_when_the_reference_is_too_big_to_keep(tmp_path):
    import cv2
    import numpy as np

    big = tmp_path / "big.png"
    noise = np.random.default_rng(1).integers(0, 256, (2600, 2600, 3), dtype=np.uint8)  # ~20 MB as PNG: noise does not compress
    cv2.imwrite(str(big), noise, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    assert big.stat().st_size > MAX_IMAGE_BYTES
    db = tmp_path / "g.db"
    rim = ROOT / "sample_logs" / "gaze" / "rim"
    p = trackheat("gaze", rim / "fixations.csv", "--reference", big, "-o", tmp_path / "o", "--db", db, check=True)
    assert "big.png: not kept in the store" in p.stderr and p.stderr.count("\n") == 1
    with Store(db, readonly=True) as s:
        assert [s.image(x.id) for x in s.sessions()] == [None] * len(s.sessions())
