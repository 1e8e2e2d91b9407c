"""Pin-renumbering augmentation: move ``Pin(n)`` numbers to other valid pins of the board.

A pin number is found as the first argument (or ``id=``) of a ``Pin(...)`` /
``machine.Pin(...)`` call: an int literal, or a module-level name bound once to an int
(``LED = 25`` / ``LED = const(25)``), whose literal is then edited. How each pin is used
decides where it may go (``board_pins``): ``Pin.IN`` pins may also land on input-only
pins, ``ADC(Pin(n))`` pins only on ADC pins, and anything else (``Pin.OUT``, no mode,
PWM/I2C/SPI/NeoPixel arguments) must stay output-capable. The same old→new map is applied
to pin mentions in comments and in the instruction (``GPIO2``, ``GP 25``, ``pin 4``).

Pins given in any other form are never moved but count as occupied, so no moved pin
lands on them: ``Pin(p)`` with ``p`` drawn from a literal tuple/list/range (a loop or a
comprehension), ``ADC(26)``, int keyword pins (``UART(1, tx=17, rx=16)``,
``I2C(scl=22, sda=21)``, ``SPI(sck=...)``) and PIO pins (``set_base=``, ``jmp_pin=``...).
"""

from __future__ import annotations

import ast
import io
import random
import re
import tokenize
from dataclasses import dataclass

from pipeline.pairs.board_pins import BoardPins, allowed_targets, detect_board
from pipeline.pairs.params import callee, constant_bindings

_INPUT_MODES = frozenset({"IN"})
# Hardware peripherals whose pins are fixed on some boards (software SoftI2C/SoftSPI are not).
_HARDWARE_PERIPHERALS = frozenset({"UART", "I2C", "SPI", "I2S", "CAN"})
_PIN_MENTION = re.compile(r"\b(GPIO|GP|IO|[Pp]in|PIN)(\s?)(\d{1,2})\b")
# Keyword arguments that take a pin (machine.UART/I2C/SPI/I2S/CAN, neopixel, rp2.StateMachine).
PIN_KEYWORDS = frozenset({"tx", "rx", "rts", "cts", "scl", "sda", "sck", "mosi", "miso", "cs", "ws", "sd", "pin"})
_PIN_KEYWORD_SUFFIXES = ("_base", "_pin")


@dataclass(frozen=True)
class PinResult:
    code: str
    instruction: str
    mapping: dict[int, int]
    board: str


@dataclass
class _PinUse:
    needs_output: bool = False  # driven, bidirectional, mode unknown, or pulled up/down
    needs_adc: bool = False
    hardware_peripheral: bool = False  # passed to UART/I2C/SPI/I2S/CAN
    literal_positions: tuple[tuple[int, int], ...] = ()  # (lineno, byte col) of int literals


def _int_literal(node: ast.expr | None) -> ast.Constant | None:
    if isinstance(node, ast.Call) and callee(node) == "const" and len(node.args) == 1:
        node = node.args[0]
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node
    return None


def _pin_mode_is_input(call: ast.Call) -> bool | None:
    mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
    if isinstance(mode, ast.Attribute):
        return mode.attr in _INPUT_MODES
    return None


def _has_pull(call: ast.Call) -> bool:
    """ESP32 input-only pins have no pull resistors, so a pulled input needs a full GPIO."""
    pull = call.args[2] if len(call.args) > 2 else next((k.value for k in call.keywords if k.arg == "pull"), None)
    return pull is not None and not (isinstance(pull, ast.Constant) and pull.value is None)


def find_pin_uses(tree: ast.Module) -> dict[int, _PinUse]:
    """Pin number → how the snippet uses it and where its literals are written."""
    bindings = {name: c for name, c in constant_bindings(tree).items() if type(c.value) is int}
    parents = {
        id(child): node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for child in [*node.args, *(k.value for k in node.keywords)]
    }
    uses: dict[int, _PinUse] = {}
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call) and callee(n) == "Pin"):
        arg = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "id"), None)
        literal = _int_literal(arg)
        if literal is None and isinstance(arg, ast.Name):
            literal = bindings.get(arg.id)
        if literal is None:
            continue
        use = uses.setdefault(literal.value, _PinUse())
        parent = parents.get(id(call))
        is_adc = parent is not None and callee(parent) == "ADC"
        use.needs_adc |= is_adc
        use.hardware_peripheral |= parent is not None and callee(parent) in _HARDWARE_PERIPHERALS
        use.needs_output |= not is_adc and (_pin_mode_is_input(call) is not True or _has_pull(call))
        position = (literal.lineno, literal.col_offset)
        if position not in use.literal_positions:
            use.literal_positions += (position,)
    return uses


def _ints_of(node: ast.expr | None, bindings: dict[str, ast.expr]) -> set[int]:
    """Int literals a pin expression stands for: a literal, Pin(literal), a tuple/list/range of them."""
    if isinstance(node, ast.Name) and node.id in bindings:
        node = bindings[node.id]
    literal = _int_literal(node)
    if literal is not None:
        return {literal.value}
    if isinstance(node, ast.Call) and callee(node) == "Pin" and node.args:
        return _ints_of(node.args[0], bindings)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return {value for element in node.elts for value in _ints_of(element, bindings)}
    if isinstance(node, ast.Call) and callee(node) == "range" and all(_int_literal(a) for a in node.args):
        bounds = [_int_literal(a).value for a in node.args]
        return set(range(*bounds)) if len(bounds) <= 3 and len(range(*bounds)) <= 48 else set()
    return set()


def occupied_pins(tree: ast.Module) -> set[int]:
    """Pins used in forms that are not moved (see the module docstring); they stay taken."""
    bindings = {
        node.targets[0].id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
    }
    loop_values = {
        target.id: source
        for node in ast.walk(tree)
        for target, source in (
            [(node.target, node.iter)]
            if isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name)
            else []
        )
    }
    taken: set[int] = set()
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        name = callee(call)
        first = call.args[0] if call.args else None
        if name == "Pin" and isinstance(first, ast.Name) and first.id in loop_values:
            taken |= _ints_of(loop_values[first.id], bindings)
        if name == "ADC" and _int_literal(first) is not None:
            taken.add(_int_literal(first).value)
        for keyword in call.keywords:
            if keyword.arg in PIN_KEYWORDS or (keyword.arg or "").endswith(_PIN_KEYWORD_SUFFIXES):
                taken |= _ints_of(keyword.value, bindings)
    return taken


def mentioned_pins(text: str) -> set[int]:
    """The pin numbers a text names (``GPIO2``, ``GP 25``, ``pin 4``)."""
    return {int(match.group(3)) for match in _PIN_MENTION.finditer(text)}


def rename_pin_mentions(text: str, mapping: dict[int, int]) -> str:
    def swap(match: re.Match[str]) -> str:
        number = int(match.group(3))
        return f"{match.group(1)}{match.group(2)}{mapping.get(number, number)}"

    return _PIN_MENTION.sub(swap, text)


def _choose_moves(
    uses: dict[int, _PinUse], taken: set[int], board: BoardPins, keep_led: bool, rng: random.Random
) -> dict[int, int]:
    occupied = set(uses) | taken
    mapping: dict[int, int] = {}
    for number in sorted(uses):
        use = uses[number]
        if number not in board.gpio or (keep_led and number == board.led_pin):
            continue
        if use.hardware_peripheral and not board.peripherals_on_any_pin:
            continue
        free = sorted(allowed_targets(board, use.needs_output, use.needs_adc) - occupied)
        if free:
            mapping[number] = rng.choice(free)
            occupied.add(mapping[number])
    return mapping


def _edit_code(code: str, uses: dict[int, _PinUse], mapping: dict[int, int]) -> str:
    lines = code.splitlines(keepends=True)
    targets = {}
    for number, new in mapping.items():
        for lineno, byte_col in uses[number].literal_positions:
            line = lines[lineno - 1]
            targets[(lineno, len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore")))] = str(new)
    edits = []
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.NUMBER and token.start in targets:
            edits.append((token.start, token.string, targets[token.start]))
        elif token.type == tokenize.COMMENT:
            edits.append((token.start, token.string, rename_pin_mentions(token.string, mapping)))
    for (row, col), old, new in sorted(edits, reverse=True):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + new + line[col + len(old) :]
    return "".join(lines)


def renumber_pins(code: str, instruction: str, rng: random.Random, board_hint: str = "") -> PinResult | None:
    """Move every movable pin of the snippet; None when the board is unknown or nothing moves."""
    board = detect_board(instruction, code, board_hint)
    if board is None:
        return None
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    uses = find_pin_uses(tree)
    keep_led = "led" in (instruction + code).lower()
    mapping = _choose_moves(uses, occupied_pins(tree), board, keep_led, rng)
    if not mapping:
        return None
    return PinResult(_edit_code(code, uses, mapping), rename_pin_mentions(instruction, mapping), mapping, board.name)
