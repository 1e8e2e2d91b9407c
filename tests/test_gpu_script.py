"""benchmarks/gpu.sh --cpu-dry-run: every cell of the GPU day runs, on the CPU, with the tiny preset.

No GPU is lent to CI; this keeps the script and the cells it runs (Trainer, bare loop, dynamo
tracing of the causal attention, the quality run on real-format shards) from rotting until one is.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures_training import make_shards, make_tokenizer

REPO = Path(__file__).resolve().parents[1]
CELLS = ("preflight", "trainer16", "trainer32", "trainer32cap", "bare", "compiled", "quality")


@pytest.mark.slow
def test_gpu_script_dry_run_on_the_cpu(tmp_path):
    shards = make_shards(tmp_path / "shards", make_tokenizer(tmp_path / "tokenizer"))
    results = tmp_path / "results.jsonl"
    env = {**os.environ, "PY": sys.executable, "RESULTS": str(results), "QUALITY_SHARDS": str(shards)}
    done = subprocess.run(
        [str(REPO / "benchmarks" / "gpu.sh"), "--cpu-dry-run"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in results.read_text().splitlines()]
    by_cell = {record["cell"]: record for record in records}
    assert set(by_cell) == set(CELLS), records
    assert not [r for r in records if "failed" in r], records
    assert by_cell["preflight"]["flash_sdpa_gqa_fwd_bwd"] == "ok"
    for cell in ("trainer16", "trainer32", "compiled"):
        record = by_cell[cell]
        assert record["tokens_per_second"] > 0 and record["step_ms_p90"] >= record["step_ms_p50"] > 0, record
        assert record["estimate_gib"] > 0 and record["peak_gib"] is None  # the CPU has no allocator peak
    assert by_cell["compiled"]["compile"] is True
    assert by_cell["trainer32cap"]["skipped"] == "a memory cap needs a GPU"
    assert by_cell["bare"]["ratio"] > 0
    quality = by_cell["quality"]
    assert quality["steps"] >= 1 and math.isfinite(quality["val_loss"]) and quality["cpu_run"]["val_loss"] == 2.656
