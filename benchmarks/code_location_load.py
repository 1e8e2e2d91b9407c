"""Load time of the code location (what the webserver, the daemon and every step process pay).

Each measurement is a fresh interpreter that imports the definitions and resolves the asset
graph; the baseline in the same run is a fresh interpreter that only imports dagster, so the
ratio says what the project adds on top of Dagster itself, whatever the machine's speed.

Usage:
    .venv/bin/python benchmarks/code_location_load.py [--rounds 5]
    .venv/bin/python benchmarks/code_location_load.py --checkout /tmp/old --module pipeline.definitions
        (an older checkout of the project, measured in the same run for a before/after figure)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "matplotlib")

PROBE = """
import json, sys, time
start = time.perf_counter()
{body}
print(json.dumps({{"seconds": time.perf_counter() - start, "heavy": sorted(m for m in {heavy!r} if m in sys.modules)}}))
"""


def measure(body: str, cwd: Path, rounds: int) -> tuple[float, list[str]]:
    code = PROBE.format(body=body, heavy=HEAVY)
    results = []
    for _ in range(rounds):
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return statistics.median(r["seconds"] for r in results), results[-1]["heavy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--checkout", type=Path, default=None, help="another checkout to measure beside this one")
    parser.add_argument("--module", default="pipeline.definitions", help="its code location module")
    args = parser.parse_args()
    dagster_s, _ = measure("import dagster", REPO_ROOT, args.rounds)
    rows = [("dagster alone (baseline)", dagster_s, [])]
    body = "from assets.definitions import defs\ndefs.resolve_asset_graph()"
    rows.append(("assets.definitions (this checkout)", *measure(body, REPO_ROOT, args.rounds)))
    if args.checkout:
        old = f"from {args.module} import defs\ndefs.resolve_asset_graph()"
        rows.append((f"{args.module} ({args.checkout})", *measure(old, args.checkout, args.rounds)))
    print(f"median of {args.rounds} fresh interpreters each")
    for label, seconds, heavy in rows:
        print(
            f"{label:55s} {seconds:6.2f} s  x{seconds / dagster_s:5.2f} of dagster   heavy imports: {heavy or 'none'}"
        )


if __name__ == "__main__":
    main()
