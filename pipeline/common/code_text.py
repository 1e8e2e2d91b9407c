"""Code as text: the one rule for REPL sessions and the one dedent, shared by every stage.

A REPL session (any line starting with ``>>>``) keeps what was typed: the ``>>> ``/``... ``
prompts are removed and every other line, which is what the board printed, is dropped.
"""

from __future__ import annotations

import textwrap

REPL_PROMPTS = (">>>", "...")
PROMPT_WIDTH = 4  # ">>> " and "... "


def is_repl_session(lines: list[str]) -> bool:
    return any(line.lstrip().startswith(">>>") for line in lines)


def repl_typed_lines(lines: list[str]) -> list[str]:
    """The typed lines of a REPL session without their prompts; other code unchanged."""
    if not is_repl_session(lines):
        return lines
    typed = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(REPL_PROMPTS):
            typed.append(stripped[PROMPT_WIDTH:])
    return typed


def dedent_lines(lines: list[str]) -> list[str]:
    """Remove the leading whitespace common to all non-blank lines (blank lines become empty)."""
    return textwrap.dedent("\n".join(lines)).split("\n") if lines else []
