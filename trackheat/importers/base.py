"""What every importer shares: the options a user may give, the session an importer returns, a format's entry."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from trackheat.defaults import CONFIDENCE, IDLE_AFTER
from trackheat.canvas import Canvas
from trackheat.errors import BadInput


@dataclass
class ImportOptions:
    """What the command line may tell an importer beyond the file itself."""

    format: str = "auto"
    normalized: bool = False  # plain CSV gaze coordinates are 0..1
    weight: str | None = None  # gaze: count|duration (None: the format's default)
    reference_size: tuple[int, int] | None = None  # (width, height) of the reference image / scene camera
    confidence: float = CONFIDENCE  # Pupil Core: rows under this are skipped
    idle_after: float = IDLE_AFTER  # gaps longer than this are idle, not dwell
    fixations: str | None = None  # gaze: file|none|ivt|idt (None: the file's own fixations when it has them, else its samples)
    eye: str | None = None  # EyeLink: left|right|mean (None: the recorded eye, or the mean of both)
    detection: dict = field(default_factory=dict)  # fixation detection: px_per_degree, velocity (deg/s), dispersion (deg), min_duration (s)
    screen: tuple[int, int] | None = None  # (width, height) of the screen a log with no layout was recorded on


@dataclass
class ImportedSession:
    """One session read from a file, before it reaches the store.

    Positions are parallel arrays (one entry per sample, not yet aggregated);
    `ts` are absolute epoch seconds when the file carries time, else None.
    """

    source: str
    canvas: Canvas
    xs: np.ndarray
    ys: np.ndarray
    counts: np.ndarray | None = None  # default: one each
    dwell: np.ndarray | None = None  # seconds per sample (gaze fixation durations too)
    ts: np.ndarray | None = None
    kind: str = "mouse"
    started: float | None = None
    ended: float | None = None
    clicks: list[tuple[float, int, int, str]] = field(default_factory=list)
    scrolls: list[tuple[float, int, int, int, int]] = field(default_factory=list)
    distance: float | None = None
    active_seconds: float = 0.0
    idle_seconds: float = 0.0
    dropped: int = 0  # rows with impossible coordinates or outside the canvas
    skipped: int = 0  # rows with no usable sample (empty, NaN, low confidence, not detected)
    meta: dict = field(default_factory=dict)

    @property
    def moves(self) -> int:
        return int(len(self.xs) if self.counts is None else int(np.sum(self.counts)))


@dataclass(frozen=True)
class Format:
    name: str
    description: str  # the header it expects, for the "unknown format" message
    detect: Callable[[str, Path], bool]  # (first non-empty line, path) -> is it mine?
    read: Callable[[Path, ImportOptions], list[ImportedSession]]


def parse_float(text: str, path: Path, line: int, column: str) -> float:
    """A number from a cell, or BadInput naming the file, line and column."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        shown = text if len(str(text)) <= 40 else str(text)[:37] + "..."
        raise BadInput(path, f"{column} is not a number: {shown!r}", line) from None
    if not math.isfinite(value):  # 'inf', 'Infinity', 'nan', '1e999': never a coordinate or a time
        raise BadInput(path, f"{column} is not a finite number: {text.strip()[:40]!r}", line)
    return value


def csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank row of a CSV file, header first.

    The one CSV reader of the mouse formats, so a limit or a dialect rule
    applies to all of them at once.
    """
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(_bounded_lines(fh, path))
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:  # a field past the limit, a NUL, a quote at an odd place
                text = f"a field longer than {MAX_FIELD:,} characters" if "field limit" in str(e) else str(e)
                raise BadInput(path, text, reader.line_num) from None
            except UnicodeDecodeError as e:
                raise BadInput(path, f"not UTF-8 text (byte 0x{e.object[e.start]:02x})", reader.line_num + 1) from None
            if len(row) > MAX_COLUMNS:
                raise BadInput(path, f"{len(row):,} cells in one row (more than {MAX_COLUMNS:,}): not a log", reader.line_num)
            if row and any(c.strip() for c in row):
                yield reader.line_num, row


MAX_LINE = 1 << 20  # characters in one line of a CSV log: a mouse log's lines are ~40
MAX_FIELD = 1 << 16  # characters in one CSV field (the csv module's own default is 128 K)
MAX_COLUMNS = 1000  # cells in one row


def _bounded_lines(fh, path: Path) -> Iterator[str]:
    """The file's lines (any of LF, CRLF, CR), refusing one longer than MAX_LINE before it
    is in memory whole: 100 MB of commas once became a list of 100 million cells (2.2 GB)."""
    csv.field_size_limit(MAX_FIELD)
    n = 0
    while True:
        line = fh.readline(MAX_LINE + 1)
        if not line:
            return
        n += 1
        if len(line) > MAX_LINE:
            raise BadInput(path, f"a line longer than {MAX_LINE:,} characters: not a log", n)
        yield line
