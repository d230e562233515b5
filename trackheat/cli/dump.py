"""`trackheat dump`: the stored counts (positions, clicks, scrolls) as CSV, JSON or Parquet."""

from __future__ import annotations

import argparse

from trackheat.cli.common import add_app, add_db, add_session, open_store, parse_time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dump",
        help="write the counts a heatmap is drawn from as CSV, JSON or Parquet",
        description="Write positions (session, period_start, app, x, y, count, dwell) to FILE, and clicks "
                    "(session, t, app, x, y, button) and scrolls (session, t, app, x, y, dx, dy) beside it "
                    "(FILE.clicks.csv, ...; JSON: one object with the three tables). Parquet needs pyarrow: "
                    "pip install 'trackheat[parquet]'.",
    )
    add_db(p)
    add_session(p)
    p.add_argument("--since", metavar="T", help="only activity from T on (positions: whole stored periods overlapping the range)")
    p.add_argument("--until", metavar="T", help="only activity before T")
    add_app(p, "only application NAME (repeatable)")
    p.add_argument("--format", default="csv", choices=["csv", "json", "parquet"], help="csv (default), json or parquet")
    p.add_argument("-o", "--out", required=True, metavar="FILE", help="file for the positions (clicks and scrolls go beside it)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from trackheat.outputs.dump import dump

    since = parse_time(args.since, "--since")
    until = parse_time(args.until, "--until")
    with open_store(args) as store:
        r = dump(store, args.out, args.format, session=args.session, since=since, until=until, apps=args.app)
    print(f"wrote {', '.join(map(str, r.files))}: {r.positions:,} position rows ({r.moves:,} moves), {r.clicks:,} clicks, {r.scrolls:,} scrolls")
    return 0
