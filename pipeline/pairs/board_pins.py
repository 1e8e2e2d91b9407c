"""Per-board GPIO tables: which pins a renumbered pin may move to.

Facts from MicroPython's ``docs/esp32/quickref.rst``, ``docs/esp8266/quickref.rst`` and
``docs/rp2/quickref.rst`` (MIT) and the Raspberry Pi Pico datasheet (summarised in
/work/shared/notes/data.md §5.2):

* ESP32: GPIO 6-11 (and 16/17 on PSRAM modules) wire the SPI flash; 1/3 are the REPL
  UART; 34-39 are input-only without pull-ups; 0/2/5/12/15 are strapping pins; ADC1
  (usable with Wi-Fi on) is GPIO 32-39. The devkit LED is usually GPIO 2.
* ESP8266: usable GPIO are 0, 2, 4, 5, 12-16; 0/2/15 select the boot mode, 1/3 are
  the UART, 16 has no interrupt or pull-up. Its ADC is ``ADC(0)``, not a pin number.
* RP2040 (Pico): GP0-GP28 on the header; GP23/24/25/29 are internal on the Pico (SMPS
  mode, VBUS sense, LED, VSYS/3), ADC on GP26-28. The Pico LED is GP25.

Only "safe" targets are listed; a source pin outside its board's known GPIO set is
never moved, and nothing is ever moved *onto* a flash, UART, strapping or internal pin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class BoardPins:
    name: str  # as written in prose, e.g. "ESP32"
    gpio: frozenset[int]  # every pin number the board exposes (valid as a source)
    output_targets: frozenset[int]  # safe to move any output/bidirectional pin to
    input_only_targets: frozenset[int]  # extra targets for pins used only as inputs
    adc_targets: frozenset[int]  # targets for pins read by ADC
    led_pin: int  # onboard LED: kept in place when the text talks about an LED
    # ESP32 routes UART/I2C/SPI through its GPIO matrix to any pin; RP2040 and ESP8266
    # tie each hardware peripheral to fixed pins, so those pins must stay where they are.
    peripherals_on_any_pin: bool = False


ESP32 = BoardPins(
    name="ESP32",
    gpio=frozenset([*range(0, 20), 21, 22, 23, 25, 26, 27, *range(32, 40)]),
    output_targets=frozenset([4, 13, 14, 18, 19, 21, 22, 23, 25, 26, 27, 32, 33]),
    input_only_targets=frozenset(range(34, 40)),
    adc_targets=frozenset(range(32, 40)),
    led_pin=2,
    peripherals_on_any_pin=True,
)
ESP8266 = BoardPins(
    name="ESP8266",
    gpio=frozenset([0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16]),
    output_targets=frozenset([4, 5, 12, 13, 14]),
    input_only_targets=frozenset(),
    adc_targets=frozenset(),
    led_pin=2,
)
RP2040 = BoardPins(
    name="Raspberry Pi Pico",
    gpio=frozenset(range(0, 30)),
    output_targets=frozenset([*range(0, 23), 26, 27, 28]),
    input_only_targets=frozenset(),
    adc_targets=frozenset([26, 27, 28]),
    led_pin=25,
)

_BOARD_CUES: tuple[tuple[BoardPins, re.Pattern[str]], ...] = (
    (ESP32, re.compile(r"\besp-?32\b|\bimport esp32\b", re.IGNORECASE)),
    (ESP8266, re.compile(r"\besp-?8266\b|\bnodemcu\b|\bwemos\b|\bd1 mini\b", re.IGNORECASE)),
    (RP2040, re.compile(r"\bpico\b|\brp2040\b|\brp2\b|\bGP\d{1,2}\b", re.IGNORECASE)),
)


def detect_board(*texts: str) -> BoardPins | None:
    """The one board the texts point at; None when no board or more than one is named."""
    joined = "\n".join(texts)
    found = [board for board, cue in _BOARD_CUES if cue.search(joined)]
    return found[0] if len(found) == 1 else None


def allowed_targets(board: BoardPins, needs_output: bool, needs_adc: bool) -> frozenset[int]:
    targets = board.output_targets if needs_output else board.output_targets | board.input_only_targets
    if needs_adc:
        targets &= board.adc_targets
    return targets
