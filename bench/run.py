"""`make bench`: run every bench/<name>.py in turn and collect their tables.

Each script prints a Markdown table comparing against a baseline measured in
the same run. Tables are also written to bench/results/<name>.md so README's
figures can be refreshed from one run. A script that fails is reported and the
run goes on; the exit status says whether all of them succeeded.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = [HERE / f"{n}.py" for n in names] if names else sorted(p for p in HERE.glob("*.py") if p.name != "run.py" and not p.name.startswith("_"))
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    failed = []
    for script in scripts:
        print(f"\n## bench/{script.name}\n", flush=True)
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
        sys.stdout.write(proc.stdout)
        (results / f"{script.stem}.md").write_text(proc.stdout)
        print(f"\n({script.name}: {time.monotonic() - t0:.0f} s, exit {proc.returncode})", flush=True)
        if proc.returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
