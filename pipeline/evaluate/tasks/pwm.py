"""PWM and LEDs: a fixed PWM level, a fade, a servo angle, NeoPixel colours."""

from __future__ import annotations

from pipeline.evaluate.sandbox import RunResult
from pipeline.evaluate.tasks import checks
from pipeline.evaluate.tasks.base import BAD_PIN, BOARD_NAMES, Case, Check, Verdict, case, family, pin_name

# The ESP ports take duty(0..1023); rp2's PWM only has duty_u16 (and duty_ns).
_FULL = {"pico": 65535, "esp32": 1023, "esp8266": 1023}
_DUTY = {"pico": "duty_u16", "esp32": "duty", "esp8266": "duty"}
# A pin each board cannot drive PWM on: GP29 is no Pico pin, GPIO34 is input-only on the ESP32,
# GPIO16 has no PWM on the ESP8266.
_NO_PWM = {"pico": 29, "esp32": 34, "esp8266": 16}


def _pwm_setup(board: str, pin: int, freq: float) -> str:
    return f"pwm = PWM(Pin({pin}))\npwm.freq({freq:g})"


def _set_duty(board: str, fraction_expr: str) -> str:
    return f"pwm.{_DUTY[board]}(int(({fraction_expr}) * {_FULL[board]}))"


# --- a fixed PWM level --------------------------------------------------------------------------

LEVEL = {
    "pico": [(15, 1000, 0.50, 14), (16, 20000, 0.25, 17)],
    "esp32": [(4, 2000, 0.75, 5), (18, 10000, 0.10, 19)],
    "esp8266": [(4, 1000, 0.50, 5), (14, 500, 0.30, 12)],
}


def _level_program(board: str, pin: int, freq: float, duty_expr: str, tail: str = "") -> str:
    return f"from machine import Pin, PWM\n{_pwm_setup(board, pin, freq)}\n{_set_duty(board, duty_expr)}\n{tail}"


@family(LEVEL)
def pwm_level(board, pin, freq, duty, other) -> Case:
    name, pct = pin_name(board, pin), round(duty * 100)
    khz = f"{freq / 1000:g} kHz" if freq >= 1000 else f"{freq:g} Hz"
    return case(
        "pwm_level",
        board,
        f"{name.lower()}-{freq:g}hz-{pct}pct",
        [
            f"Output PWM on {name} at {khz} with a {pct} % duty cycle.",
            f"Dim the LED on {name} of my {BOARD_NAMES[board]} to {pct} % brightness with "
            f"{freq:g} Hz PWM and leave it there.",
        ],
        topic="PWM at a fixed duty",
        seconds=1.0,
        reference=_level_program(board, pin, freq, str(duty)),
        wrong=[
            ("wrong_pin", _level_program(board, other, freq, str(duty))),
            ("wrong_freq", _level_program(board, pin, freq * 10, str(duty))),
            ("wrong_duty", _level_program(board, pin, freq, f"{duty} / 2")),
            ("stops", _level_program(board, pin, freq, str(duty), "pwm.deinit()\n")),
            ("raises", _level_program(board, _NO_PWM[board], freq, str(duty))),
        ],
        check=Check(checks.pwm_level, pin=pin, freq=freq, duty=duty),
    )


# --- fade ---------------------------------------------------------------------------------------

FADE = {
    "pico": [(15, 2000, 14), (25, 1000, 24)],
    "esp32": [(2, 1500, 4), (16, 3000, 17)],
    "esp8266": [(4, 1000, 5), (14, 2000, 12)],
}
FADE_STEPS = 20  # the prompt asks for at least this many steps each way


def _fade_program(board: str, pin: int, ramp_ms: int, steps: int = 50, pause: bool = True, down: bool = True) -> str:
    wait = f"time.sleep_ms({ramp_ms // steps})" if pause else "pass"
    fall = f"    for i in range({steps}, -1, -1):\n        {_set_duty(board, f'i / {steps}')}\n        {wait}\n"
    return (
        f"from machine import Pin, PWM\nimport time\n\n{_pwm_setup(board, pin, 1000)}\nwhile True:\n"
        f"    for i in range({steps} + 1):\n        {_set_duty(board, f'i / {steps}')}\n        {wait}\n"
        + (fall if down else "    time.sleep(1)\n")
    )


def fades(result: RunResult, pin: int, ramp_ms: float, rel: float = 0.2, min_levels: int = 15) -> Verdict:
    """Duty on ``pin`` crosses 0.05 -> 0.95 and back in 0.9 * ramp_ms ± rel, through >= min_levels levels."""
    duty = [(e.t_ms, e.args["duty"]) for e in checks.events(result, "pwm.duty", pin=pin)]
    target, want = 0.9 * ramp_ms, f"{ramp_ms:g} ms ± {rel:.0%} each way"
    top = next((i for i, (_, d) in enumerate(duty) if d >= 0.95), None)
    low = max((i for i, (_, d) in enumerate(duty[:top]) if d <= 0.05), default=None) if top else None
    if top is None or low is None:
        return Verdict(False, f"PWM duty on pin {pin} never rises from <= 0.05 to >= 0.95 (want {want})")
    bottom = next((i for i, (_, d) in enumerate(duty) if i > top and d <= 0.05), None)
    peak = max((i for i, (_, d) in enumerate(duty[:bottom]) if d >= 0.95), default=top) if bottom else None
    if bottom is None:
        return Verdict(False, f"PWM duty on pin {pin} rises but never fades back below 0.05")
    for what, a, b in (("rise", low, top), ("fall", peak, bottom)):
        span, levels = duty[b][0] - duty[a][0], len({d for _, d in duty[a : b + 1]})
        if not checks.within(span, target, rel) or levels < min_levels:
            return Verdict(
                False, f"{what} on pin {pin}: {span:g} ms over {levels} levels, want {want}, >= {FADE_STEPS} steps"
            )
    return Verdict(True, f"pin {pin} fades up and down over {want}")


@family(FADE)
def fade(board, pin, ramp, other) -> Case:
    name, s = pin_name(board, pin), ramp / 1000
    return case(
        "fade",
        board,
        f"{name.lower()}-{ramp}ms",
        [
            f"Fade the LED on {name} from off to full brightness over {s:g} seconds, then back to off over "
            f"{s:g} seconds, and repeat. Use PWM with at least {FADE_STEPS} steps each way.",
            f"Breathing LED on {name} ({BOARD_NAMES[board]}): ramp the PWM duty smoothly 0 -> 100 % in "
            f"{ramp} ms and 100 -> 0 % in {ramp} ms, forever ({FADE_STEPS}+ steps per ramp).",
        ],
        topic="fade an LED with PWM",
        seconds=2.3 * s + 0.5,
        reference=_fade_program(board, pin, ramp),
        wrong=[
            ("wrong_pin", _fade_program(board, other, ramp)),
            ("wrong_period", _fade_program(board, pin, 2 * ramp)),
            ("no_fade", _fade_program(board, pin, ramp, steps=1)),
            ("only_up", _fade_program(board, pin, ramp, down=False)),
            ("no_sleep", _fade_program(board, pin, ramp, pause=False)),
            ("raises", _fade_program(board, _NO_PWM[board], ramp)),
        ],
        check=Check(fades, pin=pin, ramp_ms=ramp),
    )


# --- servo --------------------------------------------------------------------------------------

SERVO = {
    "pico": [(15, (90,), 14), (16, (0, 180), 17)],
    "esp32": [(13, (45,), 12), (18, (0, 90, 180), 19)],
    "esp8266": [(14, (120,), 12), (5, (30, 150), 4)],
}
PULSE_MS = (0.5, 2.5)  # the pulse widths for 0 and 180 degrees, stated in every prompt
PULSE_TOL_MS = 0.05


def _pulse(angle: float) -> float:
    return PULSE_MS[0] + angle / 180 * (PULSE_MS[1] - PULSE_MS[0])


def _servo_program(board: str, pin: int, angles, freq: int = 50, pulse: str = "0.5 + a / 180 * 2.0", wait=True) -> str:
    pause = "time.sleep(1)" if wait else "pass"
    return (
        f"from machine import Pin, PWM\nimport time\n\n{_pwm_setup(board, pin, freq)}\n\n"
        f"def angle(a):\n    pulse_ms = {pulse}\n    {_set_duty(board, f'pulse_ms * {freq} / 1000')}\n\n"
        f"for a in {tuple(angles)!r}:\n    angle(a)\n    {pause}\n"
    )


def servo_angles(result: RunResult, pin: int, angles: tuple[int, ...]) -> Verdict:
    for i, angle in enumerate(angles):
        t = i * 1000 + 500
        freq, duty = checks.pwm_at(result, pin, t)
        if freq is None or duty is None or not checks.within(freq, 50, 0.02):
            return Verdict(False, f"pin {pin} at t={t} ms: PWM {freq} Hz, want 50 Hz ± 2 %")
        pulse, want = duty * 1000 / freq, _pulse(angle)
        if abs(pulse - want) > PULSE_TOL_MS:
            return Verdict(False, f"pin {pin} at t={t} ms: pulse {pulse:.3f} ms, want {want:.3f} ± {PULSE_TOL_MS} ms")
    return Verdict(True, f"servo on pin {pin} moves through {angles} degrees at 50 Hz")


@family(SERVO)
def servo(board, pin, angles, other) -> Case:
    name = pin_name(board, pin)
    spec = f"50 Hz PWM, {PULSE_MS[0]} ms pulse = 0 degrees, {PULSE_MS[1]} ms = 180 degrees"
    if len(angles) == 1:
        prompts = [
            f"Move the servo on {name} to {angles[0]} degrees ({spec}).",
            f"Hobby servo signal wire on {name} of my {BOARD_NAMES[board]}: point it at {angles[0]}°. "
            f"Pulses are {PULSE_MS[0]}-{PULSE_MS[1]} ms for 0-180° at 50 Hz.",
        ]
    else:
        steps = ", then ".join(f"{a} degrees" for a in angles)
        prompts = [f"Servo on {name} ({spec}): go to {steps}, one second at each position."]
    wrong = [
        ("wrong_freq", _servo_program(board, pin, angles, freq=1000)),
        ("duty_is_angle", _servo_program(board, pin, angles, pulse="a / 180 * 20")),
        ("wrong_pin", _servo_program(board, other, angles)),
        ("raises", _servo_program(board, _NO_PWM[board], angles)),
    ]
    if len(angles) > 1:
        wrong.append(("no_wait", _servo_program(board, pin, angles, wait=False)))
    return case(
        "servo",
        board,
        f"{name.lower()}-{'-'.join(map(str, angles))}deg",
        prompts,
        topic="move a servo",
        seconds=len(angles) + 0.5,
        reference=_servo_program(board, pin, angles),
        wrong=wrong,
        check=Check(servo_angles, pin=pin, angles=angles),
    )


# --- NeoPixel -----------------------------------------------------------------------------------

# (board, pin, LEDs, lit pixel or None for all, colour, colour name for the casual phrasing, other pin)
NEOPIXEL = {
    "pico": [(16, 8, None, (255, 0, 0), "red at full brightness", 17), (22, 12, 0, (0, 255, 0), "full green", 21)],
    "esp32": [(5, 16, None, (255, 128, 0), "orange", 4), (27, 30, 3, (0, 80, 255), "sky blue", 26)],
    "esp8266": [(4, 8, None, (40, 0, 255), "deep blue", 5), (14, 24, 5, (200, 0, 255), "violet", 12)],
}


def _pixels_program(pin: int, n: int, index, colour, write: bool = True) -> str:
    show = "np.write()" if write else ""
    paint = f"np.fill({colour})" if index is None else f"np.fill((0, 0, 0))\nnp[{index}] = {colour}"
    return f"from machine import Pin\nimport neopixel\n\nnp = neopixel.NeoPixel(Pin({pin}), {n})\n{paint}\n{show}\n"


def pixels_shown(result: RunResult, pin: int, n: int, index, colour) -> Verdict:
    shown = checks.last(result, "neopixel.write", pin=pin)
    if shown is None:
        return Verdict(False, f"nothing was written to the NeoPixels on pin {pin}")
    want = [list(colour) if index in (None, i) else [0, 0, 0] for i in range(n)]
    got = shown.args["pixels"]
    if got != want:
        bad = next((i for i in range(max(len(got), n)) if got[i : i + 1] != want[i : i + 1]), 0)
        return Verdict(False, f"{len(got)} pixels on pin {pin}, pixel {bad} is {got[bad : bad + 1]}, want {want[bad]}")
    return Verdict(True, f"{n} pixels on pin {pin} show {colour} {'all' if index is None else f'at {index}'}")


@family(NEOPIXEL)
def neopixel(board, pin, n, index, colour, words, other) -> Case:
    name, rgb = pin_name(board, pin), f"RGB {colour}"
    if index is None:
        prompts = [
            f"Set all {n} NeoPixels (WS2812) on {name} to {rgb}.",
            f"I have a strip of {n} WS2812 LEDs on {name} of my {BOARD_NAMES[board]}; make them all {words} ({rgb}).",
        ]
    else:
        prompts = [
            f"Light only pixel {index} (counting from 0) of the {n}-LED WS2812 strip on {name} in {rgb}; "
            f"all the others off."
        ]
    wrong_colour = (colour[1], colour[0], colour[2])  # red and green swapped: the GRB wire order leaking
    return case(
        "neopixel",
        board,
        f"{name.lower()}-{n}px-{'all' if index is None else index}-{bytes(colour).hex()}",
        prompts,
        topic="set NeoPixel colours",
        seconds=0.5,
        reference=_pixels_program(pin, n, index, colour),
        wrong=[
            ("no_write", _pixels_program(pin, n, index, colour, write=False)),
            ("grb_order", _pixels_program(pin, n, index, wrong_colour)),
            ("wrong_count", _pixels_program(pin, n - 1, index, colour)),
            ("wrong_pin", _pixels_program(other, n, index, colour)),
            ("raises", _pixels_program(BAD_PIN[board], n, index, colour)),
        ],
        check=Check(pixels_shown, pin=pin, n=n, index=index, colour=colour),
    )


FAMILIES = (pwm_level, fade, servo, neopixel)
