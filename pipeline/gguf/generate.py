"""Text generation from a GGUF file through llama.cpp (llama-cpp-python).

Prompts use the project's one prompt format: ``<bos>`` is written in the text
and the GGUF says add_bos_token=false, so tokenizing with ``special=True`` and
``add_bos=False`` gives exactly the ids the model was trained on.
"""

from __future__ import annotations

import time
from pathlib import Path

from pipeline.common.decoding import DECODING, DecodingSettings
from pipeline.common.prompt_format import BOS, format_prompt
from pipeline.gguf.summary import read_gguf_facts


def load_llama(model_path: Path, logits_all: bool = False, n_ctx: int | None = None, n_threads: int | None = None):
    """Open ``model_path`` in llama.cpp with a context no longer than the model's trained one.

    Exceeding the trained context is not an error in llama.cpp; for GPT-2 it
    aborts the process (position embedding lookup out of range), so we clamp.
    """
    import llama_cpp  # heavy native import, deferred to first use

    model_path = Path(model_path)
    if not model_path.is_file():
        raise ValueError(f"{model_path}: GGUF model file does not exist")
    # Read from the file's metadata: a vocab-only llama.cpp load would warn about a 0 context.
    trained = read_gguf_facts(model_path).context_length
    size = min(n_ctx or trained, trained)
    # A CUDA (or Metal) build runs every layer on the GPU; llama-cpp-python's default, 0, leaves them on the CPU.
    gpu_layers = -1 if llama_cpp.llama_supports_gpu_offload() else 0
    return llama_cpp.Llama(
        str(model_path),
        n_ctx=size,
        logits_all=logits_all,
        n_threads=n_threads,
        n_gpu_layers=gpu_layers,
        last_n_tokens_size=DECODING.repeat_last_n,
        verbose=False,
    )


def is_end_of_generation(llm, token: int) -> bool:
    """llama.cpp's own end-of-generation test: the GGUF's eos, eot and eom ids (what Ollama stops on)."""
    import llama_cpp

    return bool(llama_cpp.llama_vocab_is_eog(llm._model.vocab, token))


def context_length(llm) -> int:
    arch = llm.metadata["general.architecture"]
    return int(llm.metadata[f"{arch}.context_length"])


def tokenize(llm, text: str) -> list[int]:
    """Ids as the HF tokenizer gives them: special tokens in the text parsed, no BOS added."""
    return llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)


def prompt_text(prompt: str, instruct: bool) -> str:
    """Instruction models get the chat layout; base models a document start."""
    return format_prompt(prompt) if instruct else BOS + prompt


def greedy_tokens(llm, prompt_ids: list[int], n_tokens: int) -> tuple[list[int], float]:
    """Exactly ``n_tokens`` greedy tokens (end-of-sequence not honoured) and the wall seconds.

    A fixed count makes tokens/second comparable between models and variants.
    """
    n_tokens = min(n_tokens, context_length(llm) - len(prompt_ids))
    if n_tokens <= 0:
        raise ValueError(f"prompt of {len(prompt_ids)} tokens leaves no room in a {context_length(llm)}-token context")
    # A fresh start: llama-cpp-python's partial KV-cache reuse between different
    # prompts made decoding ~30x slower in measurements here.
    llm.reset()
    produced: list[int] = []
    start = time.perf_counter()
    for token in llm.generate(prompt_ids, top_k=1, temp=0.0, repeat_penalty=1.0):
        produced.append(token)
        if len(produced) == n_tokens:
            break
    return produced, time.perf_counter() - start


def llama_cpp_kwargs(decoding: DecodingSettings, max_tokens: int, temperature: float | None = None, seed: int = 0):
    """``create_completion`` arguments for ``decoding`` (``temperature`` overrides its temperature: pass@k samples).

    llama-cpp-python's own defaults (top_k 40, top_p 0.95, min_p 0.05) are switched off where ``decoding``
    has no cut, so a sample is drawn as HF's ``generate`` draws it. Its penalty window is the Llama
    object's ``last_n_tokens_size`` (``load_llama`` sets it to ``decoding.repeat_last_n``).
    """
    temperature = decoding.temperature if temperature is None else temperature
    return {
        "max_tokens": min(max_tokens, decoding.max_new_tokens),
        "temperature": temperature,
        "top_k": 0,
        "top_p": decoding.top_p,
        "min_p": 0.0,
        "repeat_penalty": decoding.repeat_penalty,
        "stop": list(decoding.stop),
        "seed": seed,
    }


def complete(
    llm,
    prompt: str,
    max_tokens: int = 128,
    instruct: bool = True,
    temperature: float | None = None,
    seed: int = 0,
    decoding: DecodingSettings = DECODING,
) -> str:
    """The continuation of ``prompt`` by an open model, up to the end of the turn (a stop sequence or
    an end-of-generation token). Above temperature 0 it samples, reproducibly for one ``seed``;
    ``temperature`` None is ``decoding``'s."""
    import llama_cpp

    ids = tokenize(llm, prompt_text(prompt, instruct))
    room = context_length(llm) - len(ids)
    if room <= 0:
        raise ValueError(f"prompt is {len(ids)} tokens; {llm.model_path} has a {context_length(llm)}-token context")
    llm.reset()
    arguments = llama_cpp_kwargs(decoding, min(max_tokens, room), temperature, seed)
    budget = arguments["max_tokens"]
    # llama-cpp-python skips its max_tokens test while the text ends in an incomplete UTF-8 sequence,
    # so a model emitting stray byte tokens runs past it and out of context ("llama_decode returned 1").
    within_budget = llama_cpp.StoppingCriteriaList([lambda input_ids, _: len(input_ids) >= len(ids) + budget])
    completion = llm.create_completion(ids, stopping_criteria=within_budget, **arguments)
    return completion["choices"][0]["text"]


def generate_gguf(
    model_path: Path, prompt: str, max_tokens: int = 128, instruct: bool = True, temperature: float | None = None
) -> str:
    """The model's continuation of ``prompt`` (the answer, for an instruction model)."""
    llm = load_llama(model_path)
    try:
        return complete(llm, prompt, max_tokens, instruct, temperature)
    finally:
        llm.close()
