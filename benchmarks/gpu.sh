#!/usr/bin/env bash
# GPU check: Trainer tokens/s and MFU of the 5m/25m/50m/80m presets in bf16, with and without
# torch.compile, at the batch a 12 GB card runs (32 x 512 tokens). Sized to finish within
# 8 minutes on one H200: 8 measurements of 40 steps (10 warm-up, which covers compilation).
# Compare with the seed's RTX 5070 table (tokens/s): 5M 400-600K, 25M 100-200K, 50M 50-100K,
# 80M 30-60K. Needs CUDA; never run by the tests.
#
#   benchmarks/gpu.sh            # from the repository root
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3

if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "benchmarks/gpu.sh: no CUDA device visible to torch ($("$PY" -c 'import torch; print(torch.__version__)' 2>&1)); run it on a GPU machine" >&2
    exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

export TOKENIZERS_PARALLELISM=false TRANSFORMERS_VERBOSITY=error
started=$SECONDS
timeout 480 "$PY" benchmarks/train_throughput.py --device cuda --precision bf16-mixed \
    --sizes 5m,25m,50m,80m --compile both --trainer-only \
    --batch 32 --seq-len 512 --steps 40 --warmup 10 --rounds 1
echo "gpu.sh: done in $((SECONDS - started)) s"
