"""The sandbox: real MicroPython (WebAssembly, under Node) running programs on the simulated board."""

from __future__ import annotations

import shutil

import pytest

from pipeline.evaluate.sandbox import RunJob, run_many, run_program, vm_dir

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

BLINK = """
from machine import Pin
import time
led = Pin("GP25", Pin.OUT)
while True:
    led.toggle()
    time.sleep_ms(500)
"""


@pytest.fixture(scope="module", autouse=True)
def _vm_installed():
    assert (vm_dir() / "node_modules").is_dir(), "run `make setup`: it installs the VM from the lockfile"


def test_blink_timeline_and_budget_end_a_while_true_loop():
    result = run_program(BLINK, seconds=2.0)
    assert result.status == "ok", result.error
    writes = [(e.t_ms, e.args["value"]) for e in result.events if e.kind == "pin.value"]
    assert writes == [(0.0, 1), (500.0, 0), (1000.0, 1), (1500.0, 0)]
    assert result.events[-1].kind == "end" and result.events[-1].args["reason"] == "budget"
    assert result.events[-1].t_ms == 2000.0


def test_timer_keeps_firing_after_the_program_returns():
    source = "from machine import Timer\nTimer(period=300, callback=lambda t: print('tick'))\nprint('main done')\n"
    result = run_program(source, seconds=1.0)
    assert result.status == "ok", result.error
    assert result.stdout == "main done\ntick\ntick\ntick\n"
    assert [e.t_ms for e in result.events if e.kind == "timer.fire"] == [300.0, 600.0, 900.0]
    assert result.events[-1].args["reason"] == "returned"


def test_utime_is_the_virtual_clock_too():
    source = "import utime\nutime.sleep(1.5)\nprint(utime.ticks_ms())\n"
    assert run_program(source, seconds=3.0).stdout == "1500\n"


def test_uncaught_exception_is_raised_with_its_last_line():
    result = run_program("from machine import Pin\nPin(29, Pin.OUT)\n", board="pico")
    assert result.status == "raised"
    assert result.error == "ValueError: invalid pin"


def test_run_many_keeps_the_jobs_order():
    jobs = [RunJob(f"print({n})", seconds=0.1) for n in range(4)]
    assert [r.stdout for r in run_many(jobs, workers=2)] == ["0\n", "1\n", "2\n", "3\n"]
