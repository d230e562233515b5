"""`trackheat view`: browse the store in a local web page (127.0.0.1 only, behind a token)."""

from __future__ import annotations

import argparse

from trackheat.cli.common import add_db
from trackheat.paths import resolve_db


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "view",
        help="explore the store in a local web page: sessions, heatmaps, time ranges, live while recording",
        description="Serve a local web page on 127.0.0.1 (a free port unless --port) that shows the store's sessions and "
        "their heatmaps, drawn by the same code as `trackheat export`. The printed URL carries a secret token; "
        "the store is only read. Needs the web extra: pip install 'trackheat[view]'. Ctrl-C stops it.",
    )
    add_db(p)
    p.add_argument("--port", type=int, default=0, metavar="N", help="listen on this port (default: any free port)")
    p.add_argument("--no-browser", action="store_true", help="only print the URL; do not open a browser")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from trackheat.viewer.server import serve

    return serve(resolve_db(args.db), port=args.port, open_browser=not args.no_browser)
