"""`trackheat aggregate INPUT... -o OUT_DIR`: one heatmap from many stores, Parquet dumps or gaze exports, on Dask."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from trackheat import defaults
from trackheat.cli.common import add_app, parse_time, print_json

PROGRESS_AFTER = 2.0  # seconds: shorter runs draw no progress bar


def register(sub: argparse._SubParsersAction) -> None:
    from trackheat.cli.import_ import add_gaze_options

    p = sub.add_parser(
        "aggregate",
        help="one heatmap from many stores, dump Parquet files or gaze exports (on Dask)",
        description="Count every input where it lies (a Dask worker per input: an in-process cluster sized to this machine, "
        "or an existing cluster with --scheduler), add the counts, and draw the sum once, as `trackheat export` draws one store "
        "(gaze exports as `trackheat gaze` draws them). Inputs are opened read-only. Writes OUT_DIR/heatmap.png and OUT_DIR/overlay.png.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="store files, `trackheat dump` Parquet files, folders of either (searched recursively), or gaze exports")
    p.add_argument("-o", "--out", required=True, metavar="OUT_DIR", help="directory for heatmap.png and overlay.png")
    p.add_argument("--since", metavar="T", help="only activity from T on: 2026-11-21, 2026-11-21T14:00, or an age such as 2h, 7d (as export)")
    p.add_argument("--until", metavar="T", help="only activity before T (same forms as --since)")
    add_app(p, "only what happened in application NAME (repeatable, as export; `trackheat stats` lists them)")
    p.add_argument("--kind", choices=["moves", "clicks", "dwell", "scrolls"], default="moves", help="what to draw: pointer moves (default), clicks, dwell seconds or scroll steps")
    p.add_argument("--monitor", default="all", metavar="N|all", help="crop to monitor N (1 = first) or draw the whole desktop: all (default: %(default)s)")
    p.add_argument("--background", metavar="FILE", help="image to draw stores over, scaled to the canvas (default: dark canvas with monitor outlines)")
    p.add_argument("--reference", metavar="IMAGE", help="gaze exports: the reference image, surface image or scene frame to draw on")
    p.add_argument("--normalize-canvas", action="store_true", help="inputs recorded on different screens: stretch each input's canvas onto the output size (the output says which were rescaled)")
    p.add_argument("--skip-bad", action="store_true", help="leave out inputs that cannot be read, and list them, instead of stopping (exit 2)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on this existing Dask cluster (its workers need trackheat and read access to the inputs); default: a cluster in this process")
    p.add_argument("--workers", type=int, metavar="N", help="workers of the in-process cluster (default: one per core, at most one per input)")
    p.add_argument("--format", default="auto", help="gaze exports: auto (default, from the header) or a gaze format name, as `trackheat gaze --format`")
    add_gaze_options(p)
    p.add_argument("--bins", type=int, default=defaults.BINS, help="gaze exports: histogram bins on the wider side of the reference (default %(default)s)")
    p.add_argument("--sigma", metavar="S", help=f"blob size as export's (pixels or a share of the diagonal, 1%% by default); for gaze exports in bins (default {defaults.SIGMA_BINS:g})")
    p.add_argument("--colormap", default=defaults.COLORMAP, metavar="NAME", help="any OpenCV colormap by name: turbo, jet, inferno, hot, viridis, ... (default %(default)s)")
    p.add_argument("--scale", default=defaults.SCALE, metavar="max|pNN|log|sqrt", help="colour scale: max, pNN such as p99.5, log or sqrt (default %(default)s)")
    p.add_argument("--alpha", type=float, metavar="A", help=f"opacity of the heat over the background, 0..1 (default {defaults.ALPHA})")
    p.add_argument("--size", metavar="WxH", help="output size, e.g. 1280x720, or a width alone (default: the canvas size)")
    p.add_argument("--density", metavar="FILE.npy", help="also save the float32 density grid (numpy .npy, rows = y)")
    p.add_argument("--json", action="store_true", help="print one JSON object per input (its totals) and one for the picture")
    p.set_defaults(run=run)


class Bar:
    """A one-line progress bar on stderr, drawn only on a terminal and only once a run takes a while."""

    def __init__(self, width: int = 30) -> None:
        self.t0 = time.monotonic()
        self.width = width
        self.drawn = False
        self.on = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        elapsed = time.monotonic() - self.t0
        if not self.on or (elapsed < PROGRESS_AFTER and not self.drawn):
            return
        full = int(self.width * done / max(total, 1))
        sys.stderr.write(f"\r[{'#' * full}{' ' * (self.width - full)}] {done}/{total} inputs counted, {elapsed:.0f} s")
        sys.stderr.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\r\033[2K")
            sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    from trackheat.cli.import_ import options_from
    from trackheat.outputs.aggregate import aggregate

    # Dask's background machinery can log a connection closed during shutdown (asyncio's "exception
    # never retrieved", a comm error) after the result is in, seen under load: not this command's
    # output. Errors that matter come back from the library as exceptions.
    for name in ("distributed", "asyncio", "tornado"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    since = parse_time(args.since, "--since")
    until = parse_time(args.until, "--until")
    bar = Bar()
    try:
        r = aggregate(
            args.inputs, args.out, kind=args.kind, since=since, until=until, apps=args.app, monitor=args.monitor, background=args.background,
            reference=args.reference, gaze_options=options_from(args), bins=args.bins, sigma=args.sigma, colormap=args.colormap,
            scale=args.scale, alpha=args.alpha, size=args.size, density_path=args.density, normalize_canvas=args.normalize_canvas,
            skip_bad=args.skip_bad, scheduler=args.scheduler, workers=args.workers, progress=bar,
        )
    finally:
        bar.close()
    for info in r.inputs:
        if args.json:
            print_json(info)
        elif "rescaled" in info:
            (fw, fh), (tw, th) = info["rescaled"]["from"], info["rescaled"]["to"]
            print(f"rescaled {info['input']}: {fw}x{fh} -> {tw}x{th}")
    for path, why in r.skipped:
        if args.json:
            print_json({"input": path, "skipped": why})
        else:
            print(f"skipped {why}")
    rate = f", {r.rows / r.seconds:,.0f} rows/s" if r.seconds > 0 else ""
    if args.json:
        print_json({"heatmap": str(r.heatmap), "overlay": str(r.overlay), "density": str(r.density) if r.density else None, "width": r.width,
                    "height": r.height, "inputs": len(r.inputs), "skipped": len(r.skipped), "amount": r.amount, "sigma": r.sigma,
                    "rows": r.rows, "seconds": round(r.seconds, 3), "engine": r.engine})
    else:
        extra = f" and {r.density}" if r.density else ""
        print(f"wrote {r.heatmap} and {r.overlay}{extra}: {r.width}x{r.height}, {r.amount} from {len(r.inputs)} inputs "
              f"({len(r.skipped)} skipped), {r.rows:,} rows in {r.seconds:.1f} s on {r.engine}{rate}")
    return 0
