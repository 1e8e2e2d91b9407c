from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tokenizers import Tokenizer, normalizers
from transformers import AutoTokenizer

from pipeline.common.prompt_format import SPECIAL_TOKENS, Message, render
from pipeline.tokens.checks import roundtrip_failures, special_token_problems
from pipeline.tokens.tokenizer import TokenizerSettings, build_tokenizer, save_tokenizer, train_tokenizer
from tests.token_fixtures import write_corpus, write_pairs

SETTINGS = TokenizerSettings(vocab_size=4096)

TRICKY = [
    "def f(x):\n\tif x:\n\t\treturn x\t# tabs\n",
    "def deep():\n" + "".join(" " * (4 * d) + f"if a{d}:\n" for d in range(1, 9)) + " " * 36 + "pass\n",
    "print('héllo wörld ✓ 日本語 😀🚀 👩‍💻')\r\n",
    "   leading spaces and trailing   \n\n\n",
    "\x00\x07 control bytes \x7f and \u200b zero width",
    "<bos><|user|>\nblink\n<|assistant|>\nled.on()<eos>",
]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tok")
    out = root / "tokenizer"
    out.mkdir()
    build_tokenizer(write_corpus(root / "corpus.parquet"), write_pairs(root / "pairs.parquet"), out, SETTINGS)
    return out


def test_roundtrip_on_tricky_code(tokenizer_dir):
    assert roundtrip_failures(tokenizer_dir, TRICKY) == []


def test_roundtrip_check_reports_what_does_not_roundtrip(tokenizer_dir, tmp_path):
    # A tokenizer with a lossy normalizer must be caught by the check.
    lossy = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    lossy.normalizer = normalizers.Lowercase()
    lossy.save(str(tmp_path / "tokenizer.json"))
    assert roundtrip_failures(tmp_path, ["lower", "Upper", "x"]) == [1]


def test_special_tokens_fixed_and_configured(tokenizer_dir):
    assert special_token_problems(tokenizer_dir) == []
    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    assert [tok.id_to_token(i) for i in range(len(SPECIAL_TOKENS))] == list(SPECIAL_TOKENS)
    assert tok.encode("x = 1").ids[0] not in range(len(SPECIAL_TOKENS))  # no automatic <bos>


def test_autotokenizer_chat_template_matches_prompt_format(tokenizer_dir):
    hf = AutoTokenizer.from_pretrained(tokenizer_dir)
    chat = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Blink."},
        {"role": "assistant", "content": "led.on()"},
    ]
    expected = render([Message(m["role"], m["content"]) for m in chat])
    assert hf.apply_chat_template(chat, tokenize=False) == expected
    assert hf.apply_chat_template(chat[:2], tokenize=False, add_generation_prompt=True) == render(
        [Message(m["role"], m["content"]) for m in chat[:2]], add_generation_prompt=True
    )
    assert (hf.bos_token_id, hf.eos_token_id, hf.pad_token_id, hf.unk_token_id) == (1, 2, 0, 3)


def test_build_is_deterministic(tokenizer_dir, tmp_path):
    again = tmp_path / "again"
    again.mkdir()
    corpus, pairs = write_corpus(tmp_path / "c.parquet"), write_pairs(tmp_path / "p.parquet")
    build_tokenizer(corpus, pairs, again, SETTINGS)
    assert (again / "tokenizer.json").read_bytes() == (tokenizer_dir / "tokenizer.json").read_bytes()


def test_metadata_reports_compression_and_indent_cost(tmp_path):
    out = tmp_path / "tok"
    out.mkdir()
    meta = build_tokenizer(write_corpus(tmp_path / "c.parquet", repeat=3), None, out, SETTINGS)
    assert 7 + 256 < meta["vocab_size"] <= 4096
    # Val text is seen in training via its duplicates in the train docs, so merges compress it.
    assert meta["bytes_per_token_val_code"] > 1.0 and meta["bytes_per_token_val_prose"] > 1.0
    assert set(meta["indent_token_costs"]) == {"4", "8", "12", "16"}
    assert meta["tokens_per_4_space_indent"] == meta["indent_token_costs"]["4"] >= 0


@pytest.mark.parametrize("vocab_size", [100, 4095, 32001])
def test_vocab_size_outside_range_is_rejected(tmp_path, vocab_size):
    with pytest.raises(ValueError, match=f"vocab_size {vocab_size} is outside 4096..32000"):
        build_tokenizer(write_corpus(tmp_path / "c.parquet"), None, tmp_path, TokenizerSettings(vocab_size=vocab_size))


def test_corpus_without_text_column_names_file_and_column(tmp_path):
    bad = tmp_path / "corpus.parquet"
    pq.write_table(pa.table({"doc_id": ["a"], "split": ["train"]}), bad)
    with pytest.raises(ValueError, match=r"corpus\.parquet: missing column\(s\) \['kind', 'level', 'text', 'seq'\]"):
        build_tokenizer(bad, None, tmp_path, SETTINGS)


def test_split_digits_gives_every_digit_its_own_token(tmp_path):
    corpus = write_corpus(tmp_path / "c.parquet", repeat=3)
    tokens = {}
    for split in (False, True):
        out = tmp_path / f"digits-{split}"
        out.mkdir()
        build_tokenizer(corpus, None, out, TokenizerSettings(vocab_size=4096, split_digits=split))
        hf = AutoTokenizer.from_pretrained(out)
        tokens[split] = [hf.decode([i]) for i in hf.encode("time.sleep_ms(1500)")]
        assert roundtrip_failures(out, [*TRICKY, "x = 0x1F + 1e-3 * 65535"]) == []
    assert tokens[True][-5:] == ["1", "5", "0", "0", ")"]
    assert tokens[False] != tokens[True]  # the corpus's merges join digits without the option


def test_numbers_apart_gives_a_requests_number_and_its_codes_the_same_tokens(tmp_path):
    texts = ["Blink it every 1500 ms", "time.sleep_ms(1500)", "baud 1234567", *TRICKY] * 20
    numbers = {}
    for apart in (False, True):
        out = tmp_path / f"apart-{apart}"
        out.mkdir()
        settings = TokenizerSettings(vocab_size=4096, min_frequency=1, numbers_apart=apart)
        save_tokenizer(train_tokenizer(iter([texts]), settings), out)
        hf = AutoTokenizer.from_pretrained(out)
        numbers[apart] = [
            [piece for piece in map(hf.decode, hf.encode(text)) if any(c.isdigit() for c in piece)]
            for text in ("Blink it every 1500 ms", "time.sleep_ms(1500)")
        ]
        assert roundtrip_failures(out, [*TRICKY, "x = 0x1F + 1e-3 * 65535", "GP12 1234567 ٣٤"]) == []
    request, code = numbers[True]
    assert request == code == ["150", "0"]  # runs of at most three digits, never with the space before
    request, code = numbers[False]
    assert request == [" 1500"] and code == ["1500"]  # GPT-2's regex: two unrelated tokens


def test_one_number_pre_tokenizer_at_a_time(tmp_path):
    with pytest.raises(ValueError, match="split_digits and numbers_apart"):
        TokenizerSettings(split_digits=True, numbers_apart=True).validate()
