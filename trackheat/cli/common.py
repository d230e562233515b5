"""Options and output helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys

from trackheat import defaults
from trackheat.errors import UserError
from trackheat.paths import resolve_db


def add_db(p: argparse.ArgumentParser, help: str | None = None) -> None:
    p.add_argument("--db", metavar="PATH", help=help or "store file (default: $TRACKHEAT_DB or the user data directory)")


def app_name(text: str) -> str | None:
    """An --app value: NAME, or (none) for events with no application (None to the library)."""
    return None if text == defaults.NO_APP_NAME else text


def add_app(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--app", action="append", type=app_name, metavar="NAME",
                   help=f"{help}; {defaults.NO_APP_NAME} for events with no application".replace("%", "%%"))


def add_session(p: argparse.ArgumentParser, default: str = "last") -> None:
    p.add_argument("--session", default=default, metavar="N|N,M|N-M|all|last", help=f"which session(s): one, a list, a range, all or the last (default: {default})")


def open_store(args: argparse.Namespace, *, create: bool = False, write: bool = False):
    """The store for a command: read-only (never written, never upgraded; an older schema is
    read as it is) unless the command creates or writes (import, sessions delete/rename/merge)."""
    from trackheat.store import Store

    return Store(resolve_db(getattr(args, "db", None)), create=create, readonly=not (create or write))


def print_json(obj) -> None:
    json.dump(obj, sys.stdout, separators=(", ", ": "))
    sys.stdout.write("\n")


def fmt_time(t: float | None) -> str:
    if t is None:
        return "-"
    return _dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "running"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


MAX_AGE = 100 * 365 * 86400.0  # seconds: the oldest --since/--until an age may name


def parse_time(text: str | None, flag: str) -> float | None:
    """--since/--until: ISO date or datetime, or a relative age such as 2h, 30m, 7d."""
    if text is None:
        return None
    t = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    if t and t[-1] in units and t[:-1].replace(".", "", 1).isdigit():
        import time

        age = float(t[:-1]) * units[t[-1]]
        if not age <= MAX_AGE:  # 9999999d was a year -25353 traceback
            raise UserError(f"{flag}: expected an age of at most 100 years (36500d); got {text!r}")
        return time.time() - age
    try:
        return _dt.datetime.fromisoformat(t).timestamp()
    except (ValueError, OverflowError, OSError):
        raise UserError(f"{flag}: expected a date such as 2026-11-21 or 2026-11-21T14:00, or an age such as 2h or 7d; got {text!r}") from None


def summary_line(info) -> str:
    """One line for the end of a recording (and for `trackheat stop`)."""
    dist = f", {info.distance:.0f} px travelled" if info.distance else ""
    ignored = ""
    if info.meta.get("ignored_apps"):
        ignored = f"; {info.meta.get('ignored_events', 0)} events ignored in {', '.join(info.meta['ignored_apps'])}"
    return (f"{info.label}: {info.moves} moves over {info.positions} distinct positions, {info.clicks} clicks, "
            f"{info.scrolls} scrolls in {fmt_duration(info.duration or 0.0)} "
            f"(active {fmt_duration(info.active_seconds)}, idle {fmt_duration(info.idle_seconds)}{dist}){ignored}")
