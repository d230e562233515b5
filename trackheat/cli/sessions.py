"""`trackheat sessions`: one line per session."""

from __future__ import annotations

import argparse

from trackheat.cli.common import add_db, fmt_duration, fmt_time, open_store, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sessions", help="list the sessions in the store")
    add_db(p)
    p.add_argument("--json", action="store_true", help="a JSON list")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        rows = store.sessions()
    if args.json:
        print_json([
            {"id": s.id, "source": s.source, "kind": s.kind, "start": s.started, "end": s.ended, "duration": s.duration,
             "moves": s.moves, "clicks": s.clicks, "scrolls": s.scrolls, "canvas": [s.canvas.width, s.canvas.height]}
            for s in rows
        ])
        return 0
    print(f"{'id':>4}  {'start':19}  {'duration':>8}  {'moves':>9}  {'clicks':>6}  source")
    for s in rows:
        print(f"{s.id:>4}  {fmt_time(s.started):19}  {fmt_duration(s.duration):>8}  {s.moves:>9}  {s.clicks:>6}  {s.source}")
    return 0
