"""The task suite: maker requests per family and board, each with a check that reads the run's timeline.

``all_tasks()`` lists every task in a fixed order (parameters are explicit tables, so the suite is
the same on every run); ``select_tasks(pattern)`` picks by task id; ``DEMO_TASK_IDS`` is the small
subset `make demo` scores. Each task carries a reference program that passes and planted wrong
answers that must fail (tests/test_tasks.py runs them all in the sandbox).
"""

from __future__ import annotations

import fnmatch
from functools import cache

from pipeline.evaluate.tasks import buses, gpio, pwm, sensors, serial
from pipeline.evaluate.tasks.base import Case, Task, Verdict

__all__ = ["DEMO_TASK_IDS", "Task", "Verdict", "all_cases", "all_tasks", "select_tasks"]

_FAMILY_BUILDERS = gpio.FAMILIES + pwm.FAMILIES + sensors.FAMILIES + buses.FAMILIES + serial.FAMILIES


@cache
def all_cases() -> tuple[Case, ...]:
    """Every parameter set; its phrasings share one reference, world and set of wrong answers."""
    return tuple(c for build in _FAMILY_BUILDERS for c in build())


def all_tasks() -> list[Task]:
    return [t for c in all_cases() for t in c.tasks()]


def select_tasks(pattern: str = "*") -> list[Task]:
    """The tasks whose id matches the fnmatch ``pattern`` ("blink/*", "*/esp32/*"); ValueError if none."""
    chosen = [t for t in all_tasks() if fnmatch.fnmatchcase(t.task_id, pattern)]
    if not chosen:
        raise ValueError(f"task pattern {pattern!r}: matches no task id (ids look like 'blink/pico/gp25-500-500ms/p0')")
    return chosen


# One task per family where possible, across the three boards, for the demo's report card.
DEMO_TASK_IDS: tuple[str, ...] = (
    "blink/pico/gp25-500-500ms/p0",
    "pwm_level/esp32/gpio4-2000hz-75pct/p0",
    "fade/esp8266/gpio4-1000ms/p0",
    "adc_poll/pico/gp26-500ms-raw/p0",
    "button_pullup/esp32/gpio0-gpio2/p0",
    "pin_irq/esp8266/gpio0/p0",
    "i2c_scan/pico/gp4-gp5/p0",
    "uart_send/esp8266/uart1-115200-1000ms/p0",
    "periodic_timer/pico/gp25-250ms/p0",
    "servo/esp32/gpio13-45deg/p0",
    "neopixel/pico/gp16-8px-all-ff0000/p0",
    "dht/esp8266/dht11-gpio5-2s/p0",
)
