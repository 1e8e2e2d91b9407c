"""A reader for Ollama Modelfiles, written from the format's documented rules.

Rules (Ollama's docs/modelfile.md and the behaviour of ``ollama create``): one
instruction per line, ``INSTRUCTION arguments``, case-insensitive; ``#`` starts a
comment line; ``PARAMETER`` takes a name and a value; a value may be wrapped in
``"…"`` or, to span lines or hold quotes, in ``\"\"\"…\"\"\"``; there is no escape
character. The stand-in server reads old-style ``/api/create`` ``modelfile`` bodies
with it, and the Modelfile tests read our written files back through it.
"""

from __future__ import annotations

import re

COMMANDS = {"from", "license", "template", "system", "adapter", "draft", "renderer", "parser", "parameter", "requires"}
_INSTRUCTION = re.compile(r"([A-Za-z]+)(?:[ \t]+(.*))?", re.DOTALL)
_PARAMETER = re.compile(r"([A-Za-z0-9_]+)[ \t]+(.*)", re.DOTALL)


class ModelfileParseError(ValueError):
    pass


def _closed(value: str, quote: str) -> bool:
    body = value.rstrip("\r\n")
    return len(body) >= 2 * len(quote) and body.endswith(quote)


def _read_value(first: str, rest: list[str]) -> tuple[str, int]:
    """The value that starts with ``first`` (one line's remainder), and how many more lines it took."""
    value = first.lstrip(" \t")
    quote = '"""' if value.startswith('"""') else '"' if value.startswith('"') else ""
    if not quote:
        return value.strip(), 0
    used = 0
    while not _closed(value, quote):
        if used == len(rest):
            raise ModelfileParseError("unexpected EOF: an open quote was never closed")
        value += rest[used]
        used += 1
    return value.rstrip("\r\n")[len(quote) : -len(quote)], used


def parse_modelfile(text: str) -> list[tuple[str, str]]:
    """(command, argument) pairs in file order; FROM is reported as ``model``, parameters by name."""
    lines = re.split(r"(?<=\n)", text)
    commands: list[tuple[str, str]] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        stripped = line.lstrip(" \t")
        if not stripped.strip() or stripped.startswith("#"):
            continue
        match = _INSTRUCTION.fullmatch(stripped)
        word = match.group(1).lower() if match else ""
        if word not in COMMANDS:
            raise ModelfileParseError(f"(line {index}): command must be one of {sorted(COMMANDS)}")
        argument = match.group(2) or ""
        name = "model" if word == "from" else word
        if word == "parameter":
            parameter = _PARAMETER.fullmatch(argument.lstrip(" \t"))
            if not parameter:
                raise ModelfileParseError(f"(line {index}): PARAMETER needs a name and a value")
            name, argument = parameter.groups()
        value, used = _read_value(argument, lines[index:])
        index += used
        commands.append((name, value))
    if not any(command == "model" for command, _ in commands):
        raise ModelfileParseError("no FROM line")
    return commands
