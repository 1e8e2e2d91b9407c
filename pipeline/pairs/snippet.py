"""Answers as complete snippets: free names, completion from context, trivial answers.

A listing in a tutorial often continues the one before it (``pin.value(1)`` after
``pin = Pin(0, Pin.OUT)``), and a function in a library needs the module's imports and
constants. ``complete_snippet`` resolves every name the code reads but never binds:
first from the context statements (earlier listings of the same document, or the
module around a function), then from well-known MicroPython modules and ``machine``
classes. What stays unresolved makes the snippet incomplete, and the pair is rejected.
Only ``ast`` is used: the code is parsed, never run.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from pipeline.pairs.rename_scopes import DSL_DECORATORS, PROTECTED, decorator_name

# Modules a snippet may name without its listing importing them (MicroPython library docs).
KNOWN_MODULES = frozenset(
    """machine time utime network os sys gc rp2 pyb esp esp32 neopixel onewire ds18x20 dht framebuf
    bluetooth socket struct math random json asyncio uasyncio micropython select ssl binascii hashlib
    array collections io errno re ubinascii ujson usocket ustruct urequests requests btree cryptolib
    deflate espnow lcd160cr mip ntptime webrepl vfs sdcard ssd1306 uos uselect ucollections aioble""".split()
)
MACHINE_NAMES = frozenset(
    """Pin ADC ADCBlock PWM I2C SoftI2C SPI SoftSPI UART Timer RTC WDT Signal I2S SDCard DAC TouchPad
    deepsleep lightsleep freq reset soft_reset unique_id idle time_pulse_us bitstream disable_irq
    enable_irq reset_cause""".split()
)
TIME_NAMES = frozenset("sleep sleep_ms sleep_us ticks_ms ticks_us ticks_diff ticks_add ticks_cpu".split())
_MAX_CONTEXT_STATEMENTS = 12
_MAX_CONTEXT_LINES = 40


@dataclass(frozen=True)
class Statement:
    """A top-level statement of the context: its source and the names it binds and reads."""

    source: str
    binds: frozenset[str]
    reads: frozenset[str]
    is_import: bool


def _dsl_nodes(tree: ast.AST) -> set[int]:
    """ids of nodes inside assembler/PIO/viper functions, whose names are DSL words."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
            decorator_name(d) in DSL_DECORATORS for d in node.decorator_list
        ):
            inside.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return inside


def bound_and_read(tree: ast.AST) -> tuple[set[str], set[str]]:
    """Names bound anywhere in ``tree`` and names read (loaded) outside DSL bodies."""
    dsl = _dsl_nodes(tree)
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                if id(node) not in dsl:
                    read.add(node.id)
            else:
                bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    # ``global x`` binds nothing by itself: x must be assigned somewhere (e.g. module level).
    return bound, read


def free_names(code: str) -> set[str] | None:
    """Names the code reads but never binds (builtins excluded); None when it does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    bound, read = bound_and_read(tree)
    # ``@micropython.native`` is compiler syntax and needs no import.
    decorators = {
        id(d.value)
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        for d in n.decorator_list
        if isinstance(d, ast.Attribute) and isinstance(d.value, ast.Name) and d.value.id == "micropython"
    }
    only_decorator = not any(
        isinstance(n, ast.Name) and n.id == "micropython" and id(n) not in decorators for n in ast.walk(tree)
    )
    free = read - bound - PROTECTED - {"__name__", "__file__"}
    return free - {"micropython"} if only_decorator else free | ({"micropython"} & read - bound)


def context_statements(code: str) -> list[Statement]:
    """Top-level statements of a code text (an earlier listing or a module), parse failures skipped."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    statements = []
    for node in tree.body:
        source = ast.get_source_segment(code, node)
        if source is None or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            continue
        if getattr(node, "decorator_list", None):
            source = "\n".join("@" + ast.get_source_segment(code, d) for d in node.decorator_list) + "\n" + source
        bound, read = bound_and_read(ast.Module(body=[node], type_ignores=[]))
        top_binds = _top_level_binds(node)
        if not top_binds:
            continue
        statements.append(
            Statement(
                source, frozenset(top_binds), frozenset(read - bound), isinstance(node, (ast.Import, ast.ImportFrom))
            )
        )
    return statements


def _top_level_binds(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    names: set[str] = set()
    while targets:
        target = targets.pop()
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            targets += target.elts
        elif isinstance(target, ast.Starred):
            targets.append(target.value)
    return names


def _fallback_import(name: str) -> str | None:
    if name in KNOWN_MODULES:
        return f"import {name}"
    if name in MACHINE_NAMES:
        return f"from machine import {name}"
    if name in TIME_NAMES:
        return f"from time import {name}"
    return None


def _split_leading_imports(code: str) -> tuple[str, str]:
    """(the code's leading import lines, the rest), so context goes after the snippet's own imports."""
    lines = code.split("\n")
    cut = 0
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(("import ", "from ")) and not line[:1].isspace():
            cut = index + 1
        elif stripped and not stripped.startswith("#"):
            break
    return "\n".join(lines[:cut]), "\n".join(lines[cut:])


def complete_snippet(code: str, context: list[Statement]) -> tuple[str, set[str]]:
    """The code with the context statements and imports it needs; also the names left unresolved."""
    missing = free_names(code)
    if missing is None:
        return code, set()
    chosen: list[Statement] = []
    imports: list[str] = []
    pending = sorted(missing)
    resolved: set[str] = set()
    while pending:
        name = pending.pop(0)
        if name in resolved:
            continue
        resolved.add(name)
        statement = next((s for s in reversed(context) if name in s.binds), None)
        lines = sum(s.source.count("\n") + 1 for s in chosen)
        if statement is not None and statement.is_import:
            if statement.source not in imports:
                imports.append(statement.source)
            continue
        if statement is not None and len(chosen) < _MAX_CONTEXT_STATEMENTS and lines < _MAX_CONTEXT_LINES:
            if statement not in chosen:
                chosen.append(statement)
                pending += sorted(statement.reads - statement.binds - PROTECTED - resolved)
            continue
        fallback = _fallback_import(name)
        if fallback is not None and fallback not in imports:
            imports.append(fallback)
    if not chosen and not imports:
        return code, missing
    head, rest = _split_leading_imports(code)
    ordered = [s.source for s in context if s in chosen]
    parts = ["\n".join(imports), head, "\n".join(ordered), rest]
    completed = "\n".join(part for part in parts if part.strip())
    return completed, free_names(completed) or set()
