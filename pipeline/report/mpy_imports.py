"""Which modules a snippet imports, and whether MicroPython has them.

Generated code is only parsed with ``ast``, never executed. Code that does not
parse as a whole (a cut-off answer) still has its import lines checked one by
one, so a truncated completion is not scored as having no imports.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

# Modules built into MicroPython firmware, from the "MicroPython libraries" index
# (https://docs.micropython.org/en/latest/library/index.html): the standard-library
# subset, the MicroPython-specific modules, and the port-specific ones.
# fmt: off
_STDLIB_SUBSET = {
    "array", "asyncio", "binascii", "builtins", "cmath", "collections", "errno", "gc", "gzip",
    "hashlib", "heapq", "io", "json", "marshal", "math", "os", "platform", "random", "re",
    "select", "socket", "ssl", "struct", "sys", "time", "zlib", "_thread",
}
_MICROPYTHON_SPECIFIC = {
    "bluetooth", "btree", "cryptolib", "deflate", "framebuf", "machine", "micropython",
    "neopixel", "network", "openamp", "tls", "uctypes", "vfs",
}
_PORT_SPECIFIC = {"esp", "esp32", "espnow", "lcd160cr", "pyb", "rp2", "stm", "wipy", "zephyr"}
# Older firmware and most books use the "u"-prefixed names (utime, uos, uasyncio...);
# current firmware still accepts them as aliases of the modules above.
_MICRO_ALIASES = {
    "u" + name for name in (
        "array", "asyncio", "binascii", "bluetooth", "collections", "cryptolib", "errno",
        "hashlib", "heapq", "io", "json", "os", "platform", "random", "re", "select", "socket",
        "ssl", "struct", "sys", "time", "zlib",
    )
}
# fmt: on
# Drivers and helpers frozen into the official ESP8266/ESP32/RP2 firmware builds
# (the ports' boards/manifest.py files): usable without installing anything.
_FROZEN_DRIVERS = {
    "apa102",
    "dht",
    "ds18x20",
    "mip",
    "ntptime",
    "onewire",
    "requests",
    "umqtt",
    "upip",
    "upysh",
    "urequests",
    "webrepl",
}

MICROPYTHON_MODULES: frozenset[str] = frozenset(
    _STDLIB_SUBSET | _MICROPYTHON_SPECIFIC | _PORT_SPECIFIC | _MICRO_ALIASES | _FROZEN_DRIVERS
)


@dataclass(frozen=True)
class ImportCheck:
    modules: tuple[str, ...]  # top-level module of every absolute import, in source order
    unknown: tuple[str, ...]  # those MicroPython does not have
    parsed: bool  # False when the whole snippet did not parse and lines were checked one by one


def _imported_modules(tree: ast.AST) -> list[str]:
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # Relative imports (level > 0) name the answer's own package, not a library.
            modules.append(node.module.split(".")[0])
    return modules


def _import_lines(source: str) -> list[str]:
    return [line.strip() for line in source.splitlines() if line.strip().startswith(("import ", "from "))]


def check_imports(source: str) -> ImportCheck:
    try:
        modules, parsed = _imported_modules(ast.parse(source)), True
    except (SyntaxError, ValueError):  # ValueError: source with NUL bytes
        modules, parsed = [], False
        for line in _import_lines(source):
            try:
                modules += _imported_modules(ast.parse(line))
            except (SyntaxError, ValueError):
                continue  # a cut-off "from machine imp" names nothing checkable
    unknown = tuple(module for module in modules if module not in MICROPYTHON_MODULES)
    return ImportCheck(tuple(modules), unknown, parsed)
