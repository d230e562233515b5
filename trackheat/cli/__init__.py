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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
