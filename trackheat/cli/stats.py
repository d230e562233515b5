"""`trackheat stats`: totals, clicks per button, distance, active time, hot spots."""

from __future__ import annotations

import argparse

from trackheat.cli.common import add_app, add_db, add_session, fmt_duration, open_store, parse_time, print_json
from trackheat.outputs.summary import summarize


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="summarize one session or all",
                       description="Totals for the sessions chosen: moves and distinct positions, clicks per button, scrolls, "
                                   "distance travelled, active and idle time, and the hot spots (the busiest places, each a blob apart).")
    add_db(p)
    add_session(p)
    p.add_argument("--since", metavar="T", help="only activity from T on: 2026-11-21T14:00 or an age such as 2h (positions to whole stored periods; the output says which range)")
    p.add_argument("--until", metavar="T", help="only activity before T (same forms as --since)")
    add_app(p, "only what happened in application NAME (repeatable; as export's --app; idle time and distance are per session, so they are left out)")
    p.add_argument("--json", action="store_true", help="one JSON object (per-application totals under `apps`)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        ids = store.resolve(args.session)
        s = summarize(store, ids, parse_time(args.since, "--since"), parse_time(args.until, "--until"), args.app)
        label = store.infos(ids)[0].label if len(ids) == 1 else f"{len(ids)} sessions"
    if args.json:
        print_json(s)
        return 0
    print(f"{label}: {s['moves']} moves over {s['positions']} distinct positions")
    if "only_apps" in s:
        print(f"applications: {', '.join('(no application)' if a is None else a for a in s['only_apps'])}")
    if "range" in s:
        print(f"range: {s['range']['text']}")
    buttons = ", ".join(f"{b} {n}" for b, n in s["clicks_by_button"].items()) or "none"
    print(f"clicks: {s['clicks']} ({buttons}); scrolls: {s['scrolls']}")
    if "distance_px" in s:
        print(f"distance travelled: {s['distance_px']:.0f} px")
    idle = f" (idle {fmt_duration(s['idle_seconds'])})" if "idle_seconds" in s else ""
    print(f"active time: {fmt_duration(s['active_seconds'])}{idle}")
    spots = "  ".join(f"({x},{y}) x{c}" for x, y, c in s["hotspots"]) or "none"
    print(f"hot spots (moves within a blob of each): {spots}")
    for a in s["apps"]:
        name = a["app"] if a["app"] is not None else "(no application)"
        print(f"  {name}: {a['moves']} moves, {a['clicks']} clicks, {a['scrolls']} scrolls, active {fmt_duration(a['active_seconds'])}")
    return 0
