"""Model report card: text metrics, import and syntax checks, and a real end-to-end build.

The end-to-end test trains a tiny base and instruct model with the real HF
Trainer, quantizes the instruct model to Q4_K_M with llama.cpp, and builds the
report from those artifacts.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from transformers import AutoTokenizer

from pipeline.common.prompt_format import BOS, EOS
from pipeline.common.text_metrics import chrf, exact_match
from pipeline.evaluate.score import ScoreSettings, build_task_scores
from pipeline.evaluate.tasks import select_tasks
from pipeline.report.answer_checks import check_answer
from pipeline.report.build import GgufInput, ReportInputs, ReportSettings, build_model_report, stage_metadata
from pipeline.report.generation_eval import cut_at_stop, load_eval_pairs, score_answers, score_code, summarize
from pipeline.report.mpy_imports import check_imports
from pipeline.tokens.texts import corpus_documents
from pipeline.train.generate import generate_hf
from tests.fixtures_training import make_shards, make_tokenizer, tiny_settings
from tests.token_fixtures import write_corpus

GOOD_CODE = "from machine import Pin\nimport time\nled = Pin(2, Pin.OUT)\nled.on()\ntime.sleep(1)\n"
DRIVER_CODE = "from machine import I2C\nimport ssd1306\noled = ssd1306.SSD1306_I2C(128, 64, I2C(0))\n"


def test_chrf_identical_disjoint_and_hand_checked_partial():
    assert chrf(GOOD_CODE, GOOD_CODE) == pytest.approx(100.0)
    assert chrf("abc", "xyz") == 0.0
    # "ab" vs "abc": orders 1-2 exist on both sides. Precision 1 and 1, recall 2/3 and 1/2,
    # averaged P = 1, R = 7/12; F2 = 5 * P * R / (4P + R) = (35/12) / (55/12) = 7/11.
    assert chrf("ab", "abc") == pytest.approx(100 * 7 / 11)
    # Swapped, precision is the weak side: P = 7/12, R = 1 gives 35/40; beta = 2 favours recall.
    assert chrf("abc", "ab") == pytest.approx(87.5)
    assert chrf("a b\n", "ab") == pytest.approx(100.0)  # whitespace is not counted
    assert chrf("", "") == 100.0 and chrf("", "ab") == 0.0


def test_exact_match_ignores_only_trailing_whitespace():
    assert exact_match("\nled.on()  \nx = 1\n\n", "led.on()\nx = 1")
    assert not exact_match("led.on()\nx = 2", "led.on()\nx = 1")
    assert not exact_match("    led.on()", "led.on()")  # indentation changes meaning in Python


def test_import_check_knows_micropython_modules():
    check = check_imports(
        "from machine import Pin\nimport utime, uasyncio as asyncio\nimport os.path\nfrom . import util\n"
    )
    assert check.modules == ("machine", "utime", "uasyncio", "os") and check.unknown == () and check.parsed
    assert check_imports("import numpy as np\nimport time").unknown == ("numpy",)


def test_import_check_survives_syntax_errors():
    check = check_imports("from machine import Pin\nimport numpy\ndef broken(:\n    from machi")
    assert not check.parsed
    assert check.modules == ("machine", "numpy") and check.unknown == ("numpy",)
    assert check_imports("x = (\0").modules == ()


def test_syntax_rate_with_real_mpy_cross():
    sources = [GOOD_CODE, "def f(:\n    pass\n", "", "for i in range(3):\nprint(i)\n", DRIVER_CODE]
    scores = score_code(sources, march="armv7m")
    assert [s["syntax_valid"] for s in scores] == [True, False, False, False, True]
    assert scores[1]["compile_error"].startswith("SyntaxError") and scores[2]["compile_error"] == "empty answer"
    summary = summarize(scores, "x", against_reference=False)
    assert summary["syntax_valid_rate_x"] == 0.4
    assert summary["import_valid_rate_x"] == 0.75  # machine, time, machine known; ssd1306 is not


COMMENT_ONLY = '#\n#\n# Blink the LED\n#\n"""docstring only"""\n'
LOOPING = "led = Pin(2, Pin.OUT)\n" + "led.value(1)\n" * 12


def test_comment_only_and_looping_answers_score_zero():
    references = [GOOD_CODE] * 4
    answers = [COMMENT_ONLY, LOOPING, GOOD_CODE, "import time\ntime.sleep(1)\n"]
    scores = score_answers(answers, references, march="armv7m")
    comment, loop, good, other = scores
    assert comment["syntax_valid"] is False and comment["compile_error"].startswith("no statement")
    assert comment["useful"] is False and comment["calls_reference_api"] is False
    assert loop["syntax_valid"] is True and loop["looping"] is True and loop["useful"] is False
    assert loop["repeated_line_share"] == pytest.approx(1 - 2 / 13, abs=1e-4)
    assert good["useful"] is True and good["looping"] is False and good["repeated_line_share"] == 0.0
    assert other["calls_reference_api"] is True  # time.sleep: the reference calls sleep too
    summary = summarize(scores, "x", against_reference=True)
    assert summary["syntax_valid_rate_x"] == 0.75 and summary["looping_rate_x"] == 0.25
    assert summary["api_overlap_rate_x"] == 0.75 and summary["useful_rate_x"] == 0.5
    only_bad = summarize(scores[:2], "bad", against_reference=True)
    assert only_bad["useful_rate_bad"] == 0.0 and only_bad["api_overlap_rate_bad"] == 0.5


def test_api_calls_are_names_and_methods_without_builtins():
    check = check_answer("from machine import Pin, PWM\npwm = PWM(Pin(2))\npwm.duty_u16(100)\nprint(len('x'))\n")
    assert check.calls == {"PWM", "Pin", "duty_u16"} and check.statements == 4
    cut_off = check_answer("pwm = PWM(Pin(2))\npwm.duty_u16(  # cut\n    freq(")
    assert {"PWM", "Pin", "duty_u16", "freq"} <= cut_off.calls  # regex fallback when ast fails
    assert check_answer("# just a comment\n").calls == frozenset()


def test_cut_at_stop_ends_the_answer_at_a_new_turn():
    assert cut_at_stop("led.on()\n<|user|>\nmore") == "led.on()\n"
    assert cut_at_stop("led.on()") == "led.on()"


def _pairs_table(path: Path, rows: list[tuple[str, int, str, str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.Table.from_pylist(
            [
                {
                    "pair_id": pid,
                    "origin_id": pid.split("-")[0],
                    "variant": variant,
                    "instruction": instruction,
                    "response": response,
                    "augmentations": [],
                    "split": split,
                    "source_doc": "book-a",
                }
                for pid, variant, instruction, response, split in rows
            ]
        ),
        path,
    )
    return path


def test_eval_pairs_are_val_originals_in_a_stable_order(tmp_path):
    path = _pairs_table(
        tmp_path / "pairs.parquet",
        [
            ("c", 0, "third", GOOD_CODE, "val"),
            ("a", 0, "first", GOOD_CODE, "val"),
            ("a-1", 1, "variant", GOOD_CODE, "val"),
            ("b", 0, "train", GOOD_CODE, "train"),
        ],
    )
    assert [p.instruction for p in load_eval_pairs(path, 5)] == ["first", "third"]
    assert [p.pair_id for p in load_eval_pairs(path, 1)] == ["a"]
    pq.write_table(pa.Table.from_pylist([{"pair_id": "a", "instruction": "x"}]), tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match=r"bad\.parquet: missing column"):
        load_eval_pairs(tmp_path / "bad.parquet", 5)


def test_bad_settings_and_missing_manifest_are_named(tmp_path):
    with pytest.raises(ValueError, match="max_new_tokens"):
        ReportSettings(max_new_tokens=0).validate()
    with pytest.raises(ValueError, match="march"):
        ReportSettings(march="z80").validate()
    with pytest.raises(ValueError, match=r"manifest\.json: not found"):
        stage_metadata(tmp_path)


TASKS = "blink/pico/*"  # a few tasks of the suite: the card's task section without the whole suite's time
FEW_TASKS = {"tasks": TASKS, "task_samples": 1}


def _artifact(directory: Path, metadata: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "manifest.json").write_text(json.dumps({"metadata": metadata}))
    return directory


@pytest.fixture(scope="module")
def run_artifacts(tmp_path_factory) -> tuple[ReportInputs, Path]:
    """A whole run's artifacts, built for real at toy scale."""
    from pipeline.gguf.export import GgufSettings, build_gguf_variant
    from pipeline.train.run import run_training

    root = tmp_path_factory.mktemp("report_run")
    tokenizer_dir = make_tokenizer(root / "bpe_tokenizer")
    shards_artifact = root / "token_shards"
    make_shards(shards_artifact / "shards", tokenizer_dir, {"train": 100, "val": 16})
    quick = dict(max_steps=20, eval_every=10, save_every=20, eval_tokens=512)
    base_dir = root / "base_checkpoint"
    run_training(
        tiny_settings(root / "base_run", shards_artifact / "shards", tokenizer_dir, export_dir=str(base_dir), **quick)
    )
    instruct_dir = root / "instruct_checkpoint"
    run_training(
        tiny_settings(
            root / "sft_run",
            shards_artifact / "shards",
            tokenizer_dir,
            mode="sft",
            init_from=str(base_dir),
            export_dir=str(instruct_dir),
            **quick,
        )
    )

    corpus_dir = _artifact(
        root / "corpus",
        {
            "documents": 4,
            "documents_by_split": {"train": 3, "val": 1},
            "blocks_by_kind": {"heading": 3, "prose": 5, "code": 5},
            "characters": 900,
        },
    )
    write_corpus(corpus_dir / "corpus.parquet")
    long_instruction = "Explain this. " * 400  # longer than the tiny preset's 512-token context
    pairs_dir = _artifact(
        root / "instruction_pairs", {"originals": 3, "variants": 1, "pairs": 5, "rejects": {"syntax": 2}}
    )
    _pairs_table(
        pairs_dir / "pairs.parquet",
        [
            ("p1", 0, "Write MicroPython for this board.", GOOD_CODE, "val"),
            ("p2", 0, "Show text on an SSD1306 display.", DRIVER_CODE, "val"),
            ("p3", 0, long_instruction, GOOD_CODE, "val"),
            ("p1-1", 1, "Write MicroPython for this board, please.", GOOD_CODE, "val"),
            ("p4", 0, "Blink an LED.", GOOD_CODE, "train"),
        ],
    )
    _artifact(tokenizer_dir, {"vocab_size": 512, "bytes_per_token_val_code": 2.5, "bytes_per_token_val_prose": 3.1})
    _artifact(
        shards_artifact,
        {"shards": 8, "dtype": "uint16", "summary": "| stream/split | docs |\n|---|---|\n| sft/val | 16 |"},
    )

    val_texts = [text for _, text in corpus_documents(corpus_dir / "corpus.parquet", "val")] * 4
    gguf_dir = root / "gguf_models" / "q4_k_m"
    gguf_meta = build_gguf_variant(
        instruct_dir, "q4_k_m", gguf_dir, GgufSettings(window=32, max_windows=2, gen_tokens=4), val_texts
    )
    _artifact(gguf_dir, json.loads(json.dumps(gguf_meta)))
    inputs = ReportInputs(
        corpus_dir,
        pairs_dir,
        tokenizer_dir,
        shards_artifact,
        base_dir,
        instruct_dir,
        gguf={"q4_k_m": GgufInput.from_artifact_dir(gguf_dir, "q4_k_m")},
    )
    return inputs, root


def test_report_end_to_end(run_artifacts, tmp_path):
    inputs, _ = run_artifacts
    out = tmp_path / "report"
    scores_dir = tmp_path / "task_scores"
    build_task_scores(inputs.gguf["q4_k_m"].path, scores_dir, ScoreSettings(TASKS, samples=1), "GGUF q4_k_m")
    inputs = dataclasses.replace(inputs, task_scores={"q4_k_m": scores_dir})
    metadata = build_model_report(inputs, out, ReportSettings(max_eval_pairs=3, max_new_tokens=16, **FEW_TASKS))
    json.dumps(metadata)  # Dagster metadata must be JSON-serializable

    assert (out / "loss_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = (out / "report.md").read_text()
    assert "](loss_curves.png)" in card and "base64" not in card
    assert "](data:image/png;base64," in metadata["report"]
    for expected in ("llama/tiny", "| sft/val | 16 |", "q4_k_m", "ssd1306", "GGUF q4_k_m"):
        assert expected in card, expected

    # p3 does not fit the context, p1-1 is a variant and p4 is train: p1 and p2 remain.
    assert metadata["eval_pairs"] == 2 and metadata["eval_pairs_skipped_too_long"] == 1
    records = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert [r["pair_id"] for r in records] == ["p1", "p2"]
    assert metadata["syntax_valid_rate_reference"] == 1.0
    assert metadata["import_valid_rate_reference"] == 0.75  # machine, time, machine known; ssd1306 not
    assert metadata["gguf_variants_evaluated"] == ["q4_k_m"]
    by_label = {"hf": [r["hf"] for r in records], "gguf_q4_k_m": [r["gguf"]["q4_k_m"] for r in records]}
    for label, answers in by_label.items():
        assert metadata[f"syntax_valid_rate_{label}"] == sum(a["syntax_valid"] for a in answers) / 2
        assert metadata[f"useful_rate_{label}"] == sum(a["useful"] for a in answers) / 2
        assert metadata[f"chrf_{label}"] == pytest.approx(
            sum(chrf(a["completion"], r["reference"]) for a, r in zip(answers, records)) / 2, abs=0.01
        )
        assert 0.0 <= metadata[f"exact_match_{label}"] <= 1.0
    assert "useful answers" in card and "repetition loops" in card

    # The task suite: the HF model scored here, the variant's task_scores read, failures drawn.
    tasks = len(select_tasks(TASKS))
    assert f"| **all** | {tasks} | " in card and "HF instruct pass@1 / pass@1" in card
    assert "GGUF q4_k_m pass@1 / pass@1" in card and set(metadata["task_pass_at_1"]) == {"HF instruct", "GGUF q4_k_m"}
    assert json.loads((out / "scores_hf.json").read_text())["tasks"] == tasks
    assert "Failing tasks (GGUF q4_k_m" in card and "](timing-1.png)" in card
    assert (out / "timing-1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](data:image/png;base64," in metadata["report"].split("Failing tasks")[1]

    # The scored answer is the greedy answer the instruct model gives on its own, cut at a new turn.
    alone = generate_hf(inputs.instruct_checkpoint_dir, records[0]["instruction"], 16, instruct=True)
    assert records[0]["hf"]["completion"] == cut_at_stop(alone)

    # Bits per byte recomputed independently with the HF tokenizer.
    tokenizer = AutoTokenizer.from_pretrained(inputs.bpe_tokenizer_dir)
    documents = [text for _, text in corpus_documents(inputs.corpus_dir / "corpus.parquet", "val")]
    tokens = sum(len(tokenizer.encode(BOS + doc + EOS)) for doc in documents)
    expected = metadata["base_val_loss"] / math.log(2) * tokens / sum(len(d.encode()) for d in documents)
    assert metadata["val_bits_per_byte"] == pytest.approx(expected)


def test_report_without_gguf_and_with_missing_inputs(run_artifacts, tmp_path):
    inputs, root = run_artifacts
    without_gguf = dataclasses.replace(inputs, gguf={})
    settings = ReportSettings(max_eval_pairs=1, max_new_tokens=4, **FEW_TASKS)
    metadata = build_model_report(without_gguf, tmp_path / "a", settings)
    assert metadata["gguf_variants_evaluated"] == [] and "syntax_valid_rate_gguf_q4_k_m" not in metadata
    assert "HF only (no GGUF variant given)" in metadata["report"]
    assert "No GGUF variants" in metadata["report"]
    broken = dataclasses.replace(inputs, base_checkpoint_dir=root / "nowhere")
    with pytest.raises(ValueError, match=r"nowhere/metrics\.json: not found"):
        build_model_report(broken, tmp_path / "b", ReportSettings())
