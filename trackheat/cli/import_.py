"""`trackheat import FILE...`: third-party logs into the store, one transaction for all files."""

from __future__ import annotations

import argparse
import sys

from trackheat.cli.common import add_db, open_store, print_json
from trackheat.defaults import CONFIDENCE, IDT_DISPERSION, IDT_MIN_FIXATION, IVT_MIN_FIXATION, IVT_VELOCITY, PX_PER_DEGREE
from trackheat.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import mouse or gaze logs into the store", description="Import logs into the store: one session per file (per recording for multi-recording gaze files). The format is detected from the header.")
    p.add_argument("files", nargs="*", metavar="FILE")
    p.add_argument("--format", default="auto", help="auto (default: detected from the header), or a format name (see --formats)")
    p.add_argument("--formats", action="store_true", help="list the formats and the header each expects, and exit")
    p.add_argument("--screen", metavar="WxH", help="mouse logs with no layout (csv, positions-json, mouse-dynamics): the screen "
                                                   "they were recorded on; what lies off it is dropped (default: inferred from the points, with a warning)")
    add_gaze_options(p)
    add_db(p)
    p.add_argument("--json", action="store_true", help="one JSON object per imported session")
    p.add_argument("--again", action="store_true", help="import a file even if the same content was imported before")
    p.set_defaults(run=run)


def add_gaze_options(p: argparse.ArgumentParser) -> None:
    """Options that only gaze formats read (shared with `trackheat gaze`)."""
    p.add_argument("--normalized", action="store_true", help="plain gaze CSV: x and y are 0..1 of the reference, not pixels")
    p.add_argument("--weight", choices=["count", "duration"], help="gaze: weigh samples by count or fixations by duration (default: per format)")
    p.add_argument("--reference-size", metavar="WxH", help="gaze: size of the reference image or scene camera")
    p.add_argument("--confidence", type=float, default=CONFIDENCE, help="Pupil Core: skip samples under this confidence (default %(default)s)")
    p.add_argument("--fixations", choices=["file", "none", "ivt", "idt"],
                   help="gaze: the file's own fixations (file), its samples (none), or fixations found in its samples: ivt (velocity under --velocity) "
                   "or idt (dispersion under --dispersion for --min-fixation); degrees are converted with the file's pixels per degree "
                   "(EyeLink's RES, the Pupil Core and Neon cameras), else --px-per-degree (default: the file's fixations when it has them, else its samples)")
    p.add_argument("--velocity", type=float, metavar="DEG_PER_S", help=f"ivt: velocity threshold (default {IVT_VELOCITY:g} deg/s, Tobii's I-VT)")
    p.add_argument("--dispersion", type=float, metavar="DEG", help=f"idt: dispersion threshold, x extent + y extent (default {IDT_DISPERSION:g} deg, Salvucci & Goldberg 2000)")
    p.add_argument("--min-fixation", type=float, metavar="MS", help=f"shortest fixation kept (default: ivt {IVT_MIN_FIXATION * 1000:g} ms, idt {IDT_MIN_FIXATION * 1000:g} ms)")
    p.add_argument("--px-per-degree", type=float, metavar="N", help=f"pixels per degree of visual angle where the file does not say (default {PX_PER_DEGREE:g})")
    p.add_argument("--eye", choices=["left", "right", "mean"], help="EyeLink: which eye (default: the recorded one, or the mean of both)")


def options_from(args: argparse.Namespace):
    from trackheat.canvas import parse_size
    from trackheat.errors import UserError
    from trackheat.importers import ImportOptions

    size = parse_size(args.reference_size, param="reference_size") if getattr(args, "reference_size", None) else None
    detection = {}
    for name, key, scale in (("px_per_degree", "px_per_degree", 1.0), ("velocity", "velocity", 1.0), ("dispersion", "dispersion", 1.0), ("min_fixation", "min_duration", 1e-3)):
        value = getattr(args, name, None)
        if value is not None:
            if not value > 0:
                raise UserError(f"expected a positive number, got {value:g}", param=name)
            detection[key] = value * scale
    screen = None
    if getattr(args, "screen", None):
        try:
            sw, sh = (int(v) for v in args.screen.lower().split("x"))
            if sw <= 0 or sh <= 0:
                raise ValueError
            screen = (sw, sh)
        except ValueError:
            raise UserError(f"--screen: expected WIDTHxHEIGHT such as 1920x1080, got {args.screen!r}") from None
    return ImportOptions(format=args.format, normalized=args.normalized, weight=args.weight, reference_size=size, confidence=args.confidence,
                         fixations=args.fixations, eye=args.eye, detection=detection, screen=screen)


def warn_assumed(sessions_by_file) -> None:
    """One line per file whose display size was assumed (never a silent guess)."""
    import sys

    seen = set()
    for f, sessions in sessions_by_file:
        for s in sessions:
            size = s.meta.get("assumed_size")
            if size and str(f) not in seen:
                seen.add(str(f))
                print(f"{f}: assuming a {size[0]}x{size[1]} display; give --reference-size WxH", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from trackheat import importers

    if args.formats:
        print(importers.listing())
        return 0
    if not args.files:
        raise UserError("give one or more FILEs to import (or --formats to list the formats)")
    options = options_from(args)
    # Read every file before writing any: a bad file anywhere stops the run with nothing written.
    from trackheat.accumulate.fixations import apply_mode
    from trackheat.outputs import gaze

    parsed = [(f, apply_mode(f, importers.read(f, options), options.fixations, options.weight, **options.detection)) for f in args.files]
    warn_assumed(parsed)
    digests = [importers.content_hash(f) for f in args.files]  # the same content imported twice is found by this
    with open_store(args, create=True) as store:
        # One transaction across all files: a value the store refuses in the last file leaves
        # nothing of the first (README: nothing from any file is imported); lines are printed after.
        lines: list = []
        warnings: list[str] = []  # said once the files are in: a failed import is its one error line
        with store.transaction():
            for (f, sessions), digest in zip(parsed, digests):
                before = store.find_hash(digest)
                if before and not args.again:
                    which = ", ".join(map(str, before))
                    if args.json:
                        lines.append({"file": str(f), "already_imported_as": before})
                    else:
                        lines.append(f"{f}: already imported as session {which}; nothing imported (`trackheat import --again` imports it once more)")
                    continue
                warnings += [f"trackheat import: warning: {f}: {w.replace('`screen`', '--screen')}" for s in sessions for w in s.meta.get("warnings", [])]
                ids = store.save_imported(sessions, content_hash=digest)
                for sid, s in zip(ids, sessions):  # a Reference Image Mapper export's reference_image.jpeg, for `trackheat view`
                    ref = gaze.reference_beside(s)
                    why = gaze.keep_reference(store, [sid], ref) if ref else None
                    if why:
                        warnings.append(f"trackheat import: warning: {why}")
                for sid, s in zip(ids, sessions):
                    when = s.meta.get("time_source") or ("import time" if s.started is None else "the file")
                    if args.json:
                        lines.append({"session": sid, "file": str(f), "format": s.source.split(":")[0], "moves": s.moves, "clicks": len(s.clicks), "scrolls": len(s.scrolls), "dropped": s.dropped, "skipped": s.skipped, "time_source": when})
                    elif s.kind == "gaze":  # the words `trackheat gaze` uses for the same rows
                        lines.append(f"session {sid}: {f}: {s.moves} {s.meta.get('points', 'gaze samples')}, {s.skipped} skipped, {s.dropped} off the reference")
                    else:
                        extra = f", {s.skipped} skipped" if s.skipped else ""
                        lines.append(f"session {sid}: {f}: {s.moves} moves, {len(s.clicks)} clicks, {len(s.scrolls)} scrolls, {s.dropped} dropped rows{extra}; times from {when}")
        for w in warnings:
            print(w, file=sys.stderr)
        for line in lines:
            if isinstance(line, dict):
                print_json(line)
            else:
                print(line)
    return 0
