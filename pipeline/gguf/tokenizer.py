"""The GGUF tokenizer block of a byte-level BPE ``tokenizer.json``.

llama.cpp's stock converter identifies a BPE by hashing how it tokenizes a probe
text, so any retrained vocabulary is "not recognized". We instead read the
tokenizer's own configuration: a ByteLevel pre-tokenizer with the GPT-2 regex is
exactly llama.cpp's ``gpt-2`` pre-tokenizer (see /work/shared/notes/export.md §5), and
``Sequence[Digits(individual_digits=True), ByteLevel]`` (StarCoder's) is its ``starcoder`` one:
each number character split off, then the GPT-2 regex. HF's ``Digits`` splits every Unicode
number character ("²", "½", "٣" as well as "0".."9"), as llama.cpp's ``\\p{N}`` does;
``Sequence[Split(Llama 3's regex, isolated), ByteLevel without regex]`` with a BPE that ignores
merges for a pre-token already in the vocabulary (Llama 3's) is its ``llama-bpe`` one.
tests/test_gguf.py compares the two tokenizers' ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import gguf

from pipeline.common.prompt_format import BOS, EOS, PAD, SPECIAL_TOKENS, SYSTEM, UNK, USER, chat_template_jinja
from pipeline.tokens.tokenizer import LLAMA3_SPLIT

TOKEN_NORMAL = int(gguf.TokenType.NORMAL)
TOKEN_CONTROL = int(gguf.TokenType.CONTROL)
TOKEN_UNUSED = int(gguf.TokenType.UNUSED)


@dataclass(frozen=True)
class GgufVocab:
    tokens: list[str]
    token_types: list[int]
    merges: list[str]
    special_ids: dict[str, int]  # "bos" | "eos" | "unk" | "pad" -> id
    pre: str  # llama.cpp's pre-tokenizer (tokenizer.ggml.pre): "gpt-2", "starcoder" or "llama-bpe"


def _pre_tokenizer(spec: dict, path: Path) -> str:
    """llama.cpp's name for the tokenizer's pre-tokenizer; any other setup is refused, since
    llama.cpp would tokenize it differently from HF."""
    pre_tokenizer, model = spec.get("pre_tokenizer"), spec.get("model") or {}
    steps = [pre_tokenizer] if pre_tokenizer else []
    if pre_tokenizer and pre_tokenizer.get("type") == "Sequence":
        steps = pre_tokenizer.get("pretokenizers", [])
    kinds = [step.get("type") for step in steps]
    pre = None
    if kinds == ["ByteLevel"]:
        pre = "gpt-2"
    elif kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits"):
        pre = "starcoder"
    elif kinds == ["Split", "ByteLevel"] and steps[0].get("pattern") == {"Regex": LLAMA3_SPLIT}:
        if steps[0].get("behavior") == "Isolated" and not steps[0].get("invert") and model.get("ignore_merges"):
            pre = "llama-bpe"
    if pre is None:
        raise ValueError(
            f"{path}: pre_tokenizer must be ByteLevel (GPT-2 regex), optionally after Digits(individual_digits=true), "
            f"or Llama 3's isolated Split before ByteLevel with a BPE that ignores merges; got {pre_tokenizer!r}"
        )
    byte_level = steps[-1]
    if byte_level.get("add_prefix_space"):
        raise ValueError(f"{path}: ByteLevel add_prefix_space=true; llama.cpp never adds a prefix space")
    if byte_level.get("use_regex", True) != (pre != "llama-bpe"):  # llama-bpe's regex is the Split's
        raise ValueError(f"{path}: ByteLevel use_regex={byte_level.get('use_regex')} does not match llama.cpp's {pre}")
    return pre


def _merge_strings(merges: list, path: Path) -> list[str]:
    # tokenizers >= 0.20 saves merges as [a, b] pairs; GGUF wants "a b" strings.
    result = []
    for merge in merges:
        if isinstance(merge, str):
            result.append(merge)
        elif isinstance(merge, list) and len(merge) == 2:
            result.append(" ".join(merge))
        else:
            raise ValueError(f"{path}: model.merges entry {merge!r} is neither 'a b' nor [a, b]")
    return result


def read_vocab(tokenizer_json: Path, vocab_size: int) -> GgufVocab:
    """Tokens in id order (padded to the model's ``vocab_size``), types, merges, special ids."""
    try:
        spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{tokenizer_json}: cannot read tokenizer: {exc}") from exc
    model = spec.get("model") or {}
    if model.get("type") != "BPE":
        raise ValueError(f"{tokenizer_json}: model.type must be BPE, got {model.get('type')!r}")
    pre = _pre_tokenizer(spec, tokenizer_json)

    id_to_token: dict[int, str] = {int(i): tok for tok, i in model["vocab"].items()}
    special_ids = set()
    for added in spec.get("added_tokens", []):
        id_to_token[int(added["id"])] = added["content"]
        if added.get("special"):
            special_ids.add(int(added["id"]))
    if max(id_to_token) >= vocab_size:
        raise ValueError(
            f"{tokenizer_json}: token id {max(id_to_token)} does not fit the model's vocab_size {vocab_size}"
        )
    for expected_id, token in enumerate(SPECIAL_TOKENS):
        if id_to_token.get(expected_id) != token:
            raise ValueError(
                f"{tokenizer_json}: id {expected_id} is {id_to_token.get(expected_id)!r}, expected {token!r}"
            )

    tokens, types = [], []
    for token_id in range(vocab_size):
        if token_id not in id_to_token:
            # Embedding rows beyond the tokenizer (padding for speed) get unused placeholders.
            tokens.append(f"[PAD{token_id}]")
            types.append(TOKEN_UNUSED)
        else:
            tokens.append(id_to_token[token_id])
            types.append(TOKEN_CONTROL if token_id in special_ids else TOKEN_NORMAL)
    merges = _merge_strings(model.get("merges", []), tokenizer_json)
    if not merges:
        raise ValueError(f"{tokenizer_json}: model.merges is empty; llama.cpp refuses a BPE without merges")
    # A new user or system turn ends the assistant's answer as surely as <eos>: llama.cpp (and so
    # Ollama) counts the eos, eot and eom ids as end-of-generation tokens.
    named = (("bos", BOS), ("eos", EOS), ("unk", UNK), ("pad", PAD), ("eot", USER), ("eom", SYSTEM))
    ids = {name: tokens.index(tok) for name, tok in named}
    return GgufVocab(tokens=tokens, token_types=types, merges=merges, special_ids=ids, pre=pre)


def add_vocab(writer: gguf.GGUFWriter, vocab: GgufVocab) -> None:
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.token_types)
    writer.add_token_merges(vocab.merges)
    writer.add_bos_token_id(vocab.special_ids["bos"])
    writer.add_eos_token_id(vocab.special_ids["eos"])
    writer.add_unk_token_id(vocab.special_ids["unk"])
    writer.add_pad_token_id(vocab.special_ids["pad"])
    writer.add_eot_token_id(vocab.special_ids["eot"])
    writer.add_eom_token_id(vocab.special_ids["eom"])
    # The prompt format writes <bos> into the text itself (pipeline/common/prompt_format.py).
    writer.add_add_bos_token(False)
    writer.add_add_eos_token(False)
    writer.add_chat_template(chat_template_jinja())
