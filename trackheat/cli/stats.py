"""`trackheat stats`: totals, clicks per button, distance, active time, hot spots."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from trackheat.cli.common import add_db, add_session, fmt_duration, open_store, print_json

if TYPE_CHECKING:
    from trackheat.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="summarize one session or all")
    add_db(p)
    add_session(p)
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(run=run)


def summarize(store: Store, ids: list[int]) -> dict:
    infos = store.infos(ids)
    distances = [s.distance for s in infos]
    positions = store.positions(ids)
    out = {
        "sessions": ids,
        "moves": sum(s.moves for s in infos),
        "positions": store.distinct_positions(ids, positions),
        "clicks": sum(s.clicks for s in infos),
        "clicks_by_button": store.clicks_by_button(ids),
        "scrolls": sum(s.scrolls for s in infos),
        "active_seconds": round(sum(s.active_seconds for s in infos), 3),
        "idle_seconds": round(sum(s.idle_seconds for s in infos), 3),
        "hotspots": store.hotspots(ids, 5, positions),
    }
    if all(d is not None for d in distances):
        out["distance_px"] = round(sum(d for d in distances if d is not None), 1)
    return out


def run(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        ids = store.resolve(args.session)
        s = summarize(store, ids)
    if args.json:
        print_json(s)
        return 0
    which = f"session {ids[0]}" if len(ids) == 1 else f"{len(ids)} sessions"
    print(f"{which}: {s['moves']} moves over {s['positions']} distinct positions")
    buttons = ", ".join(f"{b} {n}" for b, n in s["clicks_by_button"].items()) or "none"
    print(f"clicks: {s['clicks']} ({buttons}); scrolls: {s['scrolls']}")
    if "distance_px" in s:
        print(f"distance travelled: {s['distance_px']:.0f} px")
    print(f"active time: {fmt_duration(s['active_seconds'])} (idle {fmt_duration(s['idle_seconds'])})")
    spots = "  ".join(f"({x},{y}) x{c}" for x, y, c in s["hotspots"]) or "none"
    print(f"hot spots: {spots}")
    return 0
