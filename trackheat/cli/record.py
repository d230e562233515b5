"""`trackheat record`: log the mouse in the background until stopped; `--status` lists running recorders."""

from __future__ import annotations

import argparse
import time

from trackheat.cli.common import add_db, fmt_duration, fmt_time, print_json
from trackheat.paths import resolve_db


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "record",
        help="record the mouse pointer (moves, clicks, scrolls) into the store until stopped",
        description="Record pointer moves, clicks and scrolls into the store until Ctrl-C, SIGTERM, "
                    "--duration or `trackheat stop`. Keystrokes are never recorded.",
    )
    add_db(p)
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop by itself after this many seconds")
    p.add_argument("--flush-interval", type=float, default=1.0, metavar="SECONDS",
                   help="write buffered events this often; a crash loses at most this much (default: 1)")
    p.add_argument("--idle-after", type=float, default=30.0, metavar="SECONDS",
                   help="a pause longer than this is idle time, not dwell (default: 30)")
    p.add_argument("--period", type=int, default=3600, metavar="SECONDS",
                   help="store counts per period of this length, for --since/--until later (default: 3600)")
    p.add_argument("--screenshot", choices=["none", "start", "end", "both"], default="none",
                   help="store a screenshot of every monitor at the start and/or end (default: none)")
    p.add_argument("--quiet", action="store_true", help="no start and status lines; only the summary and errors")
    p.add_argument("--status", action="store_true", help="list the recorders running on the store and exit (status 1 if none)")
    p.add_argument("--json", action="store_true", help="with --status: a JSON list")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    db = resolve_db(args.db)
    if args.status:
        return show_status(db, args.json)
    from trackheat.recorder import Recorder, RecordOptions

    opts = RecordOptions(db=db, duration=args.duration, flush_interval=args.flush_interval, idle_after=args.idle_after,
                         period=args.period, screenshot=args.screenshot, quiet=args.quiet)
    return Recorder(opts).run()


def show_status(db, as_json: bool) -> int:
    from trackheat.recorder import status

    running, stale = status(db)
    counts = {}
    if running and db.exists():
        from trackheat.store import Store

        with Store(db, create=False) as store:
            for r in running:
                try:
                    counts[r.pid] = store.session(r.session)
                except Exception:
                    pass
    if as_json:
        print_json([
            {"pid": r.pid, "session": r.session, "db": r.db, "started": r.started, "host": r.host,
             "moves": getattr(counts.get(r.pid), "moves", None), "clicks": getattr(counts.get(r.pid), "clicks", None)}
            for r in running
        ])
    else:
        for s in stale:
            print(f"pid {s.pid} (session {s.session}) is gone without stopping cleanly; removed its pid file")
        if not running:
            print(f"no recorder running on {db}")
        for r in running:
            info = counts.get(r.pid)
            totals = f", {info.moves} moves, {info.clicks} clicks written" if info else ""
            print(f"recording: pid {r.pid}, session {r.session}, since {fmt_time(r.started)} "
                  f"({fmt_duration(time.time() - r.started)}){totals}, into {r.db}")
    return 0 if running else 1
