"""Training: settings, data, callbacks, device choice and outputs of one HF Trainer run, started
as `python -m pipeline.train.run SETTINGS.json` (subprocess, torchrun or Dagster Pipes)."""

from pipeline.common.exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "TrainSettings": "settings",
        "resolve_device": "device",
        "DeviceInfo": "device",
        "generate_hf": "generate",
        "build_model": "model",
        "read_preset": "outputs",
    },
)
