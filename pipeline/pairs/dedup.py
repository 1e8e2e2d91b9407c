"""Duplicate pairs and the train/val leak check, both on normalized content.

The code key is structure-aware: ``tokenize`` tokens with comments and blank lines
dropped but INDENT/DEDENT kept, so ``if a:\\n    b\\nc`` and ``if a:\\n    b\\n    c``
stay different while re-wrapped or re-commented copies of one listing collapse.
Near-duplicates are copies equal once comments and all whitespace are gone (a PDF copy
that lost its indentation is one). Among them a copy that compiles beats one that does
not; among compiling copies with one code key, a source file (the author's text) beats
a PDF copy (extraction may have damaged it), then the first origin id wins.
The leak check compares these keys, and the instruction text, across splits: the same
code reaching train and val through two documents is a leak even though the origin ids
differ.
"""

from __future__ import annotations

import io
import re
import tokenize

import pandas as pd

_LAYOUT = {tokenize.NEWLINE: "\\n", tokenize.INDENT: "<in>", tokenize.DEDENT: "<de>"}


def code_key(code: str) -> str:
    """Tokens without comments, indentation kept as INDENT/DEDENT; whitespace-collapsed text if untokenizable."""
    try:
        parts = []
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.ENDMARKER):
                continue
            parts.append(_LAYOUT.get(token.type, token.string))
        return " ".join(parts)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return " ".join(code.split())


def loose_key(code: str) -> str:
    """Code without comments and without any whitespace: groups near-duplicate copies."""
    return "".join("".join(line.split("#", 1)[0].split()) for line in code.splitlines())


def instruction_key(instruction: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", instruction.lower()))


def pair_key(instruction: str, response: str) -> tuple[str, str]:
    return instruction_key(instruction), code_key(response)


def copy_rank(source_doc: str, compiles: bool, origin_id: str) -> tuple:
    """Sort key: the best copy of a duplicated snippet sorts first."""
    return (not compiles, not source_doc.startswith("sources:"), origin_id)


def find_split_leaks(pairs: pd.DataFrame) -> list[str]:
    """Every way train and val share content (must be empty): an origin id in both splits, or the
    same normalized code or instruction in both splits under different origins."""
    leaks = []
    splits_per_origin = pairs.groupby("origin_id")["split"].nunique()
    leaks += [
        f"origin {o} is in both splits" for o in sorted(splits_per_origin[splits_per_origin > 1].index.astype(str))
    ]
    keyed = pairs.assign(_code=pairs["response"].map(code_key), _text=pairs["instruction"].map(instruction_key))
    for column, what in (("_code", "code"), ("_text", "instruction")):
        train = keyed[keyed["split"] == "train"].drop_duplicates(column).set_index(column)["pair_id"]
        val = keyed[keyed["split"] == "val"]
        for key, pair_id in zip(val[column], val["pair_id"]):
            if key in train.index:
                leaks.append(f"same {what} in train ({train[key]}) and val ({pair_id})")
    return leaks
