"""Presets, sizing, HF builders and device/precision resolution (no training)."""

from __future__ import annotations

import pytest
import torch

from models.presets import FAMILIES, SIZES, PresetError, check_sequence, resolve_preset
from models.sizing import check_fits, flops_per_token, parameter_count, training_memory
from pipeline.train.device import gpu_peak_flops, resolve_device
from pipeline.train.model import build_config, build_model
from pipeline.train.settings import TrainSettings

GIB = 1024**3


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("size", ["tiny", "5m"])
def test_parameter_count_matches_the_built_model(family, size):
    preset = resolve_preset(family, size, vocab_size=600)
    model = build_model(preset)
    assert parameter_count(preset) == model.num_parameters()
    # Tied: the output projection is the input embedding, not a copy.
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    assert model.config._attn_implementation == "sdpa"


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("size", list(SIZES))
def test_every_preset_is_quant_aligned_with_64_wide_heads(family, size):
    preset = resolve_preset(family, size, vocab_size=8192)
    assert preset.head_dim == 64 and preset.context == 512 and preset.tie_embeddings
    assert preset.d_model % 256 == 0 and preset.d_ff % 256 == 0
    if family == "llama":
        assert preset.n_kv_heads == max(1, preset.n_heads // 4)
        assert preset.d_ff == -(-8 * preset.d_model // 3 // 256) * 256  # 8/3·d rounded up to 256
    else:
        assert preset.n_kv_heads == preset.n_heads and preset.d_ff == 4 * preset.d_model


def test_sizes_grow_and_land_near_their_names():
    counts = [parameter_count(resolve_preset("llama", size, 8192)) for size in SIZES]
    assert counts == sorted(counts)
    for size, count in zip(list(SIZES)[1:], counts[1:]):
        nominal = float(size.rstrip("m")) * 1e6
        assert 0.6 * nominal < count < 1.5 * nominal, (size, count)


def test_tiny_shapes_from_the_issue():
    llama = resolve_preset("llama", "tiny", 512)
    assert (llama.d_model, llama.n_heads, llama.n_kv_heads, llama.d_ff) == (256, 4, 1, 768)
    assert 2 <= llama.n_layers <= 4


def test_overriding_the_width_rederives_heads_and_ffn():
    preset = resolve_preset("llama", "tiny", 512, {"d_model": 512, "n_layers": 3})
    assert (preset.n_heads, preset.n_kv_heads, preset.d_ff, preset.n_layers) == (8, 2, 1536, 3)
    explicit = resolve_preset("llama", "tiny", 512, {"d_model": 512, "n_kv_heads": 8})
    assert explicit.n_kv_heads == 8


def test_builders_carry_family_specific_choices():
    gpt2 = build_config(resolve_preset("gpt2", "tiny", 512))
    assert gpt2.activation_function == "gelu_new" and gpt2.n_positions == 512 and gpt2.n_inner == 1024
    llama = build_config(resolve_preset("llama", "tiny", 512, {"rope_theta": 50000.0}))
    assert llama.rope_parameters["rope_theta"] == 50000.0
    assert llama.num_key_value_heads == 1 and llama.hidden_act == "silu" and llama.tie_word_embeddings
    assert (llama.bos_token_id, llama.eos_token_id, llama.pad_token_id) == (1, 2, 0)


@pytest.mark.parametrize(
    ("family", "overrides", "message"),
    [
        ("gpt2", {"n_heads": 3}, "not divisible by n_heads 3"),
        ("llama", {"n_kv_heads": 3}, "n_heads 4 is not divisible by n_kv_heads 3"),
        ("llama", {"n_heads": 256, "n_kv_heads": 1}, "head_dim 1 must be even"),
        ("gpt2", {"n_kv_heads": 1}, "gpt2 has no grouped-query attention"),
        ("llama", {"d_ff": 700}, "d_ff 700 is not a multiple of 256"),
        ("llama", {"n_layers": 0}, "n_layers must be positive"),
        ("llama", {"dropout": 0.1}, "['dropout'] are not preset fields"),
    ],
)
def test_invalid_presets_are_refused_naming_the_cause(family, overrides, message):
    with pytest.raises(PresetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        resolve_preset(family, "tiny", 512, overrides)


def test_unknown_family_and_size():
    with pytest.raises(PresetError, match="family 'bert'"):
        resolve_preset("bert", "tiny", 512)
    with pytest.raises(PresetError, match="size '1b'"):
        resolve_preset("gpt2", "1b", 512)


def test_sequence_and_vocab_checks():
    preset = resolve_preset("llama", "tiny", 512)
    check_sequence(preset, seq_len=512, data_vocab_size=512, max_token_id=65535)
    with pytest.raises(PresetError, match="seq_len 1024 exceeds the context"):
        check_sequence(preset, 1024, 512, 65535)
    with pytest.raises(PresetError, match="data uses a vocabulary of 600"):
        check_sequence(preset, 64, 600, 65535)
    big = resolve_preset("llama", "tiny", 70000)
    with pytest.raises(PresetError, match="does not fit the shard dtype"):
        check_sequence(big, 64, 70000, 65535)


def test_memory_estimate_and_refusal():
    preset = resolve_preset("llama", "80m", 8192)
    small = training_memory(preset, 8, 512, mixed_precision=True)
    large = training_memory(preset, 64, 512, mixed_precision=True)
    assert small.weights == 4 * parameter_count(preset) and small.optimizer == 2 * small.weights
    double = training_memory(preset, 16, 512, mixed_precision=True)
    assert large.activations - small.activations == 7 * (double.activations - small.activations)  # linear in tokens
    assert training_memory(preset, 8, 512, mixed_precision=False).activations > small.activations
    check_fits(preset, 8, 512, True, memory_bytes=80 * GIB, device_name="NVIDIA H100")
    with pytest.raises(PresetError, match=r"needs about .* GiB .* RTX 3060 offers 12.0 GiB"):
        check_fits(preset, 256, 512, True, memory_bytes=12 * GIB, device_name="RTX 3060")


def test_flops_per_token_counts_matmuls_and_attention():
    preset = resolve_preset("gpt2", "tiny", 512)
    positions = preset.context * preset.d_model  # a lookup, not a matmul
    expected = 6 * (parameter_count(preset) - positions) + 12 * preset.n_layers * preset.d_model * 64
    assert flops_per_token(preset, 64) == expected


def test_device_resolution_on_cpu():
    info = resolve_device("cpu", "auto")
    assert info.type == "cpu" and info.precision == "fp32" and info.peak_flops > 1e9 and info.memory_bytes > GIB
    assert resolve_device("cpu", "bf16-mixed").mixed_precision
    with pytest.raises(ValueError, match="'fp16-mixed' needs a CUDA device"):
        resolve_device("cpu", "fp16-mixed")
    with pytest.raises(ValueError, match="precision 'fp8'"):
        resolve_device("cpu", "fp8")
    with pytest.raises(ValueError, match="device 'tpu' is not understood"):
        resolve_device("tpu", "auto")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda:0", "auto")
        assert resolve_device("auto", "auto").type == "cpu"


def test_gpu_peak_table_matches_names_as_torch_reports_them():
    assert gpu_peak_flops("NVIDIA H200") == 989e12
    assert gpu_peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert gpu_peak_flops("NVIDIA H100 PCIe") == 756e12
    assert gpu_peak_flops("NVIDIA A100-SXM4-80GB") == 312e12
    assert gpu_peak_flops("NVIDIA GeForce RTX 4090") == 165.2e12
    assert gpu_peak_flops("NVIDIA GeForce RTX 5070") == 61.7e12
    assert gpu_peak_flops("NVIDIA GeForce RTX 3060") == 25.5e12
    assert gpu_peak_flops("NVIDIA H200", "fp32") == 989e12 / 2  # TF32
    # Exact names only: a substring match would give these the listed cards' peaks.
    assert gpu_peak_flops("Some Future GPU") is None
    assert gpu_peak_flops("NVIDIA H100 NVL") is None
    assert gpu_peak_flops("NVIDIA GeForce RTX 4090 Laptop GPU") is None


def test_settings_json_round_trip_and_checks(tmp_path):
    settings = TrainSettings(shards_dir="s", tokenizer_dir="t", output_dir="o", overrides={"n_layers": 3})
    path = tmp_path / "cfg.json"
    path.write_text(settings.to_json())
    assert TrainSettings.from_json_file(path) == settings
    assert settings.lr is None and settings.seq_len is None and settings.token_budget is None
    assert settings.early_stopping_patience > 0  # early stopping is on by default
    path.write_text('{"mode": "pretrain", "epochs": 3}')
    with pytest.raises(ValueError, match=r"cfg.json: unknown TrainSettings field\(s\) \['epochs'\]"):
        TrainSettings.from_json_file(path)
    for changes, message in [
        ({"save_every": 150, "eval_every": 100}, "save_every 150 must be a multiple of eval_every 100"),
        ({"mode": "sft"}, "init_from is required for mode 'sft'"),
        ({"mode": "finetune"}, "mode 'finetune' is unknown"),
        ({"batch_size": 0}, "batch_size must be positive"),
        ({"warmup_ratio": 1.5}, r"warmup_ratio must be in \[0, 1\)"),
        ({"seq_len": 0}, "seq_len must be positive when given"),
        ({"eval_every": 15, "log_every": 10, "save_every": 30}, "eval_every 15 must be a multiple of log_every 10"),
    ]:
        bad = TrainSettings(shards_dir="s", tokenizer_dir="t", output_dir="o", **changes)
        with pytest.raises(ValueError, match=message):
            bad.validate()
