"""GGUF export: writer layout, llama.cpp quantization, parity checks, generation.

Everything runs for real: gguf-py writes, llama.cpp (llama-cpp-python) quantizes,
loads and evaluates, and the HF models are the references.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import gguf
import numpy as np
import pytest
from transformers import AutoTokenizer

from pipeline.common.prompt_format import SPECIAL_TOKENS, chat_template_jinja, split_pair
from pipeline.gguf import tensors as gguf_tensors
from pipeline.gguf import writer as gguf_writer
from pipeline.gguf.export import VARIANTS, GgufSettings, build_gguf_variant, variant_table_markdown
from pipeline.gguf.generate import generate_gguf, load_llama, tokenize
from pipeline.gguf.quantize import QuantizeError, quantize
from pipeline.gguf.verify import VerificationError, make_windows, verify_variant, window_perplexity
from pipeline.gguf.writer import write_gguf
from pipeline.tokens.tokenizer import TokenizerSettings, save_tokenizer, train_tokenizer
from tests.tiny_models import SAMPLE_TEXTS, build_tiny_gpt2, build_tiny_llama

# Validation texts with the tokenizer's hard cases: contractions, digit runs,
# indentation/tabs/CRLF, non-ASCII, and special tokens written in the text.
VAL_TEXTS = [*SAMPLE_TEXTS, "".join(split_pair("Blink the LED.", "led.toggle()")), "  x\t=\r\n  'RE 'M we'Ve 🌡️"]
VERIFY = dict(window=64, max_windows=3, gen_tokens=8)
# Numbers next to indentation, spaces, letters and non-ASCII numerals, for the digit-split tokenizer.
DIGIT_TEXTS = [*SAMPLE_TEXTS, "time.sleep_ms(1500)\n", "data = [\n    1500,\n  25,\n]\n", "x² ½ ٣٤ 0x1F 1e-3 v2.0"]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {
        "gpt2": build_tiny_gpt2(root / "gpt2"),
        "llama": build_tiny_llama(root / "llama", kv_heads=2),
        # tied head and a single KV head (multi-query attention)
        "llama_tied_mqa": build_tiny_llama(root / "llama_tied_mqa", kv_heads=1, tied=True),
    }


@pytest.fixture(scope="module")
def masters(models, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("masters")
    return {family: Path(write_gguf(d, root / f"{family}-f32.gguf")["path"]) for family, d in models.items()}


def read_field(path: Path, key: str):
    """One metadata value as gguf's reader gives it (``contents()``), None when the key is absent."""
    field = gguf.GGUFReader(str(path)).get_field(key)
    return None if field is None else field.contents()


def _tensors(path: Path) -> dict[str, gguf.ReaderTensor]:
    return {t.name: t for t in gguf.GGUFReader(str(path)).tensors}


def test_gpt2_file_layout(models, masters):
    path = masters["gpt2"]
    assert read_field(path, "general.architecture") == "gpt2"
    assert read_field(path, "gpt2.context_length") == 128
    assert read_field(path, "gpt2.feed_forward_length") == 4 * 256
    assert read_field(path, "gpt2.attention.layer_norm_epsilon") == pytest.approx(1e-5)
    assert read_field(path, "tokenizer.ggml.pre") == "gpt-2"
    assert read_field(path, "tokenizer.ggml.add_bos_token") is False
    assert read_field(path, "tokenizer.chat_template") == chat_template_jinja()
    tokens = read_field(path, "tokenizer.ggml.tokens")
    assert tokens[: len(SPECIAL_TOKENS)] == list(SPECIAL_TOKENS)
    assert read_field(path, "tokenizer.ggml.token_type")[:8] == [3] * 7 + [1]
    merges = read_field(path, "tokenizer.ggml.merges")
    assert merges and all(len(m.split(" ")) == 2 for m in merges)
    tensors = _tensors(path)
    assert "output.weight" not in tensors  # tied: llama.cpp reuses token_embd
    assert not any(name.endswith("attn.bias") or "masked_bias" in name for name in tensors)
    # GGUF shapes are in GGML order: ne0 is the input dim of an nn.Linear layout.
    assert list(tensors["blk.0.attn_qkv.weight"].shape) == [256, 768]
    assert list(tensors["position_embd.weight"].shape) == [256, 128]


def test_llama_file_layout_and_qk_permutation(models, masters):
    path = masters["llama"]
    assert read_field(path, "llama.rope.dimension_count") == 64
    assert read_field(path, "llama.attention.head_count_kv") == 2
    assert read_field(path, "llama.attention.layer_norm_rms_epsilon") == pytest.approx(1e-6)
    assert read_field(path, "general.file_type") == 0
    checkpoint = gguf_tensors.read_checkpoint(models["llama"])
    tensors = _tensors(path)
    assert "output.weight" in tensors  # untied head is written
    k_hf = checkpoint["model.layers.0.self_attn.k_proj.weight"]
    k_gguf = np.asarray(tensors["blk.0.attn_k.weight"].data)
    np.testing.assert_array_equal(k_gguf, gguf_tensors.permute_for_rope(k_hf, 2))
    assert not np.array_equal(k_gguf, k_hf)


def _tiny_llama_with(out: Path, settings: TokenizerSettings) -> Path:
    """A tiny llama whose tokenizer is the tokenizer stage's, trained on DIGIT_TEXTS with ``settings``."""
    tokenizer = train_tokenizer(iter([list(DIGIT_TEXTS) * 4]), settings)
    model_dir = build_tiny_llama(out, vocab_size=tokenizer.get_vocab_size())
    save_tokenizer(tokenizer, model_dir)
    return model_dir


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory) -> Path:
    return _tiny_llama_with(tmp_path_factory.mktemp("digits"), TokenizerSettings(split_digits=True))


@pytest.mark.parametrize("option, pre", [("split_digits", "starcoder"), ("numbers_apart", "llama-bpe")])
def test_number_tokenizers_export_as_llama_cpps_own_pre_tokenizer(option, pre, tmp_path, monkeypatch):
    model_dir = _tiny_llama_with(tmp_path / "model", TokenizerSettings(**{option: True}))
    path = Path(write_gguf(model_dir, tmp_path / "model.gguf")["path"])
    assert read_field(path, "tokenizer.ggml.pre") == pre
    hf = AutoTokenizer.from_pretrained(model_dir)
    # Either way a request's number and its code's are the same tokens, the space before it apart.
    request, code = (
        [p for p in map(hf.decode, hf.encode(t)) if p.strip().isdigit()] for t in ("in 1500 ms", "f(1500)")
    )
    assert request == code and "".join(code) == "1500" and " " not in "".join(request)
    texts = ["every 1500 ms", "time.sleep_ms(1500)", "  GP12 it's 115200 baud\r\n\tx²=½", *VAL_TEXTS, *DIGIT_TEXTS]
    llm = load_llama(path)
    try:
        assert [tokenize(llm, text) for text in texts] == [hf.encode(text) for text in texts]
    finally:
        llm.close()
    row = verify_variant(path, model_dir, DIGIT_TEXTS, None, **VERIFY)
    assert row["tokenizer_parity"] == 1.0 and row["failures"] == []
    # The name matters: read as plain gpt-2, llama.cpp splits the same text otherwise (" 1500" whole).
    original = gguf_writer.read_vocab
    monkeypatch.setattr(gguf_writer, "read_vocab", lambda p, n: dataclasses.replace(original(p, n), pre="gpt-2"))
    wrong = Path(write_gguf(model_dir, tmp_path / "as-gpt2.gguf")["path"])
    assert verify_variant(wrong, model_dir, DIGIT_TEXTS, None, **VERIFY)["tokenizer_parity"] < 1.0


def test_writer_refuses_a_pre_tokenizer_llama_cpp_cannot_name(digits_model, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        (broken / name).write_bytes((digits_model / name).read_bytes())
    spec = json.loads((broken / "tokenizer.json").read_text())
    spec["pre_tokenizer"]["pretokenizers"][0]["individual_digits"] = False  # digit runs: no llama.cpp name
    (broken / "tokenizer.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match=r"tokenizer\.json: pre_tokenizer must be ByteLevel"):
        write_gguf(broken, tmp_path / "x.gguf")


def test_f16_writer_keeps_norms_and_biases_f32(models, tmp_path):
    path = Path(write_gguf(models["gpt2"], tmp_path / "g16.gguf", dtype="f16")["path"])
    types = {name: gguf.GGMLQuantizationType(t.tensor_type).name for name, t in _tensors(path).items()}
    assert types["blk.0.attn_qkv.weight"] == "F16"
    assert types["blk.0.attn_qkv.bias"] == types["blk.0.attn_norm.weight"] == types["position_embd.weight"] == "F32"


def test_writer_rejects_bad_inputs(models, tmp_path):
    with pytest.raises(ValueError, match="dtype 'q4_k_m'"):
        write_gguf(models["llama"], tmp_path / "x.gguf", dtype="q4_k_m")
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        (broken / name).write_bytes((models["llama"] / name).read_bytes())
    spec = json.loads((broken / "tokenizer.json").read_text())
    spec["pre_tokenizer"]["add_prefix_space"] = True
    (broken / "tokenizer.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match=r"tokenizer\.json: ByteLevel add_prefix_space"):
        write_gguf(broken, tmp_path / "x.gguf")
    config = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**config, "model_type": "mistral"}))
    with pytest.raises(ValueError, match=r"config\.json: model_type 'mistral'"):
        write_gguf(broken, tmp_path / "x.gguf")


@pytest.mark.parametrize("family", ["gpt2", "llama", "llama_tied_mqa"])
def test_f32_matches_hf_in_llama_cpp(family, models, masters):
    row = verify_variant(masters[family], models[family], VAL_TEXTS, None, **VERIFY)
    assert ("output.weight" in _tensors(masters[family])) == (family == "llama")
    assert row["tokenizer_parity"] == 1.0
    assert row["kl_vs_hf"] < 1e-4
    assert row["top1_agreement"] == 1.0
    assert row["ppl"] == pytest.approx(row["hf_ppl"], rel=1e-3)
    assert row["failures"] == []
    assert row["tok_per_s"] > 0 and isinstance(row["sample"], str)


def _skip_square_transpose(weight: np.ndarray, original=gguf_tensors.conv1d_to_linear) -> np.ndarray:
    # The square attn.c_proj is the one Conv1D weight whose omission loads without error.
    return weight if weight.shape[0] == weight.shape[1] else original(weight)


@pytest.mark.parametrize(
    "family, target, broken",
    [("gpt2", "conv1d_to_linear", _skip_square_transpose), ("llama", "permute_for_rope", lambda w, n: w)],
)
def test_parity_check_catches_a_skipped_transform(family, target, broken, models, tmp_path, monkeypatch):
    monkeypatch.setattr(gguf_tensors, target, broken)
    path = Path(write_gguf(models[family], tmp_path / "broken.gguf")["path"])
    row = verify_variant(path, models[family], VAL_TEXTS, None, **VERIFY)
    assert row["tokenizer_parity"] == 1.0  # tokens are fine; only the weights are wrong
    assert row["kl_vs_hf"] > 1e-2
    assert any("F32 logits differ" in failure for failure in row["failures"])


def test_parity_check_catches_a_tokenizer_mismatch(models, tmp_path, monkeypatch):
    original = gguf_writer.read_vocab

    def vocab_missing_merges(path, vocab_size):
        vocab = original(path, vocab_size)
        return dataclasses.replace(vocab, merges=vocab.merges[: len(vocab.merges) // 2])

    monkeypatch.setattr(gguf_writer, "read_vocab", vocab_missing_merges)
    path = Path(write_gguf(models["llama"], tmp_path / "bad-vocab.gguf")["path"])
    row = verify_variant(path, models["llama"], VAL_TEXTS, None, **VERIFY)
    assert row["tokenizer_parity"] < 1.0
    assert any("tokenizer parity" in failure for failure in row["failures"])


def test_unloadable_file_is_a_verification_error(models, tmp_path):
    bogus = tmp_path / "model-f32.gguf"
    bogus.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(VerificationError, match="could not load"):
        verify_variant(bogus, models["llama"], VAL_TEXTS, None, **VERIFY)


def test_quantize_reports_k_quant_fallback(tmp_path):
    # 384 columns is not a multiple of 256, so llama.cpp falls back from Q4_K.
    model = build_tiny_llama(tmp_path / "wide", hidden=384, heads=6, kv_heads=2, intermediate=768, layers=1)
    master = Path(write_gguf(model, tmp_path / "wide-f32.gguf")["path"])
    result = quantize(master, tmp_path / "wide-q4.gguf", "q4_k_m")
    assert result["fallback_messages"]
    assert "Q5_0" in result["tensor_types"]
    assert 4.0 < result["bits_per_weight"] < 32.0


def test_quantize_error_carries_llama_cpp_log(models, tmp_path):
    with pytest.raises(QuantizeError, match="GGUF"):
        quantize(models["llama"] / "config.json", tmp_path / "x.gguf", "q8_0")
    with pytest.raises(ValueError, match="variant 'q3'"):
        quantize(models["llama"] / "config.json", tmp_path / "x.gguf", "q3")


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_every_variant_loads_generates_and_is_tabled(family, models, masters, tmp_path):
    settings = GgufSettings(master_path=str(masters[family]), **VERIFY)
    rows = []
    for variant in VARIANTS:
        result = build_gguf_variant(models[family], variant, tmp_path / variant, settings, VAL_TEXTS)
        assert (tmp_path / variant / f"model-{variant}.gguf").is_file()
        json.dumps(result)  # Dagster metadata must be JSON-serializable
        rows.append(result["row"])
        if variant == "f32":
            settings.reference_ppl = result["row"]["ppl"]
    by_variant = {row["variant"]: row for row in rows}
    assert all(row["tokenizer_parity"] == 1.0 and row["tok_per_s"] > 0 for row in rows)
    assert by_variant["f32"]["delta_ppl_pct"] == 0.0
    assert by_variant["f16"]["kl_vs_hf"] < 1e-3
    # Fewer bits, smaller file: the variants really differ.
    sizes = [by_variant[v]["bits_per_weight"] for v in VARIANTS]
    assert sizes == sorted(sizes, reverse=True)
    assert "Q4_K" in by_variant["q4_k_m"]["tensor_types"]
    table = variant_table_markdown(rows)
    assert table.count("\n") == len(VARIANTS) + 1 and "q2_k" in table


def test_build_fails_loudly_on_broken_parity(models, tmp_path, monkeypatch):
    monkeypatch.setattr(gguf_tensors, "permute_for_rope", lambda w, n: w)
    with pytest.raises(VerificationError, match="logits differ"):
        build_gguf_variant(models["llama"], "f32", tmp_path, GgufSettings(**VERIFY), VAL_TEXTS)


def test_generate_gguf_is_greedy_and_bounded(masters):
    first = generate_gguf(masters["llama"], "Blink an LED", max_tokens=12, instruct=True)
    assert first == generate_gguf(masters["llama"], "Blink an LED", max_tokens=12, instruct=True)
    assert isinstance(generate_gguf(masters["gpt2"], "import ", max_tokens=500, instruct=False), str)
    with pytest.raises(ValueError, match="context"):
        generate_gguf(masters["gpt2"], "led.on() " * 200, max_tokens=4, instruct=False)


def test_windows_and_perplexity_math():
    windows = make_windows(list(range(10, 20)), bos_id=1, length=4, max_windows=5)
    assert windows == [[1, 10, 11, 12], [1, 13, 14, 15], [1, 16, 17, 18]]
    uniform = [np.zeros((4, 50), dtype=np.float32) for _ in windows]
    assert window_perplexity(windows, uniform) == pytest.approx(50.0)


def test_the_f32_master_is_scratch_inside_the_write_directory(models, tmp_path, monkeypatch):
    # A killed export must leave its master where the artifact store sweeps, not in the system temp dir.
    from pipeline.gguf import export as gguf_export

    written = []

    def recording_write_gguf(model_dir, path, **kwargs):
        written.append(Path(path))
        return write_gguf(model_dir, path, **kwargs)

    monkeypatch.setattr(gguf_export, "write_gguf", recording_write_gguf)
    out_dir = tmp_path / ".tmp-write"
    build_gguf_variant(models["llama"], "q8_0", out_dir, GgufSettings(**VERIFY), VAL_TEXTS)
    (master,) = written
    assert master.name == "model-f32.gguf" and out_dir in master.parents
    assert [p.name for p in out_dir.iterdir()] == ["model-q8_0.gguf"]  # the scratch is gone before commit
