"""The package layout is the pipeline: no module imports a later stage (or the CLI)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "trackheat"

# Stage of each top-level module or package; a module may import its own stage or earlier ones.
STAGES = {
    "errors": 0, "canvas": 0, "activity": 0, "paths": 0, "arrays": 0, "__init__": 0, "__main__": 6,
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
