"""Digital pins and time: blink, button with pull-up, pin interrupt, periodic timer, deep sleep."""

from __future__ import annotations

from pipeline.evaluate.sandbox import RunResult
from pipeline.evaluate.tasks import checks
from pipeline.evaluate.tasks.base import BAD_PIN, BOARD_NAMES, Case, Check, Verdict, case, family, pin_name

# --- blink --------------------------------------------------------------------------------------

# (board, pin, on ms, off ms, other pin for the wrong answer); pin 2 is the onboard LED of the
# usual ESP32 and ESP8266 modules, GP25 the Pico's.
BLINK = {
    "pico": [(25, 500, 500, 15), (15, 200, 800, 14)],
    "esp32": [(2, 250, 250, 4), (13, 100, 900, 12)],
    "esp8266": [(2, 1000, 1000, 4), (14, 300, 300, 12)],
}


def _blink_program(pin: int, on: int, off: int) -> str:
    return f"""
        from machine import Pin
        import time

        led = Pin({pin}, Pin.OUT)
        while True:
            led.value(1)
            time.sleep_ms({on})
            led.value(0)
            time.sleep_ms({off})
        """


def _blink_prompts(board: str, pin: int, on: int, off: int) -> list[str]:
    name, boardname = pin_name(board, pin), BOARD_NAMES[board]
    if on == off:
        hz = 1000 / (on + off)
        onboard = {"pico": 25, "esp32": 2, "esp8266": 2}[board] == pin
        where = f"the onboard LED of my {boardname} ({name})" if onboard else f"the LED on {name} of my {boardname}"
        return [
            f"Blink the LED on {name} every {on} ms.",
            f"Make {where} flash at {hz:g} Hz: {on} ms on, {off} ms off, forever.",
            f"MicroPython, {boardname}: toggle {name} between high and low every {on / 1000:g} s in an endless loop.",
        ]
    return [
        f"On my {boardname}, pulse {name}: high for {on} ms, then low for {off} ms, repeating forever.",
        f"Flash an LED on {name} with a short blink: on {on} ms, off {off} ms.",
    ]


@family(BLINK)
def blink(board, pin, on, off, other) -> Case:
    return case(
        "blink",
        board,
        f"{pin_name(board, pin).lower()}-{on}-{off}ms",
        _blink_prompts(board, pin, on, off),
        topic="blink an LED",
        seconds=max(3.0, 2.5 * (on + off) / 1000),
        reference=_blink_program(pin, on, off),
        wrong=[
            ("wrong_pin", _blink_program(other, on, off)),
            ("wrong_period", _blink_program(pin, 2 * on, 2 * off)),
            ("no_sleep", f"from machine import Pin\nled = Pin({pin}, Pin.OUT)\nwhile True:\n    led.toggle()\n"),
            ("ends_at_once", f"from machine import Pin\nPin({pin}, Pin.OUT).value(1)\n"),
            ("raises", _blink_program(BAD_PIN[board], on, off)),
        ],
        check=Check(checks.toggles, pin=pin, on_ms=on, off_ms=off),
    )


# --- button with pull-up ------------------------------------------------------------------------

BUTTON = {
    "pico": [(14, 25, 16), (16, 15, 17)],
    "esp32": [(0, 2, 4), (27, 26, 25)],
    "esp8266": [(0, 4, 5), (12, 13, 14)],
}
# The button pulls its pin to ground while pressed: pressed 800-1500 ms and 2300-2600 ms.
PRESSES = [[0, 1], [800, 0], [1500, 1], [2300, 0], [2600, 1]]
BUTTON_SECONDS = 3.5
RESPONSE_MS = 100


def _button_program(button: int, led: int, pull: str = "Pin.PULL_UP", on: str = "1 - btn.value()", pause=20) -> str:
    sleep = f"time.sleep_ms({pause})" if pause else "pass"
    return f"""
        from machine import Pin
        import time

        btn = Pin({button}, Pin.IN, {pull})
        led = Pin({led}, Pin.OUT)
        while True:
            led.value({on})
            {sleep}
        """


def button_follows(result: RunResult, button: int, led: int) -> Verdict:
    init = checks.last(result, "pin.init", pin=button)
    if init is None or init.args.get("mode") != "in" or init.args.get("pull") != "up":
        return Verdict(False, f"pin {button} is not set up as an input with the internal pull-up")
    ends = [t for t, _ in PRESSES[1:]] + [BUTTON_SECONDS * 1000]
    for (t0, level), t1 in zip(PRESSES, ends, strict=True):
        want = 1 - level
        for t in (t0 + RESPONSE_MS, t1 - 1):
            got = checks.level_at(result, led, t)
            if got != want:
                state = "released" if level else "pressed"
                return Verdict(False, f"LED pin {led} is {got} at t={t:g} ms with the button {state}, want {want}")
    return Verdict(True, f"LED pin {led} follows the button on pin {button} within {RESPONSE_MS} ms")


@family(BUTTON)
def button(board, btn, led, other) -> Case:
    b, lamp, name = pin_name(board, btn), pin_name(board, led), BOARD_NAMES[board]
    return case(
        "button_pullup",
        board,
        f"{b.lower()}-{lamp.lower()}",
        [
            f"A push button connects {b} to GND. Use the internal pull-up and light the LED on {lamp} "
            f"while the button is held (respond within {RESPONSE_MS} ms).",
            f"{name}: read a button on {b} (pressed = low, enable the pull-up resistor) and mirror it on "
            f"{lamp}: high while pressed, low while released. Poll it at least every {RESPONSE_MS} ms.",
        ],
        topic="button lights an LED",
        seconds=BUTTON_SECONDS,
        world={"pins": {str(btn): PRESSES}},
        reference=_button_program(btn, led),
        wrong=[
            ("no_pullup", _button_program(btn, led, pull="")),
            ("inverted", _button_program(btn, led, on="btn.value()")),
            ("wrong_pin", _button_program(other, led)),
            ("no_sleep", _button_program(btn, led, pause=0)),
            ("reads_once", f"from machine import Pin\nPin({led}, Pin.OUT).value(1 - Pin({btn}, Pin.IN).value())"),
            ("raises", _button_program(BAD_PIN[board], led)),
        ],
        check=Check(button_follows, button=btn, led=led),
    )


# --- pin interrupt ------------------------------------------------------------------------------

IRQ = {"pico": [(14, 15), (21, 20)], "esp32": [(0, 4), (33, 32)], "esp8266": [(0, 4), (13, 12)]}
# Pressed (low) at 400, 1300 and 2100 ms; released (high) at 600, 1450 and 2400 ms.
BOUNCES = [[0, 1], [400, 0], [600, 1], [1300, 0], [1450, 1], [2100, 0], [2400, 1]]
IRQ_SLACK_MS = 50


def _irq_program(pin: int, trigger: str = "IRQ_FALLING", pull: str = ", Pin.PULL_UP") -> str:
    return f"""
        from machine import Pin
        import time

        count = 0

        def pressed(pin):
            global count
            count += 1
            print(count)

        button = Pin({pin}, Pin.IN{pull})
        button.irq(trigger=Pin.{trigger}, handler=pressed)
        while True:
            time.sleep(1)
        """


def _polling_program(pin: int) -> str:
    return f"""
        from machine import Pin
        import time

        button, count, before = Pin({pin}, Pin.IN, Pin.PULL_UP), 0, 1
        while True:
            now = button.value()
            if before and not now:
                count += 1
                print(count)
            before = now
            time.sleep_ms(5)
        """


def counts_presses(result: RunResult, pin: int) -> Verdict:
    if not checks.events(result, "pin.irq", pin=pin):
        return Verdict(False, f"no interrupt handler set on pin {pin}")
    init = checks.last(result, "pin.init", pin=pin)
    if init is None or init.args.get("pull") != "up":
        return Verdict(False, f"pin {pin} has no internal pull-up")
    falls = [t for (t, v), (_, before) in zip(BOUNCES[1:], BOUNCES, strict=False) if before and not v]
    lines = [(t, checks.numbers(text)) for t, text in checks.printed(result, after="irq.fire")]
    lines = [(t, nums) for t, nums in lines if nums]
    if len(lines) != len(falls):
        return Verdict(False, f"{len(lines)} counts printed, want {len(falls)} (one per press at {falls} ms)")
    for k, ((t, nums), fall) in enumerate(zip(lines, falls, strict=True), start=1):
        if k not in nums or not fall <= t <= fall + IRQ_SLACK_MS:
            return Verdict(False, f"printed {nums} at t={t:g} ms, want {k} within {IRQ_SLACK_MS} ms of {fall} ms")
    return Verdict(True, f"interrupt on pin {pin} counted {len(falls)} presses at the falling edges")


@family(IRQ)
def pin_irq(board, pin, other) -> Case:
    b = pin_name(board, pin)
    return case(
        "pin_irq",
        board,
        b.lower(),
        [
            f"Count button presses on {b} with a pin interrupt on the falling edge (internal pull-up, "
            f"button to GND) and print the running count (1, 2, 3, ...) in the handler.",
            f"My {BOARD_NAMES[board]} has a button between {b} and ground. Enable the pull-up, attach an IRQ "
            f"for falling edges, and print only the number of presses so far each time it is pressed.",
        ],
        topic="count button presses with an interrupt",
        seconds=3.0,
        world={"pins": {str(pin): BOUNCES}},
        reference=_irq_program(pin),
        wrong=[
            ("rising_edge", _irq_program(pin, trigger="IRQ_RISING")),
            ("wrong_pin", _irq_program(other)),
            ("no_pullup", _irq_program(pin, pull="")),
            ("polls", _polling_program(pin)),
            ("raises", _irq_program(BAD_PIN[board])),
        ],
        check=Check(counts_presses, pin=pin),
    )


# --- periodic timer -----------------------------------------------------------------------------

# (board, pin, period ms, timer id, a timer id the board lacks, other pin); the Pico has one virtual
# timer (-1), the ESP32 four hardware timers 0-3, the ESP8266 a virtual timer (-1).
TIMER = {
    "pico": [(25, 250, -1, 0, 24), (15, 100, -1, 0, 16)],
    "esp32": [(2, 500, 0, 4, 5), (4, 200, 1, 4, 5)],
    "esp8266": [(2, 500, -1, 1, 0), (14, 1000, -1, 1, 12)],
}


def _timer_program(pin: int, period: int, tid: int, mode: str = "PERIODIC") -> str:
    return f"""
        from machine import Pin, Timer

        led = Pin({pin}, Pin.OUT)
        timer = Timer({tid})
        timer.init(period={period}, mode=Timer.{mode}, callback=lambda t: led.toggle())
        """


def timer_toggles(result: RunResult, pin: int, period_ms: float) -> Verdict:
    inits = [e for e in checks.events(result, "timer.init") if e.args.get("mode") == "periodic"]
    if not inits:
        return Verdict(False, "no periodic machine.Timer was started")
    got = inits[-1].args["period_ms"]
    if not checks.within(got, period_ms, 0.01):
        return Verdict(False, f"the timer's period is {got:g} ms, want {period_ms:g} ms ± 1 %")
    return checks.toggles(result, pin, period_ms, period_ms)


@family(TIMER)
def periodic_timer(board, pin, period, tid, bad, other) -> Case:
    name = pin_name(board, pin)
    which = "the virtual timer (id -1)" if tid == -1 else f"hardware timer {tid}"
    return case(
        "periodic_timer",
        board,
        f"{name.lower()}-{period}ms",
        [
            f"Use a machine.Timer in periodic mode to toggle {name} every {period} ms; no sleep loop.",
            f"On the {BOARD_NAMES[board]}, set up {which} with a {period} ms period whose callback "
            f"toggles the LED on {name}.",
        ],
        topic="toggle a pin from a timer",
        seconds=max(2.0, 6 * period / 1000),
        reference=_timer_program(pin, period, tid),
        wrong=[
            ("one_shot", _timer_program(pin, period, tid, mode="ONE_SHOT")),
            ("wrong_period", _timer_program(pin, 2 * period, tid)),
            ("wrong_pin", _timer_program(other, period, tid)),
            ("sleep_loop", _blink_program(pin, period, period)),
            ("raises", _timer_program(pin, period, bad)),
        ],
        check=Check(timer_toggles, pin=pin, period_ms=period),
    )


# --- deep sleep ---------------------------------------------------------------------------------

# (board, pin, LED on ms, deep sleep s). The ESP8266 wakes only with GPIO16 wired to RST.
DEEP = {
    "pico": [(25, 500, 10), (15, 2000, 60)],
    "esp32": [(2, 1000, 30), (4, 200, 5)],
    "esp8266": [(4, 500, 20), (5, 1000, 60)],
}


def _deep_program(pin: int, on_ms: int, sleep: str) -> str:
    return f"""
        import machine
        import time

        led = machine.Pin({pin}, machine.Pin.OUT)
        led.value(1)
        time.sleep_ms({on_ms})
        led.value(0)
        {sleep}
        """


def flash_then_deepsleep(result: RunResult, pin: int, on_ms: float, sleep_s: float) -> Verdict:
    changes = checks.pin_changes(result, pin)
    pulses = [(t1 - t0) for (t0, v), (t1, _) in zip(changes, changes[1:], strict=False) if v]
    if not pulses or not checks.within(pulses[0], on_ms, 0.15) or changes[-1][1] != 0:
        return Verdict(False, f"pin {pin} high for {pulses[:1] or 'no'} ms then low, want {on_ms:g} ms ± 15 %")
    sleep = checks.last(result, "machine.deepsleep")
    if sleep is None:
        return Verdict(False, "the board never called machine.deepsleep")
    if sleep.args.get("ms") is None or not checks.within(sleep.args["ms"], sleep_s * 1000, 0.01):
        return Verdict(False, f"deep sleep for {sleep.args.get('ms')} ms, want {sleep_s * 1000:g} ms ± 1 %")
    return Verdict(True, f"pin {pin} high {pulses[0]:g} ms, then deep sleep {sleep.args['ms']:g} ms")


@family(DEEP)
def deep_sleep(board, pin, on_ms, sleep_s) -> Case:
    name = pin_name(board, pin)
    wiring = " (GPIO16 is wired to RST)" if board == "esp8266" else ""
    return case(
        "deep_sleep",
        board,
        f"{name.lower()}-{on_ms}ms-{sleep_s}s",
        [
            f"Turn on {name} for {on_ms} ms, turn it off, then put the {BOARD_NAMES[board]} into deep "
            f"sleep for {sleep_s} seconds{wiring}.",
            f"Battery sensor node{wiring}: at each wake, pulse the LED on {name} high for {on_ms / 1000:g} s, "
            f"then deep-sleep {sleep_s} s to save power.",
        ],
        topic="flash then deep sleep",
        seconds=on_ms / 1000 + 2,
        reference=_deep_program(pin, on_ms, f"machine.deepsleep({sleep_s * 1000})"),
        wrong=[
            ("time_sleep", _deep_program(pin, on_ms, f"time.sleep({sleep_s})")),
            ("seconds_as_ms", _deep_program(pin, on_ms, f"machine.deepsleep({sleep_s})")),
            ("lightsleep", _deep_program(pin, on_ms, f"machine.lightsleep({sleep_s * 1000})")),
            ("wrong_period", _deep_program(pin, on_ms * 3, f"machine.deepsleep({sleep_s * 1000})")),
            ("raises", _deep_program(BAD_PIN[board], on_ms, f"machine.deepsleep({sleep_s * 1000})")),
        ],
        check=Check(flash_then_deepsleep, pin=pin, on_ms=on_ms, sleep_s=sleep_s),
    )


FAMILIES = (blink, button, pin_irq, periodic_timer, deep_sleep)
