"""Real HF Trainer runs of the tiny presets on CPU: learning, resume, NaN guard, SFT mask, outputs."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

from models.presets import PRETRAIN_LR, PresetError, resolve_preset
from pipeline.common.prompt_format import BOS, format_prompt
from pipeline.evaluate.dev_tasks import dev_tasks_for
from pipeline.train.callbacks import NonFiniteLossError
from pipeline.train.data import IGNORE_INDEX, TokenBlockDataset, TokenizerMismatchError, open_split
from pipeline.train.dev_eval import DevTasks
from pipeline.train.generate import generate_hf, greedy_batch, greedy_continuation, load_hf
from pipeline.train.model import build_model
from pipeline.train.run import run_training
from tests.fixtures_training import make_shards, make_tokenizer, read_metrics, tiny_settings
from tests.tiny_models import build_tiny_tokenizer
from tests.waits import STARTUP_S

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("train_inputs")
    tokenizer_dir = make_tokenizer(root / "tokenizer")
    return make_shards(root / "shards", tokenizer_dir), tokenizer_dir


@pytest.fixture(scope="module")
def pretrained(inputs, tmp_path_factory) -> dict[str, dict]:
    """One short pretraining run per family, shared by the tests that inspect outputs."""
    shards_dir, tokenizer_dir = inputs
    runs = {}
    for family in ("gpt2", "llama"):
        tmp = tmp_path_factory.mktemp(f"pretrain_{family}")
        runs[family] = run_training(tiny_settings(tmp, shards_dir, tokenizer_dir, family=family))
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_tiny_model_beats_the_unigram_baseline(pretrained, family):
    metrics = pretrained[family]
    assert metrics["steps"] == 40
    assert metrics["final_val_loss"] < metrics["val_unigram_loss"]
    assert metrics["val_perplexity"] == pytest.approx(math.exp(metrics["final_val_loss"]))
    evals = [e for e in metrics["log_history"] if "eval_loss" in e]
    assert evals[-1]["eval_loss"] < evals[0]["eval_loss"]
    assert all(e["eval_perplexity"] == pytest.approx(math.exp(e["eval_loss"])) for e in evals)
    assert metrics["tokens_per_second"] > 0 and 0 < metrics["mfu"] < 1


@pytest.mark.slow
@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_output_directory_loads_with_from_pretrained(pretrained, family):
    model_dir = Path(pretrained[family]["model_dir"])
    for name in (
        "config.json",
        "model.safetensors",
        "generation_config.json",
        "preset.json",
        "metrics.json",
        "loss_curve.png",
        "README.md",
        "tokenizer.json",
    ):
        assert (model_dir / name).is_file(), name
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert model.config.model_type == family and len(tokenizer) == model.config.vocab_size
    assert model.generation_config.eos_token_id == tokenizer.convert_tokens_to_ids("<eos>")
    assert read_metrics(model_dir)["final_val_loss"] == pretrained[family]["final_val_loss"]
    card = (model_dir / "README.md").read_text()
    assert f"{family}/tiny" in card and "final_val_loss" in card


@pytest.mark.slow
def test_generate_continues_code_and_stops_at_eos(pretrained):
    model_dir = Path(pretrained["llama"]["model_dir"])
    prompt = "from machine import Pin\nimport time\n"
    first = generate_hf(model_dir, prompt, max_new_tokens=30)
    assert first == generate_hf(model_dir, prompt, max_new_tokens=30)  # greedy is deterministic
    assert "<eos>" not in first and first.strip()
    answer = generate_hf(model_dir, "Blink an LED", max_new_tokens=8, instruct=True)
    assert isinstance(answer, str) and "<eos>" not in answer


@pytest.mark.slow
def test_sft_from_the_base_checkpoint(pretrained, inputs, tmp_path):
    shards_dir, tokenizer_dir = inputs
    base = pretrained["gpt2"]["model_dir"]
    settings = tiny_settings(
        tmp_path,
        shards_dir,
        tokenizer_dir,
        mode="sft",
        init_from=base,
        family="llama",
        max_steps=10,
        eval_every=5,
        save_every=10,
        lr=None,
    )
    metrics = run_training(settings)
    assert metrics["preset"]["family"] == "gpt2"  # the base checkpoint's preset wins
    assert metrics["learning_rate"] == settings.sft_lr_scale * PRETRAIN_LR["tiny"] and metrics["steps"] == 10
    assert math.isfinite(metrics["final_val_loss"])


@pytest.mark.slow
def test_sft_keeps_the_checkpoint_that_passes_the_most_dev_tasks(pretrained, inputs, tmp_path):
    shards_dir, tokenizer_dir = inputs
    settings = tiny_settings(
        tmp_path,
        shards_dir,
        tokenizer_dir,
        mode="sft",
        init_from=pretrained["llama"]["model_dir"],
        max_steps=10,
        every=5,
        dev_tasks=2,
        dev_max_new_tokens=16,
    )
    sandbox = dev_tasks_for(settings, print)
    answered: list[list[str]] = []

    def first_evaluation_passes(answers: list[str]) -> list[bool]:
        # The answers really run on the board; a model this small passes nothing, so the first
        # evaluation's first answer is declared passing to see the checkpoint it belongs to kept.
        verdicts = sandbox.judge(answers)
        answered.append(answers)
        return [True, *verdicts[1:]] if len(answered) == 1 else verdicts

    metrics = run_training(settings, dev=DevTasks(sandbox.task_ids, sandbox.prompts, first_evaluation_passes))
    evals = {e["step"]: e for e in metrics["log_history"] if "eval_dev_pass_rate" in e}
    assert evals[10]["eval_loss"] < evals[5]["eval_loss"]  # val loss alone would keep step 10
    assert metrics["final_val_loss"] == evals[5]["eval_loss"]
    assert metrics["dev_pass_rate_by_step"] == {5: 0.5, 10: 0.0} and metrics["dev_passed"] == 1
    assert len(answered) == 2 and all(len(group) == 2 for group in answered)  # not again for the final evaluate
    assert metrics["dev_eval_s"] > 0
    kept = AutoModelForCausalLM.from_pretrained(metrics["model_dir"]).state_dict()
    step5 = AutoModelForCausalLM.from_pretrained(settings.checkpoint_dir / "checkpoint-5").state_dict()
    assert all(torch.equal(kept[name], step5[name]) for name in kept)


@pytest.mark.slow
def test_batched_greedy_answers_equal_one_at_a_time(pretrained):
    model, tokenizer = load_hf(Path(pretrained["llama"]["model_dir"]))
    texts = [format_prompt("Blink an LED"), format_prompt("Read the ADC on GP26 every 500 ms and print it"), BOS]
    assert greedy_batch(model, tokenizer, texts, 12) == [greedy_continuation(model, tokenizer, t, 12) for t in texts]


def test_sft_labels_hide_the_prompt_from_the_loss(inputs):
    shards_dir, _ = inputs
    shards = open_split(shards_dir, "sft", "train")
    item = TokenBlockDataset(shards, seq_len=64, use_mask=True)[0]
    mask = torch.from_numpy(shards.mask_slice(0, 64))
    assert torch.equal(item["labels"] == IGNORE_INDEX, mask == 0)
    assert torch.equal(item["labels"][mask == 1], item["input_ids"][mask == 1])
    assert 0 < int(mask.sum()) < 64  # the block holds both prompt and response tokens

    torch.manual_seed(0)
    model = build_model(resolve_preset("llama", "tiny", shards.vocab_size))
    input_ids, labels = item["input_ids"][None], item["labels"][None]
    logits = model(input_ids=input_ids).logits.detach()
    loss = model.loss_function(logits, labels, vocab_size=model.config.vocab_size)
    # Logits at position t predict token t+1: the ones predicting prompt tokens must not count.
    predicts_prompt = torch.zeros(64, dtype=torch.bool)
    predicts_prompt[:-1] = labels[0, 1:] == IGNORE_INDEX
    noisy = logits.clone()
    noisy[0, predicts_prompt] += 50 * torch.randn_like(noisy[0, predicts_prompt])
    assert model.loss_function(noisy, labels, vocab_size=model.config.vocab_size) == pytest.approx(loss.item())
    # The loss is exactly the mean cross-entropy over response targets alone.
    targets = labels[0, 1:]
    kept = targets != IGNORE_INDEX
    manual = torch.nn.functional.cross_entropy(logits[0, :-1][kept], targets[kept])
    assert manual.item() == pytest.approx(loss.item(), rel=1e-5)
    # ...whereas the same noise on a response position does change the loss.
    response_position = int(torch.nonzero(~predicts_prompt[:-1])[0])
    noisy_response = logits.clone()
    noisy_response[0, response_position] += 50 * torch.randn_like(noisy_response[0, response_position])
    assert model.loss_function(noisy_response, labels, vocab_size=model.config.vocab_size) != pytest.approx(loss.item())


def test_weight_decay_skips_biases_and_norms(tmp_path):
    for family in ("gpt2", "llama"):
        model = build_model(resolve_preset(family, "tiny", 512))
        trainer = Trainer(model=model, args=TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none"))
        decayed = set(trainer.get_decay_parameter_names(model))
        for name, param in model.named_parameters():
            assert (name in decayed) == (param.dim() >= 2), name


@pytest.mark.slow
def test_nan_guard_names_the_step_and_keeps_the_last_good_checkpoint(inputs, tmp_path):
    shards_dir, tokenizer_dir = inputs
    settings = tiny_settings(tmp_path, shards_dir, tokenizer_dir, lr=1e6, warmup_ratio=0.0, max_steps=30, every=1)
    with pytest.raises(NonFiniteLossError, match=r"training (loss|grad_norm) became (nan|inf) at step (\d+)") as caught:
        run_training(settings)
    failed_step = int(caught.value.args[0].split(" at step ")[1].split()[0].rstrip(","))
    checkpoints = sorted(settings.checkpoint_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    saved_steps = [int(p.name.split("-")[1]) for p in checkpoints]
    assert all(step < failed_step for step in saved_steps)
    if checkpoints:
        state = json.loads((checkpoints[-1] / "trainer_state.json").read_text())
        assert all(math.isfinite(e["loss"]) for e in state["log_history"] if "loss" in e)


def test_invalid_config_fails_before_training(inputs, tmp_path):
    shards_dir, tokenizer_dir = inputs
    too_long = tiny_settings(tmp_path, shards_dir, tokenizer_dir, overrides={"context": 32})
    with pytest.raises(PresetError, match="seq_len 64 exceeds the context"):
        run_training(too_long)
    no_mask = tiny_settings(tmp_path, shards_dir, tokenizer_dir, mode="sft", init_from=str(tmp_path))
    with pytest.raises(ValueError, match="no preset.json"):
        run_training(no_mask)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_mismatched_tokenizer_is_refused_by_name(pretrained, inputs, tmp_path):
    shards_dir, tokenizer_dir = inputs
    other_tokenizer = tmp_path / "other_tokenizer"
    other_tokenizer.mkdir()
    build_tiny_tokenizer(other_tokenizer, vocab_size=300)  # what a new PDF does to the vocabulary
    stale_shards = tiny_settings(tmp_path / "a", shards_dir, other_tokenizer)
    with pytest.raises(TokenizerMismatchError, match=f"token_shards {shards_dir} were written with tokenizer"):
        run_training(stale_shards)
    # SFT on shards of the new tokenizer, from a base model trained with the old one.
    other_shards = make_shards(tmp_path / "other_shards", other_tokenizer, {"train": 40, "val": 8})
    base = pretrained["llama"]["model_dir"]
    old_base = tiny_settings(tmp_path / "b", other_shards, other_tokenizer, mode="sft", init_from=base)
    with pytest.raises(TokenizerMismatchError, match=f"base model {base} was trained with tokenizer"):
        run_training(old_base)
    assert (
        not (tmp_path / "a" / "run" / "checkpoints").exists() and not (tmp_path / "b" / "run" / "checkpoints").exists()
    )


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_final_step(inputs, tmp_path):
    shards_dir, tokenizer_dir = inputs
    settings = tiny_settings(tmp_path, shards_dir, tokenizer_dir, max_steps=80, eval_every=10, save_every=10)
    config = tmp_path / "train.json"
    config.write_text(settings.to_json())
    command = [sys.executable, "-m", "pipeline.train.run", str(config)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_checkpoint = settings.checkpoint_dir / "checkpoint-10" / "trainer_state.json"
    deadline = time.monotonic() + STARTUP_S
    while not first_checkpoint.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert first.poll() is None, "the run ended before it could be killed"
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert not (settings.model_dir / "metrics.json").exists()

    subprocess.run(command, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = read_metrics(settings.model_dir)
    assert metrics["resumed_from"] is not None and metrics["steps"] == 80
    logged_steps = [e["step"] for e in metrics["log_history"] if "loss" in e]
    assert logged_steps == list(range(1, 81))  # every step once: no gap, no repeat


@pytest.mark.slow
def test_rerunning_a_finished_run_keeps_the_same_weights(inputs, tmp_path):
    """The last step is checkpointed too, so a re-run resumes at the end and exports identical weights."""
    shards_dir, tokenizer_dir = inputs
    settings = tiny_settings(tmp_path, shards_dir, tokenizer_dir, max_steps=25, eval_every=10, save_every=10)
    run_training(settings)
    weights = (settings.model_dir / "model.safetensors").read_bytes()
    again = run_training(settings)
    assert again["resumed_from"].endswith("checkpoint-25")
    assert (settings.model_dir / "model.safetensors").read_bytes() == weights
