"""Two trainer processes for real: torchrun on CPU (gloo), launched by the training asset through
Dagster Pipes exactly as on a multi-GPU machine, then resumed after a torn checkpoint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from assets.training import TrainingConfig, base_checkpoint
from pipeline.common.artifacts import ArtifactStore
from pipeline.tokens.shards import SHARDS_SUBDIR
from resources.artifact_store import ArtifactStoreResource
from resources.gpu import GpuResource
from tests.fixtures_training import make_shards, make_tokenizer, read_metrics, tiny_settings

REPO = Path(__file__).resolve().parents[1]
TWO_CPU_PROCESSES = GpuResource(device="cpu", precision="fp32", nproc_per_node=2)
SHORT = dict(max_steps=4, batch_size=4, seq_len=64, eval_every=2, save_every=2, log_every=1, eval_tokens=512)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("ddp_inputs")
    tokenizer_dir = make_tokenizer(root / "tokenizer")
    return make_shards(root / "shards", tokenizer_dir), tokenizer_dir


def _commit(store: ArtifactStore, asset: str, source: Path, subdir: str | None = None) -> None:
    write = store.begin(asset)
    shutil.copytree(source, write.directory / subdir if subdir else write.directory, dirs_exist_ok=True)
    write.commit(run_id=None, code_version="test")


@pytest.mark.slow
def test_two_processes_through_pipes_report_once(inputs, tmp_path, monkeypatch):
    shards_dir, tokenizer_dir = inputs
    root = tmp_path / "artifacts"
    monkeypatch.setenv("MPYFORGE_ARTIFACT_ROOT", str(root))  # training run directories live beside it
    store = ArtifactStore(root)
    _commit(store, "token_shards", shards_dir, SHARDS_SUBDIR)
    _commit(store, "bpe_tokenizer", tokenizer_dir)
    config = TrainingConfig(family="llama", size="tiny", lr=3e-3, early_stopping_patience=0, **SHORT)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [base_checkpoint],
            instance=instance,
            resources={
                "artifact_store": ArtifactStoreResource(root=str(root)),
                "gpu": TWO_CPU_PROCESSES,
                "pipes_subprocess_client": dg.PipesSubprocessClient(),
            },
            run_config=dg.RunConfig({"base_checkpoint": config}),
        )
        assert result.success
        messages = [r.user_message for r in instance.all_logs(result.run_id) if r.user_message]
    metrics = read_metrics(store.current("base_checkpoint").path)
    assert metrics["world_size"] == 2 and metrics["steps"] == 4
    assert metrics["tokens_per_step"] == 2 * 4 * 64  # both ranks' batches make one step
    # Rank 0 alone reported: one start-up line and one progress line per step, not two.
    assert sum("2 process(es)" in m for m in messages) == 1, messages
    progress = [m for m in messages if m.startswith("step ")]
    assert [line.split()[1] for line in progress] == ["1/4", "2/4", "3/4", "4/4"], messages
    assert "tok/s" in progress[-1] and "val " in progress[-1]
    # The exported model is committed and the run directory (GBs for big presets) is gone.
    assert not any((root.parent / "training" / "base_checkpoint").glob("*"))


@pytest.mark.slow
def test_two_processes_resume_after_a_torn_checkpoint(inputs, tmp_path):
    shards_dir, tokenizer_dir = inputs
    settings = tiny_settings(tmp_path, shards_dir, tokenizer_dir, **SHORT)
    config = tmp_path / "train.json"
    config.write_text(settings.to_json())
    command = [*TWO_CPU_PROCESSES.launcher(sys.executable), "-m", "pipeline.train.run", str(config)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True, timeout=600)
    first = read_metrics(settings.model_dir)
    assert first["world_size"] == 2 and first["resumed_from"] is None
    checkpoints = settings.checkpoint_dir
    # Both ranks ran: each saved its RNG state; rank 0 alone wrote weights and optimizer.
    assert sorted(p.name for p in (checkpoints / "checkpoint-2").glob("rng_state*")) == [
        "rng_state_0.pth",
        "rng_state_1.pth",
    ]
    assert len(list(checkpoints.glob("checkpoint-2/model.safetensors"))) == 1
    (checkpoints / "checkpoint-4" / "trainer_state.json").unlink()  # as if killed while saving step 4

    subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True, timeout=600)
    second = read_metrics(settings.model_dir)
    assert second["resumed_from"] == str(checkpoints / "checkpoint-2")
    assert second["steps"] == 4 and second["world_size"] == 2
    assert [e["step"] for e in second["log_history"] if "loss" in e] == [1, 2, 3, 4]
    state = json.loads((checkpoints / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4  # step 4 was saved again, complete this time
