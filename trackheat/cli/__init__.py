"""The `trackheat` command: parses arguments, calls the library, prints one-line errors.

Each subcommand lives in its own module here with `register(subparsers)`,
listed in COMMANDS; none of them imports pynput, mss or a window toolkit at
import time, so `--help`, `import`, `sessions`, `stats`, `export`, `gaze` and
`aggregate` work with no screen.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from typing import Sequence

from trackheat import __version__
from trackheat.cli import aggregate, dump, errors, export, gaze, import_, live, record, sessions, stats, stop, view
from trackheat.errors import UserError

# Order is the order `trackheat --help` lists them in.
COMMANDS = (record, stop, live, import_, sessions, stats, export, dump, gaze, view, aggregate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trackheat",
        description="Mouse and gaze activity heatmaps: record the pointer, watch motion live, export heatmaps.",
    )
    parser.add_argument("--version", action="version", version=f"trackheat {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in COMMANDS:
        command.register(sub)
    return parser


def _unknown_options(parser: argparse.ArgumentParser, command: str | None, extras: list[str]) -> None:
    """A mistyped option: the subcommand's usage and the closest option it has, exit 2 (argparse
    alone would print the top-level usage, which does not list the subcommand's options)."""
    import difflib

    sub = errors.subparser(parser, command) or parser
    known = [o for a in sub._actions for o in a.option_strings]
    first = next((e for e in extras if e.startswith("-")), extras[0])
    close = difflib.get_close_matches(first.split("=", 1)[0], known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else f"; see `trackheat {command} --help`" if command else ""
    sub.print_usage(sys.stderr)
    print(f"{sub.prog}: error: unrecognized arguments: {' '.join(extras)}{hint}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        _unknown_options(parser, getattr(args, "command", None), extras)
    try:
        return int(args.run(args) or 0)
    except UserError as e:
        print(f"trackheat {args.command}: {errors.message(e, errors.subparser(parser, args.command))}", file=sys.stderr)
        return e.exit_status
    except BrokenPipeError:  # `trackheat sessions | head`
        return 0
    except sqlite3.Error as e:  # a store failure after opening (disk full, locked, read-only): its cause, one line
        from trackheat.paths import resolve_db
        from trackheat.store import describe_error

        print(f"trackheat {args.command}: {describe_error(e, resolve_db(getattr(args, 'db', None)))}", file=sys.stderr)
        return 2
    except OSError as e:
        # A file we were told to write or read (an -o folder, a --density path) is not usable.
        where = f"{e.filename}: " if e.filename else ""
        print(f"trackheat {args.command}: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
