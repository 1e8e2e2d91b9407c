"""Quantized GGUF variants made by llama.cpp's own quantizer.

gguf-py can only dequantize K-quants, so Q4_K_M / Q2_K come from
``llama_model_quantize`` (llama-cpp-python's low-level binding). It runs in a
child process: llama.cpp reports errors only on stderr (the return code is just
0/1), and a native abort must not take the pipeline run down with it.
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

from pipeline.common.child import run_child
from pipeline.gguf.summary import tensor_summary

# variant name -> name of the llama_cpp LLAMA_FTYPE_* constant
QUANT_FTYPES = {
    "f16": "LLAMA_FTYPE_MOSTLY_F16",
    "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
    "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
    "q2_k": "LLAMA_FTYPE_MOSTLY_Q2_K",
}
QUANTIZE_TIMEOUT_S = 1800


class QuantizeError(RuntimeError):
    pass


def quantize(master: Path, out_path: Path, variant: str) -> dict:
    """Quantize an F32/F16 GGUF ``master`` to ``variant``; returns the log and actual tensor types."""
    master, out_path = Path(master), Path(out_path)
    if variant not in QUANT_FTYPES:
        raise ValueError(f"variant {variant!r} is not one of {sorted(QUANT_FTYPES)}")
    if not master.is_file():
        raise ValueError(f"{master}: master GGUF file does not exist")
    failure = f"llama.cpp failed to quantize {master} to {variant}"
    log = run_child(
        "pipeline.gguf.quantize", [str(master), str(out_path), variant], QUANTIZE_TIMEOUT_S, QuantizeError, failure
    )
    if not out_path.is_file():
        raise QuantizeError(f"{failure}: it wrote no {out_path}:\n{log[-3000:]}")
    fallback_lines = [line.strip() for line in log.splitlines() if "fallback" in line]
    return {
        "variant": variant,
        "path": str(out_path),
        **tensor_summary(out_path),
        "fallback_messages": fallback_lines,
        "log_tail": log[-2000:],
    }


def _quantize_in_this_process(master: str, out_path: str, variant: str) -> int:
    import llama_cpp  # imported only in the child, where a native crash is contained

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANT_FTYPES[variant])
    params.nthread = 0  # <= 0: all cores
    return llama_cpp.llama_model_quantize(master.encode(), out_path.encode(), ctypes.byref(params))


if __name__ == "__main__":
    sys.exit(_quantize_in_this_process(*sys.argv[1:4]))
