"""Requests that state the numbers their answers use, requests made from the code, descriptive
renames, and no prompt borrowed from the evaluation suite (real mpy-cross, real sample inbox)."""

from __future__ import annotations

import ast
import random
import re
import shutil
from pathlib import Path

import pandas as pd

from pipeline.pairs.augment import AUGMENTATIONS, make_variants
from pipeline.pairs.build import PairSettings, build_instruction_pairs
from pipeline.pairs.describe import describe_code
from pipeline.pairs.mining import MiningLimits, mine_pairs
from pipeline.pairs.mpy_compile import compile_many
from pipeline.pairs.rename import rename_identifiers
from tests.test_instruction_pairs import _doc
from tests.test_starter_set import eight_word_grams as grams

REPO = Path(__file__).resolve().parents[1]
PICO_BLINK = (
    "from machine import Pin\nimport time\n\nled = Pin(25, Pin.OUT)\n"
    "while True:\n    led.toggle()\n    time.sleep_ms(500)  # 500 ms per half period"
)
ESP32_PWM = "from machine import Pin, PWM\n\npwm = PWM(Pin(4), freq=1000, duty=512)\n"
ESP8266_UART = (
    "from machine import UART\nimport time\n\nuart = UART(0, baudrate=9600)\n"
    "while True:\n    uart.write('ping\\n')\n    time.sleep(1)"
)
# Written apart from pipeline/pairs/units.py, so the check does not grade its own reading.
_STATED = re.compile(
    r"(\d+(?:\.\d+)?)\s*(ms|milliseconds|seconds|second|s|µs|kHz|Hz|hertz|baud)\b"
    r"|(half a second|a quarter of a second|once a second|once per second|every second|twice a second)",
    re.IGNORECASE,
)
_SPOKEN = {"half a second": ("s", 0.5), "a quarter of a second": ("s", 0.25), "twice a second": ("hz", 2.0)}
_SPOKEN |= dict.fromkeys(("once a second", "once per second", "every second"), ("s", 1.0))
_UNIT = {"ms": ("s", 1e-3), "milliseconds": ("s", 1e-3), "µs": ("s", 1e-6), "khz": ("hz", 1e3), "baud": ("baud", 1)}
_UNIT |= dict.fromkeys(("s", "second", "seconds"), ("s", 1.0)) | dict.fromkeys(("hz", "hertz"), ("hz", 1.0))


def _stated(prompt: str) -> list[tuple[str, float]]:
    found = []
    for number, unit, spoken in _STATED.findall(re.sub(r"`[^`]*`", "", prompt)):
        found.append(
            _SPOKEN[spoken.lower()] if spoken else (_UNIT[unit.lower()][0], float(number) * _UNIT[unit.lower()][1])
        )
    return found


def _code_values(code: str) -> dict[str, set[float]]:
    """Delays (s), frequencies and baud rates the code passes, read with ast."""
    values: dict[str, set[float]] = {"s": set(), "hz": set(), "baud": set()}
    scale = {"sleep": 1.0, "sleep_ms": 1e-3, "sleep_us": 1e-6}
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in scale and node.args and isinstance(node.args[0], ast.Constant):
            values["s"].add(node.args[0].value * scale[name])
        for keyword in node.keywords:
            if keyword.arg in ("freq", "baudrate") and isinstance(keyword.value, ast.Constant):
                values["hz" if keyword.arg == "freq" else "baud"].add(float(keyword.value.value))
    delays = set(values["s"])
    values["s"] |= {2 * d for d in delays}  # a full blink cycle: on + off
    values["hz"] |= {1 / d for d in values["s"] if d}
    return values


def _agrees(prompt: str, code: str) -> bool:
    values = _code_values(code)
    return all(any(abs(v - x) <= 1e-6 * max(1, x) for x in values[unit]) for unit, v in _stated(prompt))


def _mined(lead: str, code: str, source: str) -> object:
    pairs, rejected = mine_pairs(
        pd.DataFrame(_doc("book", source, "train", [("prose", lead), ("code", code)])), MiningLimits()
    )
    assert pairs, rejected
    return pairs[0]


def test_variants_state_the_numbers_their_code_uses():
    cases = [
        ("To blink the Pico's LED every 500 ms, toggle it in a loop:", PICO_BLINK, "pdf:pico-book", "ms"),
        ("To run a PWM output at 1 kHz on an ESP32, use:", ESP32_PWM, "pdf:esp32-book", "hz"),
        ("To send a ping over the UART at 9600 baud every second, use:", ESP8266_UART, "pdf:esp8266-book", "baud"),
    ]
    for lead, code, source, unit in cases:
        pair = _mined(lead, code, source)
        assert _agrees(pair.instruction, pair.response), pair.instruction
        variants = make_variants(pair, 12, seed=3)[1:]
        assert len(variants) >= 8
        stated_numbers = set()
        for variant in variants:
            assert _agrees(variant.instruction, variant.response), (variant.instruction, variant.response)
            stated_numbers |= {v for u, v in _stated(variant.instruction) if u == unit.replace("ms", "s")}
        # The numbers move: variants ask for (and their answers use) many different values.
        assert len(stated_numbers) >= 4, stated_numbers
        assert all(r.ok for r in compile_many([v.response for v in variants]))
    # A planted inconsistency: the prompt says one delay, the code sleeps another.
    assert not _agrees("Blink GP25 every 500 ms.", PICO_BLINK.replace("sleep_ms(500)", "sleep_ms(750)"))
    assert not _agrees("Run PWM at 2 kHz on GPIO4.", ESP32_PWM)


def test_requests_are_made_from_what_the_code_does():
    seen = {describe_code(PICO_BLINK, "Raspberry Pi Pico", random.Random(s)) for s in range(40)}
    assert len(seen) >= 15 and all("GP25" in s or "built-in LED" in s for s in seen)
    assert all(_agrees(s, PICO_BLINK) for s in seen)
    assert any(re.search(r"twice a second|1 Hz|half a second|500 ms", s) for s in seen), seen
    assert any(len(s.split()) <= 5 for s in seen) and any(len(s.split()) >= 12 for s in seen)  # levels of detail
    assert describe_code("values = [3, 1, 2]\nvalues.sort()\n", None, random.Random(0)) is None


def test_heading_templates_are_gone():
    sd = "import machine, os\n\nsd = machine.SD(pins=('GP10', 'GP11', 'GP15'))\nos.mount(sd, '/sd')\n"
    sd += "print(os.listdir('/sd'))"
    blocks = [
        ("heading", "Constructors"),
        ("code", "from machine import Pin\n\np0 = Pin(0, Pin.OUT)\np0.value(1)\nprint(p0.value())"),
        ("heading", "class SD – secure digital memory card (cc3200 port only)"),
        ("code", sd),
        ("heading", "Blinking an LED"),
        ("code", PICO_BLINK),
    ]
    pairs, rejected = mine_pairs(pd.DataFrame(_doc("ref", "pdf:wipy-ref", "train", blocks)), MiningLimits())
    prompts = {p.origin_id: p.instruction for p in pairs}
    headings = r"constructors|class SD|secure digital|cc3200|how to use|how do i use"
    assert not [p for p in prompts.values() if re.search(headings, p, re.I)], prompts
    assert not rejected, rejected  # each listing is asked for by what its code does instead
    assert "SD card" in prompts["ref#3"] and "pin 0" in prompts["ref#1"], prompts
    assert "blink" in prompts["ref#5"].lower() and "25" in prompts["ref#5"] and _stated(prompts["ref#5"])
    # Text that names something the code does not do gives way to what the code does.
    mismatched = [("prose", "To scan the I2C bus, run:"), ("code", PICO_BLINK)]
    pairs, _ = mine_pairs(pd.DataFrame(_doc("pico", "pdf:pico-book", "train", mismatched)), MiningLimits())
    assert "I2C" not in pairs[0].instruction and "GP25" in pairs[0].instruction


def test_renamed_variables_describe_the_object():
    code = (
        "import machine\nfrom machine import Pin, Signal\n\ncard = machine.SD()\n"
        "status = Signal(Pin(2, Pin.OUT), invert=True)\nled_pin = Pin(25, Pin.OUT)\nbutton_count = 0\n"
        "status.on()\nled_pin.toggle()\nbutton_count += 1\nprint(card, button_count)\n"
    )
    roles = {"card": {"sd", "card"}, "status": {"signal", "sig"}, "led_pin": {"pin", "gpio", "io"}}
    synonyms = {"led": {"light", "lamp"}, "count": {"counter", "tally"}, "button": {"btn", "switch", "key"}}
    qualifiers = {"my", "main", "the", "this", "local", "cur"}
    for seed in range(30):
        result = rename_identifiers(code, "Show the card", random.Random(seed), max_names=10)
        for old, new in result.mapping.items():
            own = set(old.split("_"))
            allowed = own | roles.get(old, set()) | qualifiers | {s for w in own for s in synonyms.get(w, ())}
            assert set(new.split("_")) <= allowed, (old, new)
            assert new not in {"count", "entry", "item", "value", "total"}, (old, new)
        assert compile_many([result.code])[0].ok


def test_no_generated_prompt_shares_eight_words_with_the_task_suite(tmp_path: Path):
    from pipeline.corpus.build import CorpusSettings, build_corpus
    from pipeline.evaluate.tasks import all_tasks
    from pipeline.sources.files import build_source_files

    # The sample inbox: its sources and the Markdown its sample PDFs were typeset from.
    shutil.copytree(REPO / "data" / "sources", tmp_path / "inbox")
    shutil.copytree(REPO / "data" / "pdf_sources", tmp_path / "inbox" / "books")
    (tmp_path / "files").mkdir()
    build_source_files(tmp_path / "inbox", tmp_path / "files")
    build_corpus({}, tmp_path / "files" / "source_files.parquet", tmp_path / "corpus", CorpusSettings())
    meta = build_instruction_pairs(tmp_path / "corpus" / "corpus.parquet", tmp_path / "pairs", PairSettings())
    prompts = pd.read_parquet(tmp_path / "pairs" / "pairs.parquet")["instruction"].tolist()
    assert meta["augmentations"]["describe"] >= 20 and len(prompts) >= 200
    suite = set().union(*(grams(t.prompt) for t in all_tasks()))
    shared = [(p, " ".join(g)) for p in prompts for g in grams(p) & suite]
    assert shared == [], shared[:5]
    # The check bites: a task prompt itself would be caught.
    assert grams(all_tasks()[0].prompt) & suite


def test_requests_described_alike_never_cross_the_split(tmp_path: Path):
    scan = "from machine import Pin, I2C\n\ni2c = I2C(0, scl=Pin(5), sda=Pin(4))\nprint({!r}, i2c.scan())\n"
    rows = []
    for n in range(6):
        split = "val" if n % 2 else "train"
        rows += _doc(f"doc{n}", f"pdf:pico-notes-{n}", split, [("heading", "Bus"), ("code", scan.format(f"bus {n}"))])
    pd.DataFrame(rows).to_parquet(tmp_path / "corpus.parquet")
    build_instruction_pairs(tmp_path / "corpus.parquet", tmp_path / "pairs", PairSettings())  # raises on a leak
    table = pd.read_parquet(tmp_path / "pairs" / "pairs.parquet")
    assert set(table["split"]) == {"train", "val"} and len(table) >= 30


def test_varied_values_stay_within_what_the_hardware_allows():
    from pipeline.pairs.numbers import vary_numbers
    from pipeline.pairs.params import code_params

    dht = "import dht, time\nfrom machine import Pin\n\ns = dht.DHT22(Pin(4))\nwhile True:\n    s.measure()\n"
    dht += "    time.sleep(2)\n"
    servo = "from machine import Pin, PWM\n\nservo = PWM(Pin(13), freq=50, duty=77)\n"
    pixels = "import neopixel\nfrom machine import Pin\n\nnp = neopixel.NeoPixel(Pin(5), 3)\n"
    pixels += "np[0] = (0, 128, 0)  # green, half brightness\nnp.write()\n"
    for seed in range(40):
        rng = random.Random(seed)
        slow = vary_numbers(dht, "", rng)  # None when the draw kept 2 s
        assert all(p.value >= 2 for p in code_params(slow.code if slow else dht) if p.kind == "s")
        pwm = vary_numbers(ESP32_PWM, "", rng, board="ESP8266")
        assert all(p.value <= 1000 for p in code_params(pwm.code) if p.kind == "pwm_hz")  # ESP8266 PWM limit
        moved = vary_numbers(servo, "", rng)
        assert "freq=50" in moved.code  # a servo needs its 50 Hz, and 1-2 ms pulses
        assert all(51 <= p.value <= 103 for p in code_params(moved.code) if p.kind == "duty")
        varied = vary_numbers(pixels, "Light the first pixel green", rng)
        colour = next(p.value for p in code_params(varied.code) if p.kind == "rgb")
        if colour != (0, 255, 0):
            assert "green" not in varied.code.lower() and "green" not in varied.instruction


def test_variants_without_renaming_keep_the_original_names_and_change_nothing_else():
    pair = _mined("To blink the Pico's LED every 500 ms, toggle it in a loop:", PICO_BLINK, "pdf:pico-book")
    every = make_variants(pair, 12, seed=3)
    assert make_variants(pair, 12, seed=3, augmentations=AUGMENTATIONS) == every
    assert any("rename" in v.augmentations for v in every)
    kept = make_variants(pair, 12, seed=3, augmentations=PairSettings(rename_identifiers=False).augmentations)
    assert len(kept) >= 8 and not any("rename" in v.augmentations for v in kept)
    original_names = {n.id for n in ast.walk(ast.parse(PICO_BLINK)) if isinstance(n, ast.Name)}
    for variant in kept:
        assert {n.id for n in ast.walk(ast.parse(variant.response)) if isinstance(n, ast.Name)} <= original_names


def test_a_button_that_drives_an_led_and_a_flash_before_deep_sleep_are_asked_for_whole():
    button = "from machine import Pin\nimport time\n\nbtn = Pin(9, Pin.IN, Pin.PULL_UP)\nled = Pin(8, Pin.OUT)\n"
    button += "while True:\n    led.value(not btn.value())\n    time.sleep_ms(30)\n"
    nap = "import machine, time\nfrom machine import Pin\n\nled = Pin(12, Pin.OUT)\nled.on()\ntime.sleep_ms(300)\n"
    nap += "machine.deepsleep(45000)\n"
    for seed in range(10):
        asked = describe_code(button, "Raspberry Pi Pico", random.Random(seed))
        assert "GP8" in asked and "GP9" in asked and "pull-up" in asked, asked
        slept = describe_code(nap, "Raspberry Pi Pico", random.Random(seed))
        assert "GP12" in slept and "sleep" in slept and "300" in slept.replace("0.3 s", "300"), slept


def test_a_loop_count_whose_last_index_the_code_spells_out_is_not_varied():
    from pipeline.pairs.params import code_params

    fade = "from machine import Pin, PWM\nimport time\n\npwm = PWM(Pin(7))\nwhile True:\n    for i in range(50):\n"
    fade += "        pwm.duty_u16((49 - i) * 65535 // 49)\n        time.sleep_ms(20)\n"
    assert [p.kind for p in code_params(fade) if p.kind == "count"] == []
    assert [p.value for p in code_params(fade.replace("49", "60")) if p.kind == "count"] == [50]
