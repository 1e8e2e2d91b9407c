"""HF, llama.cpp and the Ollama Modelfile decode with one set of settings (pipeline.common.decoding)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipeline.common.decoding import DECODING, DecodingSettings
from pipeline.gguf.generate import llama_cpp_kwargs
from pipeline.serve.modelfile import render_modelfile
from pipeline.serve.settings import model_parameters
from pipeline.train.generate import hf_generate_kwargs
from scripts.modelfile_parser import parse_modelfile

# Every field away from its default, so a backend that ignores one is caught.
CHANGED = DecodingSettings(temperature=0.7, top_p=0.8, repeat_penalty=1.3, repeat_last_n=32, max_new_tokens=77)


def _modelfile_values(decoding: DecodingSettings) -> dict[str, list[str]]:
    text = render_modelfile("./m.gguf", "{{ .Prompt }}", "", model_parameters(128, decoding), "")
    values: dict[str, list[str]] = {}
    for name, value in parse_modelfile(text):
        values.setdefault(name, []).append(value)
    return values


@pytest.mark.parametrize("decoding", [DECODING, CHANGED], ids=["default", "changed"])
def test_the_three_backends_read_the_same_settings(decoding):
    hf = hf_generate_kwargs(decoding, max_new_tokens=1000)
    llama = llama_cpp_kwargs(decoding, max_tokens=1000)
    ollama = _modelfile_values(decoding)
    greedy = decoding.temperature == 0
    assert hf["do_sample"] is not greedy
    assert hf.get("temperature", 0.0) == llama["temperature"] == float(ollama["temperature"][0]) == decoding.temperature
    if not greedy:  # HF refuses top_p without sampling; the others carry it either way
        assert hf["top_p"] == decoding.top_p and hf["top_k"] == 0
    assert llama["top_p"] == float(ollama["top_p"][0]) == decoding.top_p
    assert llama["top_k"] == int(ollama["top_k"][0]) == 0
    assert llama["min_p"] == float(ollama["min_p"][0]) == 0.0
    assert hf["repetition_penalty"] == llama["repeat_penalty"] == float(ollama["repeat_penalty"][0])
    assert hf["repetition_penalty"] == decoding.repeat_penalty
    assert int(ollama["repeat_last_n"][0]) == decoding.repeat_last_n
    # The token limit caps what a caller asks for, in all three.
    assert hf["max_new_tokens"] == llama["max_tokens"] == int(ollama["num_predict"][0]) == decoding.max_new_tokens
    assert llama["stop"] == ollama["stop"] == list(decoding.stop)


def test_a_caller_can_ask_for_fewer_tokens_and_sample_for_pass_at_k():
    assert hf_generate_kwargs(DECODING, 12)["max_new_tokens"] == llama_cpp_kwargs(DECODING, 12)["max_tokens"] == 12
    hf, llama = hf_generate_kwargs(DECODING, 12, temperature=0.8), llama_cpp_kwargs(DECODING, 12, temperature=0.8)
    assert hf["do_sample"] and hf["temperature"] == llama["temperature"] == 0.8


def test_the_default_is_greedy_and_stops_at_the_end_of_the_turn():
    assert DECODING.temperature == 0 and "<eos>" in DECODING.stop and "<|user|>" in DECODING.stop


@pytest.mark.parametrize(
    "field,value", [("temperature", -0.1), ("top_p", 0.0), ("repeat_penalty", 0.0), ("max_new_tokens", 0)]
)
def test_bad_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        replace(DECODING, **{field: value}).validate()


def test_cpu_decoding_runs_on_one_thread_and_gives_the_count_back():
    import torch

    from models.presets import resolve_preset
    from pipeline.train.generate import decoding_threads
    from pipeline.train.model import build_model

    model = build_model(resolve_preset("llama", "tiny", vocab_size=512))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with decoding_threads(model):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError), decoding_threads(model):
            raise RuntimeError("an answer failed")
        assert torch.get_num_threads() == 2  # restored on the way out of a failure too
    finally:
        torch.set_num_threads(before)
