"""GGUF export of *trained* tiny models (both families): weights that moved away from their
random initialisation still match HF in llama.cpp, and every quantized variant loads and generates."""

import json
from pathlib import Path

import gguf
import pytest

from pipeline.gguf.export import GgufSettings, build_gguf_variant
from pipeline.gguf.summary import read_gguf_facts
from pipeline.gguf.verify import verify_variant
from pipeline.gguf.writer import write_gguf
from pipeline.train.outputs import METRICS_FILE
from pipeline.train.run import run_training
from tests.fixtures_training import make_shards, make_tokenizer, tiny_settings
from tests.test_gguf import VAL_TEXTS, VERIFY


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("trained")
    tokenizer_dir = make_tokenizer(root / "tokenizer")
    shards_dir = make_shards(root / "shards", tokenizer_dir)
    models = {}
    for family in ("gpt2", "llama"):
        # seq_len 128 keeps the GPT-2 position table at 512 while training only briefly.
        settings = tiny_settings(root / family, shards_dir, tokenizer_dir, family=family, max_steps=20, seq_len=128)
        run_training(settings)
        models[family] = settings.model_dir
    return models


@pytest.mark.slow
@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_trained_f32_matches_hf_and_variants_run(family, trained, tmp_path):
    master = tmp_path / "model-f32.gguf"
    written = write_gguf(trained[family], master, dtype="f32")
    # The declared context is what training used, not the position table (512), and for GPT-2
    # the table is cut to it, or llama.cpp would refuse the file.
    seq_len = json.loads((trained[family] / METRICS_FILE).read_text())["seq_len"]
    assert written["context_length"] == read_gguf_facts(master).context_length == seq_len < 512
    if family == "gpt2":
        rows = {t.name: t.shape for t in gguf.GGUFReader(master).tensors}["position_embd.weight"]
        assert seq_len in rows
    row = verify_variant(master, trained[family], VAL_TEXTS, None, **VERIFY)
    assert row["tokenizer_parity"] == 1.0
    assert row["kl_vs_hf"] < 1e-4
    assert row["failures"] == []

    settings = GgufSettings(master_path=str(master), reference_ppl=row["ppl"], **VERIFY)
    for variant in ("f16", "q8_0", "q4_k_m", "q2_k"):
        built = build_gguf_variant(trained[family], variant, tmp_path / variant, settings, VAL_TEXTS)
        assert built["row"]["tokenizer_parity"] == 1.0, variant
        assert built["row"]["failures"] == [], variant
        assert built["row"]["tok_per_s"] > 0 and isinstance(built["row"]["sample"], str)
