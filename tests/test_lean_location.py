"""The code location loads without torch or transformers: the webserver, the daemon and every step
process import it, and only the steps that train, evaluate or export need those libraries."""

import json
import subprocess
import sys
from pathlib import Path

from tests.waits import STARTUP_S

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "matplotlib", "llama_cpp")

PROBE = f"""
import json, sys, time
start = time.perf_counter()
from assets.definitions import defs
defs.resolve_asset_graph()
print(json.dumps({{"seconds": time.perf_counter() - start,
                   "loaded": sorted(m for m in {HEAVY!r} if m in sys.modules)}}))
"""


def test_loading_the_definitions_imports_no_torch_or_transformers():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=STARTUP_S, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == [], f"loading assets.definitions imported {result['loaded']}"
