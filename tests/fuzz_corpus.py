"""Hostile input files for every import format, generated (issue 11), and the bounded runner.

`generate(out, n, seed)` writes `n` files made from small real seeds (sample_logs/, and
../shared/data when present) by mutations an attacker or a broken exporter produces:
truncation anywhere, a huge cell, a line of 100k delimiters, CR-only and mixed line ends,
20-digit and 5000-digit numbers, Infinity/NaN/1e308, NUL and invalid UTF-8, unbalanced
quotes, ragged rows, repeated headers, deep or huge JSON, images whose header declares
gigapixels. Deterministic for a seed.

`python tests/fuzz_corpus.py run DB FILE...` imports each file under a memory ceiling
(RLIMIT_AS) and a per-file time limit (SIGALRM) and prints one JSON line per file:
{"file", "status", "seconds", "error"}; status is the exit status of `trackheat import`,
or "traceback"/"timeout"/"memory". tests/test_fuzz.py runs it in `make test`.
"""

from __future__ import annotations

import json
import random
import struct
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED_LINES = 40  # rows kept of each seed file: small files, so 500 of them run in seconds


def _seeds() -> dict[str, bytes]:
    """name -> bytes of a small real file of each format."""
    out: dict[str, bytes] = {}
    files = sorted((ROOT / "sample_logs").rglob("*.csv")) + sorted((ROOT / "sample_logs").rglob("*.tsv"))
    shared = ROOT.parent / "shared" / "data"
    for pattern in ("mouse-dynamics/*.csv", "gaze/eyelink/*.asc", "gaze/tobii-studio/*.tsv", "gaze/pupil-core*/*.csv"):
        files += sorted(shared.glob(pattern))[:2]
    for f in files:
        try:
            lines = f.read_bytes().splitlines(keepends=True)
        except OSError:
            continue
        if f.suffix == ".asc":  # EyeLink: the header and events are spread out; keep a longer piece
            keep = lines[:400]
        else:
            keep = lines[:SEED_LINES]
        out[f"{f.parent.name}-{f.name}"] = b"".join(keep)
    out["positions.json"] = json.dumps({f"{x},{y}": x % 7 + 1 for x in range(0, 200, 13) for y in range(0, 120, 17)}).encode()
    out["positions-list.json"] = json.dumps([[x, x // 2, 3] for x in range(50)]).encode()
    out["plain.csv"] = b"x,y,count\n" + b"".join(b"%d,%d,%d\n" % (i, i * 2 % 300, i % 5 + 1) for i in range(40))
    out["gaze-plain.csv"] = b"x,y,duration\n" + b"".join(b"%d,%d,%d\n" % (i * 9, i * 5, 120 + i) for i in range(40))
    return out


def _png_header(w: int, h: int) -> bytes:
    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + chunk(b"IEND", b"")


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _delim(data: bytes) -> bytes:
    head = data.split(b"\n", 1)[0]
    return b"\t" if b"\t" in head else b";" if head.count(b";") > head.count(b",") else b","


def _cells(rng: random.Random, data: bytes, make) -> bytes:
    """Replace some cells (not the header's) with make(rng)."""
    d = _delim(data)
    lines = _lines(data)
    for _ in range(rng.randint(1, 4)):
        if len(lines) < 2:
            break
        i = rng.randrange(1, len(lines))
        cells = lines[i].split(d)
        if cells:
            cells[rng.randrange(len(cells))] = make(rng)
            lines[i] = d.join(cells)
    return b"\n".join(lines)


MUTATIONS = {
    "truncate": lambda r, b: b[: r.randrange(0, max(len(b), 1))],
    "truncate-mid-line": lambda r, b: b[: max(b.find(b"\n", len(b) // 2) - r.randint(1, 5), 0)],
    "huge-cell": lambda r, b: _cells(r, b, lambda r: b"9" * r.choice([5000, 70_000, 300_000])),
    "huge-text-cell": lambda r, b: _cells(r, b, lambda r: b"x" * r.choice([5000, 200_000])),
    "many-delims": lambda r, b: b + _delim(b) * r.choice([10_000, 200_000]) + b"\n",
    "wide-header": lambda r, b: _delim(b).join([b"c%d" % i for i in range(r.choice([2000, 50_000]))]) + b"\n" + b,
    "cr-only": lambda r, b: b.replace(b"\r\n", b"\n").replace(b"\n", b"\r"),
    "crlf": lambda r, b: b.replace(b"\n", b"\r\n"),
    "mixed-ends": lambda r, b: b"".join(ln + r.choice([b"\n", b"\r", b"\r\n"]) for ln in b.split(b"\n")),
    "digits20": lambda r, b: _cells(r, b, lambda r: b"".join(b"%d" % r.randrange(10) for _ in range(20))),
    "digits5000": lambda r, b: _cells(r, b, lambda r: b"1" * 5000),
    "nonfinite": lambda r, b: _cells(r, b, lambda r: r.choice([b"inf", b"-inf", b"nan", b"NaN", b"Infinity", b"1e308", b"-1e308",
                                                               b"1e999", b"-0", b"1e-400", b"0x10", b"1_000"])),
    "negative": lambda r, b: _cells(r, b, lambda r: b"-%d" % r.randrange(1, 10**9)),
    "empty-cells": lambda r, b: _cells(r, b, lambda r: b""),
    "nul": lambda r, b: b[: len(b) // 2] + b"\x00" + b[len(b) // 2:],
    "bad-utf8": lambda r, b: b[: len(b) // 3] + b"\xff\xfe\xc3(" + b[len(b) // 3:],
    "quote": lambda r, b: _cells(r, b, lambda r: r.choice([b'"', b'"unterminated', b'a"b', b'"x""y"'])),
    "ragged": lambda r, b: b"\n".join(ln.rsplit(_delim(b), 1)[0] if i and r.random() < 0.3 else ln for i, ln in enumerate(_lines(b))),
    "extra-col": lambda r, b: b"\n".join(ln + _delim(b) + b"7" if i and r.random() < 0.3 else ln for i, ln in enumerate(_lines(b))),
    "repeat-header": lambda r, b: b + _lines(b)[0] + b"\n" + b,
    "header-only": lambda r, b: _lines(b)[0] + b"\n",
    "bom-blank": lambda r, b: b"\xef\xbb\xbf\n\n" + b.replace(b"\n", b"\n\n"),
    "shuffle-rows": lambda r, b: b"\n".join(_lines(b)[:1] + r.sample(_lines(b)[1:], len(_lines(b)) - 1)),
    "dup-rows": lambda r, b: b + b"\n".join(_lines(b)[1:]) * 3,
    "random-bytes": lambda r, b: bytes(r.randrange(256) for _ in range(r.randint(1, 3000))),
    "flip-bytes": lambda r, b: bytes(c ^ (1 << r.randrange(8)) if r.random() < 0.01 else c for c in b),
    "long-line": lambda r, b: b + b"a" * r.choice([200_000, 1_500_000]) + b"\n",
    "spaces": lambda r, b: b.replace(_delim(b), _delim(b) + b" "),
}

JSON_CASES = {
    "json-deep": lambda r: b"[" * r.choice([1000, 100_000]) + b"]" * r.choice([0, 1000]),
    "json-deep-obj": lambda r: b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "json-bigint": lambda r: b'{"1,2": ' + b"9" * r.choice([5000, 50_000]) + b"}",
    "json-bigkey": lambda r: b'{"' + b"1" * 5000 + b',2": 3}',
    "json-float": lambda r: r.choice([b'[[1e308, 2, 3]]', b'[[NaN, 1, 1]]', b'[[Infinity, 1, 1]]', b'{"1,2": -Infinity}', b'[[1, 2, 1e400]]']),
    "json-types": lambda r: r.choice([b'[[1, 2, "3"]]', b'[[true, 1, 1]]', b'{"1,2": null}', b'"str"', b'[{"x": 1}]', b'[[1]]', b'{}', b'[]']),
    "json-many": lambda r: b"[" + b",".join(b"[%d,%d,1]" % (i % 1000, i // 1000) for i in range(r.choice([1000, 200_000]))) + b"]",
    "json-dup-keys": lambda r: b'{"1,2": 1, "1,2": 2, " 1 , 2 ": 3}',
    "json-truncated": lambda r: json.dumps({f"{i},{i}": i for i in range(200)}).encode()[: r.randrange(1, 3000)],
}


def generate(out: Path, n: int = 500, seed: int = 11) -> list[Path]:
    """Write n hostile files into `out` (every seed x mutation pair appears before repeats)."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    seeds = _seeds()
    csv_seeds = {k: v for k, v in seeds.items() if not k.endswith(".json")}
    plan = [(s, m) for s in sorted(csv_seeds) for m in sorted(MUTATIONS)]
    rng.shuffle(plan)
    plan = [("json", j) for j in sorted(JSON_CASES)] + [(s, m) for s in sorted(seeds) if s.endswith(".json") for m in
                                                        ("truncate", "flip-bytes", "nul", "bad-utf8")] + plan
    paths = []
    for i in range(n):
        s, m = plan[i % len(plan)]
        r = random.Random(rng.random())
        if s == "json":
            data = JSON_CASES[m](r)
            name = f"{i:04d}-{m}.json"
        else:
            data = MUTATIONS[m](r, seeds[s])
            name = f"{i:04d}-{m}-{s}"
        p = out / name
        p.write_bytes(data)
        paths.append(p)
    return paths


def images(out: Path) -> list[Path]:
    """Reference images an attacker would pass: gigapixel headers, truncated, not images."""
    out.mkdir(parents=True, exist_ok=True)
    real = (ROOT / "sample_logs" / "gaze" / "reference.png").read_bytes()
    jpeg = (ROOT / "sample_logs" / "gaze" / "rim" / "reference_image.jpeg").read_bytes()
    cases = {
        "giga.png": _png_header(30000, 20000),
        "wide.png": _png_header(1 << 30, 1),
        "zero.png": _png_header(0, 100),
        "cut.png": real[:40],
        "cut-header.png": real[:20],
        "cut.jpeg": jpeg[: len(jpeg) // 3],
        "jpeg-header-only.jpeg": jpeg[:2],
        "giga.jpeg": jpeg[:2] + b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", 60000, 60000) + b"\x03" + b"\x00" * 9,
        "text.png": b"not an image at all\n" * 10,
        "empty.png": b"",
        "giga.gif": b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00" * 20,
        "giga.bmp": b"BM" + b"\x00" * 16 + struct.pack("<ii", 100000, -100000) + b"\x00" * 40,
    }
    paths = []
    for name, data in cases.items():
        p = out / name
        p.write_bytes(data)
        paths.append(p)
    return paths


def run(db: str, files: list[str], seconds: int = 20, memory: int = 2 << 30) -> None:
    """Import each file (a fresh store each time) under the limits; one JSON line per file."""
    import resource
    import signal
    import time
    import traceback

    sys.setrecursionlimit(10_000)  # what a user's interpreter may have; the parser must not rely on the default
    from trackheat.cli import main  # imported before the memory ceiling: numpy/cv2 map large libraries

    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    class Timeout(BaseException):
        pass

    def alarm(signum, frame):
        raise Timeout()

    signal.signal(signal.SIGALRM, alarm)
    for k, f in enumerate(files):
        args = ["gaze", "--reference", f, str(ROOT / "sample_logs" / "gaze" / "plain" / "fixations.csv"), "-o", f"{db}-out-{k}"] \
            if f.endswith((".png", ".jpeg", ".gif", ".bmp")) else ["import", "--db", f"{db}-{k}", f]
        t0 = time.monotonic()
        status: object
        error = ""
        signal.alarm(seconds)
        try:
            status = main(args)
        except Timeout:
            status = "timeout"
        except MemoryError:
            status = "memory"
        except SystemExit as e:  # argparse
            status = e.code
        except BaseException:
            status = "traceback"
            error = traceback.format_exc()[-2000:]
        finally:
            signal.alarm(0)
        print(json.dumps({"file": f, "status": status, "seconds": round(time.monotonic() - t0, 3), "error": error}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "generate":
        for p in generate(Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 500):
            print(p)
    elif len(sys.argv) >= 3 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3:])
    else:
        print(__doc__)
        sys.exit(2)
