"""Mine (instruction, code) pairs from the corpus table.

Three miners (data.md §5.5):

* **prose/heading → code**: the paragraph right before a code block, with its section
  heading. A paragraph of the form "To blink the LED, configure ..." gives the task
  ("blink the LED") and a detail sentence; otherwise the heading is the title and the
  paragraph's first and last sentences the detail.
* **caption → code**: "Listing 3: An example program that ..." right before or after.
* **.py sources**: the module docstring or leading comment block → the module code, and
  each top-level function docstring → that function (with the module's imports).

Instructions are filtered for noise: length, mostly-symbol text, page furniture and
links. Each rejected candidate is counted under a reason.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import dataclass

import pandas as pd

from pipeline.pairs.text import (
    FURNITURE_REASON,
    caption_text,
    clean_response,
    instruction_noise,
    is_page_furniture,
    normalize_instruction,
    sentences,
    split_to_clause,
    strip_heading_number,
)


@dataclass(frozen=True)
class MinedPair:
    origin_id: str
    instruction: str
    response: str
    split: str
    source_doc: str
    task: str | None  # bare verb phrase ("blink the LED") when known, for task templates
    detail: str  # extra sentences that follow the task in the instruction


@dataclass(frozen=True)
class MiningLimits:
    min_instruction_chars: int = 12
    max_instruction_chars: int = 400
    min_response_chars: int = 10


def _join(title: str, detail: str) -> str:
    title = title.rstrip(" .:")
    return f"{title}. {detail}".strip() if detail else f"{title}."


def _from_prose(heading: str | None, paragraph: str) -> tuple[str, str | None, str] | None:
    """(instruction, task, detail) from a section heading and the paragraph before the code."""
    clause = split_to_clause(paragraph)
    if clause is not None:
        task, detail = clause
        return _join(task[:1].upper() + task[1:], detail), task, detail
    parts = sentences(paragraph)
    detail = " ".join(dict.fromkeys([parts[0], parts[-1]])) if parts else ""
    if heading:
        return _join(heading, detail), None, detail
    return (detail, None, "") if detail else None


def _mine_document(doc: pd.DataFrame, rejects: Counter) -> list[tuple[str, int, str, str | None, str]]:
    """(instruction, seq, code, task, detail) candidates from one document's blocks."""
    rows = doc.to_dict("records")
    found = []
    heading: str | None = None
    for i, row in enumerate(rows):
        if row["kind"] == "heading":
            heading = strip_heading_number(row["text"])
            continue
        if row["kind"] != "code":
            continue
        before = rows[i - 1] if i > 0 else None
        after = rows[i + 1] if i + 1 < len(rows) else None
        # A caption after the code belongs to it only when no other listing follows that caption.
        after_next = rows[i + 2] if i + 2 < len(rows) else None
        if after_next is not None and after_next["kind"] == "code":
            after = None
        caption = next(
            (
                caption_text(r["text"])
                for r in (before, after)
                if r and r["kind"] == "prose" and caption_text(r["text"])
            ),
            None,
        )
        if before is not None and before["kind"] == "prose" and is_page_furniture(before["text"]):
            rejects[FURNITURE_REASON] += 1
            continue
        if caption:
            mined = (caption, None, "")
        elif before is not None and before["kind"] == "prose":
            mined = _from_prose(heading, before["text"])
        elif before is not None and before["kind"] == "heading":
            mined = (_join(heading, ""), None, "") if heading else None
        else:
            mined = None
        if mined is None:
            rejects["no instruction context before code"] += 1
            continue
        found.append((mined[0], int(row["seq"]), row["text"], mined[1], mined[2]))
    return found


def _leading_comment(source: str) -> str:
    """The comment block at the top of a file, without shebang/encoding/licence lines."""
    lines = []
    for line in source.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            if stripped or lines:
                break
            continue
        text = stripped.lstrip("#").strip()
        if text.startswith("!") or "coding" in text or re.search(r"copyright|spdx|licen[cs]e", text, re.I):
            continue
        lines.append(text)
    return " ".join(line for line in lines if line)


def _without_lines(source: str, first: int, last: int) -> str:
    lines = source.splitlines()
    return "\n".join(lines[: first - 1] + lines[last:])


def _mine_python_file(code: str, rejects: Counter) -> list[tuple[str, str, str]]:
    """(suffix, instruction, code) from one .py file: module docstring/comments and functions."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        rejects["python source does not parse"] += 1
        return []
    found = []
    doc_node = tree.body[0] if tree.body and isinstance(tree.body[0], ast.Expr) and ast.get_docstring(tree) else None
    if doc_node is not None:
        found.append(
            (
                "module",
                ast.get_docstring(tree).split("\n\n")[0],
                _without_lines(code, doc_node.lineno, doc_node.end_lineno),
            )
        )
    elif _leading_comment(code):
        found.append(("module", _leading_comment(code), code))
    imports = [ast.get_source_segment(code, n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    for node in tree.body:
        if (
            not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            or not ast.get_docstring(node)
            or len(node.body) < 2
        ):
            continue
        function = ast.get_source_segment(code, node)
        doc = node.body[0]
        function = _without_lines(function, doc.lineno - node.lineno + 1, doc.end_lineno - node.lineno + 1)
        decorators = "\n".join("@" + ast.get_source_segment(code, d) for d in node.decorator_list)
        parts = [*imports, decorators, function] if decorators else [*imports, function]
        found.append((node.name, ast.get_docstring(node).split("\n\n")[0], "\n".join(parts)))
    return found


def mine_pairs(corpus: pd.DataFrame, limits: MiningLimits) -> tuple[list[MinedPair], Counter]:
    """All mined pairs of the corpus, and counts of the candidates rejected as noise."""
    rejects: Counter = Counter()
    pairs: list[MinedPair] = []
    for doc_id, doc in corpus.sort_values(["doc_id", "seq"]).groupby("doc_id", sort=True):
        source = str(doc["source"].iloc[0])
        split_of = dict(zip(doc["seq"], doc["split"]))
        if source.endswith(".py"):
            candidates = []
            for row in doc[doc["kind"] == "code"].itertuples():
                for suffix, instruction, code in _mine_python_file(row.text, rejects):
                    candidates.append((f"{doc_id}#{row.seq}:{suffix}", instruction, code, None, "", split_of[row.seq]))
        else:
            candidates = [
                (f"{doc_id}#{seq}", instruction, code, task, detail, split_of[seq])
                for instruction, seq, code, task, detail in _mine_document(doc, rejects)
            ]
        for origin_id, instruction, code, task, detail, split in candidates:
            instruction = normalize_instruction(instruction)
            response = clean_response(code)
            reason = instruction_noise(instruction, limits.min_instruction_chars, limits.max_instruction_chars)
            if reason is None and len(response.strip()) < limits.min_response_chars:
                reason = "response too short"
            if reason is not None:
                rejects[reason] += 1
                continue
            pairs.append(MinedPair(origin_id, instruction, response, split, source, task, detail))
    return pairs, rejects
