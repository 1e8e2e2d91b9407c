"""Every preset trains on the sample data with the defaults sized from it (a step each, on CPU).

The sample inbox (`data/`) goes through the real pipeline up to `token_shards` once; each
family × size then trains with `seq_len`, learning rate, token budget and eval size left to
`pipeline.train.plan`, which must fit them to the small splits rather than fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.presets import FAMILIES, PRETRAIN_LR, SIZES
from pipeline.common.artifacts import ArtifactStore
from pipeline.tokens.shard_format import TokenShards
from pipeline.tokens.shards import SHARDS_SUBDIR
from pipeline.train.plan import (
    MIN_BATCH,
    MIN_EVAL_BLOCKS,
    MIN_STEPS,
    MIN_STEPS_SEQ_LEN,
    SplitTooSmall,
    choose_seq_len,
    plan_run,
)
from pipeline.train.run import run_training
from pipeline.train.settings import TrainSettings
from tests.waits import RUN_S

REPO = Path(__file__).resolve().parents[1]
MPYFORGE = str(Path(sys.executable).parent / "mpyforge")


@pytest.fixture(scope="module")
def sample_inputs(tmp_path_factory) -> tuple[Path, Path]:
    """Token shards and tokenizer of the sample inbox, built by `mpyforge run`."""
    home = tmp_path_factory.mktemp("sample_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    root = home / "artifacts"
    env = {**os.environ, "DAGSTER_HOME": str(home), "MPYFORGE_ARTIFACT_ROOT": str(root)}
    done = subprocess.run(
        [MPYFORGE, "run", "--select", "*token_shards"], cwd=REPO, env=env, capture_output=True, text=True, timeout=RUN_S
    )
    assert done.returncode == 0, done.stdout + done.stderr
    store = ArtifactStore(root)
    return store.current("token_shards").path / SHARDS_SUBDIR, store.current("bpe_tokenizer").path


def test_seq_len_shrinks_to_what_the_splits_hold():
    assert choose_seq_len(512, train_tokens=10**6, val_tokens=10**5, batch_size=16, where="x") == 512
    assert choose_seq_len(512, train_tokens=10**6, val_tokens=250, batch_size=16, where="x") == 64
    assert choose_seq_len(512, train_tokens=3000, val_tokens=10**5, batch_size=16, where="x") == 128
    with pytest.raises(SplitTooSmall, match=r"x: the val split holds 100 tokens .* needs 128 val tokens"):
        choose_seq_len(512, train_tokens=10**6, val_tokens=100, batch_size=16, where="x")


def test_budget_is_epochs_of_the_train_split_capped_by_model_size():
    from models.presets import resolve_preset
    from models.sizing import parameter_count

    preset = resolve_preset("llama", "5m", 8192)
    settings = TrainSettings(shards_dir="s", tokenizer_dir="t", output_dir="o")
    small = plan_run(settings, preset, train_tokens=1_000_000, val_tokens=50_000, world_size=1)
    assert small.token_budget == 4_000_000 and small.learning_rate == PRETRAIN_LR["5m"]
    # 4M tokens at 16 x 512 would be 488 steps: pretraining shortens its blocks to 128, then
    # halves the batch until the budget makes MIN_STEPS steps.
    assert (small.seq_len, small.batch_size) == (MIN_STEPS_SEQ_LEN, 8) and small.max_steps == 4_000_000 // (8 * 128)
    assert small.max_steps >= MIN_STEPS and small.eval_tokens == 50_000 // 128 * 128
    huge = plan_run(settings, preset, train_tokens=10**9, val_tokens=10**6, world_size=2)
    assert huge.token_budget == 20 * parameter_count(preset) and huge.tokens_per_step == 2 * 16 * 512
    # SFT keeps the long context (what the served model answers in) and shrinks only its batch.
    sft = TrainSettings(mode="sft", shards_dir="s", tokenizer_dir="t", output_dir="o", init_from="b")
    tuned = plan_run(sft, preset, train_tokens=400_000, val_tokens=20_000, world_size=1)
    # SFT's budget is sft_epochs (not max_epochs) passes, at sft_lr.
    assert tuned.token_budget == int(sft.sft_epochs * 400_000) != int(sft.max_epochs * 400_000)
    assert (tuned.seq_len, tuned.batch_size) == (512, MIN_BATCH) and tuned.max_steps == tuned.token_budget // (4 * 512)
    assert tuned.learning_rate == sft.sft_lr_scale * PRETRAIN_LR["5m"]
    # What the user sets stays as set.
    fixed = TrainSettings(shards_dir="s", tokenizer_dir="t", output_dir="o", seq_len=256, batch_size=16)
    assert plan_run(fixed, preset, 1_000_000, 50_000, 1).tokens_per_step == 16 * 256
    set_by_user = TrainSettings(shards_dir="s", tokenizer_dir="t", output_dir="o", seq_len=512, lr=1e-4)
    with pytest.raises(SplitTooSmall, match="the val split holds 300 tokens, fewer than one block of seq_len 512"):
        plan_run(set_by_user, preset, train_tokens=10**6, val_tokens=300, world_size=1)
    assert plan_run(set_by_user, preset, 10**6, 10**4, 1).learning_rate == 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("family", FAMILIES)
def test_every_preset_trains_on_the_sample_data(sample_inputs, family, size, tmp_path):
    shards_dir, tokenizer_dir = sample_inputs
    settings = TrainSettings(
        family=family,
        size=size,
        shards_dir=str(shards_dir),
        tokenizer_dir=str(tokenizer_dir),
        output_dir=str(tmp_path / "run"),
        max_steps=1,
        eval_every=1,
        save_every=1,
        log_every=1,
        device="cpu",
        precision="fp32",
    )
    metrics = run_training(settings)
    val_tokens = TokenShards(shards_dir, "pretrain", "val").num_tokens
    assert metrics["steps"] == 1 and metrics["learning_rate"] == PRETRAIN_LR[size]
    assert metrics["val_tokens_evaluated"] >= MIN_EVAL_BLOCKS * metrics["seq_len"]
    assert metrics["seq_len"] <= val_tokens // MIN_EVAL_BLOCKS
    assert metrics["final_val_loss"] > 0 and (metrics["mfu"] is None or 0 < metrics["mfu"] < 1)
