"""The code location loads without torch or transformers: the webserver, the daemon and every step
process import it, and only the steps that train, evaluate or export need those libraries."""

import json
import subprocess
import sys
import tomllib
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
                   "loaded": sorted(m for m in {HEAVY!r} if m in sys.modules),
                   "client": sorted(m for m in sys.modules if m.startswith("assets.client"))}}))
"""


def test_loading_the_definitions_imports_no_torch_or_transformers():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=STARTUP_S, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == [], f"loading assets.definitions imported {result['loaded']}"
    assert result["client"] == [], f"the code location imported the CLI client: {result['client']}"


def test_the_client_contract_covers_every_code_location_module():
    # The import-linter contract names its modules; a new asset module must join it, or it could
    # import the client unnoticed.
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c.get("forbidden_modules") == ["assets.client"]]
    location = {f"assets.{path.stem}" for path in (REPO / "assets").glob("*.py") if path.stem != "__init__"}
    assert location <= set(contract["source_modules"]), sorted(location - set(contract["source_modules"]))
