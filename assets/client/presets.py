"""`mpyforge run --preset [family-]size`: the run config a preset stands for.

The training assets get the family and size. What a size fixes beyond that is applied by the assets
themselves, so a UI "Materialize" of the same preset trains and scores alike: the training plan
(models.presets.size_plan) and, for a model of that size, the task-scoring plan (scoring_plan).
"""

from __future__ import annotations

from assets.training import base_checkpoint, instruct_checkpoint

_TRAINING = [asset.key.to_user_string() for asset in (base_checkpoint, instruct_checkpoint)]


def parse_preset(preset: str) -> tuple[str, str]:
    """`tiny` → (llama, tiny); `gpt2-25m` → (gpt2, 25m)."""
    family, _, size = preset.rpartition("-")
    return (family or "llama", size)


def preset_ops(preset: str) -> dict:
    """The preset's run config as asset name -> config fields."""
    family, size = parse_preset(preset)
    return {name: {"family": family, "size": size} for name in _TRAINING}
