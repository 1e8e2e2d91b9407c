"""Identifier-renaming augmentation: new names for snippet-local bindings.

Which names qualify is decided in ``rename_scopes``; here the edits are applied at the
positions of the ``tokenize`` tokens, so comments, blank lines and indentation survive
(``ast.unparse`` would drop comments). The instruction gets the same renames where it
spells the identifier as code: inside backticks, or any identifier-shaped word (with
an underscore, digit or inner capital) - a plain word such as ``led`` in prose is left
alone because it usually means the thing, not the variable.
"""

from __future__ import annotations

import ast
import io
import random
import re
import tokenize
from dataclasses import dataclass

from pipeline.pairs.params import callee, constructors
from pipeline.pairs.rename_scopes import PROTECTED, Occurrence, renameable_names

# A new name says what the object is: one made by a known constructor gets a name for that
# object (``led = Pin(...)`` may become ``out_pin``, never ``count``); any other name keeps its
# words, each perhaps swapped for a synonym, with a qualifier in front when nothing changed.
_ROLES = {
    "Pin": ("pin", "gpio_pin", "io_pin"), "Signal": ("signal", "sig"), "PWM": ("pwm", "pwm_out", "pwm_pin"),
    "ADC": ("adc", "analog_in", "adc_pin"), "DAC": ("dac", "analog_out"), "I2C": ("i2c", "i2c_bus", "bus"),
    "SoftI2C": ("i2c", "i2c_bus", "bus"), "SPI": ("spi", "spi_bus"), "SoftSPI": ("spi", "spi_bus"),
    "UART": ("uart", "serial", "serial_port"), "Timer": ("timer", "tim", "ticker"),
    "NeoPixel": ("np", "pixels", "strip"), "DHT11": ("sensor", "dht_sensor"), "DHT22": ("sensor", "dht_sensor"),
    "WLAN": ("wlan", "sta", "station"), "SD": ("sd", "card", "sd_card"), "SDCard": ("sd", "card", "sd_card"),
    "RTC": ("rtc", "clock"), "WDT": ("wdt", "watchdog"), "DS18X20": ("ds", "ds_sensor", "temp_sensor"),
    "OneWire": ("ow", "one_wire"), "socket": ("sock", "conn"), "LED": ("led", "light"), "Switch": ("sw", "switch"),
    "StateMachine": ("sm", "state_machine"), "SSD1306_I2C": ("oled", "display"), "bytearray": ("buf", "buffer"),
    "allocate_lock": ("lock", "mutex"), "Lock": ("lock", "mutex"), "Event": ("event", "flag"),
}  # fmt: skip
_SYNONYMS = (
    ("led", "light", "lamp"), ("button", "btn", "switch", "key"), ("sensor", "probe"), ("count", "counter", "tally"),
    ("value", "val", "reading"), ("data", "payload"), ("buf", "buffer"), ("msg", "message"), ("temp", "temperature"),
    ("delay", "pause", "wait"), ("addr", "address"), ("idx", "index"), ("num", "number"), ("err", "error"),
    ("conn", "connection"), ("cb", "callback", "handler"), ("tmp", "scratch"), ("res", "result"), ("pos", "position"),
)  # fmt: skip
_SYNONYM_OF = {word: group for group in _SYNONYMS for word in group}
_QUALIFIERS = ("my", "main", "the", "this", "local", "cur")


@dataclass(frozen=True)
class RenameResult:
    code: str
    instruction: str
    mapping: dict[str, str]


def _styled(original: str, words: list[str]) -> str:
    """New name in the original's style: ``_CONST``, ``ClassName`` or ``snake_case``."""
    stripped = original.lstrip("_")
    underscores = original[: len(original) - len(stripped)]
    if stripped.isupper():
        core = "_".join(w.upper() for w in words)
    elif stripped[:1].isupper():
        core = "".join(w.capitalize() for w in words)
    else:
        core = "_".join(words)
    return underscores + core


def _words(name: str) -> list[str]:
    """``led_pin`` → [led, pin]; ``LedPin`` → [led, pin]; ``_LED_PIN`` → [led, pin]."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip("_"))
    return [w.lower() for w in spaced.split("_") if w]


def _descriptive(name: str, made_by: str, rng: random.Random) -> list[str]:
    """A new name's words for ``name``: its object's role, or its own words, synonyms swapped in."""
    if made_by in _ROLES and rng.random() < 0.5:
        return rng.choice(_ROLES[made_by]).split("_")
    words = [rng.choice(_SYNONYM_OF[w]) if w in _SYNONYM_OF and rng.random() < 0.7 else w for w in _words(name)]
    if words == _words(name):
        words = [rng.choice(_QUALIFIERS), *words]
    return words


def _fresh_names(names: list[str], taken: set[str], made: dict[str, str], rng: random.Random) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for name in names:
        for _ in range(20):
            candidate = _styled(name, _descriptive(name, made.get(name, ""), rng))
            if candidate != name and candidate not in taken:
                break
        else:
            continue
        mapping[name] = candidate
        taken.add(candidate)
    return mapping


def _char_col(line: str, byte_col: int) -> int:
    """ast reports UTF-8 byte offsets, tokenize reports character offsets."""
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def _token_positions(code: str, occurrences: list[Occurrence]) -> set[tuple[int, int]]:
    """(row, col) of every NAME token to rewrite."""
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type in (tokenize.NAME, tokenize.OP)]
    by_start = {t.start: i for i, t in enumerate(tokens)}
    lines = code.splitlines(keepends=True)
    positions: set[tuple[int, int]] = set()
    for occ in occurrences:
        start = (occ.lineno, _char_col(lines[occ.lineno - 1], occ.col_offset))
        if occ.locate == "exact":
            positions.add(start)
            continue
        first = by_start.get(start, next((i for i, t in enumerate(tokens) if t.start >= start), len(tokens)))
        for i in range(first, len(tokens)):
            token = tokens[i]
            if occ.locate == "statement":
                if token.start[0] > occ.end_lineno:
                    break
                if token.string == occ.name:
                    positions.add(token.start)
            elif token.string == occ.name and i > 0 and tokens[i - 1].string == occ.locate.split(":")[1]:
                positions.add(token.start)
                break
    return positions


def _apply(code: str, positions: set[tuple[int, int]], mapping: dict[str, str]) -> str:
    edits = [
        (token.start, token.string)
        for token in tokenize.generate_tokens(io.StringIO(code).readline)
        if token.type == tokenize.NAME and token.start in positions and token.string in mapping
    ]
    lines = code.splitlines(keepends=True)
    # Right to left, so an edit never shifts the column of one still to come.
    for (row, col), name in sorted(edits, reverse=True):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + mapping[name] + line[col + len(name) :]
    return "".join(lines)


def _is_identifier_shaped(name: str) -> bool:
    return "_" in name or any(c.isdigit() for c in name) or any(c.isupper() for c in name[1:])


def rename_in_text(text: str, mapping: dict[str, str]) -> str:
    """Apply the renames to prose: inside backticks always, elsewhere only code-like words."""

    def rename_words(segment: str, names: list[str]) -> str:
        for name in names:
            segment = re.sub(rf"(?<![\w.]){re.escape(name)}(?!\w)", mapping[name], segment)
        return segment

    code_like = [n for n in mapping if _is_identifier_shaped(n)]
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(rename_words(p, list(mapping)) if p.startswith("`") else rename_words(p, code_like) for p in parts)


def rename_identifiers(code: str, instruction: str, rng: random.Random, max_names: int = 4) -> RenameResult | None:
    """Rename up to ``max_names`` snippet-local names; None when nothing can be renamed."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    candidates, occurrences = renameable_names(tree)
    # One-letter names (i, n, x) say nothing either way; a function or class the request asks for
    # by name ("Write a function `S_ISREG(mode)`") keeps it.
    asked = set(re.findall(r"`([A-Za-z_]\w*)", instruction))
    defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    candidates = {c for c in candidates if len(c.strip("_")) > 1 and c not in asked & defined}
    if not candidates:
        return None
    chosen = rng.sample(sorted(candidates), min(max_names, len(candidates)))
    taken = {t.string for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type == tokenize.NAME}
    made = {name: callee(call) for name, call in constructors(tree).items()}
    mapping = _fresh_names(chosen, taken | set(PROTECTED), made, rng)
    if not mapping:
        return None
    positions = _token_positions(code, [o for o in occurrences if o.name in mapping])
    return RenameResult(_apply(code, positions, mapping), rename_in_text(instruction, mapping), mapping)
