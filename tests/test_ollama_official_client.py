"""The stand-in driven by the official `ollama` Python client: list, show, generate and chat.

`/api/chat` is what `ollama run`, Open WebUI and LangChain use, and the only path that renders the
Modelfile TEMPLATE over `.Messages`; the prompt it builds must be the training format token for
token, and an answer must end at the end-of-turn token the GGUF declares.
"""

from __future__ import annotations

from pathlib import Path

import ollama
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from pipeline.common.prompt_format import EOS, SPECIAL_TOKEN_IDS, USER, Message, ollama_template, render
from pipeline.gguf.writer import write_gguf
from pipeline.serve.client import register_model
from pipeline.serve.settings import OllamaSettings
from scripts.go_template import render_go_template
from scripts.ollama_standin import running_standin
from tests.tiny_models import build_tiny_llama

QUESTION = "Blink the LED on pin 2 every 500 ms."


def _model_that_always_says(token: str, root: Path) -> Path:
    """A tiny llama whose greedy next token is always ``token``: the layers add nothing to the
    residual stream, every embedding and output row is one vector u, and ``token``'s output row
    is 2u, so its logit is twice every other one whatever the input."""
    hf_dir = build_tiny_llama(
        root / token.strip("<|>"), hidden=64, layers=1, heads=2, kv_heads=1, intermediate=128, context=256
    )
    model = AutoModelForCausalLM.from_pretrained(hf_dir)
    with torch.no_grad():
        u = torch.linspace(0.5, 1.5, model.config.hidden_size)
        model.model.embed_tokens.weight[:] = u
        model.lm_head.weight[:] = u
        model.lm_head.weight[SPECIAL_TOKEN_IDS[token]] = 2 * u
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
    model.save_pretrained(hf_dir)
    return Path(write_gguf(hf_dir, root / f"{token.strip('<|>')}.gguf")["path"])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("official")
    hf_dir = build_tiny_llama(root / "hf", hidden=64, layers=1, heads=2, kv_heads=1, intermediate=128, context=256)
    return hf_dir, Path(write_gguf(hf_dir, root / "tiny.gguf")["path"])


def test_list_show_generate_and_chat_through_the_official_client(tmp_path, tiny):
    hf_dir, gguf = tiny
    with running_standin(tmp_path) as server:
        register_model(server.url, "mpyforge-tiny", gguf, OllamaSettings(num_predict=4, timeout_s=60))
        client = ollama.Client(host=server.url)
        assert [m.model for m in client.list().models] == ["mpyforge-tiny:latest"]
        shown = client.show("mpyforge-tiny")
        assert shown.template == ollama_template()
        assert server.store.load("mpyforge-tiny")["system"] == ""  # no SYSTEM turn the model never saw
        generated = client.generate(model="mpyforge-tiny", prompt=QUESTION, options={"num_predict": 6})
        assert generated.done and generated.eval_count == 6

        messages = [{"role": "user", "content": QUESTION}]
        answer = client.chat(model="mpyforge-tiny", messages=messages, options={"num_predict": 6})
        assert answer.message.role == "assistant" and answer.done and answer.eval_count == 6
        streamed = list(client.chat(model="mpyforge-tiny", messages=messages, options={"num_predict": 6}, stream=True))
        assert streamed[-1].done and not any(part.done for part in streamed[:-1])
        assert "".join(part.message.content for part in streamed) == answer.message.content
        assert server.store.counters["chat"] == 2

    # The TEMPLATE over .Messages gives exactly the training format, token for token.
    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    data = {"System": "", "Prompt": "", "Response": "", "Messages": [{"Role": "user", "Content": QUESTION}]}
    served = render_go_template(shown.template, data)
    trained = render([Message("user", QUESTION)], add_generation_prompt=True)
    served_ids = tokenizer(served, add_special_tokens=False)["input_ids"]
    assert served_ids == tokenizer(trained, add_special_tokens=False)["input_ids"]
    assert answer.prompt_eval_count == len(served_ids)


@pytest.mark.parametrize("end_token", [EOS, USER])
def test_chat_ends_at_the_end_of_turn_tokens_the_gguf_declares(tmp_path, end_token):
    gguf = _model_that_always_says(end_token, tmp_path)
    with running_standin(tmp_path / "store") as server:
        client = ollama.Client(host=server.url)
        # Created with the official client itself (our registration refuses a model that answers nothing).
        digest = client.create_blob(gguf)
        client.create(model="ends", files={gguf.name: digest}, template=ollama_template(), parameters={"num_ctx": 256})
        # No stop strings: only the GGUF's end-of-generation ids (eos, and eot = <|user|>) can end it.
        reply = client.chat(
            model="ends", messages=[{"role": "user", "content": QUESTION}], options={"num_predict": 20, "stop": []}
        )
    assert reply.done_reason == "stop" and reply.eval_count == 0 and reply.message.content == ""
