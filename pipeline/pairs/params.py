"""The numbers and names a snippet's hardware calls take, read with ``ast`` (never run).

A ``Param`` is one value in a role a maker states in a request: a delay
(``sleep(0.5)``, ``sleep_ms(500)``, ``Timer(period=500)``), a frequency (``PWM(freq=)``,
``Timer(freq=)``), a duty, a baud rate, a pixel count, a loop count, an RGB colour, a
Wi-Fi SSID/password or an I2C address. Its literals are found directly in the call or
through a module-level name bound once (``DELAY = 500``), so editing the literal edits
every use. Equal values in the same role form one group: a blink with ``sleep_ms(500)``
on and off keeps on == off when varied.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

# Every role and how a request states it: seconds for delays (kind = the code's unit).
TIME_KINDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "period_ms": 1e-3}
FREQ_KINDS = frozenset({"pwm_hz", "timer_hz"})
_SLEEPS = {"sleep": "s", "sleep_ms": "ms", "sleep_us": "us", "deepsleep": "ms", "lightsleep": "ms"}
_I2C_ADDRESSED = frozenset({"readfrom", "writeto", "readfrom_mem", "writeto_mem", "readfrom_into", "readfrom_mem_into"})


@dataclass(frozen=True)
class Param:
    # s | ms | us | period_ms | pwm_hz | timer_hz | duty | duty_u16 | baud | pixels | count | rgb | ssid
    # | password | i2c_addr
    kind: str
    value: object  # int, float, str or an (r, g, b) tuple
    literals: tuple[ast.Constant, ...]  # the literal(s) written in the code (three for a colour)

    def seconds(self) -> float | None:
        return float(self.value) * TIME_KINDS[self.kind] if self.kind in TIME_KINDS else None


def callee(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def receiver(node: ast.Call) -> str:
    """``time`` of ``time.sleep(1)``, ``pwm`` of ``pwm.freq(5)``; '' for a bare call."""
    func = node.func
    return func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""


def constant_bindings(tree: ast.Module) -> dict[str, ast.Constant]:
    """Module-level names assigned exactly once anywhere, to a literal (``const()`` unwrapped)."""
    stores: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            stores[node.id] = stores.get(node.id, 0) + 1
    bindings = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            literal = _literal(node.value, {})
            if literal is not None and stores[node.targets[0].id] == 1:
                bindings[node.targets[0].id] = literal
    return bindings


def _literal(node: ast.expr | None, bindings: dict[str, ast.Constant]) -> ast.Constant | None:
    if isinstance(node, ast.Call) and callee(node) == "const" and len(node.args) == 1:
        node = node.args[0]
    if isinstance(node, ast.Name):
        return bindings.get(node.id)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float, str):
        return node
    return None


def constructors(tree: ast.Module) -> dict[str, ast.Call]:
    """Name → the call that made it (``led = Pin(25, Pin.OUT)``, ``self.np = NeoPixel(...)`` as ``np``)."""
    made = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and len(node.targets) == 1:
            target = node.targets[0]
            name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
            if name:
                made.setdefault(name, node.value)
    return made


def _number(literal: ast.Constant | None, low: float, high: float) -> bool:
    return literal is not None and type(literal.value) in (int, float) and low <= literal.value <= high


def _keyword(call: ast.Call, *names: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg in names), None)


def _call_params(call: ast.Call, made: dict[str, ast.Call], b: dict[str, ast.Constant]) -> list[tuple[str, object]]:
    """(kind, literal or literals) found in one call."""
    name, owner = callee(call), receiver(call)
    owner_kind = callee(made[owner]) if owner in made else ""
    first = _literal(call.args[0], b) if call.args else None
    found: list[tuple[str, object]] = []
    if name in _SLEEPS and owner in ("", "time", "utime", "machine") and _number(first, 0, 3600 * 10**6):
        found.append((_SLEEPS[name], first))
    if name in ("PWM", "init", "freq", "Timer"):
        freq = _literal(_keyword(call, "freq"), b) or (first if name == "freq" and owner else None)
        hz_kind = "timer_hz" if name == "Timer" or owner_kind == "Timer" or _keyword(call, "callback") else "pwm_hz"
        if _number(freq, 0.01, 10**6):  # machine.freq(240_000_000) is the CPU clock, not an output
            found.append((hz_kind, freq))
        period = _literal(_keyword(call, "period"), b)
        if _number(period, 1, 10**7):
            found.append(("period_ms", period))
    for kind in ("duty", "duty_u16"):
        value = _literal(_keyword(call, kind), b) or (first if name == kind and owner else None)
        if _number(value, 0, 1023 if kind == "duty" else 65535) and type(value.value) is int:
            found.append((kind, value))
    baud = _literal(_keyword(call, "baudrate"), b)
    if baud is None and name == "UART" and len(call.args) > 1:
        baud = _literal(call.args[1], b)
    if _number(baud, 300, 5_000_000) and type(baud.value) is int:
        found.append(("baud", baud))
    if name == "NeoPixel" and len(call.args) > 1 and _number(_literal(call.args[1], b), 1, 1024):
        found.append(("pixels", _literal(call.args[1], b)))
    if name == "fill" and call.args:
        found += _colour(call.args[0])
    if name == "connect" and len(call.args) == 2 and owner_kind == "WLAN":
        ssid, password = (_literal(a, b) for a in call.args)
        if (
            ssid is not None
            and isinstance(ssid.value, str)
            and password is not None
            and isinstance(password.value, str)
        ):
            found += [("ssid", ssid), ("password", password)]
    address = _literal(_keyword(call, "addr", "address"), b) or (first if name in _I2C_ADDRESSED else None)
    if _number(address, 0x08, 0x77) and type(address.value) is int:
        found.append(("i2c_addr", address))
    return found


def _colour(node: ast.expr) -> list[tuple[str, object]]:
    if isinstance(node, ast.Tuple) and len(node.elts) == 3:
        channels = [
            e for e in node.elts if isinstance(e, ast.Constant) and type(e.value) is int and 0 <= e.value <= 255
        ]
        if len(channels) == 3:
            return [("rgb", tuple(channels))]
    return []


def find_params(tree: ast.Module) -> list[Param]:
    """Every stated value of the snippet, grouped by (role, value), in source order."""
    bindings = constant_bindings(tree)
    made = constructors(tree)
    found: list[tuple[str, object]] = []
    pixel_counts: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            found += _call_params(node, made, bindings)
            if callee(node) == "NeoPixel" and len(node.args) > 1 and _literal(node.args[1], bindings) is not None:
                pixel_counts.add(_literal(node.args[1], bindings).value)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Subscript) for t in node.targets):
            found += _colour(node.value)
    ints = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and type(n.value) is int]
    for node in ast.walk(tree):
        # `for i in range(8)` is a count, or the strip's length when it equals the NeoPixel's. Not when
        # the code also spells the last index (`range(50)` beside `49 - i`): a new count would not reach it.
        if isinstance(node, ast.For) and isinstance(node.iter, ast.Call) and callee(node.iter) == "range":
            count = _literal(node.iter.args[0], bindings) if len(node.iter.args) == 1 else None
            if _number(count, 2, 1000) and type(count.value) is int and count.value - 1 not in ints:
                found.append(("pixels" if count.value in pixel_counts else "count", count))
    groups: dict[tuple[str, object], list[ast.Constant]] = {}
    positions: set[tuple[int, int]] = set()
    for kind, literal in found:
        literals = literal if isinstance(literal, tuple) else (literal,)
        where = [(lit.lineno, lit.col_offset) for lit in literals]
        if any(w in positions for w in where):
            continue
        positions.update(where)
        value = tuple(lit.value for lit in literals) if kind == "rgb" else literals[0].value
        groups.setdefault((kind, value), []).extend(literals)
    return [Param(kind, value, tuple(literals)) for (kind, value), literals in groups.items()]


def code_params(code: str) -> list[Param]:
    try:
        return find_params(ast.parse(code))
    except SyntaxError:
        return []
