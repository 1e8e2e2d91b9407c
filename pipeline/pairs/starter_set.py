"""The maker starter set: hand-written (request, program) pairs for the jobs makers ask for most.

Opt-in (``PairSettings.starter_set``). A user's library decides what the model learns; this set
exists so a user can see how much a few dozen programs aimed at common maker jobs (blink, button,
PWM, UART, I2C, sensors, Wi-Fi) add to it, and the recipe benchmark shows pass@1 with and without
it. Every program is written for this project, states in its requests the numbers its code uses
(so the ``numbers`` augmentation can vary them in both), compiles in ``mpy-cross`` like every
other answer. About one program in six (by a hash of its code, so a program keeps its split when
others are added) is a val program: with the set on, SFT's val loss and the checkpoint it keeps
follow held-out maker jobs, not only the library's own val pairs, which on a real library are
mostly library internals.

The programs live in ``starter_programs/*.toml``, one table per entry::

    [[pair]]
    board = "Raspberry Pi Pico"          # a name of pipeline.pairs.board_pins.BOARDS
    requests = ["Flash the LED on GP13 ...", "..."]   # one original pair per request
    code = '''
    from machine import Pin
    ...
    '''
    world = {...}                        # optional: what the simulated board has attached (I2C
                                         # devices, a DHT, bytes arriving on a UART), for the set's test

The set is part of the stage's code: a change to it is a change of ``instruction_pairs``'
``code_version``.
"""

from __future__ import annotations

import tomllib
import zlib
from pathlib import Path

from pipeline.pairs.board_pins import BOARDS
from pipeline.pairs.mining import MinedPair
from pipeline.pairs.templates import Request

PROGRAMS_DIR = Path(__file__).resolve().parent / "starter_programs"
SOURCE_PREFIX = "starter:"
VAL_EVERY = 6  # a program whose code hashes to 0 modulo this is a val program


def split_of(code: str) -> str:
    return "val" if zlib.crc32(code.encode("utf-8")) % VAL_EVERY == 0 else "train"


def _entry_pairs(path: Path, index: int, entry: dict) -> list[MinedPair]:
    where = f"{path.name} pair {index + 1}"
    board, requests, code = entry.get("board"), entry.get("requests"), entry.get("code")
    if board not in BOARDS:
        raise ValueError(f"{where}: field 'board' is {board!r}, not one of {sorted(BOARDS)}")
    if not isinstance(requests, list) or not requests or not all(isinstance(r, str) and r.strip() for r in requests):
        raise ValueError(f"{where}: field 'requests' must be a non-empty list of non-empty strings")
    if not isinstance(code, str) or not code.strip():
        raise ValueError(f"{where}: field 'code' must be a non-empty string")
    response = code.strip("\n") + "\n"
    return [
        MinedPair(
            origin_id=f"{SOURCE_PREFIX}{path.stem}/{index:03d}/r{n}",
            instruction=" ".join(request.split()),
            response=response,
            split=split_of(response),
            source_doc=f"{SOURCE_PREFIX}{path.name}",
            # Described from its code when rephrased: the code's facts, not a template of the words.
            request=Request("code", request),
            board=board,
        )
        for n, request in enumerate(requests)
    ]


def load_starter_pairs(directory: Path = PROGRAMS_DIR) -> list[MinedPair]:
    """Every request of every program in ``directory``, as originals of their program's split."""
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise FileNotFoundError(f"{directory}: no starter programs (*.toml)")
    pairs = []
    for path in paths:
        try:
            entries = tomllib.loads(path.read_text(encoding="utf-8")).get("pair", [])
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path}: {err}") from err
        for index, entry in enumerate(entries):
            pairs += _entry_pairs(path, index, entry)
    return pairs
