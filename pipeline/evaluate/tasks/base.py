"""The task record and the helpers every family uses to build tasks and their planted wrong answers.

A family is a table of parameter sets (pins, numbers) board by board, and a function that makes one
``Case`` of a board and one of its rows (``family``); a Case makes one ``Task`` per phrasing of it:
the phrasings share the world, the reference, the wrong answers and the check, so a runner may run
each distinct program once.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.evaluate.sandbox import RunResult


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str  # one line, e.g. "pin 25 toggles every 1000 ms, want 500 ms ± 15 %"


@dataclass(frozen=True)
class Task:
    task_id: str  # "<family>/<board>/<params-slug>/p<phrasing>"
    family: str
    board: str  # "pico" | "esp32" | "esp8266"
    prompt: str  # what a maker types
    seconds: float  # simulated seconds the program runs
    world: dict = field(hash=False, compare=False)  # what the simulated hardware answers
    reference: str = field(compare=False)  # a program that passes
    wrong: tuple[tuple[str, str], ...] = field(compare=False)  # (label, program) pairs that must fail
    check: Callable[[RunResult], Verdict] = field(compare=False)


BOARD_NAMES = {"pico": "Raspberry Pi Pico", "esp32": "ESP32", "esp8266": "ESP8266"}
# A pin each board lacks or cannot drive: the "raises" answers use it, and the board profile raises
# what the real port raises (GP29 does not exist on a Pico; GPIO6 is the ESP boards' SPI flash).
BAD_PIN = {"pico": 29, "esp32": 6, "esp8266": 6}


def pin_name(board: str, pin: int) -> str:
    """How a maker names a pin on this board: GP15 on a Pico, GPIO15 on the ESP boards."""
    return f"GP{pin}" if board == "pico" else f"GPIO{pin}"


def naming_board(board: str, prompt: str, i: int) -> str:
    """The prompt, with the board named where it does not say it: "GPIO2" alone could be either ESP.

    A Pico's "GP" pin names already fix the board, as makers write them.
    """
    name = BOARD_NAMES[board]
    if board == "pico" or name in prompt:
        return prompt
    return f"{name}: {prompt}" if i % 2 == 0 else f"{prompt} (board: {name})"


def per_second(period_ms: float) -> str:
    """A period as makers say it: 1000 ms -> "once a second", 500 -> "twice a second", 200 -> "5 times a second"."""
    n = 1000 / period_ms
    return {1: "once a second", 2: "twice a second"}.get(n, f"{n:g} times a second")


def program(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


def standard_wrong(topic: str) -> list[tuple[str, str]]:
    """The two answers that fail every task: nothing at all, and a plan written only as comments."""
    comments = f"# {topic}\n# set up the hardware here\n# then loop forever\n"
    return [("empty", ""), ("comments", comments)]


def Check(fn: Callable[..., Verdict], **params) -> Callable[[RunResult], Verdict]:  # noqa: N802 - reads as a type
    """A check bound to its parameters that first fails a run that did not end cleanly."""

    def check(result: RunResult) -> Verdict:
        if result.status != "ok":
            return Verdict(False, f"the program ended with status {result.status}: {result.error or 'no detail'}")
        return fn(result, **params)

    check.__name__ = fn.__name__
    check.__qualname__ = f"{fn.__name__}({', '.join(f'{k}={v!r}' for k, v in params.items())})"
    return check


@dataclass(frozen=True)
class Case:
    """One parameter set of a family on one board; every phrasing of it becomes a Task."""

    family: str
    board: str
    slug: str
    prompts: tuple[str, ...]
    seconds: float
    reference: str
    wrong: tuple[tuple[str, str], ...]
    check: Callable[[RunResult], Verdict]
    world: dict = field(default_factory=dict)

    def tasks(self) -> list[Task]:
        return [
            Task(
                task_id=f"{self.family}/{self.board}/{self.slug}/p{i}",
                family=self.family,
                board=self.board,
                prompt=naming_board(self.board, prompt, i),
                seconds=self.seconds,
                world=self.world,
                reference=self.reference,
                wrong=self.wrong,
                check=self.check,
            )
            for i, prompt in enumerate(self.prompts)
        ]


def case(
    family: str,
    board: str,
    slug: str,
    prompts: list[str],
    *,
    topic: str,
    seconds: float,
    reference: str,
    wrong: list[tuple[str, str]],
    check: Callable[[RunResult], Verdict],
    world: dict | None = None,
) -> Case:
    """A Case whose wrong answers start with the standard ones (see ``standard_wrong``)."""
    return Case(
        family,
        board,
        slug,
        tuple(prompts),
        seconds,
        program(reference),
        tuple(standard_wrong(topic) + [(label, program(src)) for label, src in wrong]),
        check,
        world or {},
    )


def family(table: dict[str, list[tuple]]) -> Callable[[Callable[..., Case]], Callable[[], list[Case]]]:
    """A family's builder: the decorated function makes the Case of a board and one of its rows
    (``one(board, *row)``), the builder one Case per row, board by board in the table's order."""

    def builder(one: Callable[..., Case]) -> Callable[[], list[Case]]:
        def build() -> list[Case]:
            return [one(board, *row) for board, rows in table.items() for row in rows]

        build.__name__ = build.__qualname__ = one.__name__
        build.__doc__ = one.__doc__
        return build

    return builder
