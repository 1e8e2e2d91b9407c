"""The recipe benchmark's rows: named run-config overrides on the defaults, and how one resolves.

A row is ``{asset: {field: value}}`` as `mpyforge run --config` takes it, plus a ``recipe`` entry for
knobs of the benchmark itself (``base_share``). ``resolve_row`` splits it into the config of the
data stages (up to ``token_shards``), the trainer's fields per mode and the knobs; ``recipe.py``
runs the rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

TRAINING_ASSETS = {"base_checkpoint": "pretrain", "instruct_checkpoint": "sft"}
RECIPE_KEY = "recipe"
RECIPE_KNOBS = {"base_share": 0.75}  # of the budget for pretraining (the demo run spent 29 of 36.5 min there)

# "SFT-heavy" pairs: three times the variants per hardware original, no renaming; with the starter set or not.
_HEAVY = {"hardware_variants_per_original": 30, "rename_identifiers": False}
_STARTER_HEAVY = {"starter_set": True, **_HEAVY}
# SFT for its whole share with the last checkpoint kept: no early stopping on val loss, no dev tasks.
_LAST_CHECKPOINT = {"early_stopping_patience": 0, "dev_tasks": 0}

# Levers, each a run-config override on the defaults. Another helper's lever is one more entry
# here naming its config key, e.g. {"instruction_pairs": {"augment_numbers": True}}.
ROWS: dict[str, dict[str, dict]] = {
    "baseline": {},
    "digit tokens": {"bpe_tokenizer": {"split_digits": True}},
    "SFT 6 epochs": {"instruct_checkpoint": {"sft_epochs": 6.0}},
    "SFT lr 2e-4": {"instruct_checkpoint": {"lr": 2e-4}},
    "more SFT time": {RECIPE_KEY: {"base_share": 0.5}},
    "section split": {"corpus": {"split_by": "section"}},
    "no renaming": {"instruction_pairs": {"rename_identifiers": False}},
    # General Python first: the interpreter's standard library for the first 30 % of the base steps.
    "python warm-up": {"python_warmup_files": {"enabled": True}, "base_checkpoint": {"warmup_share": 0.3}},
    # The hand-written maker starter set (opt-in) on top of the library: what a targeted set adds.
    "starter set": {"instruction_pairs": {"starter_set": True}},
    # The set with three times the variants per hardware original, no renaming, and half the budget for SFT.
    "starter set SFT-heavy": {"instruction_pairs": _STARTER_HEAVY, RECIPE_KEY: {"base_share": 0.5}},
    # ... and SFT for its whole share, the last checkpoint kept.
    "starter set SFT-heavy last checkpoint": {
        "instruction_pairs": _STARTER_HEAVY,
        "instruct_checkpoint": _LAST_CHECKPOINT,
        RECIPE_KEY: {"base_share": 0.5},
    },
    # ... with every variant's request naming each pin and value its code uses (pipeline/pairs/spell_out.py),
    # and then every digit its own token as well.
    "starter set SFT-heavy complete requests last checkpoint": {
        "instruction_pairs": {**_STARTER_HEAVY, "complete_requests": True},
        "instruct_checkpoint": _LAST_CHECKPOINT,
        RECIPE_KEY: {"base_share": 0.5},
    },
    "starter set SFT-heavy complete requests digits last checkpoint": {
        "instruction_pairs": {**_STARTER_HEAVY, "complete_requests": True},
        "bpe_tokenizer": {"split_digits": True},
        "instruct_checkpoint": _LAST_CHECKPOINT,
        RECIPE_KEY: {"base_share": 0.5},
    },
    # ... or with Llama 3's split instead: a request's " 500" and the code's "500" become the same tokens.
    "starter set SFT-heavy complete requests numbers apart last checkpoint": {
        "instruction_pairs": {**_STARTER_HEAVY, "complete_requests": True},
        "bpe_tokenizer": {"numbers_apart": True},
        "instruct_checkpoint": _LAST_CHECKPOINT,
        RECIPE_KEY: {"base_share": 0.5},
    },
    # The best starter-set levers on the library alone: what a user's own library gives with them.
    "SFT-heavy complete requests last checkpoint": {
        "instruction_pairs": {**_HEAVY, "complete_requests": True},
        "instruct_checkpoint": _LAST_CHECKPOINT,
        RECIPE_KEY: {"base_share": 0.5},
    },
    # ... and every digit its own token: " 500" in a request and "500" in code are three shared tokens
    # instead of two unrelated ones, so copying a number is copying its digits.
    "starter set SFT-heavy digits": {
        "instruction_pairs": _STARTER_HEAVY,
        "bpe_tokenizer": {"split_digits": True},
        RECIPE_KEY: {"base_share": 0.5},
    },
}


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    overrides: dict  # as the row gives them
    data_ops: dict  # config of the stages up to token_shards
    train_ops: dict  # mode -> TrainSettings fields
    knobs: dict  # RECIPE_KNOBS with the row's values

    @property
    def data_key(self) -> str:
        """Where the row's data lives: "" (``--work`` itself) for the default stages."""
        if not self.data_ops:
            return ""
        return hashlib.sha256(json.dumps(self.data_ops, sort_keys=True).encode()).hexdigest()[:12]


def parse_sets(items: list[str]) -> dict:
    """``--set asset.field=value`` (a YAML scalar, as `mpyforge run --set` reads it) as ``{asset: {field: value}}``."""
    import yaml

    sets: dict[str, dict] = {}
    for item in items:
        target, sep, raw = item.partition("=")
        asset, dot, field = target.strip().partition(".")
        if not (sep and dot and asset and field):
            raise ValueError(f"--set {item!r}: expected asset.field=value, e.g. base_checkpoint.eval_tokens=16384")
        sets.setdefault(asset, {})[field] = yaml.safe_load(raw)
    return sets


def resolve_row(name: str, overrides: dict, common: dict | None = None) -> Row:
    """A row's overrides (then ``common``, the ``--set``s of every row) split into data-stage config,
    training fields per mode and benchmark knobs."""
    data, train, knobs = {}, {}, dict(RECIPE_KNOBS)
    merged = {asset: dict(fields) if isinstance(fields, dict) else fields for asset, fields in overrides.items()}
    for asset, fields in (common or {}).items():
        merged[asset] = {**merged.get(asset, {}), **fields}
    for asset, fields in merged.items():
        if not isinstance(fields, dict):
            raise ValueError(f"row {name!r}: {asset} must map field names to values, got {fields!r}")
        if asset == RECIPE_KEY:
            unknown = sorted(set(fields) - set(RECIPE_KNOBS))
            if unknown:
                raise ValueError(f"row {name!r}: {RECIPE_KEY}.{unknown[0]} is not a knob ({', '.join(RECIPE_KNOBS)})")
            knobs.update(fields)
        elif asset in TRAINING_ASSETS:
            train[TRAINING_ASSETS[asset]] = dict(fields)
        else:
            data[asset] = dict(fields)
    if not 0 < knobs["base_share"] < 1:
        raise ValueError(f"row {name!r}: {RECIPE_KEY}.base_share must be in (0, 1), got {knobs['base_share']}")
    return Row(name, overrides, data, train, knobs)


def chosen_rows(names: str | None, rows: dict[str, dict] = ROWS, common: dict | None = None) -> list[Row]:
    """``--rows`` (comma-separated names; all when None) resolved, in the order given."""
    wanted = list(rows) if names is None else [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in rows]
    if unknown:
        raise ValueError(f"--rows: unknown row {unknown[0]!r} (rows: {', '.join(rows)})")
    return [resolve_row(name, rows[name], common) for name in wanted]
