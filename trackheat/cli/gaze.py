"""`trackheat gaze FILE... --reference IMAGE -o OUT_DIR`: eye-tracker exports to heatmap.png and overlay.png."""

from __future__ import annotations

import argparse
import sys

from trackheat import defaults
from trackheat.cli.common import add_db, print_json


def register(sub: argparse._SubParsersAction) -> None:
    from trackheat.cli.import_ import add_gaze_options

    p = sub.add_parser(
        "gaze",
        help="heatmap of eye-tracker exports over a reference image (Pupil Labs, Tobii, EyeLink)",
        description="Read eye-tracker exports (saving them into the store only with --db) and draw them over the reference image "
        "as Pupil Cloud does: a 2-D histogram with the image's aspect ratio and the wider side --bins bins, a Gaussian blur, "
        "normalized to the maximum, resized with Lanczos. Recordings are added up with no normalization for recording time unless "
        "--normalize says otherwise. Writes OUT_DIR/heatmap.png (transparent where nobody looked) and OUT_DIR/overlay.png (with a 0-100 % colour bar).",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="gaze.csv, fixations.csv, gaze_positions.csv, gaze_positions_on_surface_<name>.csv, a Tobii Pro Lab .tsv/.csv, "
                   "a Tobii Studio export, an EyeLink .asc, x,y[,duration], or a folder of them")
    p.add_argument("--reference", required=True, metavar="IMAGE", help="reference image, surface image or scene frame to draw on")
    p.add_argument("-o", "--out", required=True, metavar="OUT_DIR", help="directory for heatmap.png and overlay.png")
    p.add_argument("--format", default="auto", help="auto (default, from the header), or: neon-gaze, neon-fixations, rim-gaze, rim-fixations, marker-mapper-gaze, "
                   "marker-mapper-fixations, pupil-core-gaze, pupil-core-fixations, pupil-core-surface-gaze, pupil-core-surface-fixations, tobii-tsv, "
                   "tobii-studio, eyelink, gaze-csv")
    add_gaze_options(p)
    p.add_argument("--bins", type=int, default=defaults.BINS, help="histogram bins on the wider side of the reference, 1..4096 (default %(default)s)")
    p.add_argument("--sigma", type=float, metavar="S", help=f"Gaussian blur in bins, 0..--bins (default {defaults.SIGMA_BINS:g}, Pupil Cloud's 1 %% of {defaults.BINS})")
    p.add_argument("--colormap", default=defaults.COLORMAP, metavar="NAME", help="OpenCV colormap name: turbo, jet, inferno, viridis, hot, ... (default %(default)s)")
    p.add_argument("--scale", default=defaults.SCALE, help="colour scale: max (Pupil Cloud's), pNN.N percentile, log or sqrt (default %(default)s)")
    p.add_argument("--alpha", type=float, help="opacity of the heat over the reference in overlay.png (0-1)")
    p.add_argument("--density", metavar="PATH.npy", help="also save the density grid (float32, reference size) as a NumPy file")
    p.add_argument("--normalize", choices=["none", "recording", "duration"], default="none",
                   help="none (default): recordings add up, as Pupil Cloud; recording: each recording weighs the same; "
                   "duration: each recording's weight divided by its length (Tobii's relative duration)")
    p.add_argument("--top", type=float, metavar="VALUE", help="the value at 100 %% of the colour bar, in its unit (seconds, samples, or the --normalize unit), "
                   "so maps drawn apart share one scale (default: the map's own maximum)")
    p.add_argument("--json", action="store_true", help="print one JSON object per recording (samples, fixations, skipped, off-reference, weight) and one for the images")
    add_db(p, help="also keep the sessions, and the reference image for `trackheat view`, in this store (default: none: the files are drawn from memory and nothing is stored)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from trackheat.outputs import gaze
    from trackheat.cli.import_ import options_from
    from trackheat.paths import resolve_db

    options = options_from(args)
    db = resolve_db(args.db) if args.db else None
    r = gaze.heatmap(args.files, args.reference, args.out, options=options, bins=args.bins, sigma=args.sigma, colormap=args.colormap,
                     scale=args.scale, alpha=args.alpha, db=db, density_path=args.density, normalize=args.normalize, top=args.top)
    for f, size in r.assumed:
        print(f"{f}: assuming a {size[0]}x{size[1]} display; give --reference-size WxH", file=sys.stderr)
    for note in r.notes:
        print(note, file=sys.stderr)
    for f, why in r.left_out:
        print(f"{f}: left out: {why}", file=sys.stderr)
    for (sid, f, s), weight in zip(r.sessions, r.weights):
        what = s.meta.get("points", "points")
        rec = s.meta.get("recording id")
        is_fix = s.kind == "gaze" and what != "gaze samples"
        if args.json:
            samples = s.meta.get("samples", None if is_fix else s.moves) if s.kind == "gaze" else None
            print_json({"session": sid, "file": f, "format": s.meta.get("format"), "kind": s.kind, "recording": rec, "points": what,
                        "samples": samples, "fixations": s.moves if is_fix else None, "clicks": len(s.clicks) if s.kind == "mouse" else None,
                        "count": s.moves, "seconds": round(float(s.dwell.sum()) if s.dwell is not None else 0.0, 3), "skipped": s.skipped,
                        "off_reference": s.dropped, "dropped": s.dropped, "weight": round(weight, 6)})
        else:
            # Pupil Cloud ids are UUIDs: their first 8 characters tell recordings apart; Tobii names stay whole.
            where = f" (recording {rec[:8] if len(rec) == 36 and rec.count('-') == 4 else rec})" if rec else ""
            sess = f"session {sid}: " if args.db else ""
            if s.kind == "mouse":
                print(f"{sess}{f}{where}: mouse, {s.moves} positions and {len(s.clicks)} clicks (not drawn on the gaze map)")
                continue
            found = f" (from {s.meta['samples']} samples)" if "samples" in s.meta else ""
            print(f"{sess}{f}{where}: {s.moves} {what}{found}, {s.skipped} skipped, {s.dropped} off the reference")
    if args.json:
        print_json({"heatmap": str(r.heatmap), "overlay": str(r.overlay), "weight": r.weight, "normalize": r.normalize, "top": r.top,
                    "peak": list(r.peak), "bins": list(r.bins), "sigma": r.sigma})
    else:
        print(f"wrote {r.heatmap} and {r.overlay} (weight: {r.weight}; peak at x={r.peak[0]}, y={r.peak[1]})")
    return 0
