"""Seeded variants of a mined pair: rephrase, rename identifiers, renumber pins, vary the
numbers and names the code states, and describe the code as a maker would ask for it.

Every variant draws its own ``random.Random`` from (seed, origin id, variant, attempt),
so a pair's variants do not depend on which other pairs are in the corpus or in what
order they come. Augmentations run in a fixed order - rephrase the instruction first,
then rename, renumber and vary numbers, which rewrite code and the (rephrased)
instruction together, and last ``describe``, which writes a request from the final code.
A variant whose request states a value its code does not use (``units.mismatches``) is
described from the code instead, or dropped when the code does no job ``describe`` knows.
With ``complete``, a variant's request must also state every pin and value its code uses
(``spell_out`` adds a sentence for what it leaves out), or the attempt is dropped.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pipeline.pairs.dedup import pair_key
from pipeline.pairs.describe import describe_code
from pipeline.pairs.mining import MinedPair
from pipeline.pairs.numbers import vary_numbers
from pipeline.pairs.params import code_params
from pipeline.pairs.pins import renumber_pins
from pipeline.pairs.rename import rename_identifiers
from pipeline.pairs.rephrase import rephrase
from pipeline.pairs.spell_out import spell_out
from pipeline.pairs.units import mismatches

AUGMENTATIONS = ("rephrase", "rename", "pins", "numbers", "describe")
_ATTEMPTS_PER_VARIANT = 6


@dataclass(frozen=True)
class Variant:
    variant: int  # 0 = the original
    instruction: str
    response: str
    augmentations: tuple[str, ...]


def _apply(
    pair: MinedPair, chosen: list[str], rng: random.Random, board: str | None, complete: bool = False
) -> Variant | None:
    instruction, code, applied = pair.instruction, pair.response, []
    for name in chosen:
        if name == "rephrase":
            code_request = pair.request is not None and pair.request.form == "code"
            result = (
                describe_code(code, board, rng) if code_request else rephrase(instruction, rng, board, pair.request)
            )
            if result is not None:
                instruction = result
                applied.append(name)
        elif name == "rename":
            renamed = rename_identifiers(code, instruction, rng)
            if renamed is not None:
                code, instruction = renamed.code, renamed.instruction
                applied.append(name)
        elif name == "pins":
            moved = renumber_pins(code, instruction, rng, board_hint=pair.source_doc)
            if moved is not None:
                code, instruction = moved.code, moved.instruction
                applied.append(name)
        elif name == "numbers":
            varied = vary_numbers(code, instruction, rng, board)
            # New values teach copying only where the request states them: its own words, or a description.
            described_later = "describe" in chosen and describe_code(code, board, random.Random(0)) is not None
            if varied is not None and (varied.instruction != instruction or described_later):
                code, instruction = varied.code, varied.instruction
                applied.append(name)
        elif name == "describe":
            described = describe_code(code, board, rng)
            if described is not None and described != instruction:
                instruction = described
                applied.append(name)
    if "numbers" in applied and "describe" not in applied and mismatches(instruction, code_params(code)):
        # The text stated a value the rewrite could not follow ("1 Hz" for a changed delay).
        instruction = describe_code(code, board, rng)
        if instruction is None:
            return None
        applied.append("describe")
    if complete and applied:
        spelt = spell_out(instruction, code, board, rng)
        if spelt is None:
            return None
        if spelt != instruction:
            instruction = spelt
            applied.append("spell_out")
    return Variant(0, instruction, code, tuple(applied)) if applied else None


def make_variants(
    pair: MinedPair, count: int, seed: int, augmentations: tuple[str, ...] = AUGMENTATIONS, complete: bool = False
) -> list[Variant]:
    """The original (variant 0) plus up to ``count`` distinct variants made with ``augmentations``."""
    board = pair.board
    original = Variant(0, pair.instruction, pair.response, ())
    seen = {pair_key(original.instruction, original.response)}
    variants = [original]
    for number in range(1, count + 1):
        for attempt in range(_ATTEMPTS_PER_VARIANT):
            rng = random.Random(f"{seed}:{pair.origin_id}:{number}:{attempt}")
            # One draw per known augmentation whichever are allowed, so allowing all of them gives
            # the very variants of before and leaving one out changes no other choice.
            chosen = [name for name in AUGMENTATIONS if rng.random() < 0.6 and name in augmentations]
            chosen = chosen or [rng.choice(augmentations)]
            made = _apply(pair, chosen, rng, board, complete)
            if made is not None and pair_key(made.instruction, made.response) not in seen:
                seen.add(pair_key(made.instruction, made.response))
                variants.append(Variant(len(variants), made.instruction, made.response, made.augmentations))
                break
    return variants
