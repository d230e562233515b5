"""Where trackheat keeps its files by default.

The store lives in the user's data directory so a recorder started at login
and an export run later from any folder find the same file.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "trackheat"


def data_dir() -> Path:
    """The per-user data directory (e.g. ~/.local/share/trackheat on Linux)."""
    try:
        from platformdirs import user_data_dir

        return Path(user_data_dir(APP, appauthor=False))
    except ImportError:  # platformdirs is optional
        base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
        return Path(base) / APP


def default_db() -> Path:
    """TRACKHEAT_DB if set, else trackheat.db in the data directory."""
    env = os.environ.get("TRACKHEAT_DB")
    if env:
        return Path(env).expanduser()
    return data_dir() / "trackheat.db"


def resolve_db(arg: str | None) -> Path:
    """--db beats TRACKHEAT_DB beats the default."""
    return Path(arg).expanduser() if arg else default_db()
