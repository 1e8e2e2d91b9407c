"""Text clean-up for mined pairs: sentences, headings, captions, REPL transcripts, noise."""

from __future__ import annotations

import re

from pipeline.common.code_text import dedent_lines, repl_typed_lines

# "e.g. x" and "i.e. y" are not sentence ends; a capital, digit or backtick starts a sentence.
_SENTENCE_END = re.compile(r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<=[.!?:])\s+(?=[A-Z0-9`\"(])")
_HEADING_NUMBER = re.compile(r"^\s*(?:(?:chapter|section)\s+)?(?:\d+(?:\.\d+)*\.?|[A-Z]\.)\s+", re.IGNORECASE)
_CAPTION = re.compile(
    r"^\s*(?:listing|example|code|figure|snippet)\s*[\d.]*\s*[:.\-–]\s*(.+)$", re.IGNORECASE | re.DOTALL
)
_TO_CLAUSE = re.compile(r"^\s*To\s+([^,]{3,120}?),\s*(.+)$", re.DOTALL)
# Running headers/footers and navigation text that sometimes lands before a listing.
_FURNITURE = re.compile(
    r"^(?:page\s*)?\d+(?:\s*(?:/|of)\s*\d+)?$|table of contents|all rights reserved|copyright|^see also\b|https?://|www\.",
    re.IGNORECASE,
)
FURNITURE_REASON = "instruction is page furniture or a link"


def normalize_instruction(text: str) -> str:
    """One line of prose: HTML comments (Markdown sources carry them) and extra spaces removed."""
    return " ".join(re.sub(r"<!--.*?-->", " ", text, flags=re.DOTALL).split())


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def strip_heading_number(heading: str) -> str:
    """'2.5. Blink an LED' → 'Blink an LED'."""
    return _HEADING_NUMBER.sub("", " ".join(heading.split())).strip()


def caption_text(paragraph: str) -> str | None:
    """The caption body of 'Listing 3: An example program that ...', else None."""
    match = _CAPTION.match(paragraph)
    return " ".join(match.group(1).split()) if match else None


def split_to_clause(paragraph: str) -> tuple[str, str] | None:
    """'To blink the LED, configure GPIO2 ...' → ('blink the LED', 'Configure GPIO2 ...')."""
    first = sentences(paragraph)[0] if paragraph.strip() else ""
    match = _TO_CLAUSE.match(first)
    if not match:
        return None
    rest = match.group(2).strip().rstrip(":").strip()
    detail = rest[:1].upper() + rest[1:]
    if detail and detail[-1] not in ".!?":
        detail += "."
    return match.group(1).strip(), detail


def is_page_furniture(text: str) -> bool:
    return bool(_FURNITURE.search(" ".join(text.split())))


def instruction_noise(instruction: str, min_chars: int, max_chars: int) -> str | None:
    """Why an instruction is noise, or None when it is usable."""
    if len(instruction) < min_chars:
        return "instruction too short"
    if len(instruction) > max_chars:
        return "instruction too long"
    visible = [c for c in instruction if not c.isspace()]
    if sum(c.isalpha() for c in visible) < 0.6 * len(visible):
        return "instruction mostly symbols"
    if is_page_furniture(instruction):
        return FURNITURE_REASON
    if len(re.findall(r"[A-Za-z]{2,}", instruction)) < 2:
        return "instruction too short"
    return None


def clean_response(code: str) -> str:
    """Code as an answer: REPL prompts stripped and REPL output dropped, then dedented.

    In a transcript, lines starting with '>>> ' or '... ' are what was typed; every
    other line is what the board printed, which is not code.
    """
    lines = repl_typed_lines(code.replace("\xa0", " ").splitlines())
    return "\n".join(dedent_lines([line.rstrip() for line in lines])).strip("\n")
