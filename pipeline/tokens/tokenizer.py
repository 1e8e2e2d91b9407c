"""Train the byte-level BPE tokenizer and save it as an ``AutoTokenizer`` directory.

The setup is plain GPT-2 byte-level BPE so that llama.cpp tokenizes exactly like HF
once the GGUF stage writes it as ``tokenizer.ggml.model=gpt2, pre=gpt-2``:

* ``ByteLevel(add_prefix_space=False, use_regex=True)``: the GPT-2 split regex and no
  leading space; llama.cpp's BPE never adds one (see docs/notes export §5.3, a
  prefix-space tokenizer matched llama.cpp on 1 of 9 strings);
* optionally (``split_digits``) ``Digits(individual_digits=True)`` before it, as StarCoder's
  tokenizer does: every digit is its own token, so copying a number from the request is copying
  its digits. The GGUF stage writes that as llama.cpp's ``starcoder`` pre-tokenizer (each
  number character split off, then the GPT-2 regex);
* or (``numbers_apart``) Llama 3's split regex instead of GPT-2's, then ``ByteLevel`` without
  its own regex, as Llama 3's ``tokenizer.json`` does. GPT-2's regex keeps the space before a
  number (``" 500"`` in "every 500 ms") while code has none (``"500"`` in ``sleep_ms(500)``): two
  unrelated tokens, so a small model learns to copy each number on its own; pins carry over
  because "GP12" and ``Pin(12)`` both hold a bare ``"12"``. Llama 3's regex takes numbers apart
  from what precedes them, in runs of at most three digits, so the request's number and the
  code's are the same tokens. The GGUF stage writes it as llama.cpp's ``llama-bpe``, which uses
  a whole pre-token when it is in the vocabulary (``ignore_merges``); the BPE model here does too;
* the full 256-symbol byte alphabet in the trainer, so any byte (emoji, tabs, CJK)
  has a token even when the few training texts never contained it;
* ``prompt_format.SPECIAL_TOKENS`` at ids 0..6, and no post-processor that adds a
  BOS: ``<bos>`` is written in the text (GGUF ``add_bos_token=false``).

Training reads the train split only: corpus blocks and the instruction/response
texts of the pairs, streamed from parquet with ``iter_batches``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from pipeline.common.prompt_format import BOS, EOS, PAD, SPECIAL_TOKENS, UNK, chat_template_jinja
from pipeline.tokens.texts import corpus_block_batches, pair_batches

MIN_VOCAB = 4096
# Llama 3's pre-tokenizer split (its tokenizer.json, and llama.cpp's "llama-bpe"): numbers in runs of
# at most three digits with nothing before them; a word may take one non-letter before it.
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)
MAX_VOCAB = 32000
TOKENIZER_FILE = "tokenizer.json"
INDENT_DEPTHS = (4, 8, 12, 16)


@dataclass
class TokenizerSettings:
    vocab_size: int = 8192  # from the model preset; 8192 suits a narrow domain (notes: training §4.2)
    min_frequency: int = 2  # a merge must occur at least this often in the training text
    batch_rows: int = 2048  # parquet rows per streamed batch
    split_digits: bool = False  # every digit its own token (numbers copied digit by digit; GGUF pre "starcoder")
    numbers_apart: bool = False  # Llama 3's split: a number's tokens never hold the space before it

    def validate(self) -> None:
        if self.split_digits and self.numbers_apart:
            raise ValueError("TokenizerSettings: split_digits and numbers_apart are two pre-tokenizers; choose one")
        if not MIN_VOCAB <= self.vocab_size <= MAX_VOCAB:
            raise ValueError(f"TokenizerSettings.vocab_size {self.vocab_size} is outside {MIN_VOCAB}..{MAX_VOCAB}")
        if self.min_frequency < 1 or self.batch_rows < 1:
            raise ValueError(f"TokenizerSettings: min_frequency and batch_rows must be >= 1, got {asdict(self)}")


def _training_batches(corpus_path: Path, pairs_path: Path | None, batch_rows: int) -> Iterator[list[str]]:
    yield from corpus_block_batches(corpus_path, "train", batch_rows)
    if pairs_path is not None:
        # The bare instruction and response texts: the rendered pair would also feed
        # the special-token strings to the trainer, which learns nothing from them.
        for pairs in pair_batches(pairs_path, "train", batch_rows):
            yield [text for prompt_and_response in pairs for text in prompt_and_response]


def train_tokenizer(batches: Iterator[list[str]], settings: TokenizerSettings) -> Tokenizer:
    settings.validate()
    tokenizer = Tokenizer(models.BPE(ignore_merges=settings.numbers_apart))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=not settings.numbers_apart)
    if settings.numbers_apart:
        split = pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False)
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([split, byte_level])
    elif settings.split_digits:
        digits = pre_tokenizers.Digits(individual_digits=True)
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([digits, byte_level])
    else:
        tokenizer.pre_tokenizer = byte_level
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=settings.vocab_size,
        min_frequency=settings.min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(batches, trainer=trainer)
    return tokenizer


def save_tokenizer(tokenizer: Tokenizer, out_dir: Path) -> None:
    """Write tokenizer.json + tokenizer_config.json (with the chat template) for AutoTokenizer."""
    # transformers (and through it torch) loads here, not when the code location imports the stage.
    from transformers import PreTrainedTokenizerFast

    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,  # its own id, never eos: a pad == eos collator would mask every <eos>
        unk_token=UNK,
        additional_special_tokens=list(SPECIAL_TOKENS[4:]),
    )
    wrapped.chat_template = chat_template_jinja()
    # save_jinja_files=False keeps the template inside tokenizer_config.json, where
    # both AutoTokenizer and gguf-py's SpecialVocab read it.
    wrapped.save_pretrained(out_dir, save_jinja_files=False)


def tokenizer_sha256(tokenizer_dir: Path) -> str:
    return hashlib.sha256((Path(tokenizer_dir) / TOKENIZER_FILE).read_bytes()).hexdigest()


def load_tokenizer(tokenizer_dir: Path) -> Tokenizer:
    path = Path(tokenizer_dir) / TOKENIZER_FILE
    if not path.is_file():
        raise ValueError(f"{path}: not found; is {tokenizer_dir} a bpe_tokenizer directory?")
    return Tokenizer.from_file(str(path))


def bytes_per_token(tokenizer: Tokenizer, texts: list[str]) -> float | None:
    if not texts:
        return None
    tokens = sum(len(e.ids) for e in tokenizer.encode_batch_fast(texts, add_special_tokens=False))
    return round(sum(len(t.encode("utf-8")) for t in texts) / max(tokens, 1), 3)


def indent_token_costs(tokenizer: Tokenizer) -> dict[str, int]:
    """Extra tokens an indented line costs over the same line unindented, per depth in spaces."""

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    line = "led.value(1)"
    base = count(f"\n{line}")
    return {str(depth): count(f"\n{' ' * depth}{line}") - base for depth in INDENT_DEPTHS}


def _val_texts(corpus_path: Path, kind: str, batch_rows: int) -> list[str]:
    return [t for batch in corpus_block_batches(corpus_path, "val", batch_rows, kinds=(kind,)) for t in batch]


def build_tokenizer(corpus_path: Path, pairs_path: Path | None, out_dir: Path, settings: TokenizerSettings) -> dict:
    """Train on the train split of corpus (+ pairs) and write the tokenizer directory to ``out_dir``."""
    corpus_path, out_dir = Path(corpus_path), Path(out_dir)
    tokenizer = train_tokenizer(_training_batches(corpus_path, pairs_path, settings.batch_rows), settings)
    if tokenizer.get_vocab_size() < len(SPECIAL_TOKENS) + 256:
        raise ValueError(f"{corpus_path}: tokenizer training produced only {tokenizer.get_vocab_size()} tokens")
    save_tokenizer(tokenizer, out_dir)
    costs = indent_token_costs(tokenizer)
    code_bpt = bytes_per_token(tokenizer, _val_texts(corpus_path, "code", settings.batch_rows))
    prose_bpt = bytes_per_token(tokenizer, _val_texts(corpus_path, "prose", settings.batch_rows))
    return {
        "vocab_size": tokenizer.get_vocab_size(),
        "vocab_size_requested": settings.vocab_size,
        "merges": len(json.loads((out_dir / TOKENIZER_FILE).read_text())["model"]["merges"]),
        "bytes_per_token_val_code": code_bpt,
        "bytes_per_token_val_prose": prose_bpt,
        "tokens_per_4_space_indent": costs["4"],
        "indent_token_costs": costs,
        "tokenizer_sha256": tokenizer_sha256(out_dir),
        "special_tokens": list(SPECIAL_TOKENS),
    }
