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

from pipeline.pairs.rename_scopes import PROTECTED, Occurrence, renameable_names

_PREFIXES = ("my", "cur", "new", "raw", "last", "next", "main", "local", "first", "base", "tmp", "out")
_NOUNS = (
    "value", "item", "count", "state", "reading", "level", "data", "buf", "result", "obj", "flag",
    "index", "total", "sample", "node", "entry", "handle", "unit", "ctrl", "port", "signal", "step",
    "delay", "limit", "target", "source", "channel", "mode", "tick", "word",
)  # fmt: skip


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


def _fresh_names(names: list[str], taken: set[str], rng: random.Random) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for name in names:
        for _ in range(100):
            words = [rng.choice(_NOUNS)] if rng.random() < 0.5 else [rng.choice(_PREFIXES), rng.choice(_NOUNS)]
            candidate = _styled(name, words)
            if candidate != name and candidate not in taken:
                break
        else:
            candidate = f"{name}_{len(mapping)}"
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
    if not candidates:
        return None
    chosen = rng.sample(sorted(candidates), min(max_names, len(candidates)))
    taken = {t.string for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type == tokenize.NAME}
    mapping = _fresh_names(chosen, taken | set(PROTECTED), rng)
    positions = _token_positions(code, [o for o in occurrences if o.name in mapping])
    return RenameResult(_apply(code, positions, mapping), rename_in_text(instruction, mapping), mapping)
