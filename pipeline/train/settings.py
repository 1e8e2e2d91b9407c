"""Settings of one training run (pretrain or SFT), with JSON round-trip and checks.

The same file drives ``python -m pipeline.train.run CONFIG.json``, the Dagster asset
(which writes it and launches the command through Pipes) and ``torchrun``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

# What the device setting accepts (resources/gpu.py shows it in the Launchpad).
DEVICES_HELP = "auto | cpu | cuda | cuda:N"

MODES = ("pretrain", "sft")


@dataclass
class TrainSettings:
    mode: str = "pretrain"  # pretrain (stream "pretrain", from scratch) | sft (stream "sft", from init_from)
    family: str = "llama"  # gpt2 | llama (ignored for sft: the base checkpoint's preset is used)
    size: str = "tiny"  # tiny | 5m | 25m | 50m | 80m
    overrides: dict = field(default_factory=dict)  # any ModelPreset field, e.g. {"n_layers": 4}
    shards_dir: str = ""  # token_shards artifact
    tokenizer_dir: str = ""  # bpe_tokenizer artifact
    init_from: str | None = None  # base model directory (sft only)
    output_dir: str = ""  # FIXED per run config: checkpoints live here so a re-run resumes
    export_dir: str | None = None  # final HF directory; default <output_dir>/model
    # Unset knobs are sized from the data and the model (pipeline.train.plan).
    token_budget: int | None = None  # training tokens (None: epochs of the train split, capped by size)
    max_epochs: float = 4.0  # pretraining: passes over the train split when token_budget is None
    sft_epochs: float = 3.0  # SFT: passes over the instruction pairs when token_budget is None
    tokens_per_parameter: float = 20.0  # cap on the derived budget (Chinchilla-optimal ~20)
    max_steps: int | None = None  # overrides the budget
    # Pretraining: this fraction of the steps trains on the token shards' warmup stream (general Python,
    # python_warmup_files) before the corpus takes the rest; 0 = corpus only.
    warmup_share: float = 0.0
    batch_size: int | None = None  # sequences per device per micro-step (None: 16, fewer for a small budget)
    grad_accum: int = 1
    seq_len: int | None = None  # None: the longest power of two up to the context the splits can feed
    lr: float | None = None  # None: the preset size's rate (models.presets.PRETRAIN_LR); for sft times sft_lr_scale
    sft_lr_scale: float = 0.5  # SFT's peak rate as a fraction of the size's pretraining rate (pipeline.train.plan)
    min_lr_ratio: float = 0.1  # cosine floor as a fraction of lr (Chinchilla's lr/10)
    warmup_ratio: float = 0.02
    weight_decay: float = 0.1
    eval_every: int = 100  # steps between val evaluations
    save_every: int = 100  # steps between checkpoints; a multiple of eval_every
    log_every: int = 10
    eval_tokens: int = 262_144  # val tokens per evaluation (a fixed prefix of the val split)
    early_stopping_patience: int = 3  # evaluations without improvement before stopping; 0 = off
    # SFT: at every evaluation, answer this many dev tasks of the task suite greedily and run them on the
    # simulated board; the checkpoint kept is the best by (dev tasks passed, then val loss). 0 = off.
    dev_tasks: int = 8
    dev_max_new_tokens: int = 128  # tokens per dev answer
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "auto"  # auto | bf16-mixed | fp16-mixed | fp32
    compile: bool = False  # torch.compile the model
    seed: int = 1234

    @property
    def stream(self) -> str:
        return self.mode

    @property
    def model_dir(self) -> Path:
        return Path(self.export_dir) if self.export_dir else Path(self.output_dir) / "model"

    @property
    def checkpoint_dir(self) -> Path:
        return Path(self.output_dir) / "checkpoints"

    def validate(self) -> None:
        """Raise ValueError naming the field and the cause of the first problem found."""
        if self.mode not in MODES:
            raise ValueError(f"TrainSettings.mode {self.mode!r} is unknown; expected one of {list(MODES)}")
        for name in ("shards_dir", "tokenizer_dir", "output_dir"):
            if not getattr(self, name):
                raise ValueError(f"TrainSettings.{name} is required")
        if self.mode == "sft" and not self.init_from:
            raise ValueError("TrainSettings.init_from is required for mode 'sft' (the base model directory)")
        if self.mode == "pretrain" and self.init_from:
            raise ValueError("TrainSettings.init_from is only for mode 'sft'; pretraining starts from scratch")
        for name in (
            "grad_accum",
            "eval_every",
            "save_every",
            "log_every",
            "eval_tokens",
            "max_epochs",
            "sft_epochs",
            "sft_lr_scale",
            "dev_max_new_tokens",
            "tokens_per_parameter",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"TrainSettings.{name} must be positive, got {getattr(self, name)}")
        for name in ("max_steps", "token_budget", "seq_len", "lr", "batch_size"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ValueError(f"TrainSettings.{name} must be positive when given, got {getattr(self, name)}")
        for name in ("early_stopping_patience", "dev_tasks"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainSettings.{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"TrainSettings.min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        if not 0 <= self.warmup_share < 1:
            raise ValueError(f"TrainSettings.warmup_share must be in [0, 1), got {self.warmup_share}")
        if self.mode == "sft" and self.warmup_share:
            raise ValueError("TrainSettings.warmup_share is for mode 'pretrain'; SFT trains on the pairs only")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"TrainSettings.warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        # Best-model tracking (for early stopping) needs every checkpoint to follow an eval,
        # and the NaN guard only sees losses at log steps, so checkpoints must fall on them;
        # evaluations on log steps keep them out of the timed windows (ThroughputCallback).
        if self.save_every % self.eval_every:
            raise ValueError(
                f"TrainSettings.save_every {self.save_every} must be a multiple of eval_every {self.eval_every}"
            )
        if self.eval_every % self.log_every:
            raise ValueError(
                f"TrainSettings.eval_every {self.eval_every} must be a multiple of log_every {self.log_every}"
            )
        if self.save_every % self.log_every:
            raise ValueError(
                f"TrainSettings.save_every {self.save_every} must be a multiple of log_every {self.log_every} "
                "so that no checkpoint is saved after an unchecked loss"
            )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict, source: str = "settings") -> TrainSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{source}: unknown TrainSettings field(s) {unknown}")
        return cls(**data)

    @classmethod
    def from_json_file(cls, path: Path) -> TrainSettings:
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from err
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object of TrainSettings fields")
        return cls.from_dict(data, source=str(path))
