"""The package layout is the pipeline: no module imports a later stage (or the CLI)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "trackheat"

# Stage of each top-level module or package; a module may import its own stage or earlier ones.
STAGES = {
    "errors": 0, "defaults": 0, "canvas": 0, "activity": 0, "paths": 0, "arrays": 0, "pool": 0, "imagesize": 0, "__init__": 0, "__main__": 6,
    "sources": 1, "importers": 1,
    "store": 2, "accumulate": 2,
    "render": 3,
    "outputs": 4, "viewer": 4,
    "cli": 5,
}
STAGE_NAMES = ["shared", "sources", "store/accumulate", "render", "outputs", "cli", "entry point"]


def stage_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "trackheat":
        return None
    if len(parts) == 1:
        return 0
    return STAGES.get(parts[1])


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "trackheat":  # from trackheat import render
                out += [(node.lineno, f"trackheat.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, node.module))
    return out


def test_every_module_has_a_stage():
    unknown = sorted({p.relative_to(ROOT).parts[0].removesuffix(".py") for p in ROOT.rglob("*.py")} - set(STAGES))
    assert not unknown, f"modules with no stage in tests/test_layout.py: {unknown}"


def test_no_module_imports_a_later_stage():
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = "trackheat." + ".".join(path.relative_to(ROOT).with_suffix("").parts)
        own = stage_of(rel)
        assert own is not None, rel
        for line, mod in imports(path):
            other = stage_of(mod)
            if other is not None and other > own and mod != "trackheat":
                bad.append(f"{path.relative_to(ROOT.parent)}:{line}: {STAGE_NAMES[own]} imports {mod} ({STAGE_NAMES[other]})")
    assert not bad, "\n".join(bad)


def test_help_loads_no_numpy_opencv_or_display_library():
    """`trackheat --help` and argument parsing stay light and work with no screen."""
    import subprocess
    import sys

    code = ("import sys; from trackheat.cli import build_parser; build_parser(); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'cv2', 'pynput', 'mss', 'Xlib'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_every_default_the_cli_shows_is_the_librarys():
    """Each option whose default the library owns (trackheat.defaults) has that value, and its help says it."""
    import argparse

    from trackheat import defaults
    from trackheat.cli import build_parser
    from trackheat.cli.errors import subparser

    owned = {
        ("export", "colormap"): defaults.COLORMAP, ("export", "alpha"): defaults.ALPHA,
        ("gaze", "colormap"): defaults.COLORMAP, ("gaze", "scale"): defaults.SCALE, ("gaze", "bins"): defaults.BINS,
        ("gaze", "confidence"): defaults.CONFIDENCE, ("import", "confidence"): defaults.CONFIDENCE,
        ("live", "decay"): defaults.LIVE_DECAY, ("live", "threshold"): defaults.LIVE_THRESHOLD, ("live", "blur"): defaults.LIVE_BLUR,
        ("live", "dilate"): defaults.LIVE_DILATE, ("live", "colormap"): defaults.LIVE_COLORMAP, ("live", "blend"): defaults.LIVE_BLEND,
        ("live", "fps"): defaults.MAX_FPS, ("record", "flush_interval"): defaults.FLUSH_INTERVAL,
        ("record", "idle_after"): defaults.IDLE_AFTER, ("record", "period"): defaults.PERIOD,
    }
    parser = build_parser()
    for (command, dest), value in owned.items():
        sub = subparser(parser, command)
        assert sub is not None, command
        [action] = [a for a in sub._actions if a.dest == dest]
        assert action.default == value, (command, dest, action.default, value)
        shown = argparse.HelpFormatter("x")._expand_help(action)
        assert f"{value:g}" in shown if isinstance(value, float) else str(value) in shown, (command, dest, shown)
    # defaults that depend on another option: None, and the help names each case
    for command, dest, values in [("export", "scale", list(defaults.KIND_SCALES.values())),
                                  ("live", "alpha", [f"{defaults.ALPHA:g}", f"{defaults.LIVE_ALPHA:g}"])]:
        sub = subparser(parser, command)
        assert sub is not None, command
        [action] = [a for a in sub._actions if a.dest == dest]
        shown = argparse.HelpFormatter("x")._expand_help(action)
        assert action.default is None and all(v in shown for v in values), (command, dest, shown)
