"""Template rephrasing of instructions (no model calls).

Two template families: wrappers that fit any instruction text, and task templates for
instructions that read as an imperative ("Blink the LED", "Read a DS18B20 sensor"),
which can be turned into questions. A board slot is filled when the snippet's board is
known, as suggested in data.md §5.5 ("On an ESP32, how do you ...").
"""

from __future__ import annotations

import random
import re

_WRAPPERS = (
    "{text}",
    "Write MicroPython code for this: {text}",
    "In MicroPython: {text}",
    "{text} Answer with a MicroPython snippet.",
    "Task: {text}\nRespond with MicroPython code.",
    "Show the MicroPython code for the following.\n{text}",
)
_TASKS = (
    "Write MicroPython code to {task}.",
    "How do I {task} in MicroPython?",
    "How can you {task} with MicroPython?",
    "Show me how to {task} using MicroPython.",
    "Give a MicroPython example that shows how to {task}.",
    "I want to {task}. What is the MicroPython code?",
)
_BOARD_TASKS = (
    "On {a_board}, how do you {task}?",
    "Write MicroPython for {a_board} to {task}.",
    "Using MicroPython on {a_board}, {task}.",
)
# Leading verbs that mark an instruction as a task; lists of verbs seen in tutorial headings.
_TASK_VERBS = frozenset(
    """blink toggle read write set create connect scan measure control drive use make turn send receive
    print configure initialise initialize start stop get display show play generate count flash fade dim
    wait sleep log run build define return convert draw enable disable check detect handle update load
    save open close test sample monitor listen respond attach add remove store fetch post query parse
    format calculate compute debounce schedule trigger power switch light move rotate encode decode""".split()
)


def task_phrase(instruction: str) -> str | None:
    """The instruction as a bare lower-case verb phrase, when it is one short imperative."""
    text = instruction.strip().rstrip(".!:").strip()
    if "\n" in text or "?" in text or re.search(r"[.!;]\s", text):
        return None
    first, _, rest = text.partition(" ")
    if first.lower() not in _TASK_VERBS or not rest:
        return None
    return f"{first.lower()} {rest}"


def rephrase(
    instruction: str, rng: random.Random, board: str | None = None, task: str | None = None, detail: str = ""
) -> str | None:
    """A different wording of ``instruction``; None when no template changes it.

    ``task``/``detail`` come from mining ("To blink the LED, configure ..."); without
    them the whole instruction is tried as a task.
    """
    if task is None:
        task, detail = task_phrase(instruction), ""
    candidates = [t.format(text=instruction.strip()) for t in _WRAPPERS]
    if task is not None:
        task_templates = [t.format(task=task) for t in _TASKS]
        if board is not None and board.lower() not in instruction.lower():
            article = "an" if board[:1].upper() in "AEIOU" else "a"
            task_templates += [t.format(task=task, a_board=f"{article} {board}") for t in _BOARD_TASKS]
        candidates += [f"{t} {detail}".strip() for t in task_templates]
    candidates = [c for c in dict.fromkeys(candidates) if c.strip() != instruction.strip()]
    return rng.choice(candidates) if candidates else None
