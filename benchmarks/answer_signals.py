"""What a model's answers get right short of passing: the job, the request's pin, its first number.

While a recipe passes next to no task, pass@1 cannot tell two rows apart; these three rates can,
from the answers a ``scores.json`` already holds (nothing is run again):

* right job: the answer calls the API its task's family is about (``KEY_API``); a blink answer
  that sets up a NeoPixel or PWM does not count;
* pin carried: the answer writes ``Pin(n)`` for the first GPn/GPIOn pin the prompt names;
* number carried: the first number of two or more digits in the prompt (other than its pins)
  appears in the answer's code (``500`` of "every 500 ms" in ``sleep_ms(500)``).

    python -m benchmarks.answer_signals /tmp/mpyforge-quality/recipe/runs/*/0/hf/scores.json
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from pipeline.evaluate.tasks import all_tasks

# The call or class an answer to each family cannot do without.
KEY_API = {
    "blink": "Pin(", "button_pullup": "PULL_UP", "pin_irq": ".irq(", "periodic_timer": "Timer",
    "deep_sleep": "deepsleep", "pwm_level": "PWM", "fade": "PWM", "servo": "PWM", "neopixel": "NeoPixel",
    "adc_poll": "ADC", "dht": "DHT", "ds18b20": "DS18X20", "i2c_scan": ".scan(", "i2c_register": "readfrom",
    "spi_transfer": "SPI", "oled_text": "SSD1306", "uart_send": "UART", "uart_echo": "UART", "wifi_connect": "WLAN",
}  # fmt: skip
_PIN = re.compile(r"\b(?:GPIO|GP)(\d{1,2})\b")
_NUMBER = re.compile(r"(?<![\w.])(\d{2,})(?![\w.])")


def right_job(family: str, code: str) -> bool:
    return KEY_API[family] in code and not (family == "blink" and ("NeoPixel" in code or "PWM" in code))


def signals(scores: dict, prompts: dict[str, str]) -> dict[str, tuple[int, int]]:
    """(hits, tasks it applies to) per signal, for the greedy answers of one scores.json."""
    counts = {"right job": [0, 0], "pin carried": [0, 0], "number carried": [0, 0]}
    for result in scores["task_results"]:
        code, prompt = result["greedy"]["code"], prompts[result["task_id"]]
        counts["right job"][0] += right_job(result["family"], code)
        counts["right job"][1] += 1
        pins = _PIN.findall(prompt)
        if pins:
            counts["pin carried"][0] += bool(re.search(rf"Pin\(\s*{pins[0]}\b", code))
            counts["pin carried"][1] += 1
        numbers = [n for n in _NUMBER.findall(prompt) if n not in pins]
        if numbers:
            counts["number carried"][0] += numbers[0] in re.findall(r"\d+", code)
            counts["number carried"][1] += 1
    return {name: (hits, total) for name, (hits, total) in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", nargs="+", type=Path, help="scores.json files (task_scores or the recipe's)")
    args = parser.parse_args()
    prompts = {task.task_id: task.prompt for task in all_tasks()}
    for path in args.scores:
        found = signals(json.loads(path.read_text()), prompts)
        print(f"{path}: " + ", ".join(f"{name} {hits}/{total}" for name, (hits, total) in found.items()))


if __name__ == "__main__":
    main()
