"""`trackheat stop`: end the recorders running on a store cleanly (they flush, then exit)."""

from __future__ import annotations

import argparse
import sys

from trackheat.cli.common import add_db, summary_line
from trackheat.errors import UserError
from trackheat.paths import resolve_db


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stop", help="stop the recorders running on the store (they write everything first)",
                       description="Ask the recorders running on the store to stop (SIGTERM): each writes what it holds, "
                                   "closes its session and exits; stop waits for them and prints each session's summary.")
    add_db(p)
    p.add_argument("--pid", type=int, help="stop only this recorder (see `trackheat record --status`)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="how long to wait for each to exit (default: 30)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from trackheat.accumulate import pidfile

    db = resolve_db(args.db)
    running, _stale = pidfile.recorders(db)
    if args.pid is not None:
        running = [r for r in running if r.pid == args.pid]
        if not running:
            raise UserError(f"no recorder with pid {args.pid} is running on {db} (see `trackheat record --status --db {db}`)")
    if not running:
        print(f"trackheat stop: no recorder running on {db}", file=sys.stderr)
        return 1
    for r in running:
        pidfile.request_stop(r)
    stuck = [r for r in running if not pidfile.wait_gone(r, args.timeout)]
    from trackheat.store import Store

    with Store(db, create=False, readonly=True) as store:  # it only reads the summaries
        for r in running:
            if r in stuck:
                continue
            try:
                print(f"stopped pid {r.pid}: {summary_line(store.session(r.session))}")
            except UserError:
                print(f"stopped pid {r.pid}")
    if stuck:
        raise UserError(f"recorder(s) {', '.join(str(r.pid) for r in stuck)} still running after {args.timeout:g} s")
    return 0
