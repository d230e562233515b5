"""Errors a user can act on.

Anything raised as `UserError` reaches the terminal as one line and exit
status 2; everything else is a bug and keeps its traceback.

The library speaks its own vocabulary, never the command line's: an error
about one argument names it in `param` (the keyword of the library call,
e.g. "sigma"), and a message may refer to another argument as `name` in
backticks. The CLI turns both into its option names (trackheat.cli.errors),
so `export_session(sigma=...)` and `trackheat export --sigma` tell the same
story each in its own words.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or environment, told in one line."""

    exit_status = 2

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class BadInput(UserError):
    """A file that cannot be read as its format: says which file, which line, what."""

    def __init__(self, path: str | object, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class NoDisplay(UserError):
    """The command needs a screen (X11) and there is none it can use."""
