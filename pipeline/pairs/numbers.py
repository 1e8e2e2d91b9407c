"""Number-and-name augmentation: new delays, frequencies, duties, baud rates, counts, colours,
Wi-Fi credentials and I2C addresses, the same in the code, its comments and the request.

Values come from wide ranges (a recipe probe on held-out maker requests: wide ranges
taught number copying where a handful of common values did not), within what the board
allows (ESP8266 PWM runs at 1 Hz-1 kHz; a 50 Hz PWM drives a servo and stays). The
request's own mention of a value ("500 ms", "half a second", "1 kHz", "9600 baud") is
rewritten in a freshly drawn wording of the new value; a stated value the rewrite cannot
follow leaves the pair inconsistent, which ``units.mismatches`` reports to the caller.
"""

from __future__ import annotations

import ast
import io
import math
import random
import re
import tokenize
from dataclasses import dataclass

from pipeline.pairs.params import TIME_KINDS, Param, code_params
from pipeline.pairs.units import COLOURS, say_colour, say_period, say_rate, say_seconds, stated_values

_BAUDS = (1200, 2400, 4800, 9600, 14400, 19200, 31250, 38400, 57600, 74880, 115200, 230400, 460800, 921600)
_WORDS = ("home", "garden", "lab", "shed", "office", "attic", "maker", "studio", "flat", "cabin", "guest", "iot")
_SERVO_HZ = 50
_COLOUR_WORD = re.compile(rf"\b(?:{'|'.join(COLOURS)})\b", re.IGNORECASE)
# A DS18B20 conversion takes 750 ms; a DHT11 gives a reading once a second, a DHT22 every 2 s.
_SENSOR_WAITS = ((r"", 0.0), (r"\bconvert_temp\b", 0.75), (r"\bDHT11\b", 1.0), (r"\bDHT22\b", 2.0))
# Kinds a request may state as a bare number ("duty 512", "9600", "8 pixels").
_BARE = frozenset({"baud", "duty", "duty_u16", "pixels", "count", "pwm_hz", "timer_hz", "period_ms"})


@dataclass(frozen=True)
class NumberResult:
    code: str
    instruction: str
    changed: dict[tuple[str, object], object]  # (kind, old value) → new value


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _round_maker(value: float) -> int:
    """Two significant digits, as a maker writes a period or a frequency (1234 → 1200)."""
    if value < 10:
        return max(1, round(value))
    digits = 10 ** (int(math.log10(value)) - 1)
    return int(round(value / digits) * digits)


def _new_value(param: Param, rng: random.Random, board: str | None, floor: float, servo: bool) -> object | None:
    """A new value for ``param``; delays stay at or above ``floor`` seconds (what the sensor needs)."""
    kind, old = param.kind, param.value
    if kind == "s":
        if type(old) is int:
            return rng.randint(max(1, math.ceil(floor)), 10)
        return round(rng.randrange(max(50, round(floor * 1000)), 3001, 10) / 1000, 3)
    if kind in ("ms", "period_ms"):
        low = max(20, round(floor * 1000))
        return _round_maker(_log_uniform(rng, low, 3000)) if rng.random() < 0.7 else rng.randint(low, 3000)
    if kind == "us":
        return rng.randint(10, 2000)
    if kind == "timer_hz":
        return rng.randint(1, 50) if type(old) is int else round(rng.uniform(0.2, 20), 1)
    if kind == "pwm_hz":
        if old == _SERVO_HZ:
            return None
        high = 1000 if board == "ESP8266" else 20000
        return _round_maker(_log_uniform(rng, 10, high))
    if kind in ("duty", "duty_u16"):
        # At 50 Hz a servo takes 1-2 ms pulses: 5-10 % duty; anything else is a dead servo.
        percent = rng.randint(5, 10) if servo else rng.randint(1, 99)
        return round(percent * (1023 if kind == "duty" else 65535) / 100)
    if kind == "baud":
        return rng.choice([b for b in _BAUDS if b != old])
    if kind == "pixels":
        return rng.randint(max(2, old // 4), max(8, old * 4))
    if kind == "count":
        return rng.randint(2, 50)
    if kind == "rgb":
        named = rng.choice(list(COLOURS.values()))
        return named if rng.random() < 0.5 else tuple(rng.randint(0, 255) for _ in range(3))
    if kind == "ssid":
        return f"{rng.choice(_WORDS)}-{rng.choice(_WORDS)}{rng.randint(1, 99)}"
    if kind == "password":
        return f"{rng.choice(_WORDS)}{rng.randint(100, 9999)}{rng.choice('!#%-')}{rng.choice(_WORDS).title()}"
    if kind == "i2c_addr":
        return rng.randint(0x08, 0x77)
    return None


def _literal_text(new: object, token: str) -> str:
    if isinstance(new, str):
        quote = token[0] if token[:1] in "'\"" else '"'
        return f"{quote}{new}{quote}"
    if token.lower().startswith("0x"):
        return f"0x{new:02x}" if token[2:].islower() or token[2:].isdigit() else f"0x{new:02X}"
    return repr(new)


def _shortest_wait(code: str) -> float:
    """Seconds a sensor in the snippet needs between reads: a delay may not go below it."""
    return max(seconds for pattern, seconds in _SENSOR_WAITS if re.search(pattern, code))


def _say_hz(words: str, hertz: float, rng: random.Random) -> str:
    """A rate in the form the text used: spoken ("twice a second") stays spoken, "2 Hz" stays a number."""
    if any(c.isdigit() for c in words):
        return say_rate(round(hertz, 3), rng)
    return say_period(1 / hertz, rng)


def _rewrite_text(text: str, changes: list[tuple[Param, object]], rng: random.Random) -> str:
    """The text with each stated old value replaced by a wording of its new value."""
    edits: list[tuple[str, str]] = []
    one_colour = [p.kind for p, _ in changes].count("rgb") == 1
    for unit, value, words in stated_values(text):
        for param, new in changes:
            seconds = param.seconds()
            # With one colour changed, any colour word is about it ("green" for a half-bright (0, 128, 0)).
            if unit == "rgb" and param.kind == "rgb" and (value == tuple(param.value) or one_colour):
                edits.append((words, say_colour(new, rng)))
            elif unit == "time" and seconds is not None and math.isclose(value, seconds):
                say = say_period if words.lower().startswith(("every", "once")) else say_seconds
                edits.append((words, say(float(new) * TIME_KINDS[param.kind], rng)))
            elif unit == "hz" and param.kind.endswith("_hz") and math.isclose(value, float(param.value)):
                edits.append((words, _say_hz(words, float(new), rng)))
            elif unit == "hz" and seconds is not None and math.isclose(value, 1 / (2 * seconds)):
                edits.append((words, _say_hz(words, 1 / (2 * float(new) * TIME_KINDS[param.kind]), rng)))
            elif unit in ("baud", "count") and param.kind in _BARE and value == param.value:
                edits.append((words, words.replace(str(param.value), str(new), 1)))
            else:
                continue
            break
    for old, new_words in edits:
        text = text.replace(old, new_words, 1)
    for param, new in changes:
        if param.kind in _BARE and param.value >= 10:
            # "duty 512", "UART at 9600": the bare number, never a pin name ("GPIO12", "pin 12").
            bare = rf"(?<![\w.])(?<!GP)(?<!GPIO)(?<!pin )(?<!Pin\(){param.value}(?![\w.])"
            text = re.sub(bare, str(new), text)
        elif param.kind in ("ssid", "password") and len(str(param.value)) >= 3:
            text = text.replace(str(param.value), str(new))
        elif param.kind == "i2c_addr":
            text = re.sub(rf"\b0x0*{param.value:x}\b", f"0x{new:02x}", text, flags=re.IGNORECASE)
        elif param.kind == "rgb":
            spaced = r",\s*".join(str(c) for c in param.value)
            text = re.sub(rf"\(\s*{spaced}\s*\)", say_colour(new, rng), text)
    return text


def _edit_code(code: str, changes: list[tuple[Param, object]], rng: random.Random) -> str:
    targets: dict[tuple[int, int], object] = {}
    colour_rows: dict[int, tuple[int, int, int]] = {}
    lines = code.splitlines(keepends=True)
    for param, new in changes:
        for i, literal in enumerate(param.literals):
            line = lines[literal.lineno - 1]
            col = len(line.encode("utf-8")[: literal.col_offset].decode("utf-8", errors="ignore"))
            targets[(literal.lineno, col)] = new[i % 3] if param.kind == "rgb" else new
            if param.kind == "rgb":
                colour_rows[literal.lineno] = new
    edits = []
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type in (tokenize.NUMBER, tokenize.STRING) and token.start in targets:
            edits.append((token.start, token.string, _literal_text(targets[token.start], token.string)))
        elif token.type == tokenize.COMMENT:
            comment = _rewrite_text(token.string, changes, rng)
            colour = colour_rows.get(token.start[0])
            if colour is not None:  # "(0, 128, 0)  # set to green, half brightness" names the old colour
                comment = _COLOUR_WORD.sub(say_colour(colour, rng), comment)  # no backslash in it
            edits.append((token.start, token.string, comment))
    for (row, col), old, new in sorted(edits, reverse=True):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + new + line[col + len(old) :]
    return "".join(lines)


def _plain_string(code: str, param: Param) -> bool:
    """A one-line literal without prefix or escapes: its token is its value in quotes."""
    source = ast.get_source_segment(code, param.literals[0]) or ""
    return source[:1] in "'\"" and source[1:-1] == param.value


def vary_numbers(code: str, instruction: str, rng: random.Random, board: str | None = None) -> NumberResult | None:
    """New values for every stated number and name of the snippet; None when it has none."""
    changes = []
    params = code_params(code)
    servo = any(p.kind == "pwm_hz" and p.value == _SERVO_HZ for p in params)
    for param in params:
        # A string literal spanning lines or with escapes is left alone: its token is not its value.
        if isinstance(param.value, str) and not _plain_string(code, param):
            continue
        new = _new_value(param, rng, board, _shortest_wait(code), servo)
        if new is not None and new != param.value:
            changes.append((param, new))
    if not changes:
        return None
    new_code = _edit_code(code, changes, rng)
    changed = {(p.kind, p.value): new for p, new in changes}
    return NumberResult(new_code, _rewrite_text(instruction, changes, rng), changed)
