"""`trackheat export` (not built yet)."""

from __future__ import annotations

import argparse

from trackheat.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="(not built yet)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    raise UserError("not built yet")
