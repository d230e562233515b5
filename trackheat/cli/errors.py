"""Library errors in the command line's words.

The library names the argument an error is about by its keyword
(`UserError.param`, and `name` in backticks inside the message); here each
becomes the option of the running subcommand that sets it, found in that
subcommand's own parser, so the words always match `--help`.
"""

from __future__ import annotations

import argparse
import re

from trackheat.errors import UserError

_REF = re.compile(r"`([a-z][a-z0-9_]*)`")


def option_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """dest -> the option a user types (`--sigma`), or the positional's metavar."""
    out: dict[str, str] = {}
    for action in parser._actions:
        if action.option_strings:
            out.setdefault(action.dest, max(action.option_strings, key=len))
        elif action.dest not in ("help",):
            out.setdefault(action.dest, str(action.metavar or action.dest).upper())
    return out


def subparser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return None


def message(e: UserError, parser: argparse.ArgumentParser | None) -> str:
    """The one line shown for `e`: its argument as an option first, references to others as options."""
    names = option_names(parser) if parser is not None else {}
    text = _REF.sub(lambda m: names.get(m.group(1), m.group(1).replace("_", "-")), str(e))
    if e.param:
        text = f"{names.get(e.param, '--' + e.param.replace('_', '-'))}: {text}"
    return text
