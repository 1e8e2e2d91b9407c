"""`mpyforge run --preset [family-]size`: the run config a preset stands for.

The training assets get the family and size; the size's training plan (models.presets.size_plan) is
applied by the assets themselves, so a UI "Materialize" of the same preset trains alike. The `tiny`
demo also scores the task suite's fixed demo subset (DEMO_TASK_IDS) with answers no longer than its
128-token training sequences, so scoring four variants and the HF model fits the demo's minutes.
"""

from __future__ import annotations

from assets.training import base_checkpoint, instruct_checkpoint

_TRAINING = [asset.key.to_user_string() for asset in (base_checkpoint, instruct_checkpoint)]
_DEMO_SCORING = {
    "task_scores": {"tasks": "demo", "max_new_tokens": 128},
    "model_report": {"tasks": "demo", "task_max_new_tokens": 128},
}


def parse_preset(preset: str) -> tuple[str, str]:
    """`tiny` → (llama, tiny); `gpt2-25m` → (gpt2, 25m)."""
    family, _, size = preset.rpartition("-")
    return (family or "llama", size)


def preset_ops(preset: str) -> dict:
    """The preset's run config as asset name -> config fields."""
    family, size = parse_preset(preset)
    ops = {name: {"family": family, "size": size} for name in _TRAINING}
    if size == "tiny":
        ops |= {name: dict(fields) for name, fields in _DEMO_SCORING.items()}
    return ops
