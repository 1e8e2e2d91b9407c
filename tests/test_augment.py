"""Augmentations: scope-aware renaming, board-aware pin moves, rephrasing, real mpy-cross."""

from __future__ import annotations

import ast
import io
import random
import re
import tokenize

import pytest

from pipeline.pairs.board_pins import ESP32, ESP8266, RP2040
from pipeline.pairs.mpy_compile import compile_many
from pipeline.pairs.pins import find_pin_uses, renumber_pins
from pipeline.pairs.rename import rename_identifiers
from pipeline.pairs.rephrase import rephrase

SNIPPET = """from machine import Pin, Timer
import micropython
import rp2

_LED_PIN = const(25)  # onboard LED
led_pin = Pin(_LED_PIN, Pin.OUT)
tim = Timer()
count = 0


def tick(timer):
    global count
    count += 1  # one more tick
    led_pin.toggle()
    squares = [n * n for n in range(3)]
    return squares


def scaled(value, factor=2):
    return value * factor


tim.init(freq=2, mode=Timer.PERIODIC, callback=tick)
print(scaled(3, factor=4))


@micropython.asm_thumb
def asm_add(r0, r1):
    add(r0, r0, r1)


@rp2.asm_pio(set_init=rp2.PIO.OUT_LOW)
def pio_blink():
    wrap_target()
    set(pins, 1)[31]
    wrap()


@micropython.viper
def fill(buf, n: int):
    p = ptr8(buf)
    for i in range(n):
        p[i] = 0


class Blinker:
    rate = 2

    def __init__(self, pin):
        self.pin = pin

    def blink(self):
        self.pin.toggle()


try:
    Blinker(led_pin).blink()
except OSError as err:
    print("failed", err)
"""


class _NormalizeNames(ast.NodeTransformer):
    """Replace every binding/use name by its first-appearance index (attributes/keywords kept)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _norm(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self._norm(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self._norm(node.arg)
        self.generic_visit(node)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.name = self._norm(node.name)
        self.generic_visit(node)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        node.name = self._norm(node.name)
        self.generic_visit(node)
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.ExceptHandler:
        node.name = node.name and self._norm(node.name)
        self.generic_visit(node)
        return node

    def visit_Global(self, node: ast.Global) -> ast.Global:
        node.names = [self._norm(n) for n in node.names]
        return node


def _normalized_dump(code: str) -> str:
    return ast.dump(_NormalizeNames().visit(ast.parse(code)))


def _comments(code: str) -> list[str]:
    return [t.string for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type == tokenize.COMMENT]


def _function_source(code: str, name: str) -> str:
    node = next(n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.FunctionDef) and n.name == name)
    return ast.get_source_segment(code, node)


@pytest.fixture(scope="module")
def renamed() -> list:
    return [
        rename_identifiers(SNIPPET, "Toggle `led_pin` from `tick`; the led_pin blinks", random.Random(s), max_names=20)
        for s in range(6)
    ]


def test_renaming_preserves_structure_and_comments(renamed):
    for result in renamed:
        assert result is not None and result.mapping
        assert result.code != SNIPPET
        assert _normalized_dump(result.code) == _normalized_dump(SNIPPET)
        assert _comments(result.code) == _comments(SNIPPET)
        assert len(set(result.mapping.values())) == len(result.mapping)


def test_renaming_leaves_api_attributes_kwargs_and_dsl_alone(renamed):
    never = {"Pin", "Timer", "micropython", "rp2", "const", "print", "range", "OSError", "ptr8", "self"}
    never |= {
        "asm_add",
        "r0",
        "r1",
        "add",
        "pio_blink",
        "pins",
        "wrap_target",
        "wrap",
        "set",
        "fill",
        "buf",
        "n",
        "p",
        "i",
    }
    never |= {"factor", "rate", "blink", "__init__"}  # kwarg-used param and class-body names
    for result in renamed:
        assert not never & set(result.mapping), result.mapping
        for dsl in ("asm_add", "pio_blink", "fill"):
            assert _function_source(result.code, dsl) == _function_source(SNIPPET, dsl)
        tree = ast.parse(result.code)
        attrs = sorted(n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute))
        assert attrs == sorted(n.attr for n in ast.walk(ast.parse(SNIPPET)) if isinstance(n, ast.Attribute))
        kwargs = sorted(k.arg for k in ast.walk(tree) if isinstance(k, ast.keyword))
        assert kwargs == sorted(k.arg for k in ast.walk(ast.parse(SNIPPET)) if isinstance(k, ast.keyword))


def test_renaming_updates_instruction_consistently(renamed):
    for result in renamed:
        if "led_pin" in result.mapping:
            new = result.mapping["led_pin"]
            assert f"`{new}`" in result.instruction and f"the {new} blinks" in result.instruction
            assert not re.search(r"(?<!\w)led_pin(?!\w)", result.instruction)
        if "_LED_PIN" in result.mapping:
            assert result.mapping["_LED_PIN"].startswith("_") and result.mapping["_LED_PIN"].isupper()


def test_names_bound_elsewhere_but_used_freely_are_not_renamed():
    code = "def a():\n    led = 1\n    return led\n\ndef b():\n    return led\n"
    for seed in range(5):
        result = rename_identifiers(code, "x", random.Random(seed), max_names=10)
        assert result is None or "led" not in result.mapping


def test_renamed_variants_compile_in_mpy_cross(renamed):
    results = compile_many([r.code for r in renamed] + [SNIPPET])
    assert all(r.ok for r in results), results


def test_mpy_cross_reports_errors_in_order():
    sources = [
        "x = 1\n",
        "def f(:\n    pass\n",
        "match x:\n    case 1:\n        pass\n",
        "@micropython.viper\ndef f(x: int) -> int:\n    return x + 1\n",
        "   y = 2\n",
    ]
    results = compile_many(sources, march="armv7m", workers=3)
    assert [r.ok for r in results] == [True, False, False, True, False]
    assert results[1].error_type == "SyntaxError"
    assert results[4].error_type == "IndentationError"
    with pytest.raises(ValueError, match="-march='z80'"):
        compile_many(["x = 1"], march="z80")


ESP32_CODE = """from machine import Pin, ADC, I2C
BUTTON = const(14)
btn = Pin(BUTTON, Pin.IN, Pin.PULL_UP)  # button on GPIO14
sensor = Pin(27, Pin.IN)
pot = ADC(Pin(34))
i2c = I2C(0, scl=Pin(22), sda=Pin(21))
relay = Pin(4, Pin.OUT)
motor = Pin(5)
"""


def test_esp32_pin_moves_respect_the_table():
    outputs_or_pulled = {14, 22, 21, 4, 5}
    for seed in range(40):
        result = renumber_pins(
            ESP32_CODE, "On an ESP32, read a button on GPIO14 and a pot on pin 34", random.Random(seed)
        )
        assert result is not None and result.board == "ESP32"
        uses = find_pin_uses(ast.parse(result.code))
        assert len(uses) == 7  # moves are one-to-one: no two pins merged
        for old, new in result.mapping.items():
            assert new not in {1, 3, 6, 7, 8, 9, 10, 11, 16, 17, 0, 2, 12, 15}
            if old in outputs_or_pulled:
                assert new not in range(34, 40), (old, new)
            if old == 34:
                assert new in range(32, 40)
        assert f"GPIO{result.mapping.get(14, 14)}" in result.instruction
        assert f"# button on GPIO{result.mapping.get(14, 14)}" in result.code
        assert f"pin {result.mapping.get(34, 34)}" in result.instruction


def test_rp2040_and_esp8266_tables():
    rp2040 = (
        "from machine import Pin, UART\nuart = UART(0, tx=Pin(0), rx=Pin(1))\n"
        "led = Pin(25, Pin.OUT)\nout = Pin(15, Pin.OUT)\n"
    )
    esp8266 = "from machine import Pin\nout = Pin(12, Pin.OUT)  # D6\n"
    for seed in range(20):
        moved = renumber_pins(rp2040, "Toggle the LED on a Pico and drive GP15", random.Random(seed))
        assert set(moved.mapping) == {15}  # UART pins are fixed-function, the LED stays
        assert moved.mapping[15] in RP2040.output_targets and f"GP{moved.mapping[15]}" in moved.instruction
        small = renumber_pins(esp8266, "ESP8266 output", random.Random(seed))
        assert small.mapping[12] in ESP8266.output_targets and small.mapping[12] != 12
    assert renumber_pins(esp8266, "no board named here", random.Random(0)) is None
    assert ESP32.input_only_targets.isdisjoint(ESP32.output_targets)


def test_rephrase_changes_wording_deterministically():
    first = rephrase("Blink the LED", random.Random(3), board="ESP32")
    assert first == rephrase("Blink the LED", random.Random(3), board="ESP32")
    seen = {rephrase("Blink the LED", random.Random(s), board="ESP32") for s in range(30)}
    assert "Blink the LED" not in seen and len(seen) > 5
    assert all("blink the LED" in s or "Blink the LED" in s for s in seen)
    assert any("an ESP32" in s for s in seen)
