"""Complete requests: a variant's request names every pin its code uses and states every value.

A request that leaves out a pin or a delay its answer uses teaches a small model that
those are free to invent; the task suite's prompts (and most makers) state them, and
what the model has to learn is to carry them over. ``unstated`` lists what a request
leaves out; ``spell_out`` adds one sentence that states it ("Use GP12 for tx and GP13 for
rx and a delay of 26 ms.") in the wordings ``units`` reads back, so the check holds by the same
rules as ``units.mismatches``.

Pins are those written as ``Pin(n)`` (n a literal or a module-level constant) or as an int
or ``Pin(n)`` keyword (``pins.PIN_KEYWORDS``: ``tx=``, ``sda=`` ...); each is named by its keyword, or else by the
variable it is assigned to (``led``, ``sensor``). Values are the ``params`` kinds below.
"""

from __future__ import annotations

import ast
import random

from pipeline.pairs.describe import pin_label
from pipeline.pairs.params import Param, callee, constant_bindings, find_params
from pipeline.pairs.pins import PIN_KEYWORDS, mentioned_pins
from pipeline.pairs.units import agrees, say_colour, say_percent, say_rate, say_seconds, stated_values

# Param kind -> the unit ``units.stated_values`` reports it in.
_UNITS = {
    "s": "time", "ms": "time", "us": "time", "period_ms": "time", "pwm_hz": "hz", "timer_hz": "hz",
    "baud": "baud", "pixels": "count", "rgb": "rgb", "duty": "percent", "duty_u16": "percent",
}  # fmt: skip


def _pin_number(node: ast.expr | None, bindings: dict[str, ast.Constant]) -> int | None:
    if isinstance(node, ast.Call) and callee(node) == "Pin" and node.args:
        node = node.args[0]
    if isinstance(node, ast.Name) and node.id in bindings:
        node = bindings[node.id]
    return node.value if isinstance(node, ast.Constant) and type(node.value) is int else None


def pin_roles(tree: ast.Module) -> dict[int, str]:
    """Pin number -> what the code calls it: the keyword it is passed as, or the variable it makes."""
    bindings = constant_bindings(tree)
    roles: dict[int, str] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        for call in (n for n in ast.walk(node.value) if isinstance(n, ast.Call)):
            for keyword in call.keywords:
                number = _pin_number(keyword.value, bindings)
                if keyword.arg in PIN_KEYWORDS and number is not None:
                    roles.setdefault(number, keyword.arg if keyword.arg != "pin" else node.targets[0].id)
            if callee(call) == "Pin" and (number := _pin_number(call, bindings)) is not None:
                roles.setdefault(number, node.targets[0].id.lower().replace("_", " "))
    return roles


def _stated(param: Param, unit: str, stated: list[tuple[str, object, str]]) -> bool:
    want = param.seconds() if unit == "time" else say_percent(param) if unit == "percent" else param.value
    return any(said_unit == unit and agrees(unit, value, want) for said_unit, value, _ in stated)


def _missing(text: str, code: str) -> tuple[dict[int, str], list[Param]] | None:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    said = mentioned_pins(text)
    pins = {n: role for n, role in pin_roles(tree).items() if n not in said}
    stated = stated_values(text)
    values = [p for p in find_params(tree) if p.kind in _UNITS and not _stated(p, _UNITS[p.kind], stated)]
    return pins, values


def unstated(text: str, code: str) -> list[str]:
    """The pins and values ``code`` uses that ``text`` does not state (empty when it states them all)."""
    missing = _missing(text, code)
    if missing is None:
        return ["code does not parse"]
    pins, values = missing
    return [f"pin {n}" for n in sorted(pins)] + [f"{p.kind} {p.value}" for p in values]


def _say_value(param: Param, rng: random.Random) -> str:
    unit = _UNITS[param.kind]
    if unit == "time":
        return f"a delay of {say_seconds(param.seconds(), rng)}"
    if unit == "hz":
        return f"a frequency of {say_rate(float(param.value), rng)}"
    if unit == "baud":
        return f"{param.value} baud"
    if unit == "count":
        return f"{param.value} pixels"
    if unit == "rgb":
        return f"colour {say_colour(param.value, rng)}"
    return f"{say_percent(param):g}% duty"


def spell_out(text: str, code: str, board: str | None, rng: random.Random) -> str | None:
    """``text`` with one more sentence stating what it leaves out; None if it still would not state it all."""
    missing = _missing(text, code)
    if missing is None:
        return None
    pins, values = missing
    if not pins and not values:
        return text
    parts = [f"{pin_label(board, n)} for {role}" for n, role in sorted(pins.items())]
    parts += [_say_value(p, rng) for p in values]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    completed = f"{text.rstrip()} Use {listed}."
    return completed if not unstated(completed, code) else None
