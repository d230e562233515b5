"""`trackheat gaze FILE... --reference IMAGE -o OUT_DIR`: eye-tracker exports to heatmap.png and overlay.png."""

from __future__ import annotations

import argparse

from trackheat import defaults
from trackheat.cli.common import add_db, print_json


def register(sub: argparse._SubParsersAction) -> None:
    from trackheat.cli.import_ import add_gaze_options

    p = sub.add_parser(
        "gaze",
        help="heatmap of eye-tracker exports over a reference image (Pupil Labs, Tobii)",
        description="Import eye-tracker exports (into a temporary store unless --db is given) and draw them over the reference image "
        "as Pupil Cloud does: a 2-D histogram with the image's aspect ratio and the wider side --bins bins, a Gaussian blur, "
        "normalized to the maximum, resized with Lanczos. Every recording given is added up with no normalization for recording time. "
        "Writes OUT_DIR/heatmap.png (transparent where nobody looked) and OUT_DIR/overlay.png (with a 0-100 % colour bar).",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="gaze.csv, fixations.csv, gaze_positions.csv, gaze_positions_on_surface_<name>.csv, a Tobii Pro Lab .tsv, or x,y[,duration]")
    p.add_argument("--reference", required=True, metavar="IMAGE", help="reference image, surface image or scene frame to draw on")
    p.add_argument("-o", "--out", required=True, metavar="OUT_DIR", help="directory for heatmap.png and overlay.png")
    p.add_argument("--format", default="auto", help="auto (default, from the header), or: neon-gaze, neon-fixations, rim-gaze, rim-fixations, marker-mapper-gaze, "
                   "marker-mapper-fixations, pupil-core-gaze, pupil-core-fixations, pupil-core-surface-gaze, pupil-core-surface-fixations, tobii-tsv, gaze-csv")
    add_gaze_options(p)
    p.add_argument("--bins", type=int, default=defaults.BINS, help="histogram bins on the wider side of the reference (default %(default)s)")
    p.add_argument("--sigma", type=float, metavar="S", help=f"Gaussian blur in bins (default {defaults.SIGMA_BINS:g}, Pupil Cloud's 1 %% of {defaults.BINS})")
    p.add_argument("--colormap", default=defaults.COLORMAP, metavar="NAME", help="OpenCV colormap name: turbo, jet, inferno, viridis, hot, ... (default %(default)s)")
    p.add_argument("--scale", default=defaults.SCALE, help="colour scale: max (Pupil Cloud's), pNN.N percentile, log or sqrt (default %(default)s)")
    p.add_argument("--alpha", type=float, help="opacity of the heat over the reference in overlay.png (0-1)")
    p.add_argument("--density", metavar="PATH.npy", help="also save the density grid (float32, reference size) as a NumPy file")
    p.add_argument("--json", action="store_true", help="print one JSON object per session and one for the images")
    add_db(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from trackheat.outputs import gaze
    from trackheat.cli.import_ import options_from
    from trackheat.paths import resolve_db

    options = options_from(args)
    db = resolve_db(args.db) if args.db else None
    r = gaze.heatmap(args.files, args.reference, args.out, options=options, bins=args.bins, sigma=args.sigma, colormap=args.colormap,
                     scale=args.scale, alpha=args.alpha, db=db, density_path=args.density)
    for sid, f, s in r.sessions:
        what = s.meta.get("points", "points")
        rec = s.meta.get("recording id")
        if args.json:
            print_json({"session": sid, "file": f, "format": s.meta.get("format"), "recording": rec, "points": what,
                        "count": s.moves, "seconds": round(float(s.dwell.sum()) if s.dwell is not None else 0.0, 3), "skipped": s.skipped, "dropped": s.dropped})
        else:
            # Pupil Cloud ids are UUIDs: their first 8 characters tell recordings apart; Tobii names stay whole.
            where = f" (recording {rec[:8] if len(rec) == 36 and rec.count('-') == 4 else rec})" if rec else ""
            sess = f"session {sid}: " if args.db else ""
            print(f"{sess}{f}{where}: {s.moves} {what}, {s.skipped} skipped, {s.dropped} off the reference")
    if args.json:
        print_json({"heatmap": str(r.heatmap), "overlay": str(r.overlay), "weight": r.weight, "peak": list(r.peak), "bins": list(r.bins), "sigma": r.sigma})
    else:
        print(f"wrote {r.heatmap} and {r.overlay} (weight: {r.weight}; peak at x={r.peak[0]}, y={r.peak[1]})")
    return 0
