"""What a GPU owner meets on the first CUDA run, each branch checked on the CPU (issue 23).

One GPU per process (CUDA_VISIBLE_DEVICES mapping, DataParallel refused), the causal attention
against the stock SDPA path, the out-of-memory message and its no-retry record, the doctor's
GPU findings, MFU peaks by exact name, the dataloader settings and the Kubernetes GPU request.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments

from assets.client.doctor import FAIL, OK, WARN, gpu_findings
from models.presets import resolve_preset
from pipeline.train.attention import CAUSAL_ATTENTION, use_causal_attention
from pipeline.train.device import (
    DeviceInfo,
    arch_supported,
    child_device,
    gpu_peak_flops,
    refuse_data_parallel,
    unusable_gpu_warning,
)
from pipeline.train.memory import TrainingOutOfMemory, out_of_memory_message, read_oom_report
from pipeline.train.plan import RunPlan, SplitTooSmall, eval_batch_size, plan_run
from pipeline.train.run import run_training, training_arguments
from resources.pools import gpu_pod_tags, gpus_per_pod
from tests.fixtures_training import make_shards, make_tokenizer, tiny_settings

REPO = Path(__file__).resolve().parents[1]
ALLOC = {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}


def test_cuda_n_is_read_through_the_inherited_visible_devices():
    child = child_device("cuda:1", 1, {"CUDA_VISIBLE_DEVICES": "2,3"})
    assert child.device == "cuda:0" and child.env == {**ALLOC, "CUDA_VISIBLE_DEVICES": "3"}
    assert child.note.startswith(
        "device 'cuda:1' is physical GPU 3 (entry 1 of the inherited CUDA_VISIBLE_DEVICES=2,3)"
    )
    # The trainer process pins again with what it inherited: nothing changes.
    again = child_device(child.device, 1, {**child.env})
    assert again.device == "cuda:0" and again.env == {"CUDA_VISIBLE_DEVICES": "3"}
    # auto and cuda take the first visible GPU and keep "auto" (a CPU fallback stays possible).
    assert (
        child_device("auto", 1, {"CUDA_VISIBLE_DEVICES": "GPU-5d2c,GPU-77aa"}).env["CUDA_VISIBLE_DEVICES"] == "GPU-5d2c"
    )
    assert child_device("auto", 1, {}).device == "auto" and child_device("cuda", 1, {}).device == "cuda:0"
    assert child_device("auto", 1, {}).env == {**ALLOC, "CUDA_VISIBLE_DEVICES": "0"}
    hidden = child_device("auto", 1, {"CUDA_VISIBLE_DEVICES": ""})
    assert hidden.env == ALLOC and "hides every GPU" in hidden.note
    with pytest.raises(ValueError, match=r"'cuda:2' does not exist: the inherited CUDA_VISIBLE_DEVICES='2,3' makes 2"):
        child_device("cuda:2", 1, {"CUDA_VISIBLE_DEVICES": "2,3"})
    # A user's allocator setting is kept.
    assert "PYTORCH_CUDA_ALLOC_CONF" not in child_device("cuda:0", 1, {"PYTORCH_CUDA_ALLOC_CONF": "x"}).env


def test_data_parallel_is_refused():
    refuse_data_parallel(0)
    refuse_data_parallel(1)
    with pytest.raises(ValueError, match=r"sees 2 GPUs, so the HF Trainer would wrap the model in nn.DataParallel"):
        refuse_data_parallel(2)
    # What the Trainer reports here: no GPU, so nothing to refuse (run_training calls it with this value).
    assert TrainingArguments(output_dir="/tmp/unused", use_cpu=True, report_to="none").n_gpu == 0


def _tiny_llama() -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=96,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=8,
        num_key_value_heads=2,  # GQA: 4 query heads share each K/V head
        head_dim=8,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    return LlamaForCausalLM._from_config(config, attn_implementation="sdpa")


def test_causal_attention_equals_the_stock_sdpa_path(tmp_path):
    stock = _tiny_llama()
    ours = _tiny_llama()
    ours.load_state_dict(stock.state_dict())
    use_causal_attention(ours)
    assert ours.config._attn_implementation == CAUSAL_ATTENTION
    ids = torch.randint(0, 96, (3, 32))
    results = []
    for model in (stock, ours):
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        results.append((out.logits.detach(), out.loss.detach(), [p.grad.clone() for p in model.parameters()]))
    (logits, loss, grads), (logits2, loss2, grads2) = results
    torch.testing.assert_close(logits2, logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(loss2, loss)
    for grad, grad2 in zip(grads, grads2, strict=True):
        torch.testing.assert_close(grad2, grad, rtol=1e-4, atol=1e-6)
    # Generation needs masks and a KV cache: refused loudly, and a saved model loads with stock sdpa.
    with pytest.raises(ValueError, match="for packed, unpadded training blocks"):
        ours.generate(ids[:, :4], max_new_tokens=2, do_sample=False)
    ours.save_pretrained(tmp_path)
    assert CAUSAL_ATTENTION not in (tmp_path / "config.json").read_text()
    assert LlamaForCausalLM.from_pretrained(tmp_path).config._attn_implementation == "sdpa"


def test_the_out_of_memory_message_names_peak_estimate_and_fix():
    message = out_of_memory_message("NVIDIA GeForce RTX 5070", 12 * 2**30, 11 * 2**30, int(10.4 * 2**30), 32, 1, 512)
    assert message.startswith("out of GPU memory on NVIDIA GeForce RTX 5070 (12.0 GiB): peak allocated 11.0 GiB, ")
    assert "estimated 10.4 GiB for batch_size 32 × seq_len 512 with grad_accum 1" in message
    assert "halve batch_size and double grad_accum" in message and "batch_size 16 and grad_accum 2" in message
    assert message.endswith("Not retried: the same settings would run out again")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("oom_inputs")
    tokenizer_dir = make_tokenizer(root / "tokenizer")
    return make_shards(root / "shards", tokenizer_dir), tokenizer_dir


def test_an_out_of_memory_step_fails_with_the_fix_and_a_no_retry_record(inputs, tmp_path, monkeypatch):
    """The CUDA allocator cannot run here: its error is raised from the first real training step instead."""

    def out_of_memory(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Trainer, "training_step", out_of_memory)
    settings = tiny_settings(tmp_path, *inputs, max_steps=4)
    with pytest.raises(TrainingOutOfMemory, match=r"halve batch_size and double grad_accum .* Not retried"):
        run_training(settings)
    recorded = read_oom_report(Path(settings.output_dir))
    assert recorded is not None and "batch_size 4 and grad_accum 2" in recorded  # what assets/training.py raises

    def other_failure(self, *args, **kwargs):
        raise RuntimeError("a failure worth a retry")

    # The next attempt clears the record first: another failure stays retryable.
    monkeypatch.setattr(Trainer, "training_step", other_failure)
    with pytest.raises(RuntimeError, match="worth a retry"):
        run_training(settings)
    assert read_oom_report(Path(settings.output_dir)) is None


def test_doctor_gpu_findings():
    cu126 = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
    cu128 = [*cu126, "sm_100", "sm_120"]
    h200 = [("NVIDIA H200", (9, 0))]
    ok = gpu_findings(["GPU 0: NVIDIA H200 (UUID: GPU-1)"], True, "2.11.0+cu130", "13.0", cu128, h200)
    assert [(f.status, f.detail.split(";")[0]) for f in ok] == [(OK, "NVIDIA H200 (sm_90)")]
    rtx = gpu_findings(["GPU 0: NVIDIA GeForce RTX 5070"], True, "2.6.0+cu126", "12.6", cu126, [("RTX 5070", (12, 0))])
    assert rtx[0].status == FAIL and "is sm_120 but torch 2.6.0+cu126 built for CUDA 12.6" in rtx[0].detail
    cpu_build = gpu_findings(["GPU 0: NVIDIA GeForce RTX 5070"], False, "2.13.0+cpu", None, [], [])
    assert cpu_build[0].status == WARN and "is a CPU-only build, so training runs on the CPU" in cpu_build[0].detail
    none = gpu_findings([], False, "2.13.0+cpu", None, [], [])
    assert none[0].status == OK and "no NVIDIA GPU" in none[0].detail


def test_arch_support_and_the_auto_fallback_warning():
    assert arch_supported((8, 6), ["sm_80"])  # same major, higher minor: the sm_80 cubin runs
    assert not arch_supported((8, 0), ["sm_86"])
    assert not arch_supported((12, 0), ["sm_80", "sm_90a"])
    assert arch_supported((12, 0), ["sm_80", "compute_90"])  # PTX is compiled for newer GPUs at load
    assert unusable_gpu_warning(["GPU 0: X"], True, "2.13", "12.8") is None
    assert unusable_gpu_warning([], False, "2.13", None) is None
    stale = unusable_gpu_warning(["GPU 0: NVIDIA H200"], False, "2.13.0", "13.0")
    assert "built for CUDA 13.0, which this driver cannot run" in stale and "100x slower" in stale


def test_mfu_peaks_by_exact_name():
    assert gpu_peak_flops("NVIDIA H200") == 989e12
    assert gpu_peak_flops("NVIDIA H200 NVL") == 835.5e12  # not the SXM part's 989
    assert gpu_peak_flops("NVIDIA GeForce RTX 5070") == 61.7e12
    assert gpu_peak_flops("NVIDIA GeForce RTX 5070 Ti") is None  # no substring match
    assert gpu_peak_flops("NVIDIA GeForce RTX 5070 Laptop GPU") is None
    assert gpu_peak_flops("NVIDIA H200", "fp32") == 989e12 / 2


def _device(kind: str) -> DeviceInfo:
    return DeviceInfo(kind, kind, "cuda:0" if kind == "cuda" else "cpu", 2**34, "fp32", None)


def test_dataloader_feeds_a_gpu_without_short_batches(tmp_path):
    settings = tiny_settings(tmp_path, tmp_path, tmp_path)
    plan = RunPlan(
        seq_len=64,
        batch_size=8,
        eval_tokens=640,
        eval_batch_size=5,
        token_budget=6400,
        tokens_per_step=512,
        max_steps=10,
        learning_rate=1e-3,
    )
    gpu = training_arguments(settings, _device("cuda"), plan)
    assert gpu.dataloader_drop_last and gpu.dataloader_num_workers == 1 and gpu.dataloader_pin_memory
    assert gpu.dataloader_persistent_workers and gpu.accelerator_config.non_blocking
    assert gpu.per_device_eval_batch_size == 5
    cpu = training_arguments(settings, _device("cpu"), plan)
    assert cpu.dataloader_drop_last and cpu.dataloader_num_workers == 0 and not cpu.accelerator_config.non_blocking


def test_the_eval_batch_divides_the_val_blocks():
    assert eval_batch_size(512, 16, 1) == 16
    assert eval_batch_size(390, 16, 1) == 15
    assert eval_batch_size(7, 16, 1) == 7
    assert eval_batch_size(389, 16, 1) == 1  # prime: every block still evaluated
    assert eval_batch_size(12, 4, 2) == 3  # 6 blocks per process


def test_a_train_split_smaller_than_one_batch_gets_a_smaller_batch(tmp_path):
    """drop_last would skip the only (short) batch: the batch shrinks to the blocks each process has."""
    settings = tiny_settings(tmp_path, tmp_path, tmp_path, batch_size=8, seq_len=64)
    preset = resolve_preset("llama", "tiny", 512)
    assert plan_run(settings, preset, 8 * 64, 4 * 64, 1).batch_size == 8
    assert plan_run(settings, preset, 7 * 64 + 10, 4 * 64, 1).batch_size == 7
    assert plan_run(settings, preset, 8 * 64, 4 * 64, 2).batch_size == 4
    with pytest.raises(SplitTooSmall, match="fewer than one block of seq_len 64 per process"):
        plan_run(settings, preset, 64, 4 * 64, 2)


def test_kubernetes_requests_one_gpu_per_trainer_process():
    assert gpus_per_pod({}) == 1 and gpus_per_pod({"MPYFORGE_NPROC_PER_NODE": "4"}) == 4
    with pytest.raises(ValueError, match="MPYFORGE_NPROC_PER_NODE='two'"):
        gpus_per_pod({"MPYFORGE_NPROC_PER_NODE": "two"})
    resources = gpu_pod_tags(2)["dagster-k8s/config"]["container_config"]["resources"]
    assert resources == {"limits": {"nvidia.com/gpu": "2"}, "requests": {"nvidia.com/gpu": "2"}}
    values = yaml.safe_load((REPO / "deploy" / "helm" / "values.yaml").read_text())
    env = {e["name"]: e["value"] for e in values["dagster-user-deployments"]["deployments"][0]["env"]}
    launcher = dict(v.split("=", 1) for v in values["runLauncher"]["config"]["k8sRunLauncher"]["envVars"])
    assert env["MPYFORGE_NPROC_PER_NODE"] == launcher["MPYFORGE_NPROC_PER_NODE"]
