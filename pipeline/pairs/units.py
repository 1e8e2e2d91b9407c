"""How a request states a value ("500 ms", "half a second", "2 Hz", "9600 baud", "40 %") and
the reverse: the values a request states, so a pair whose prompt and code disagree is caught.

``say_*`` pick one of several equivalent wordings; ``stated_values`` reads them back
(numbers in any of those units, and the spelled-out forms ``say_*`` writes), and
``mismatches`` lists every stated value that no ``Param`` of the code implies.
"""

from __future__ import annotations

import math
import random
import re

from pipeline.pairs.params import FREQ_KINDS, Param

_SPOKEN_SECONDS = {
    "half a second": 0.5,
    "a quarter of a second": 0.25,
    "a quarter second": 0.25,
    "a tenth of a second": 0.1,
    "once a second": 1.0,
    "once per second": 1.0,
    "every second": 1.0,
    "for a second": 1.0,  # not a bare "a second": "pass a second parameter"
    "one second": 1.0,
    "two seconds": 2.0,
    "a minute": 60.0,
}
_SPOKEN_RATES = {"twice a second": 2.0, "twice per second": 2.0, "four times a second": 4.0, "ten times a second": 10.0}
COLOURS = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "white": (255, 255, 255),
    "yellow": (255, 255, 0),
    "cyan": (0, 255, 255),
    "magenta": (255, 0, 255),
    "purple": (128, 0, 128),
    "orange": (255, 165, 0),
}
_COLOUR_WORDS = re.compile(rf"\b({'|'.join(COLOURS)})\b", re.IGNORECASE)
_TRIPLE = re.compile(
    r"\(\s*(\d{1,3}),\s*(\d{1,3}),\s*(\d{1,3})\s*\)|#([0-9a-fA-F]{6})\b|RGB (\d{1,3}), (\d{1,3}), (\d{1,3})"
)
_NUMBER = r"(\d+(?:\.\d+)?)"
_TIME = re.compile(
    rf"(?<![\w.]){_NUMBER}\s*(ms|msec|milliseconds?|µs|us|microseconds?|s|secs?|seconds?|min|minutes?)(?![\w])",
    re.IGNORECASE,
)
_FREQ = re.compile(rf"(?<![\w.]){_NUMBER}\s*(kHz|Hz|hertz|kilohertz)(?![\w])", re.IGNORECASE)
_BAUD = re.compile(rf"(?<![\w.]){_NUMBER}\s*(?:baud|bps|bit/s)(?![\w])", re.IGNORECASE)
_PERCENT = re.compile(rf"(?<![\w.]){_NUMBER}\s*(?:%|percent)", re.IGNORECASE)
_COUNTED = re.compile(r"(?<![\w.])(\d+)\s+(pixels|LEDs|NeoPixels|times|blinks|flashes)\b", re.IGNORECASE)
_TO_SECONDS = {"ms": 1e-3, "msec": 1e-3, "millisecond": 1e-3, "µs": 1e-6, "us": 1e-6, "microsecond": 1e-6}
_TO_SECONDS |= {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0}


def _g(value: float) -> str:
    return f"{value:.6g}"


def say_seconds(seconds: float, rng: random.Random) -> str:
    """One wording of a delay: '500 ms', '0.5 s', 'half a second', '500 milliseconds'."""
    ms = seconds * 1000
    options = []
    if ms >= 1 and abs(ms - round(ms)) < 1e-6:
        options += [f"{round(ms)} ms", f"{round(ms)} milliseconds"]
    if seconds >= 0.1:
        options += [f"{_g(seconds)} s", f"{_g(seconds)} seconds" if seconds != 1 else "1 second"]
    if ms < 1:
        options.append(f"{_g(seconds * 1e6)} µs")
    elif not options:
        options.append(f"{_g(ms)} ms")
    # "every second", "once a second" and "for a second" are periods or durations, not amounts.
    periods = ("every", "once", "for")
    options += [word for word, value in _SPOKEN_SECONDS.items() if value == seconds and not word.startswith(periods)]
    return rng.choice(options)


def say_rate(hertz: float, rng: random.Random) -> str:
    """One wording of a frequency after "at": '2 Hz', '1.5 kHz', '2 hertz' ('twice a second' is ``say_period``)."""
    options = [f"{_g(hertz)} Hz", f"{_g(hertz)} Hz", f"{_g(hertz)} hertz"]
    if hertz >= 1000 and hertz % 100 == 0:
        options.append(f"{_g(hertz / 1000)} kHz")
    return rng.choice(options)


def say_period(seconds: float, rng: random.Random) -> str:
    """'every 500 ms', 'every half a second', 'once a second', 'twice a second'."""
    options = [f"every {say_seconds(seconds, rng)}"]
    options += [
        word for word, value in _SPOKEN_SECONDS.items() if value == seconds and word.startswith(("every", "once"))
    ]
    options += [word for word, value in _SPOKEN_RATES.items() if math.isclose(1 / value, seconds)]
    return rng.choice(options)


def say_colour(rgb: tuple[int, int, int], rng: random.Random) -> str:
    names = [name for name, value in COLOURS.items() if value == tuple(rgb)]
    return rng.choice(
        names * 3
        + [f"({rgb[0]}, {rgb[1]}, {rgb[2]})", "#{:02x}{:02x}{:02x}".format(*rgb), "RGB {}, {}, {}".format(*rgb)]
    )


def say_percent(param: Param) -> float:
    full = 1023 if param.kind == "duty" else 65535
    return round(100 * param.value / full, 1)


def stated_values(text: str) -> list[tuple[str, object, str]]:
    """(unit, value, the words) for each value the text states: 'time' in s, 'hz', 'baud', 'percent',
    'count', 'rgb' (a tuple)."""
    text = re.sub(r"`[^`]*`", " ", text)  # code spans name things, they do not state amounts
    found = []
    taken: list[tuple[int, int]] = []

    def add(unit: str, value: float, match: re.Match[str]) -> None:
        if not any(s < match.end() and match.start() < e for s, e in taken):
            taken.append(match.span())
            found.append((unit, value, match.group(0)))

    for words, value in sorted({**_SPOKEN_RATES}.items(), key=lambda w: -len(w[0])):
        for match in re.finditer(re.escape(words), text, re.IGNORECASE):
            add("hz", value, match)
    for words, value in sorted(_SPOKEN_SECONDS.items(), key=lambda w: -len(w[0])):
        for match in re.finditer(rf"\b{re.escape(words)}\b", text, re.IGNORECASE):
            add("time", value, match)
    for match in _FREQ.finditer(text):
        add("hz", float(match.group(1)) * (1000 if match.group(2).lower().startswith("k") else 1), match)
    for match in _TIME.finditer(text):
        unit = match.group(2).lower().rstrip("s") or "s"
        add("time", float(match.group(1)) * _TO_SECONDS.get(unit, _TO_SECONDS.get(match.group(2).lower(), 1.0)), match)
    for match in _BAUD.finditer(text):
        add("baud", float(match.group(1)), match)
    for match in _PERCENT.finditer(text):
        add("percent", float(match.group(1)), match)
    for match in _COUNTED.finditer(text):
        add("count", float(match.group(1)), match)
    for match in _COLOUR_WORDS.finditer(text):
        add("rgb", COLOURS[match.group(1).lower()], match)
    for match in _TRIPLE.finditer(text):
        hexa = match.group(4)
        channels = (
            [int(hexa[i : i + 2], 16) for i in (0, 2, 4)]
            if hexa
            else [int(g) for g in match.groups() if g and g != hexa]
        )
        add("rgb", tuple(channels), match)
    return found


def implied_values(params: list[Param]) -> dict[str, set[float]]:
    """What the code's values let a request state: delays, rates (a toggle every T blinks at 1/2T Hz) ..."""
    implied: dict[str, set] = {"time": set(), "hz": set(), "baud": set(), "percent": set(), "count": set()}
    implied["rgb"] = {tuple(p.value) for p in params if p.kind == "rgb"}
    delays = [p.seconds() for p in params if p.seconds()]
    implied["time"] |= set(delays) | {a + b for a in delays for b in delays}
    implied["hz"] |= {float(p.value) for p in params if p.kind in FREQ_KINDS}
    implied["hz"] |= {1 / d for d in implied["time"]} | {1 / (2 * d) for d in delays}
    implied["time"] |= {1 / float(p.value) for p in params if p.kind in FREQ_KINDS and p.value}
    implied["baud"] |= {float(p.value) for p in params if p.kind == "baud"}
    implied["percent"] |= {say_percent(p) for p in params if p.kind in ("duty", "duty_u16")}
    implied["count"] |= {float(p.value) for p in params if p.kind in ("pixels", "count")}
    return implied


def agrees(unit: str, stated: object, value: object) -> bool:
    """Whether a value stated in ``unit`` is the code's ``value`` (a percent within 0.6, else 0.1 %)."""
    if unit == "rgb":
        return tuple(stated) == tuple(value)
    tolerance = 0.6 if unit == "percent" else 1e-6 * max(1.0, stated)
    return abs(stated - value) <= tolerance or math.isclose(stated, value, rel_tol=1e-3)


def mismatches(text: str, params: list[Param]) -> list[str]:
    """The words of ``text`` that state a value the code does not use (empty when consistent)."""
    implied = implied_values(params)
    wrong = []
    for unit, value, words in stated_values(text):
        if unit in ("count", "rgb") and not implied[unit]:
            continue  # "3 times" or "red" about a snippet without a counted loop or colour says nothing checkable
        if not any(agrees(unit, value, v) for v in implied[unit]):
            wrong.append(words)
    return wrong
