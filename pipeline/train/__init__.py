"""Training: settings, data, callbacks, device choice and outputs of one HF Trainer run, started
as `python -m pipeline.train.run SETTINGS.json` (subprocess, torchrun or Dagster Pipes)."""
