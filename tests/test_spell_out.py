"""Complete requests (PairSettings.complete_requests): every pin and value the code uses is stated."""

from __future__ import annotations

import ast
import random

from pipeline.pairs.augment import make_variants
from pipeline.pairs.params import code_params
from pipeline.pairs.spell_out import pin_roles, spell_out, unstated
from pipeline.pairs.starter_set import load_starter_pairs
from pipeline.pairs.units import mismatches

UART_CODE = """from machine import UART, Pin
import time
uart = UART(1, baudrate=9600, tx=Pin(4), rx=Pin(5))
while True:
    uart.write("hi")
    time.sleep_ms(200)
"""


def test_unstated_lists_the_pins_and_values_a_request_leaves_out():
    assert unstated("Send text over UART1 at 9600 baud.", UART_CODE) == ["pin 4", "pin 5", "ms 200"]
    assert unstated("Send text over UART1 (TX GP4, RX GP5) at 9600 baud every 0.2 s.", UART_CODE) == []
    assert unstated("Send text over UART1 at 9600 baud.", "uart.write(") == ["code does not parse"]


def test_spell_out_states_what_was_left_out_in_words_read_back_the_same_way():
    text = "Send text over UART1 at 9600 baud."
    spelt = spell_out(text, UART_CODE, "Raspberry Pi Pico", random.Random(3))
    assert spelt.startswith(text) and "GP4 for tx" in spelt and "GP5 for rx" in spelt
    assert unstated(spelt, UART_CODE) == [] and mismatches(spelt, code_params(UART_CODE)) == []
    assert spell_out(spelt, UART_CODE, "Raspberry Pi Pico", random.Random(3)) == spelt


def test_pins_are_named_by_keyword_or_by_the_variable_they_make():
    roles = pin_roles(ast.parse("LED = 2\nled = Pin(LED, Pin.OUT)\ni2c = I2C(0, scl=Pin(22), sda=21)\nadc = ADC(0)\n"))
    assert roles == {2: "led", 22: "scl", 21: "sda"}  # ADC(0) is a channel, not a pin


def test_complete_variants_of_the_starter_set_state_everything_and_none_is_lost():
    pairs = load_starter_pairs()[::4]
    plain = [v for p in pairs for v in make_variants(p, 10, 0)[1:]]
    complete = [v for p in pairs for v in make_variants(p, 10, 0, complete=True)[1:]]
    # Without the setting many variants leave a pin or a delay out; with it none does, and every
    # attempt that made a variant still makes one (spelling out never fails on these programs).
    assert sum(bool(unstated(v.instruction, v.response)) for v in plain) > len(plain) // 4
    assert [unstated(v.instruction, v.response) for v in complete] == [[]] * len(complete)
    assert len(complete) == len(plain)
    assert all(not mismatches(v.instruction, code_params(v.response)) for v in complete)
