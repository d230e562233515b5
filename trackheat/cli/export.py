"""`trackheat export`: a session's heatmap.png and overlay.png, with no display needed."""

from __future__ import annotations

import argparse

from trackheat.cli.common import add_app, add_db, add_session, open_store, parse_time
from trackheat import defaults


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write a session's heatmap (heatmap.png, overlay.png)",
        description="Write OUT_DIR/heatmap.png (RGBA: the heat alone, transparent where nothing happened) and "
        "OUT_DIR/overlay.png (the heat over a background, with a title and a 0-100 % colour bar).",
    )
    add_db(p)
    add_session(p)
    p.add_argument("--since", metavar="T", help="only activity from T on: 2026-11-21, 2026-11-21T14:00, or an age such as 2h, 7d (at most 36500d; moves and dwell to whole --period buckets, clicks exactly)")
    p.add_argument("--until", metavar="T", help="only activity before T (same forms as --since)")
    add_app(p, "only what happened in application NAME (repeatable; `trackheat stats` lists them)")
    p.add_argument("--kind", choices=["moves", "clicks", "dwell", "scrolls"], default="moves",
                   help="what to draw: pointer moves (default), clicks (sharper blobs), dwell seconds, or scroll steps (sharp, like clicks)")
    bg = p.add_mutually_exclusive_group()
    bg.add_argument("--background", metavar="FILE", help="image to draw over, scaled to the canvas (default: the session's stored screenshot if it has one, "
                    "else a dark canvas with monitor outlines)")
    bg.add_argument("--screenshot", action="store_true", help="draw over a screenshot taken now (needs an X11 display)")
    bg.add_argument("--stored-screenshot", action="store_true", help="draw over the screenshot stored with the session (the default when it has one; an error when not)")
    p.add_argument("--monitor", default="all", metavar="N|all", help="crop to monitor N (1 = first, as mss numbers them) or draw the whole desktop: all or 0 (default: %(default)s)")
    p.add_argument("--sigma", metavar="S", help="blob size: pixels (20) or a share of the diagonal (1.5%%), at most the diagonal; default 1%% of the diagonal, half that for clicks")
    p.add_argument("--colormap", default=defaults.COLORMAP, metavar="NAME", help="any OpenCV colormap by name: turbo, jet, inferno, hot, viridis, magma, ... (default: %(default)s)")
    p.add_argument("--scale", default=None, metavar="max|pNN|log|sqrt",
                   help="max (linear to the top), pNN such as p99.5 (clip at that percentile of the active pixels: "
                        "the bar marks it), log or sqrt (long-tailed data); default per kind: "
                        + ", ".join(f"{k} {v}" for k, v in defaults.KIND_SCALES.items()))
    p.add_argument("--alpha", type=float, default=defaults.ALPHA, metavar="A", help="opacity of the heat over the background, 0..1 (default %(default)s)")
    p.add_argument("--size", metavar="WxH", help="output size, e.g. 1280x720, or a width alone (default: canvas size)")
    p.add_argument("--density", metavar="FILE.npy", help="also save the float32 density grid (numpy .npy, rows = y)")
    p.add_argument("-o", "--out", required=True, metavar="OUT_DIR", help="directory for heatmap.png and overlay.png")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from trackheat.outputs.export import export_session
    from trackheat.outputs.images import fmt_px

    since = parse_time(args.since, "--since")
    until = parse_time(args.until, "--until")
    with open_store(args) as store:
        r = export_session(
            store, args.out, session=args.session, since=since, until=until, kind=args.kind,
            background=args.background, screenshot=args.screenshot, stored_screenshot_=args.stored_screenshot,
            monitor=args.monitor, sigma=args.sigma, colormap=args.colormap, scale=args.scale, alpha=args.alpha,
            size=args.size, density_path=args.density, apps=args.app,
        )
    extra = f" and {r.density}" if r.density else ""
    if r.range_text:
        print(f"range: {r.range_text}")
    print(f"wrote {r.heatmap} and {r.overlay}{extra}: {r.width}x{r.height}, {r.amount} at {r.points:,} positions, sigma {fmt_px(r.sigma)} px")
    for note in r.notes:
        print(note)
    return 0
