"""Scoring by running answers: real models (a tiny one trained to answer, in HF and in llama.cpp), real
MicroPython on the simulated board, real stubs; pass@k, the table and the timing picture."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipeline.evaluate.sandbox import RunResult
from pipeline.evaluate.score import (
    SCORES_FILE,
    TABLE_FILE,
    ScoreSettings,
    extract_code,
    judge,
    pass_at_k,
    score_model,
    scores_table,
    summarize,
    write_scores,
)
from pipeline.evaluate.timing import plot_timing, signal_rows
from pipeline.gguf.writer import write_gguf
from tests.answer_models import train_answering_model


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str


@dataclass(frozen=True)
class Task:
    """Shaped like pipeline.evaluate.tasks.Task (the fields scoring reads)."""

    task_id: str
    family: str
    board: str
    prompt: str
    seconds: float
    world: dict = field(hash=False, compare=False)
    reference: str = field(compare=False)
    check: Callable[[RunResult], Verdict] = field(compare=False)


def _toggles_every(pin: int, period_ms: float) -> Callable[[RunResult], Verdict]:
    def check(result: RunResult) -> Verdict:
        times = [e.t_ms for e in result.events if e.kind == "pin.value" and e.args["pin"] == pin]
        gaps = [b - a for a, b in zip(times, times[1:])]
        if result.status != "ok" or len(gaps) < 2:
            return Verdict(False, f"pin {pin} changes {len(times)} times ({result.status}: {result.error})")
        ok = all(abs(g - period_ms) <= 0.15 * period_ms for g in gaps)
        return Verdict(ok, f"pin {pin} changes every {gaps[0]:g} ms, want {period_ms:g} ms")

    return check


BLINK_25 = "\n".join(
    [
        "from machine import Pin",
        "import time",
        "led = Pin(25, Pin.OUT)",
        "while True:",
        "    led.toggle()",
        "    time.sleep_ms(500)",
        "",
    ]
)
BLINK_2 = BLINK_25.replace("Pin(25", "Pin(2").replace("500", "200")
BLINK = Task(
    "blink/pico/gp25-500ms/p0", "blink", "pico", "Blink the LED on GP25 every 500 ms.", 3.0, {}, BLINK_25,
    _toggles_every(25, 500),
)  # fmt: skip
BLINK_ESP = Task(
    "blink/esp32/gpio2-200ms/p0", "blink", "esp32", "Blink GPIO2 every 200 ms on my ESP32.", 2.0, {}, BLINK_2,
    _toggles_every(2, 200),
)  # fmt: skip


@pytest.fixture(scope="module")
def answering_model(tmp_path_factory) -> Path:
    """Knows the Pico blink by heart; to the ESP32 request it answers with invented APIs that raise."""
    wrong = "```python\nfrom machine import Pin\nled = Pin(2, Pin.OUT)\nled.blink(200)\n```\nThat blinks it."
    return train_answering_model(
        tmp_path_factory.mktemp("answers") / "hf", [(BLINK.prompt, BLINK_25), (BLINK_ESP.prompt, wrong)]
    )


def test_code_is_the_first_python_fence_or_the_whole_answer():
    assert extract_code("Here:\n```python\nled.on()\n```\nand\n```\nx\n```") == "led.on()\n"
    assert extract_code("```\nled.off()\n```") == "led.off()\n"
    assert extract_code("~~~py\nprint(1)\n~~~") == "print(1)\n"
    assert extract_code("```python\nunterminated()\n") == "unterminated()\n"
    assert extract_code("import time\ntime.sleep(1)\n") == "import time\ntime.sleep(1)\n"


def test_pass_at_k_is_the_unbiased_estimator():
    assert pass_at_k(5, 0, 5) == 0.0 and pass_at_k(5, 1, 5) == 1.0  # n = k: any of 5
    assert pass_at_k(5, 1, 1) == pytest.approx(0.2)
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - 21 / 252)


def test_judging_runs_each_answer_on_its_board_and_names_invented_apis():
    wrong_pin = BLINK_25.replace("Pin(25", "Pin(2")
    raises = "from machine import Pin\nPin(25, Pin.OUT).blink()\n"
    results = judge([BLINK], [[BLINK_25, f"```python\n{wrong_pin}```", raises]], workers=2)
    (good, wrong, raised) = results[0]
    assert good.passed and good.invented == () and good.status == "ok"
    assert not wrong.passed and "pin 25 changes 0 times" in wrong.reason
    assert raised.status == "raised" and "AttributeError" in raised.error
    assert raised.invented == ("machine.Pin.blink",)
    summary = summarize([BLINK], results, samples=2)
    assert summary["pass_at_1"] == 1.0 and summary["pass_at_k"] == 0.0
    assert summary["invented_api_rate"] == 0.3333 and summary["raised"] == 1
    assert summary["invented_api_names"] == {"machine.Pin.blink": 1}


@pytest.mark.parametrize("form", ["hf", "gguf"])
def test_a_model_is_scored_by_running_its_answers(tmp_path, answering_model, form):
    model = answering_model if form == "hf" else Path(write_gguf(answering_model, tmp_path / "m.gguf")["path"])
    settings = ScoreSettings(samples=2, max_new_tokens=96, workers=2)
    summary = score_model(model, settings, tasks=[BLINK, BLINK_ESP])

    assert summary["tasks"] == 2 and summary["answers"] == 6 and summary["passed_greedy"] == 1
    assert summary["pass_at_1"] == 0.5
    assert summary["by_board"] == {
        "esp32": {"tasks": 1, "pass_at_1": 0.0, "pass_at_k": 0.0},
        "pico": {"tasks": 1, "pass_at_1": 1.0, "pass_at_k": 1.0},
    }
    assert summary["by_family"]["blink"]["tasks"] == 2
    esp = summary["task_results"][1]
    assert esp["greedy"]["status"] == "raised" and esp["greedy"]["invented"] == ["machine.Pin.blink"]
    assert esp["greedy"]["code"].startswith("from machine import Pin")  # the fence, not the prose
    assert summary["invented_api_names"]["machine.Pin.blink"] >= 1 and summary["raised"] >= 1

    write_scores(summary, tmp_path / "out", form)
    written = json.loads((tmp_path / "out" / SCORES_FILE).read_text())
    assert written["pass_at_1"] == 0.5
    # Wall times and the model's path are the run's, not the scores': a rescore writes the same bytes.
    assert summary["answer_s"] > 0 and not {"model", "answer_s", "run_s"} & set(written)
    table = (tmp_path / "out" / TABLE_FILE).read_text()
    assert "| **all** | 2 | 50 % / 50 % |" in table and "| board pico | 1 | 100 % / 100 % |" in table
    assert "`machine.Pin.blink`" in table


def test_the_table_puts_models_side_by_side():
    one = summarize([BLINK], [[_result(True)]], samples=0)
    other = summarize([BLINK], [[_result(False)]], samples=0)
    table = scores_table({"HF": one, "GGUF q8_0": other})
    assert "| tasks | n | HF pass@1 | GGUF q8_0 pass@1 |" in table
    assert "| family blink | 1 | 100 % | 0 % |" in table


def _result(passed: bool):
    from pipeline.evaluate.score import AnswerResult

    return AnswerResult("a", "a", passed, "", "ok", None, ())


def test_timing_picture_shows_both_runs(tmp_path):
    from pipeline.evaluate.sandbox import run_program

    answer = run_program(BLINK_2, board="pico", seconds=2)
    reference = run_program(BLINK_25, board="pico", seconds=2)
    assert set(signal_rows(answer.events)) == {"pin 2"} and set(signal_rows(reference.events)) == {"pin 25"}
    button = {"pins": {"14": [[0, 1], [500, 0]]}}
    assert signal_rows(answer.events, button)["pin 14 (input)"] == [(0.0, 1.0), (500.0, 0.0)]
    path = plot_timing(answer, reference, 2, tmp_path / "t.png", "blink")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_bad_settings_and_model_paths_are_named(tmp_path):
    with pytest.raises(ValueError, match="temperature must be > 0"):
        ScoreSettings(temperature=0).validate()
    with pytest.raises(ValueError, match="neither a .gguf file nor an HF checkpoint"):
        score_model(tmp_path, ScoreSettings(samples=0), tasks=[BLINK])


def test_mpyforge_eval_prints_the_table_or_json(tmp_path, answering_model):
    import subprocess
    import sys

    from pipeline.evaluate.tasks import select_tasks

    mpyforge = str(Path(sys.executable).parent / "mpyforge")
    task_id = select_tasks("blink/pico/*")[0].task_id
    base = [mpyforge, "eval", "--model", str(answering_model), "--tasks", task_id, "--samples", "0"]
    table = subprocess.run(base, capture_output=True, text=True, timeout=300)
    assert table.returncode == 0, table.stderr
    assert "| tasks | n | hf pass@1 |" in table.stdout and "| **all** | 1 | " in table.stdout
    as_json = json.loads(subprocess.run([*base, "--json"], capture_output=True, text=True, timeout=300).stdout)
    assert [row["task_id"] for row in as_json["task_results"]] == [task_id]
    bad = subprocess.run([*base[:4], "--tasks", "nope/*"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "mpyforge eval: task pattern 'nope/*': matches no task id" in bad.stderr
