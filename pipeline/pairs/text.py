"""Text clean-up for mined pairs: sentences, captions, code spans, REPL transcripts, licence headers."""

from __future__ import annotations

import re

from pipeline.common.code_text import dedent_lines, repl_typed_lines
from pipeline.pairs.quality import LICENCE_TEXT

# "e.g. x" and "i.e. y" are not sentence ends; a capital, digit or backtick starts a sentence.
_SENTENCE_END = re.compile(r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<=[.!?:])\s+(?=[A-Z0-9`\"(])")
_CAPTION = re.compile(
    r"^\s*(?:listing|example|code|figure|snippet)\s*[\d.]*\s*[:.\-–]\s*(.+)$", re.IGNORECASE | re.DOTALL
)
# Identifiers written in prose ("machine.Timer", "duty_u16()", "sta_if") become code spans.
_CODE_TOKEN = re.compile(
    r"(?<![`\w.])([A-Za-z_]\w+(?:\.[A-Za-z_]\w+)+(?:\(\))?|[A-Za-z_]\w*\(\)|[a-z]\w*_\w+)(?![`\w])"
)


def normalize_instruction(text: str) -> str:
    """One line of prose: HTML comments (Markdown sources carry them) and extra spaces removed."""
    return " ".join(re.sub(r"<!--.*?-->", " ", text, flags=re.DOTALL).split())


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def caption_text(paragraph: str) -> str | None:
    """The caption body of 'Listing 3: An example program that ...', else None."""
    match = _CAPTION.match(paragraph)
    return " ".join(match.group(1).split()) if match else None


def mark_code(phrase: str) -> str:
    """Wrap identifiers in backticks so a request reads as prose with code spans."""
    return _CODE_TOKEN.sub(r"`\1`", phrase.replace("``", "`"))


def strip_licence_header(code: str) -> str:
    """Drop a leading comment block's licence notice; the comment lines above it (a title) stay."""
    lines = code.split("\n")
    end = 0
    while end < len(lines) and (lines[end].lstrip().startswith("#") or not lines[end].strip()):
        end += 1
    first = next((i for i in range(end) if LICENCE_TEXT.search(lines[i])), None)
    if first is None:
        return code
    kept = [line for line in lines[:first] if line.strip("# ") and not line.startswith("#!") and "coding" not in line]
    return "\n".join(kept + lines[end:]).strip("\n")


def clean_response(code: str) -> str:
    """Code as an answer: REPL prompts stripped and REPL output dropped, then dedented.

    In a transcript, lines starting with '>>> ' or '... ' are what was typed; every
    other line is what the board printed, which is not code.
    """
    lines = repl_typed_lines(code.replace("\xa0", " ").splitlines())
    return "\n".join(dedent_lines([line.rstrip() for line in lines])).strip("\n")
