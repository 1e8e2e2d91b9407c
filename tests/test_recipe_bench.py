"""benchmarks/recipe.py, recipe_rows.py and recipe_results.py: rows resolved into pipeline config,
the results table and the speed probe (no training here)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import answer_signals, quality, recipe, recipe_results, recipe_rows


def test_rows_split_into_data_config_training_fields_and_knobs():
    rows = {row.name: row for row in recipe_rows.chosen_rows(None)}
    assert list(rows) == list(recipe_rows.ROWS)
    assert rows["baseline"].data_ops == {} and rows["baseline"].train_ops == {} and rows["baseline"].data_key == ""
    digits = rows["digit tokens"]
    assert digits.data_ops == {"bpe_tokenizer": {"split_digits": True}} and len(digits.data_key) == 12
    assert recipe_rows.resolve_row("again", digits.overrides).data_key == digits.data_key  # one build per data config
    assert rows["more SFT time"].knobs["base_share"] == 0.5 and rows["baseline"].knobs == recipe_rows.RECIPE_KNOBS
    assert [row.name for row in recipe_rows.chosen_rows("SFT lr 2e-4, baseline")] == ["SFT lr 2e-4", "baseline"]


def test_every_row_trains_with_the_assets_settings_and_its_own_fields():
    for row in recipe_rows.chosen_rows(None):
        for mode in ("pretrain", "sft"):
            settings = recipe.stage_settings(row, mode, 7, {"output_dir": "/x"})
            assert (settings.mode, settings.family, settings.size, settings.seed) == (mode, "llama", "5m", 7)
            for field, value in row.train_ops.get(mode, {}).items():
                assert getattr(settings, field) == value
    lr_row = recipe_rows.resolve_row("lr", {"instruct_checkpoint": {"lr": 2e-4}})
    assert recipe.stage_settings(lr_row, "sft", 0, {}).lr == 2e-4
    assert recipe.stage_settings(lr_row, "pretrain", 0, {}).lr is None  # the base keeps its planned rate


def test_sets_apply_to_every_row_over_its_own_fields():
    common = recipe_rows.parse_sets(["instruct_checkpoint.eval_tokens=16384", "bpe_tokenizer.min_frequency=3"])
    assert common == {"instruct_checkpoint": {"eval_tokens": 16384}, "bpe_tokenizer": {"min_frequency": 3}}
    rows = {row.name: row for row in recipe_rows.chosen_rows("baseline,SFT lr 2e-4", recipe_rows.ROWS, common)}
    assert rows["SFT lr 2e-4"].train_ops == {"sft": {"lr": 2e-4, "eval_tokens": 16384}}
    assert rows["SFT lr 2e-4"].overrides == recipe_rows.ROWS["SFT lr 2e-4"]  # the table shows the row's own lever
    assert rows["baseline"].data_ops == {"bpe_tokenizer": {"min_frequency": 3}}
    with pytest.raises(ValueError, match="--set 'eval_tokens=1': expected asset.field=value"):
        recipe_rows.parse_sets(["eval_tokens=1"])


@pytest.mark.parametrize(
    "rows, names, message",
    [
        (recipe_rows.ROWS, "baseline,nope", "--rows: unknown row 'nope'"),
        ({"r": {"recipe": {"base_share": 1.5}}}, "r", r"recipe\.base_share must be in \(0, 1\)"),
        ({"r": {"recipe": {"sft_share": 0.5}}}, "r", r"recipe\.sft_share is not a knob"),
        ({"r": {"bpe_tokenizer": True}}, "r", "bpe_tokenizer must map field names to values"),
    ],
)
def test_bad_rows_name_the_row_and_field(rows, names, message):
    with pytest.raises(ValueError, match=message):
        recipe_rows.chosen_rows(names, rows)


def test_a_training_field_the_asset_lacks_is_refused_before_anything_runs(capsys):
    row = recipe_rows.resolve_row("typo", {"instruct_checkpoint": {"max_epoch": 8}})
    with pytest.raises(ValueError, match=r"row 'typo': instruct_checkpoint\.max_epoch is not a config field"):
        recipe.stage_settings(row, "sft", 0, {})
    assert recipe.main(["--rows", "missing"]) == 2
    assert "unknown row 'missing'" in capsys.readouterr().err


def test_dry_run_prints_the_plan_and_trains_nothing(tmp_path, capsys):
    assert recipe.main(["--dry-run", "--rows", "digit tokens", "--seeds", "2", "--work", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert '{"bpe_tokenizer": {"split_digits": true}}' in out and "seeds [1234, 1235]" in out
    assert not any(tmp_path.iterdir())
    assert (
        recipe.main(["--dry-run", "--rows", "baseline", "--seeds", "2", "--from-seed", "1", "--work", str(tmp_path)])
        == 0
    )
    assert "seeds [1235, 1236]" in capsys.readouterr().out


def _line(row: str, seed: int, q4: float, hf: float, families: int, minutes: float = 45.0, tasks: str = "*") -> dict:
    result = lambda p: {"pass_at_1": p, "passed": 0, "families_passed": [f"f{i}" for i in range(families)]}  # noqa: E731
    return {
        "row": row,
        "seed": seed,
        "overrides": recipe_rows.ROWS[row],
        "minutes": minutes,
        "tasks": tasks,
        "hf_tasks": tasks,
        "set": {},
        "hf": result(hf),
        "q4_k_m": result(q4),
        "families": 12,
        "bits_per_byte": 2.0 + seed / 10,
        "train_minutes": 44.0,
    }


def test_table_shows_means_and_each_seed(tmp_path):
    lines = [
        _line("digit tokens", 1, 0.30, 0.35, 9),
        _line("baseline", 1, 0.10, 0.125, 4),
        _line("digit tokens", 2, 0.20, 0.25, 7),
        _line("digit tokens", 3, 0.25, 0.30, 8),
    ]
    table = recipe_results.results_table(lines).splitlines()
    assert table[0].startswith("| row | overrides | seeds | Q4_K_M pass@1 | HF pass@1 |")
    assert table[2] == (
        "| digit tokens | `bpe_tokenizer.split_digits=true` | 3 | 25.0 % (30.0, 20.0, 25.0) "
        "| 30.0 % (35.0, 25.0, 30.0) | 8.0 of 12 | 2.200 | 44.0 |"
    )
    assert table[3] == "| baseline | defaults | 1 | 10.0 % | 12.5 % | 4.0 of 12 | 2.100 | 44.0 |"

    path = tmp_path / "results.jsonl"
    other = [_line("baseline", 2, 0.5, 0.5, 1, minutes=2.0), _line("baseline", 3, 0.5, 0.5, 1, tasks="blink/*")]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines + other))
    assert recipe_results.read_results(path, recipe.parse_args(["--minutes", "45"])) == lines
    assert recipe_results.read_results(path, recipe.parse_args(["--set", "base_checkpoint.eval_tokens=1"])) == []
    assert recipe_results.read_results(path, recipe.parse_args(["--hf-tasks", ""])) == []
    assert recipe_results.read_results(tmp_path / "absent.jsonl", recipe.parse_args([])) == []


def test_a_run_without_hf_answers_shows_a_dash():
    line = _line("baseline", 1, 0.1, 0.0, 1) | {"hf": None}
    assert "| 10.0 % | – |" in recipe_results.results_table([line])


def test_lines_measured_on_other_token_shards_do_not_count():
    """A line from shards the row no longer trains on (older pairs code, say) is neither skipped
    as done nor put in the table."""
    now = _line("baseline", 1, 0.1, 0.1, 1) | {"data": "new"}
    old = _line("baseline", 2, 0.5, 0.5, 9) | {"data": "old"}
    before = _line("digit tokens", 1, 0.3, 0.3, 3)  # from before lines named their data
    assert recipe_results.current_lines([now, old, before], {"baseline": "new", "digit tokens": "d1"}) == [now]


def test_the_warmup_row_enables_an_asset_that_its_data_build_selects():
    import dagster as dg

    from assets.client.runner import _ordered_keys

    row = recipe_rows.resolve_row("python warm-up", recipe_rows.ROWS["python warm-up"])
    assert row.data_ops == {"python_warmup_files": {"enabled": True}} and row.data_key
    assert recipe.stage_settings(row, "pretrain", 0, {}).warmup_share == 0.3
    assert recipe.stage_settings(row, "sft", 0, {}).warmup_share == 0.0
    # quality.build_inputs runs `mpyforge run --select "*token_shards"`: the warm-up files are built with it.
    assert dg.AssetKey("python_warmup_files") in _ordered_keys("*token_shards")


def test_answer_signals_count_the_job_the_pin_and_the_number_an_answer_carries_over():
    prompts = {"a": "Blink the LED on GP25 every 500 ms.", "b": "Blink the LED on GP15 every 250 ms."}

    def result(task_id: str, code: str) -> dict:
        return {"task_id": task_id, "family": "blink", "greedy": {"code": code}}

    scores = {
        "task_results": [
            result("a", "led = Pin(25, Pin.OUT)\nwhile True:\n    led.toggle()\n    sleep_ms(500)\n"),
            result("b", "np = NeoPixel(Pin(16), 8)\nsleep_ms(25)\n"),  # wrong job, pin and number
        ]
    }
    assert answer_signals.signals(scores, prompts) == {
        "right job": (1, 2),
        "pin carried": (1, 2),
        "number carried": (1, 2),
    }


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="the machine's CPU time is read from Linux's /proc/stat")
def test_a_speed_probe_taken_beside_a_busy_process_is_taken_again_and_its_wait_not_budgeted(tmp_path):
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # another process on a core
    outputs = []

    def train(output_dir: str) -> dict:
        assert not Path(output_dir).exists()  # each probe starts clean: a checkpoint left would be resumed
        Path(output_dir).mkdir()
        outputs.append(output_dir)
        if len(outputs) == 1:
            time.sleep(1.5)  # the first probe shares the machine with the burner
        else:
            burner.kill()  # reaped only after the probe: a reaped child's CPU time counts as this process's
            time.sleep(0.5)  # a quiet machine for the rest of this probe
        return {"tokens_per_second": float(len(outputs))}

    try:
        probe = quality.probe_alone(tmp_path / "probe", train, wait_s=0.2)
    finally:
        burner.kill()
        burner.wait()
    # The burner's probe is not kept (a busy machine may cost one more try): the last probe's speed is.
    assert len(outputs) >= 2 and probe["tokens_per_second"] == float(len(outputs))
    assert probe["probe_waited_s"] >= 1.5  # the rejected probe and the wait are not the budget's
    assert not (tmp_path / "probe").exists()
