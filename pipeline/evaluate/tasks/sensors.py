"""Sensors read on a schedule: ADC polling, DHT11/DHT22, DS18B20; the printed values must match the world."""

from __future__ import annotations

from pipeline.evaluate.sandbox import RunResult
from pipeline.evaluate.tasks import checks
from pipeline.evaluate.tasks.base import BAD_PIN, BOARD_NAMES, Case, Check, Verdict, case, family, per_second, pin_name

MIN_READS = 3


def _numeric_lines(result: RunResult, after: str) -> list[tuple[float, list[float], str]]:
    lines = [(t, checks.numbers(text), text.strip()) for t, text in checks.printed(result, after)]
    return [line for line in lines if line[1]]


def printed_tracking(result: RunResult, after: str, want_at, tol: float, what: str, min_lines: int) -> Verdict:
    """Every line with numbers printed after the first ``after`` event holds one within ``tol`` of
    ``want_at(t_ms)``, the value it should show."""
    lines = _numeric_lines(result, after)
    if len(lines) < min_lines:
        return Verdict(False, f"{len(lines)} lines with numbers printed, want >= {min_lines} {what} readings")
    for t, nums, text in lines:
        want = want_at(t)
        if not any(abs(n - want) <= tol for n in nums):
            return Verdict(False, f"printed {text[:60]!r} at t={t:g} ms, want {what} {want:g} ± {tol:g}")
    return Verdict(True, f"{len(lines)} {what} readings printed, each within {tol:g} of the sensor")


def printed_constant(result: RunResult, after: str, wants: dict[str, float], tol: float) -> Verdict:
    """After the first ``after`` event, each wanted value is printed (± tol) on >= MIN_READS lines, on one
    line or on lines of their own, and every line with numbers shows one of them (a stale reading fails)."""
    min_count = MIN_READS
    lines = _numeric_lines(result, after)
    for t, nums, text in lines:
        if not any(abs(n - w) <= tol for n in nums for w in wants.values()):
            named = ", ".join(f"{k} {w:g}" for k, w in wants.items())
            return Verdict(False, f"printed {text[:60]!r} at t={t:g} ms, want {named} (± {tol:g})")
    for name, want in wants.items():
        count = sum(any(abs(n - want) <= tol for n in nums) for _, nums, _ in lines)
        if count < min_count:
            return Verdict(False, f"{name} {want:g} ± {tol:g} printed {count} times, want >= {min_count}")
    return Verdict(True, f"{', '.join(wants)} printed >= {min_count} times, each within {tol:g} of the sensor")


# --- ADC polling --------------------------------------------------------------------------------

# (board, ADC pin, how the program names it, poll ms, "raw" u16 or "volts", a wrong ADC name)
ADC = {
    "pico": [(26, "26", 500, "raw", "27"), (27, "27", 1000, "volts", "26")],
    "esp32": [(34, "Pin(34)", 200, "raw", "Pin(35)"), (32, "Pin(32)", 500, "volts", "Pin(33)")],
    "esp8266": [(0, "0", 1000, "raw", "1"), (0, "0", 250, "volts", "1")],
}
LEVELS = (12000, 30000, 52000)
VOLTS_TOL, RAW_TOL = 0.02, 655  # 655 counts is 1 % of the u16 full scale


def _adc_world(pin: int, period: int) -> dict:
    return {"adc": {str(pin): [[0, LEVELS[0]], [int(1.5 * period), LEVELS[1]], [int(3.5 * period), LEVELS[2]]]}}


def _adc_program(adc: str, period: int, value: str, sleep: str = "time.sleep_ms({period})", loop=True) -> str:
    body = f"print({value})\n    " + sleep.format(period=period)
    head = f"from machine import ADC, Pin\nimport time\n\nadc = ADC({adc})\n"
    return head + (f"while True:\n    {body}\n" if loop else f"print({value})\n")


_RAW = "adc.read_u16()"
_VOLTS = "round(adc.read_u16() * 3.3 / 65535, 2)"


def adc_prints(result: RunResult, pin: int, period: int, unit: str) -> Verdict:
    reads = [e.t_ms for e in checks.events(result, "adc.read", pin=pin)]
    timing = checks.periodic(reads, period, f"ADC reads of pin {pin}", min_count=4)
    if not timing.passed:
        return timing
    world = _adc_world(pin, period)["adc"][str(pin)]

    def want(t: float) -> float:
        raw = [v for start, v in world if start <= t][-1]
        return raw if unit == "raw" else raw * 3.3 / 65535

    tol = RAW_TOL if unit == "raw" else VOLTS_TOL
    return printed_tracking(result, "adc.read", want, tol, "raw u16" if unit == "raw" else "volts", min_lines=4)


@family(ADC)
def adc_poll(board, pin, adc, period, unit, wrong_adc) -> Case:
    where = "the analog input A0" if board == "esp8266" else pin_name(board, pin)
    value, other = (_RAW, _VOLTS) if unit == "raw" else (_VOLTS, _RAW)
    if unit == "raw":
        prompts = [
            f"Read the ADC on {where} every {period} ms and print the raw 16-bit value (read_u16).",
            f"Poll a potentiometer on {where} of my {BOARD_NAMES[board]} {per_second(period)} "
            f"and print only the reading as a 0-65535 number.",
        ]
    else:
        prompts = [
            f"Every {period} ms, read {where} with read_u16 and print the voltage in volts (65535 = 3.3 V), "
            f"two decimals."
        ]
    wrong = [
        ("wrong_period", _adc_program(adc, 2 * period, value)),
        ("wrong_unit", _adc_program(adc, period, other)),
        ("reads_once", _adc_program(adc, period, value, loop=False)),
        ("no_sleep", _adc_program(adc, period, value, sleep="pass")),
        ("wrong_pin" if board != "esp8266" else "raises", _adc_program(wrong_adc, period, value)),
    ]
    return case(
        "adc_poll",
        board,
        f"{'a0' if board == 'esp8266' else pin_name(board, pin).lower()}-{period}ms-{unit}",
        prompts,
        topic="poll the ADC",
        seconds=5.5 * period / 1000,
        world=_adc_world(pin, period),
        reference=_adc_program(adc, period, value),
        wrong=wrong,
        check=Check(adc_prints, pin=pin, period=period, unit=unit),
    )


# --- DHT11 / DHT22 ------------------------------------------------------------------------------

# (board, pin, model, every s, temperature, humidity, other pin)
DHT = {
    "pico": [(15, "DHT22", 2, 23.4, 41.2, 14), (16, "DHT11", 1, 19.0, 55.0, 17)],
    "esp32": [(4, "DHT22", 3, 27.8, 63.5, 5), (27, "DHT11", 2, 31.0, 38.0, 26)],
    "esp8266": [(5, "DHT11", 2, 24.0, 47.0, 4), (4, "DHT22", 5, 17.6, 72.9, 5)],
}


def _dht_program(pin: int, model: str, every: int, measure=True, sleep=True, loop=True) -> str:
    body = ("sensor.measure()\n    " if measure else "") + "print(sensor.temperature(), sensor.humidity())"
    wait = f"\n    time.sleep({every})" if sleep else ""
    head = f"import dht\nimport time\nfrom machine import Pin\n\nsensor = dht.{model}(Pin({pin}))\n"
    return head + (f"while True:\n    {body}{wait}\n" if loop else body.replace("\n    ", "\n") + "\n")


def dht_prints(result: RunResult, pin: int, model: str, every: int, temperature: float, humidity: float) -> Verdict:
    measures = checks.events(result, "dht.measure", pin=pin)
    if not measures or any(e.args.get("model") != model for e in measures):
        return Verdict(False, f"no {model} measurement on pin {pin}")
    timing = checks.periodic([e.t_ms for e in measures], every * 1000, f"{model} measurements on pin {pin}")
    if not timing.passed:
        return timing
    return printed_constant(result, "dht.measure", {"temperature": temperature, "humidity": humidity}, 0.05)


@family(DHT)
def dht_reading(board, pin, model, every, temp, hum, other) -> Case:
    name = pin_name(board, pin)
    return case(
        "dht",
        board,
        f"{model.lower()}-{name.lower()}-{every}s",
        [
            f"Read a {model} on {name} every {every} s and print the temperature (°C) and the humidity (%).",
            f"{BOARD_NAMES[board]} weather logger: a {model} sensor's data pin is on {name}. Measure every "
            f"{every} seconds and print temperature and relative humidity on one line.",
        ],
        topic="read a DHT sensor",
        seconds=every * 3.5,
        world={"dht": {"temperature": temp, "humidity": hum}},
        reference=_dht_program(pin, model, every),
        wrong=[
            ("wrong_model", _dht_program(pin, "DHT11" if model == "DHT22" else "DHT22", every)),
            ("wrong_pin", _dht_program(other, model, every)),
            ("no_measure", _dht_program(pin, model, every, measure=False)),
            ("reads_once", _dht_program(pin, model, every, loop=False)),
            ("no_sleep", _dht_program(pin, model, every, sleep=False)),
            ("raises", _dht_program(BAD_PIN[board], model, every)),
        ],
        check=Check(dht_prints, pin=pin, model=model, every=every, temperature=temp, humidity=hum),
    )


# --- DS18B20 ------------------------------------------------------------------------------------

DS = {
    "pico": [(22, 1, 21.5, 21), (28, 3, -4.25, 27)],
    "esp32": [(4, 2, 19.0, 5), (15, 1, 30.75, 13)],
    "esp8266": [(12, 1, 25.5, 13), (13, 3, 18.25, 12)],
}
CONVERT_MS = 750  # a 12-bit conversion; the datasheet's maximum, stated in the prompt


def _ds_program(pin: int, every: int, wait: int = CONVERT_MS, loop: bool = True) -> str:
    rest = every * 1000 - wait
    body = (
        f"ds.convert_temp()\n    time.sleep_ms({wait})\n    for rom in roms:\n        print(ds.read_temp(rom))\n"
        f"    time.sleep_ms({rest})\n"
    )
    head = "import ds18x20\nimport onewire\nimport time\nfrom machine import Pin\n\n"
    head += f"ds = ds18x20.DS18X20(onewire.OneWire(Pin({pin})))\nroms = ds.scan()\n"
    return head + (f"while True:\n    {body}" if loop else "if True:\n    " + body)


def ds_prints(result: RunResult, pin: int, every: int, temperature: float) -> Verdict:
    converts = [e.t_ms for e in checks.events(result, "ds18x20.convert", pin=pin)]
    timing = checks.periodic(converts, every * 1000, f"DS18B20 conversions on pin {pin}")
    if not timing.passed:
        return timing
    return printed_constant(result, "ds18x20.convert", {"temperature (°C)": temperature}, 0.1)


@family(DS)
def ds18b20(board, pin, every, temp, other) -> Case:
    name = pin_name(board, pin)
    return case(
        "ds18b20",
        board,
        f"{name.lower()}-{every}s",
        [
            f"Read the DS18B20 on {name} (one-wire) every {every} s and print the temperature in °C.",
            f"My {BOARD_NAMES[board]} has a DS18B20 probe on {name}. Start a conversion every {every} "
            f"seconds, wait the {CONVERT_MS} ms it needs, and print the temperature.",
        ],
        topic="read a DS18B20",
        seconds=3.5 * every + 1,
        world={"ds18x20": {"temperature": temp}},
        reference=_ds_program(pin, every),
        wrong=[
            ("no_wait", _ds_program(pin, every, wait=0)),
            ("wrong_pin", _ds_program(other, every)),
            ("wrong_period", _ds_program(pin, 2 * every)),
            ("reads_once", _ds_program(pin, every, loop=False)),
            ("raises", _ds_program(BAD_PIN[board], every)),
        ],
        check=Check(ds_prints, pin=pin, every=every, temperature=temp),
    )


FAMILIES = (adc_poll, dht_reading, ds18b20)
