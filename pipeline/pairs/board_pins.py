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
* ESP32-S3 (Espressif "ESP32-S3 Series Datasheet", pin overview and strapping-pin
  sections): GPIO 0-21 and 26-48; 26-32 wire the SPI flash/PSRAM and 33-37 the octal
  flash/PSRAM of R8 modules; 19/20 are USB D-/D+; 43/44 are UART0 TX/RX; 0, 3, 45, 46
  are strapping pins; ADC1 is GPIO 1-10 (ADC2, 11-20, is unusable with Wi-Fi on). No pin
  is input-only. The DevKitC-1 RGB LED is on GPIO48 (GPIO38 on v1.1 boards).
* ESP32-C3 ("ESP32-C3 Series Datasheet" v1.2 §2.4 strapping pins; MicroPython commit
  "esp32: add GENERIC_C3_USB" reserving the flash and USB pins): GPIO 0-21; 12-17 wire
  the SPI flash; 18/19 are USB D-/D+; 20/21 are UART0 RX/TX; 2, 8, 9 are strapping pins;
  ADC1 is GPIO 0-4. No pin is input-only. The DevKitM-1 RGB LED is on GPIO8.

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
    # mpy-cross -march for @micropython.native/viper code on this chip.
    native_arch: str = "armv7m"


ESP32 = BoardPins(
    name="ESP32",
    gpio=frozenset([*range(0, 20), 21, 22, 23, 25, 26, 27, *range(32, 40)]),
    output_targets=frozenset([4, 13, 14, 18, 19, 21, 22, 23, 25, 26, 27, 32, 33]),
    input_only_targets=frozenset(range(34, 40)),
    adc_targets=frozenset(range(32, 40)),
    led_pin=2,
    peripherals_on_any_pin=True,
    native_arch="xtensawin",
)
ESP32_S3 = BoardPins(
    name="ESP32-S3",
    gpio=frozenset([*range(0, 22), *range(26, 49)]),
    output_targets=frozenset([1, 2, *range(4, 19), 21, *range(38, 43), 47]),
    input_only_targets=frozenset(), adc_targets=frozenset(range(1, 11)),  # ADC1
    led_pin=48, peripherals_on_any_pin=True, native_arch="xtensawin",
)  # fmt: skip
ESP32_C3 = BoardPins(
    name="ESP32-C3",
    gpio=frozenset(range(0, 22)),
    output_targets=frozenset([0, 1, 3, 4, 5, 6, 7, 10]),
    input_only_targets=frozenset(),
    adc_targets=frozenset(range(0, 5)),  # ADC1
    led_pin=8, peripherals_on_any_pin=True, native_arch="rv32imc",
)  # fmt: skip
ESP8266 = BoardPins(
    name="ESP8266",
    gpio=frozenset([0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16]),
    output_targets=frozenset([4, 5, 12, 13, 14]),
    input_only_targets=frozenset(),
    adc_targets=frozenset(),
    led_pin=2,
    native_arch="xtensa",
)
RP2040 = BoardPins(
    name="Raspberry Pi Pico",
    gpio=frozenset(range(0, 30)),
    output_targets=frozenset([*range(0, 23), 26, 27, 28]),
    input_only_targets=frozenset(),
    adc_targets=frozenset([26, 27, 28]),
    led_pin=25,
    native_arch="armv6m",
)

BOARDS = {board.name: board for board in (ESP32, ESP32_S3, ESP32_C3, ESP8266, RP2040)}

# Cues are bounded by non-alphanumerics rather than \b, so file names such as
# "esp32_first_steps" or "rp2040-peripherals" count ("_" is a word character for \b).
_EDGE, _END = r"(?<![a-z0-9])", r"(?![a-z0-9])"
_BOARD_CUES: tuple[tuple[BoardPins, re.Pattern[str]], ...] = (
    (ESP32_S3, re.compile(rf"{_EDGE}esp-?32[-_ ]?s3{_END}", re.IGNORECASE)),
    (ESP32_C3, re.compile(rf"{_EDGE}esp-?32[-_ ]?c3{_END}", re.IGNORECASE)),
    (ESP32, re.compile(rf"{_EDGE}esp-?32(?![-_ ]?[a-z]\d)(?![a-z0-9])", re.IGNORECASE)),
    (ESP8266, re.compile(rf"{_EDGE}(?:esp-?8266|nodemcu|wemos|d1 mini){_END}", re.IGNORECASE)),
    (RP2040, re.compile(rf"{_EDGE}(?:pico|rp2040|rp2){_END}|\bGP\d{{1,2}}\b", re.IGNORECASE)),
)
# A variant named next to "esp32" (its module is still ``import esp32``) is that variant.
_VARIANTS_OF = {ESP32_S3.name: ESP32.name, ESP32_C3.name: ESP32.name}


def detect_board(*texts: str) -> BoardPins | None:
    """The one board the texts point at; None when no board or more than one is named."""
    joined = "\n".join(texts)
    found = [board for board, cue in _BOARD_CUES if cue.search(joined)]
    variants_of = {_VARIANTS_OF[b.name] for b in found if b.name in _VARIANTS_OF}
    found = [board for board in found if board.name not in variants_of]
    return found[0] if len(found) == 1 else None


def allowed_targets(board: BoardPins, needs_output: bool, needs_adc: bool) -> frozenset[int]:
    targets = board.output_targets if needs_output else board.output_targets | board.input_only_targets
    if needs_adc:
        targets &= board.adc_targets
    return targets
