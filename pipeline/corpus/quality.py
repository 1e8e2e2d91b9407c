"""Per-block quality filters for the corpus.

The criteria follow the Codex paper's filters for GitHub code (Chen et al. 2021,
arXiv 2107.03374 §3.1: files with "maximum line length greater than 1000" or "a small
percentage of alphanumeric characters" were dropped). The thresholds here are tighter
because MicroPython listings are short and a 400-character line in a PDF code block is
almost always an extraction fault (a wrapped table, a base64 blob) rather than code.
"""

from __future__ import annotations

from dataclasses import dataclass

# Reasons in the order they are checked; the first that applies is reported.
REJECTION_REASONS: tuple[str, ...] = ("empty", "too_short", "long_line", "low_alnum")


@dataclass(frozen=True)
class QualityLimits:
    min_chars: int
    max_line_length: int
    min_alnum_fraction: float


def alnum_fraction(text: str) -> float:
    """Share of letters/digits among the non-whitespace characters (0.0 for blank text)."""
    visible = [char for char in text if not char.isspace()]
    if not visible:
        return 0.0
    return sum(char.isalnum() for char in visible) / len(visible)


def rejection_reason(kind: str, text: str, limits: QualityLimits) -> str | None:
    """Why a block fails the filters, or None when it passes.

    Headings are exempt from ``min_chars`` ("I2C" is a fine section title) and prose
    from ``max_line_length`` (extractors reflow a paragraph onto one line).
    """
    stripped = text.strip()
    if not stripped:
        return "empty"
    if kind != "heading" and len(stripped) < limits.min_chars:
        return "too_short"
    if kind != "prose" and max(len(line) for line in text.splitlines()) > limits.max_line_length:
        return "long_line"
    if alnum_fraction(stripped) < limits.min_alnum_fraction:
        return "low_alnum"
    return None
