"""Template rephrasing of instructions (no model calls).

A mined pair carries its ``Request`` (task, topic, function or class, with the code's
specifics), so another phrasing is another template of the same family
(``templates.phrasings``), with the board slot filled when the board is known
("On an ESP32, how do I ..."). A bare instruction that reads as an imperative is
treated as a task; anything else gets generic wrappers.
"""

from __future__ import annotations

import random

from pipeline.pairs.templates import Request, phrasings, task_from_sentence

_WRAPPERS = (
    "Write MicroPython code for this: {text}",
    "In MicroPython: {text}",
    "{text} Answer with a MicroPython snippet.",
)


def rephrase(
    instruction: str, rng: random.Random, board: str | None = None, request: Request | None = None
) -> str | None:
    """A different wording of ``instruction``; None when no template changes it."""
    if request is None:
        task = task_from_sentence(instruction.rstrip("."))
        request = Request("task", task) if task is not None and "\n" not in instruction else None
    candidates = phrasings(request, board) if request is not None else [w.format(text=instruction) for w in _WRAPPERS]
    candidates = [c for c in dict.fromkeys(candidates) if c.strip() != instruction.strip()]
    return rng.choice(candidates) if candidates else None
