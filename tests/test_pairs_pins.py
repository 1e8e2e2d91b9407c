"""Pin renumbering: every pin-taking form counts as occupied; ESP32-S3/-C3 tables; board hints."""

from __future__ import annotations

import ast
import random

import pytest

from pipeline.pairs.board_pins import ESP32, ESP32_C3, ESP32_S3, ESP8266, RP2040, detect_board
from pipeline.pairs.mpy_compile import compile_many
from pipeline.pairs.pins import occupied_pins, renumber_pins

# Each snippet has one movable output pin and pins in one other form; the board's
# output targets are few, so a move onto an occupied pin would show within 40 seeds.
PIN_FORMS = {
    "comprehension": ("from machine import Pin\nleds = [Pin(p, Pin.OUT) for p in (4, 5)]\n", {4, 5}),
    "loop over a named tuple": (
        "from machine import Pin\nPINS = (4, 5)\nfor p in PINS:\n    Pin(p, Pin.OUT)\n",
        {4, 5},
    ),
    "ADC channel number": ("from machine import ADC\nadc = ADC(26)\n", {26}),
    "UART keyword ints": ("from machine import UART\nuart = UART(1, tx=4, rx=5)\n", {4, 5}),
    "I2C keyword ints": ("from machine import I2C\ni2c = I2C(0, scl=5, sda=4)\n", {4, 5}),
    "PIO base pins": (
        "import rp2\nfrom machine import Pin\n\n@rp2.asm_pio(set_init=rp2.PIO.OUT_LOW)\n"
        "def prog():\n    set(pins, 1)\n\n"
        "sm = rp2.StateMachine(0, prog, set_base=Pin(2), sideset_base=Pin(3), jmp_pin=4)\n",
        {2, 3, 4},
    ),
}


@pytest.mark.parametrize("form", sorted(PIN_FORMS))
def test_every_pin_form_counts_as_occupied(form):
    code, taken = PIN_FORMS[form]
    assert taken <= occupied_pins(ast.parse(code))
    board_text = "Raspberry Pi Pico" if form in ("ADC channel number", "PIO base pins") else "ESP8266"
    relay = "relay = Pin(13, Pin.OUT)\n" if board_text == "ESP8266" else "relay = Pin(6, Pin.OUT)\n"
    snippet = "from machine import Pin\n" + code + relay
    moved_any = False
    for seed in range(40):
        result = renumber_pins(snippet, f"Drive a relay on a {board_text}", random.Random(seed))
        if result is None:
            continue
        moved_any = True
        assert not set(result.mapping.values()) & taken, (form, result.mapping)
    assert moved_any
    assert compile_many([snippet], march=None)[0].ok


def test_chip_tables_keep_s3_and_c3_apart_from_the_classic_esp32():
    assert detect_board("ESP32-S3 DevKitC, import esp32") is ESP32_S3
    assert detect_board("esp32c3 super mini") is ESP32_C3
    assert detect_board("an ESP32 board") is ESP32
    # S3: flash/PSRAM 26-37, USB 19/20, UART0 43/44 and strapping 0/3/45/46 are never targets.
    assert ESP32_S3.output_targets.isdisjoint({0, 3, 19, 20, 43, 44, 45, 46, *range(26, 38)})
    assert ESP32_S3.adc_targets == frozenset(range(1, 11)) and not ESP32_S3.input_only_targets
    # C3: flash 12-17, USB 18/19, UART0 20/21, strapping 2/8/9.
    assert ESP32_C3.output_targets.isdisjoint({2, 8, 9, *range(12, 22)})
    assert ESP32_C3.adc_targets == frozenset(range(0, 5)) and ESP32_C3.gpio == frozenset(range(22))
    code = "from machine import Pin, ADC\nout = Pin(4, Pin.OUT)\npot = ADC(Pin(1))\n"
    for seed in range(30):
        moved = renumber_pins(code, "On an ESP32-C3, read a pot", random.Random(seed))
        assert moved.board == "ESP32-C3"
        assert moved.mapping.get(4, 4) in ESP32_C3.output_targets | {4}
        assert moved.mapping.get(1, 1) in ESP32_C3.adc_targets
        on_s3 = renumber_pins(code, "On an ESP32-S3, read a pot", random.Random(seed))
        assert on_s3.board == "ESP32-S3" and on_s3.mapping.get(4, 4) not in range(26, 38)


def test_board_hints_match_file_names():
    assert detect_board("pdf:esp32_first_steps") is ESP32
    assert detect_board("sources:boards/esp8266_network_lights.md") is ESP8266
    assert detect_board("pdf:rp2040-peripherals") is RP2040
    code = "from machine import Pin\nout = Pin(13, Pin.OUT)\n"
    moved = renumber_pins(code, "Drive an output", random.Random(1), board_hint="pdf:esp32_first_steps")
    assert moved is not None and moved.board == "ESP32"
