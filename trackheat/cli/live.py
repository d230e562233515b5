"""`trackheat live`: a decaying motion heatmap over the screen or a camera/video, in a window or headless."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trackheat import defaults
from trackheat.errors import UserError


def _unit(flag: str, lo: float, hi: float):
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"must be between {lo:g} and {hi:g}, got {text}")
        return v

    return parse


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return v


def _monitor(text: str) -> int:
    """`N`, or `all` (= 0, the union of every monitor, as mss numbers them; 0 is accepted too)."""
    if text.strip().lower() == "all":
        return 0
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a monitor number or all, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a monitor number (1 = first) or all, got {text}")
    return v


def _shader_note() -> str:
    """Which full-size pass this install uses: the C loop (built at install) or OpenCV calls."""
    import importlib.machinery

    here = Path(__file__).resolve().parent.parent / "render"  # not imported: --help loads no numpy or OpenCV
    built = any((here / f"_shade{sfx}").exists() for sfx in importlib.machinery.EXTENSION_SUFFIXES)
    if not built:
        return "This install draws with OpenCV calls (the C loop trackheat.render._shade was not built: no C compiler at install)."
    return "This install draws with the C loop (trackheat.render._shade)."


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "live",
        help="live motion heatmap of the screen or a camera/video, in a window or written to a file",
        description=(
            "Where is the activity now, and where was it a moment ago: frames from the screen or a camera/video go "
            "through a decaying motion accumulator, blended over the picture (still areas stay as they are, as in "
            "export's overlay; --blend full tints the whole frame like the OpenCV tutorial). Keys in the window: "
            "q/Esc quit, r reset, space pause, +/- decay, c next colormap, m cursor layer on/off, s save a PNG snapshot. "
            "With --screen the window opens beside the captured area when the desktop has room (else small, in a corner). "
            "live keeps nothing: it has no store and no --db. " + _shader_note()
        ),
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--screen", action="store_true", help="capture the screen (X11 or Windows/macOS; not Wayland)")
    src.add_argument("--webcam", nargs="?", const="0", metavar="INDEX|FILE|URL", help="a camera index (default 0), a video file or a stream URL")
    p.add_argument("--monitor", type=_monitor, default=1, metavar="N|all", help="--screen: monitor number, 1 = first; all (or 0) = every monitor (default 1)")
    p.add_argument("--region", metavar="X,Y,W,H", help="--screen: capture this desktop rectangle instead of a monitor")
    p.add_argument("--fps", type=_unit("--fps", 1, 240), default=defaults.MAX_FPS, help="--screen: at most this many grabs per second (default %(default)g)")
    p.add_argument("--fast", action="store_true", help="--webcam FILE: every frame, as fast as possible, instead of at the file's frame rate (always so with --no-window)")
    p.add_argument("--decay", type=_unit("--decay", 0.0, 1.0), default=defaults.LIVE_DECAY, help="heat kept per frame (default %(default)s)")
    p.add_argument("--threshold", type=int, default=defaults.LIVE_THRESHOLD, help="gray-level change that counts as motion (default %(default)s)")
    p.add_argument("--blur", type=int, default=defaults.LIVE_BLUR, help="Gaussian blur kernel before differencing, px (default %(default)s)")
    p.add_argument("--dilate", type=int, default=defaults.LIVE_DILATE, help="dilation iterations of the motion mask (default %(default)s)")
    p.add_argument("--process-scale", type=_unit("--process-scale", 0.01, 1.0), default=None, metavar="S",
                   help="find motion on a frame scaled by S (default: 1 up to 1280x720, 1/2 for 1080p, 1/4 for 4K)")
    p.add_argument("--colormap", default=defaults.LIVE_COLORMAP, help="OpenCV colormap name (default %(default)s)")
    p.add_argument("--blend", choices=defaults.LIVE_BLENDS, default=defaults.LIVE_BLEND,
                   help="level: cold areas untouched, heat blended by its level (export's look); "
                        "full: the whole colormap over the frame (the tutorial's look) (default %(default)s)")
    p.add_argument("--alpha", type=_unit("--alpha", 0.0, 1.0), default=None,
                   help=f"heat weight in the blend (default {defaults.ALPHA:g} with --blend level, {defaults.LIVE_ALPHA:g} with full)")
    p.add_argument("--no-cursor", action="store_true", help="--screen: no cursor layer")
    p.add_argument("--no-window", action="store_true", help="no window (servers): needs --out and/or --snapshot")
    p.add_argument("--out", type=Path, metavar="FILE.mp4|.avi", help="write the overlay video")
    p.add_argument("--max-frames", type=_positive_int, metavar="N", help="stop after N frames")
    p.add_argument("--snapshot", type=Path, metavar="FILE.png",
                   help="write an overlay PNG at the end: for a video file the frame with the most heat, "
                        "else the last one (the s key saves numbered ones beside it)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from trackheat import render
    from trackheat.outputs.live import run_live
    from trackheat.render.motion import MotionHeatmap
    from trackheat.sources.frames import open_source

    if args.no_window and args.out is None and args.snapshot is None:
        raise UserError("--no-window needs --out FILE.mp4|.avi and/or --snapshot FILE.png (there would be nothing to see)")
    if not args.screen and (args.region or args.monitor != 1):
        raise UserError("--monitor and --region go with --screen")
    if args.snapshot is not None:
        if args.snapshot.suffix.lower() != ".png":
            raise UserError(f"--snapshot {args.snapshot}: expected a .png file")
        if not args.snapshot.parent.exists():
            raise UserError(f"--snapshot {args.snapshot}: directory {args.snapshot.parent} does not exist")
    render.colormap_id(args.colormap)  # an unknown name fails before any window opens
    # The display checks are the library's: ScreenSource for capture, Window for the window.
    hm = MotionHeatmap(args.decay, args.threshold, args.blur, args.dilate, args.process_scale, colormap=args.colormap,
                       alpha=args.alpha, blend=args.blend)
    # Pacing a file only matters to someone watching: headless, every frame is taken.
    fast = args.fast or args.no_window
    source = open_source(screen=args.screen, webcam=args.webcam, monitor=args.monitor, region=args.region, fast=fast, max_fps=args.fps)
    res = run_live(
        source, hm, window=not args.no_window, out=args.out, max_frames=args.max_frames, snapshot=args.snapshot,
        cursor=args.screen and not args.no_cursor,
    )
    parts = [f"{res.frames} frames in {res.seconds:.1f} s ({res.fps:.1f} fps)"]
    if args.out is not None:
        parts.append(f"wrote {args.out} ({res.written} frames)")
    if args.snapshot is not None and args.snapshot in res.snapshots:
        parts.append(f"wrote {args.snapshot} ({res.snapshot_note})" if res.snapshot_note else f"wrote {args.snapshot}")
    print("; ".join(parts), file=sys.stderr)
    return 0
