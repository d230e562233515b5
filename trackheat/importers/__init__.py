"""Importers of third-party files: each turns one file into sessions for the store.

A format is a `Format`: a name, a `detect(header)` that recognises its header
line, and a `read(path, options)` that returns `ImportedSession`s. Nothing
here writes: `Store.save_imported` is the one way sessions reach the store,
and one import is one transaction.

FORMATS is the registry, in the order auto-detection tries them.
"""

from __future__ import annotations

from pathlib import Path

from trackheat.errors import BadInput, UserError
from trackheat.importers import gaze_plain, mouse_dynamics, plain
from trackheat.importers.base import Format, ImportedSession, ImportOptions, parse_float

__all__ = ["FORMATS", "content_hash", "Format", "ImportOptions", "ImportedSession", "detect", "formats", "header_of", "header_start",
           "listing", "parse_float", "read"]

FORMATS: tuple[Format, ...] = (*mouse_dynamics.FORMATS, *plain.FORMATS, *gaze_plain.FORMATS)


def formats() -> dict[str, Format]:
    """The registry by name."""
    return {f.name: f for f in FORMATS}


def header_of(path: Path) -> str:
    """The first non-empty line, after checking the file is readable text."""
    if not path.exists():
        raise BadInput(path, "no such file")
    if path.is_dir():
        raise BadInput(path, "is a directory, not a file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError as e:
        raise BadInput(path, f"cannot read: {e.strerror}") from None
    if not head.strip():
        raise BadInput(path, "empty file")
    if b"\x00" in head:
        raise BadInput(path, f"binary data, not a text export (NUL byte at offset {head.index(0)})")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if len(head) < 65536 or e.start < len(head) - 4:  # not just a multibyte char cut at the buffer end
            lineno = head[: e.start].count(b"\n") + 1
            raise BadInput(path, f"not UTF-8 text (byte 0x{head[e.start]:02x})", lineno) from None
        text = head[: e.start].decode("utf-8-sig")
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    raise BadInput(path, "empty file")


def detect(path: Path, options: ImportOptions) -> Format:
    table = formats()
    if options.format != "auto":
        if options.format not in table:
            raise UserError(f"unknown format {options.format!r}; known: auto, {', '.join(table)}", param="format")
        header_of(path)
        return table[options.format]
    header = header_of(path)
    if options.normalized and [c.strip().lower() for c in header.split(",")] == ["x", "y"] and "gaze-csv" in table:
        return table["gaze-csv"]  # 0..1 coordinates are gaze on an image, never mouse pixels
    for f in table.values():
        if f.detect(header, path):
            return f
    raise BadInput(path, f"unknown format: the header starts {header_start(header)}; see `trackheat import --formats`", 1)


def header_start(header: str, columns: int = 4) -> str:
    """The first columns of a header line, for a message: 'a, b, c, ... (12 columns)'."""
    sep = max(("\t", ";", ","), key=header.count)
    cols = [c.strip().strip('"') for c in header.split(sep)]
    shown = ", ".join(repr(c if len(c) <= 30 else c[:27] + "...") for c in cols[:columns])
    return shown + (f", ... ({len(cols)} columns)" if len(cols) > columns else "")


def listing() -> str:
    """Every format by name with the header it expects: `trackheat import --formats`."""
    width = max(len(f.name) for f in FORMATS)
    return "\n".join(f"{f.name:<{width}}  {f.description}" for f in FORMATS)


def read(path: str | Path, options: ImportOptions | None = None) -> list[ImportedSession]:
    """Read one file into sessions (nothing touches the store yet)."""
    options = options or ImportOptions()
    path = Path(path)
    fmt = detect(path, options)
    try:
        sessions = fmt.read(path, options)
    except UnicodeDecodeError:
        raise _bad_utf8(path) from None
    if not any(len(s.xs) or s.clicks or s.scrolls or s.skipped or s.dropped for s in sessions):
        raise BadInput(path, "no rows: the file has a header and nothing under it")
    for s in sessions:
        if s.kind != "gaze" and s.canvas.extra.get("inferred"):
            _place(s, options.screen)
    return sessions


def _place(s: ImportedSession, screen: tuple[int, int] | None) -> None:
    """A log with no layout: on the screen the user gave (what lies off it is dropped and counted),
    or on a canvas inferred from the points, with a warning that says how many lie far from the rest."""
    import numpy as np

    from trackheat.canvas import Canvas, Rect

    x, y = np.asarray(s.xs), np.asarray(s.ys)
    if screen is not None:
        w, h = screen
        keep = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        off = int(len(x) - keep.sum())
        if off:
            s.xs, s.ys = x[keep], y[keep]
            for name in ("counts", "dwell", "ts"):
                a = getattr(s, name)
                if a is not None:
                    setattr(s, name, np.asarray(a)[keep])
            s.dropped += off
        s.clicks = [c for c in s.clicks if 0 <= c[1] < w and 0 <= c[2] < h]
        s.scrolls = [c for c in s.scrolls if 0 <= c[1] < w and 0 <= c[2] < h]
        s.canvas = Canvas.desktop([Rect(0, 0, w, h)])
        return
    if len(x) == 0:
        return
    # "far": beyond the box of 99 % of the points by more than its own size (a corner
    # fling is not far; a stray 99999 is)
    far = np.zeros(len(x), bool)
    for a in (x, y):
        lo, hi = np.percentile(a, [0.5, 99.5])
        m = max(hi - lo, 200.0)
        far |= (a < lo - m) | (a > hi + m)
    c = s.canvas
    text = f"no screen size in the file: the canvas is inferred from the points, {c.width}x{c.height}"
    k = int(far.sum())
    if k:
        text += (f"; {k:,} of {len(x):,} points ({100 * k / len(x):.2g} %) lie far from the rest: give `screen` WxH "
                 "to set the screen (what lies off it is dropped)")
    else:
        text += "; give `screen` WxH if the screen was larger"
    s.meta.setdefault("warnings", []).append(text)


def _bad_utf8(path: Path) -> BadInput:
    """Where a file stops being UTF-8, found by scanning its bytes line by line."""
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                return BadInput(path, f"not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1})", n)
    return BadInput(path, "not UTF-8 text")


def content_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes: the same log imported twice is found by this, whatever its name."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
