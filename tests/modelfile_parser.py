"""A port of Ollama's Modelfile parser (``parser/parser.go`` ``ParseFile``), state machine included.

The stand-in server parses old-style ``/api/create`` ``modelfile`` bodies with it,
and the Modelfile tests read our written files back through it, so the quoting
rules are checked against Ollama's algorithm rather than against our own writer.
``MESSAGE`` (not used by mpyforge) is refused.
"""

from __future__ import annotations

COMMANDS = {"from", "license", "template", "system", "adapter", "draft", "renderer", "parser", "parameter", "requires"}
_NIL, _NAME, _VALUE, _PARAMETER, _COMMENT = "nil", "name", "value", "parameter", "comment"


class ModelfileParseError(ValueError):
    pass


def _is_space(char: str) -> bool:
    return char in " \t"


def _is_newline(char: str) -> bool:
    return char in "\r\n"


def _next_state(char: str, state: str, line: int) -> tuple[str, str]:
    """(next state, char to keep or "") for one rune, as ``parseRuneForState``."""
    if state == _NIL:
        if char == "#":
            return _COMMENT, ""
        if _is_space(char) or _is_newline(char):
            return _NIL, ""
        return _NAME, char
    if state == _NAME:
        if char.isascii() and char.isalpha():
            return _NAME, char
        if _is_space(char):
            return _VALUE, ""
        raise ModelfileParseError(f"(line {line}): command must be one of {sorted(COMMANDS)}")
    if state == _VALUE:
        return (_NIL, char) if _is_newline(char) or _is_space(char) else (_VALUE, char)
    if state == _PARAMETER:
        if char.isascii() and (char.isalnum() or char == "_"):
            return _PARAMETER, char
        if _is_space(char):
            return _VALUE, ""
        raise ModelfileParseError(f"(line {line}): unexpected {char!r} in a PARAMETER name")
    return (_NIL, "") if _is_newline(char) else (_COMMENT, "")


def unquote(text: str) -> tuple[str, bool]:
    """Ollama's ``unquote``: strip ``\"\"\"…\"\"\"`` or ``"…"``; (value, complete)."""
    if text.startswith('"""'):
        if len(text) >= 6 and text.endswith('"""'):
            return text[3:-3], True
        return "", False
    if text.startswith('"'):
        if len(text) >= 2 and text.endswith('"'):
            return text[1:-1], True
        return "", False
    return text, True


def parse_modelfile(text: str) -> list[tuple[str, str]]:
    """(command, argument) pairs in file order; FROM is reported as ``model``, parameters by name."""
    commands: list[tuple[str, str]] = []
    name = ""
    state = _NIL
    buffer = ""
    line = 1
    for char in text:
        if _is_newline(char):
            line += 1
        following, kept = _next_state(char, state, line)
        if following != state:
            if state == _NAME:
                word = buffer.lower()
                if word not in COMMANDS:
                    raise ModelfileParseError(f"(line {line}): command must be one of {sorted(COMMANDS)}")
                if word == "parameter":
                    following = _PARAMETER
                else:
                    name = "model" if word == "from" else word
            elif state == _PARAMETER:
                name = buffer
            elif state == _VALUE:
                value, complete = unquote(buffer.strip())
                if not complete or _is_space(char):
                    buffer += char  # the value continues (spaces, or an open quote)
                    continue
                commands.append((name, value))
            buffer = ""
            state = following
        if kept and kept.isprintable():
            buffer += kept
    if state == _VALUE:
        value, complete = unquote(buffer.strip())
        if not complete:
            raise ModelfileParseError("unexpected EOF: an open quote was never closed")
        commands.append((name, value))
    elif state not in (_NIL, _COMMENT):
        raise ModelfileParseError("unexpected EOF")
    if not any(command == "model" for command, _ in commands):
        raise ModelfileParseError("no FROM line")
    return commands
