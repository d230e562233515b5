"""trackheat's own simple formats: a plain `x,y[,count]` CSV and a positions JSON dump.

The tutorial's starter scripts (the reference in bench/_seeds.py) kept
`{(x, y): count}` in memory and dumped it as JSON,
either `{"x,y": count, ...}` or `[[x, y, count], ...]`; both load here.
These carry no layout, so the canvas is the smallest desktop holding them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from trackheat.canvas import Canvas
from trackheat.errors import BadInput
from trackheat.importers.base import Format, ImportedSession, ImportOptions, csv_rows, parse_float


def _session(path: Path, fmt: str, xs: list, ys: list, counts: list) -> list[ImportedSession]:
    x = np.asarray(xs, np.int64)
    y = np.asarray(ys, np.int64)
    return [ImportedSession(source=f"{fmt}:{path.name}", canvas=Canvas.covering(x, y), xs=x, ys=y, counts=np.asarray(counts, np.int64))]


LIMIT = 1 << 31  # a coordinate or count this large is a broken file, not a screen


def _whole(value: float, path: Path, line: int | None, column: str) -> int:
    if value != value or value in (float("inf"), float("-inf")):
        raise BadInput(path, f"{column} is not a finite number", line)
    if abs(value) >= LIMIT:
        raise BadInput(path, f"{column} is out of range: {value:g}", line)
    return int(round(value))


# -- csv ------------------------------------------------------------------
def _csv_detect(header: str, path: Path) -> bool:
    cols = [c.strip().lower() for c in header.split(",")]
    return cols in (["x", "y"], ["x", "y", "count"])


def _csv_read(path: Path, options: ImportOptions) -> list[ImportedSession]:
    xs: list[int] = []
    ys: list[int] = []
    counts: list[int] = []
    ncols = None
    for line, row in csv_rows(path):
        if ncols is None:
            ncols = len(row)
            continue
        if len(row) != ncols:
            raise BadInput(path, f"expected {ncols} columns, found {len(row)}", line)
        xs.append(_whole(parse_float(row[0], path, line, "x"), path, line, "x"))
        ys.append(_whole(parse_float(row[1], path, line, "y"), path, line, "y"))
        c = _whole(parse_float(row[2], path, line, "count"), path, line, "count") if ncols > 2 else 1
        if c < 0:
            raise BadInput(path, f"count is negative: {c}", line)
        counts.append(c)
    return _session(path, "csv", xs, ys, counts)


# -- positions-json ---------------------------------------------------------
def _json_detect(header: str, path: Path) -> bool:
    return header.startswith("{") or header.startswith("[")


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


JSON_DEPTH = 32  # [[x, y, count], ...] is 2 deep; a deeper file is not one of ours
JSON_DIGITS = 20  # digits of one JSON integer (Python's own limit, 4300, raised ValueError mid-parse)


def _json_depth(text: str) -> int:
    """How deep brackets nest, counted before parsing (outside strings only roughly: a
    bracket inside a key can only make this larger, and such keys are refused anyway)."""
    import re

    depth = top = 0
    for m in re.finditer(r"[\[\]{}]", text):
        if m.group() in "[{":
            depth += 1
            if depth > top:
                top = depth
                if top > JSON_DEPTH:
                    return top
        else:
            depth -= 1
    return top


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > JSON_DIGITS:
        raise ValueError(f"a number of {len(text)} digits")
    return int(text)


def _json_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a log can hold")


def _json_read(path: Path, options: ImportOptions) -> list[ImportedSession]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadInput(path, f"not UTF-8 text (byte 0x{e.object[e.start]:02x})") from None
    depth = _json_depth(text)
    if depth > JSON_DEPTH:
        raise BadInput(path, f"JSON nested {depth} deep (the formats need 2)", 1)
    try:
        data = json.loads(text, parse_int=_json_int, parse_constant=_json_constant)
    except json.JSONDecodeError as e:
        raise BadInput(path, f"invalid JSON: {e.msg} (column {e.colno})", e.lineno) from None
    except (ValueError, RecursionError) as e:  # a number too long, a NaN, nesting past the interpreter's stack
        raise BadInput(path, f"invalid JSON: {' '.join(str(e).split())[:120]}") from None
    xs: list[int] = []
    ys: list[int] = []
    counts: list[int] = []
    if isinstance(data, dict):
        for key, value in data.items():
            line = _line_of(text, max(text.find(json.dumps(key)), 0))
            parts = key.strip("()[] ").split(",")
            if len(parts) != 2:
                raise BadInput(path, f"key {key!r} is not \"x,y\"", line)
            xs.append(_whole(parse_float(parts[0], path, line, "x"), path, line, "x"))
            ys.append(_whole(parse_float(parts[1], path, line, "y"), path, line, "y"))
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BadInput(path, f"count for {key!r} is not a number: {value!r}", line)
            counts.append(_whole(value, path, line, "count"))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            where = f"item {i}"
            if not isinstance(item, list) or len(item) not in (2, 3) or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in item):
                raise BadInput(path, f"{where} is not [x, y, count] with numbers: {item!r}"[:160])
            xs.append(_whole(item[0], path, None, f"{where} x"))
            ys.append(_whole(item[1], path, None, f"{where} y"))
            counts.append(_whole(item[2], path, None, f"{where} count") if len(item) == 3 else 1)
    else:
        raise BadInput(path, "expected a JSON object {\"x,y\": count} or a list [[x, y, count], ...]", 1)
    if any(c < 0 for c in counts):
        raise BadInput(path, "a count is negative")
    return _session(path, "positions-json", xs, ys, counts)


FORMATS = [
    Format("positions-json", '{"x,y": count, ...} or [[x, y, count], ...]', _json_detect, _json_read),
    Format("csv", "x,y or x,y,count", _csv_detect, _csv_read),
]
