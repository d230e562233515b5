"""`trackheat sessions`: one line per session; `sessions delete|rename|merge` manage them."""

from __future__ import annotations

import argparse
import sys

from trackheat.cli.common import add_db, fmt_duration, fmt_time, open_store, print_json
from trackheat.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sessions", help="list the sessions in the store (or delete, rename, merge them)",
                       description="List the sessions in the store; `sessions delete|rename|merge` manage them.")
    add_db(p)
    p.add_argument("--json", action="store_true", help="a JSON list")
    p.set_defaults(run=run)
    acts = p.add_subparsers(dest="action", metavar="ACTION")
    d = acts.add_parser("delete", help="delete sessions and everything they hold (one transaction)")
    d.add_argument("ids", nargs="+", type=int, metavar="N")
    d.add_argument("--yes", action="store_true", help="do not ask for confirmation on a terminal")
    r = acts.add_parser("rename", help="give a session a name, shown wherever the session is (an empty NAME removes it)")
    r.add_argument("id", type=int, metavar="N")
    r.add_argument("name", metavar="NAME")
    m = acts.add_parser("merge", help="merge sessions M... into session N (counts, clicks, scrolls, applications, layouts combined)")
    m.add_argument("ids", nargs="+", type=int, metavar="N")
    m.add_argument("--name", metavar="NAME", help="name of the merged session")
    for a in (d, r, m):
        # SUPPRESS: `trackheat sessions --db X delete 3` keeps the --db given before the action.
        a.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help="store file (default: $TRACKHEAT_DB or the user data directory)")


def _not_recording(args: argparse.Namespace, ids: list[int]) -> None:
    """A session a recorder is still writing cannot be deleted or merged away."""
    from trackheat.accumulate.pidfile import recorders
    from trackheat.paths import resolve_db

    running, _ = recorders(resolve_db(getattr(args, "db", None)))
    busy = sorted({r.session for r in running} & set(ids))
    if busy:
        raise UserError(f"session {busy[0]} is being recorded right now (stop it first: `trackheat stop`)")


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "action", None)
    if action == "delete":
        return delete(args)
    if action == "rename":
        with open_store(args, write=True) as store:
            store.rename_session(args.id, args.name)
            print(f"{store.infos([args.id])[0].label}" if args.name.strip() else f"session {args.id}: name removed")
        return 0
    if action == "merge":
        if len(set(args.ids)) < 2:
            raise UserError("give at least two different sessions to merge", param="ids")
        _not_recording(args, args.ids)
        with open_store(args, write=True) as store:
            store.infos(args.ids)
            store.merge_sessions(args.ids[0], args.ids[1:], name=args.name)
            info = store.infos([args.ids[0]])[0]
        print(f"merged {', '.join(map(str, args.ids[1:]))} into {info.label}: {info.moves} moves, {info.clicks} clicks, {info.scrolls} scrolls")
        return 0
    with open_store(args) as store:
        rows = store.sessions()
    if args.json:
        print_json([
            {"id": s.id, "name": s.name, "source": s.source, "kind": s.kind, "start": s.started, "end": s.ended, "duration": s.duration,
             "moves": s.moves, "clicks": s.clicks, "scrolls": s.scrolls, "canvas": [s.canvas.width, s.canvas.height]}
            for s in rows
        ])
        return 0
    print(f"{'id':>4}  {'start':19}  {'duration':>8}  {'count':>9} {'of':<13} {'clicks':>6}  source")
    for s in rows:
        name = f"  \"{s.name}\"" if s.name else ""
        # the same words as import and gaze: gaze sessions count samples or fixations, not moves
        what = (s.meta or {}).get("points", "gaze samples") if s.kind == "gaze" else "moves"
        print(f"{s.id:>4}  {fmt_time(s.started):19}  {fmt_duration(s.duration):>8}  {s.moves:>9} {what:<13} {s.clicks:>6}  {s.source}{name}")
    return 0


def delete(args: argparse.Namespace) -> int:
    ids = list(dict.fromkeys(args.ids))
    _not_recording(args, ids)
    with open_store(args, write=True) as store:
        infos = store.infos(ids)  # every id must exist before anything is deleted
        if not args.yes and sys.stdin is not None and sys.stdin.isatty():
            for s in infos:
                print(f"  {s.label}: {s.source}, {fmt_time(s.started)}, {s.moves} moves, {s.clicks} clicks", file=sys.stderr)
            answer = input(f"delete {'this session' if len(ids) == 1 else f'these {len(ids)} sessions'}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing deleted", file=sys.stderr)
                return 1
        store.delete_sessions(ids)
    print(f"deleted {'session' if len(ids) == 1 else 'sessions'} {', '.join(map(str, ids))}")
    return 0
