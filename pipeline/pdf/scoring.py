"""Extracted code blocks scored against ground truth: blocks exact and line F1.

Ground truth is a Markdown file of fenced blocks (``../shared/realpdf/*.truth.md`` and the
fixture sources in ``data/typeset_fixtures``), one per listing of the document, in order.
The conventions follow ``../shared/realpdf/README.md``:

* a block is recovered when the extracted block equals it after trailing whitespace is
  stripped from each line and leading/trailing blank lines are dropped (indentation and
  inner blank lines count);
* a REPL session is compared as its typed lines (the one rule of
  ``pipeline.common.code_text``), since that is what the extractor keeps.

Line F1 compares the multisets of non-blank lines (indentation included) of all truth
blocks and all extracted code blocks, so a wrong indent, a wrapped line kept as two, or a
page header left inside a listing each cost a line.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from pipeline.common.code_text import dedent_lines, repl_typed_lines

FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)


def normalize_block(text: str) -> str:
    """Trailing whitespace per line and leading/trailing blank lines removed."""
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def as_kept(text: str) -> str:
    """A truth block as the extractor keeps it: a REPL session reduced to its typed lines."""
    return normalize_block("\n".join(dedent_lines(repl_typed_lines(text.split("\n")))))


def truth_blocks(markdown: str) -> list[str]:
    """The fenced blocks of a truth file, in order, as the extractor should keep them.

    A REPL session in which nothing was typed (a bare ``>>>`` and the board's output)
    keeps nothing, so it is not a block to recover.
    """
    blocks = (as_kept(match.group(2)) for match in FENCE.finditer(markdown))
    return [block for block in blocks if block]


@dataclass(frozen=True)
class Score:
    truth_blocks: int
    exact_blocks: int
    line_precision: float
    line_recall: float

    @property
    def blocks_exact(self) -> float:
        return self.exact_blocks / self.truth_blocks if self.truth_blocks else 1.0

    @property
    def line_f1(self) -> float:
        total = self.line_precision + self.line_recall
        return 2 * self.line_precision * self.line_recall / total if total else 0.0


def _lines(blocks: list[str]) -> Counter:
    return Counter(line for block in blocks for line in block.split("\n") if line.strip())


def score_blocks(extracted: list[str], truth: list[str]) -> Score:
    """Score extracted code blocks against truth blocks (each truth block matched at most once)."""
    available = Counter(normalize_block(block) for block in extracted)
    exact = 0
    for block in truth:
        if available[block] > 0:
            available[block] -= 1
            exact += 1
    got, want = _lines([normalize_block(b) for b in extracted]), _lines(truth)
    common = sum((got & want).values())
    return Score(
        truth_blocks=len(truth),
        exact_blocks=exact,
        line_precision=common / sum(got.values()) if got else 0.0,
        line_recall=common / sum(want.values()) if want else 1.0,
    )


def score_plain_text(text: str, truth: list[str]) -> Score:
    """Plain page text scored generously: a block counts when its exact text occurs anywhere,
    and only the lines of the text that belong to some truth block count as extracted code
    (plain text has no notion of a code block)."""
    want = _lines(truth)
    got = Counter(line.rstrip() for line in text.split("\n") if line.rstrip() in want)
    common = sum((got & want).values())
    return Score(
        truth_blocks=len(truth),
        exact_blocks=sum(block in text for block in truth),
        line_precision=common / sum(got.values()) if got else 0.0,
        line_recall=common / sum(want.values()) if want else 1.0,
    )
