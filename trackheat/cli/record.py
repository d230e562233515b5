"""`trackheat record`: log the mouse in the background until stopped; `--status` lists running recorders."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from trackheat.defaults import FLUSH_INTERVAL, IDLE_AFTER, PERIOD
from trackheat.cli.common import add_db, fmt_duration, fmt_time, print_json, summary_line
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
    p.add_argument("--flush-interval", type=float, default=FLUSH_INTERVAL, metavar="SECONDS",
                   help="write buffered events this often; a crash loses at most this much (default: %(default)g)")
    p.add_argument("--idle-after", type=float, default=IDLE_AFTER, metavar="SECONDS",
                   help="a pause longer than this is idle time, not dwell (default: %(default)g)")
    p.add_argument("--period", type=int, default=PERIOD, metavar="SECONDS",
                   help="store counts per period of this length, for --since/--until later (default: %(default)d)")
    p.add_argument("--screenshot", choices=["none", "start", "end", "both"], default="none",
                   help="store a screenshot of every monitor at the start and/or end (default: none)")
    p.add_argument("--ignore-app", action="append", default=[], metavar="NAME",
                   help="record nothing while application NAME has the focus (X11: the WM_CLASS class, e.g. KeePassXC; "
                        "repeatable); the summary says how many events were ignored")
    p.add_argument("--force-x11", action="store_true",
                   help="on Wayland, record through XWayland anyway: only the pointer over XWayland windows is heard")
    p.add_argument("--quiet", action="store_true", help="no start and status lines; only the summary and errors")
    p.add_argument("--status", action="store_true", help="list the recorders running on the store and exit (status 1 if none)")
    p.add_argument("--json", action="store_true", help="with --status: a JSON list")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    db = resolve_db(args.db)
    if args.status:
        return show_status(db, args.json)

    from trackheat.accumulate.recorder import Recorder, RecordOptions

    opts = RecordOptions(db=db, duration=args.duration, flush_interval=args.flush_interval, idle_after=args.idle_after,
                         period=args.period, screenshot=args.screenshot, ignore_apps=tuple(args.ignore_app),
                         force_x11=args.force_x11)
    return Recorder(opts, terminal_report(quiet=args.quiet)).run()


def terminal_report(quiet: bool = False):
    """The recorder's reporter for a terminal. Its module is imported here, not when the command
    line is built: every other command (export, stats, sessions...) starts without it."""
    from trackheat.accumulate.recorder import Progress, Reporter

    class TerminalReport(Reporter):
        """The recorder on a terminal: start and message lines on stderr, a status line that
        rewrites itself on a tty (one line every few seconds elsewhere), the summary on stdout."""

        def __init__(self, quiet: bool = False) -> None:
            self.quiet = quiet
            self.tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
            self.open = False  # a status line is on screen without its newline

        def _line(self, text: str) -> None:
            if sys.stderr is None:  # pythonw has no stderr
                return
            if self.open:
                sys.stderr.write("\n")
                self.open = False
            print(f"trackheat record: {text}", file=sys.stderr, flush=True)

        def started(self, session_id: int, db: Path, pid: int) -> None:
            if not self.quiet:
                self._line(f"recording session {session_id} into {db} (pid {pid}); stop with Ctrl-C or `trackheat stop --db {db}`")

        def message(self, text: str) -> None:
            self._line(text)

        def progress(self, p: Progress) -> None:
            if self.quiet or sys.stderr is None or not (p.changed or self.tty):
                return
            text = (f"{p.rate:.0f} events/s; {p.moves} moves, {p.clicks} clicks, {p.scrolls} scrolls written; "
                    f"{fmt_duration(p.elapsed)}")
            if self.tty:
                sys.stderr.write(f"\r\033[Ktrackheat record: {text}")
                sys.stderr.flush()
                self.open = True
            else:
                print(f"trackheat record: {text}", file=sys.stderr, flush=True)

        def finished(self, info) -> None:
            if self.open and sys.stderr is not None:
                sys.stderr.write("\n")
                self.open = False
            if sys.stdout is not None:
                print(summary_line(info), flush=True)

    return TerminalReport(quiet)


def show_status(db, as_json: bool) -> int:
    from trackheat.accumulate.recorder import status

    running, stale = status(db)
    counts = {}
    if running and db.exists():
        from trackheat.store import Store

        with Store(db, create=False, readonly=True) as store:  # kept totals only: no write, no positions read
            for r in running:
                try:
                    counts[r.pid] = store.infos([r.session])[0]
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
