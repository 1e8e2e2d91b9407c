#!/usr/bin/env bash
# The GPU day in one script (issue 23): every cell of benchmarks/gpu_cells.py in its own process
# under its own timeout, results appended as JSON lines to $RESULTS (default var/gpu/results.jsonl).
# Sized for one H200 in 9 minutes: preflight 40 s, Trainer 16x512 / 32x512 / 32x512 under a 12 GiB
# cap 70 + 70 + 60 s, Trainer vs bare loop 60 s, torch.compile 120 s, 90-second quality run 120 s.
#
# It runs as it is on a machine with python3, torch, transformers and accelerate and no network:
# the project's other imports travel as wheels in var/gpu/wheels (installed with --no-index into
# var/gpu/site), and the quality run's token shards in var/gpu/shards. Prepare both here, once:
#
#   benchmarks/gpu.sh --prepare [SHARDS_DIR]   # wheels (pip download); SHARDS_DIR: a token_shards
#                                              # artifact's shards/ (benchmarks/quality.py --build-only)
#   benchmarks/gpu.sh                          # on the GPU machine, from the repository root
#   benchmarks/gpu.sh --cpu-dry-run            # every cell on the CPU, tiny preset, a few steps (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
VAR=var/gpu
RESULTS=${RESULTS:-$VAR/results.jsonl}
QUALITY_SHARDS=${QUALITY_SHARDS:-$VAR/shards}
WHEELS="dagster-pipes"  # pipeline.train.run's one import beyond torch, transformers, accelerate, numpy

if [ "${1:-}" = "--prepare" ]; then
    mkdir -p "$VAR/wheels"
    "$PY" -m pip download --no-deps --only-binary=:all: --dest "$VAR/wheels" $WHEELS
    if [ -n "${2:-}" ]; then
        rm -rf "$QUALITY_SHARDS" && cp -r "$2" "$QUALITY_SHARDS"
    fi
    du -sh "$VAR"
    exit 0
fi
DRY=()
if [ "${1:-}" = "--cpu-dry-run" ]; then
    DRY=(--cpu-dry-run)
elif ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "benchmarks/gpu.sh: no CUDA device visible to torch; run it on a GPU machine (or --cpu-dry-run)" >&2
    exit 1
fi

export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TOKENIZERS_PARALLELISM=false TRANSFORMERS_VERBOSITY=error
if ! "$PY" -c 'import dagster_pipes' 2>/dev/null; then
    if ! compgen -G "$VAR/wheels/*.whl" >/dev/null; then
        echo "benchmarks/gpu.sh: $PY lacks $WHEELS and $VAR/wheels is empty; run benchmarks/gpu.sh --prepare first" >&2
        exit 1
    fi
    "$PY" -m pip install --quiet --no-index --no-deps --target "$VAR/site" "$VAR"/wheels/*.whl
    export PYTHONPATH="$PYTHONPATH:$PWD/$VAR/site"
fi
mkdir -p "$(dirname "$RESULTS")"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

started=$SECONDS
cell() {  # cell NAME SECONDS: a cell that fails or times out leaves a line saying so, and the rest go on
    local name=$1 limit=$2 status=0
    timeout --kill-after=10 "$limit" "$PY" benchmarks/gpu_cells.py "$name" --out "$RESULTS" \
        --quality-shards "$QUALITY_SHARDS" "${DRY[@]}" || status=$?
    if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
        echo "{\"cell\": \"$name\", \"failed\": \"timed out after $limit s\"}" >>"$RESULTS"
    elif [ "$status" -ne 0 ]; then
        echo "{\"cell\": \"$name\", \"failed\": \"exit $status\"}" >>"$RESULTS"
    fi
}
cell preflight 40
cell trainer16 70
cell trainer32 70
cell trainer32cap 60
cell bare 60
cell compiled 120
cell quality 120
echo "gpu.sh: done in $((SECONDS - started)) s; results in $RESULTS"
