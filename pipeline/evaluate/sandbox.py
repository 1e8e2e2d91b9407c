"""Run a MicroPython program on the simulated board in a restricted Node child; return its timeline.

Isolation comes from outside the VM, because MicroPython's ``js`` module reaches Node itself
(docs/evaluation.md): one child process per program, Node's permission model (read access to the
VM, the board files and the program's own temp dir; no writes, child processes or workers), an
empty environment, a wall-clock timeout and a cap on WebAssembly memory. The child writes each
event synchronously to its stdout, so a program killed for spinning keeps the trace it made.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

BOARDS = ("pico", "esp32", "esp8266")
MIN_NODE_MAJOR = 20
STATUSES = ("ok", "raised", "timeout", "memory", "crashed")
PACKAGE_DIR = Path(__file__).resolve().parent
BOARD_DIR = PACKAGE_DIR / "board"
RUNNER = PACKAGE_DIR / "vm" / "run.mjs"
VM_PACKAGE = "@micropython/micropython-webassembly-pyscript"
# 4096 pages x 64 KiB = 256 MiB of wasm memory: an unbounded allocation ends in MicroPython's own
# MemoryError within about a second instead of growing towards wasm32's 4 GiB.
WASM_MAX_PAGES = 4096
JS_HEAP_MB = 256
MAX_LINES = 200_000  # events plus printed lines; a run that makes more is cut off as a timeout
_END_STATUS = {
    "returned": "ok",
    "budget": "ok",
    "reset": "ok",
    "deepsleep": "ok",
    "raised": "raised",
    "denied": "raised",
}


class SandboxError(RuntimeError):
    """The sandbox itself cannot run (no Node, no VM installed): not a verdict on a program."""


@dataclass(frozen=True)
class Event:
    t_ms: float
    kind: str
    args: dict


@dataclass(frozen=True)
class RunResult:
    status: str
    events: tuple[Event, ...]
    stdout: str
    error: str | None
    wall_s: float


@dataclass(frozen=True)
class RunJob:
    source: str
    board: str = "pico"
    seconds: float = 10.0
    world: dict | None = field(default=None, hash=False)
    wall_timeout_s: float = 10.0


def vm_dir() -> Path:
    """Where `make setup` installed the npm package: ``$MPYFORGE_MICROPYTHON_VM`` or var/micropython-vm."""
    default = PACKAGE_DIR.parents[1] / "var" / "micropython-vm"
    return Path(os.environ.get("MPYFORGE_MICROPYTHON_VM", default))


def _vm_module() -> Path:
    # Resolved, as the job folder is: Node checks each read by its real path, so a VM or temp folder
    # reached through a symlink (var/ on another disk, a worktree sharing var/, macOS's /tmp) would
    # be denied every read, and every program, right or wrong, would end in the same PermissionError.
    module = (vm_dir() / "node_modules" / VM_PACKAGE / "micropython.mjs").resolve()
    if not module.is_file():
        raise SandboxError(f"{module}: MicroPython's WebAssembly VM is not installed; run `make setup`")
    return module


@functools.cache
def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise SandboxError("node: not found on PATH; install Node.js 20 or newer")
    # The sandbox is Node's permission model, which Node 20 introduced: an older Node would refuse
    # the flag (Debian 12's own nodejs is 18), so say so once instead of failing every run.
    version = subprocess.run([node, "--version"], capture_output=True, text=True, env={}).stdout.strip()
    major = int(version.lstrip("v").split(".")[0]) if version[1:2].isdigit() else 0
    if major < MIN_NODE_MAJOR:
        raise SandboxError(
            f"{node}: Node.js {version or '(unknown version)'} has no permission model; need {MIN_NODE_MAJOR}+"
        )
    return node


def permission_flags(node: str, job_dir: Path) -> list[str]:
    """``node`` and its limits: read access to the VM, the board and the job only (no writes,
    child processes, workers or inspector: the permission model denies what is not allowed)."""
    reads = [_vm_module().parent, BOARD_DIR, RUNNER.parent, job_dir]
    return [
        node,
        "--experimental-permission",
        *(f"--allow-fs-read={path}/*" for path in reads),
        f"--wasm-max-mem-pages={WASM_MAX_PAGES}",
        f"--max-old-space-size={JS_HEAP_MB}",
        "--no-warnings",
    ]


def _parse(stdout: bytes) -> tuple[list[Event], dict | None]:
    events, end = [], None
    for raw in stdout.split(b"\n"):
        try:
            t_ms, kind, args = json.loads(raw)
        except (ValueError, TypeError):
            continue  # an empty or torn last line (the child was killed mid-write)
        if kind == "end":
            end = args
        events.append(Event(float(t_ms), str(kind), args if isinstance(args, dict) else {}))
    return events, end


def _result(events: list[Event], end: dict | None, timed_out: str | None, stderr: str, wall_s: float) -> RunResult:
    stdout = "".join(e.args.get("text", "") + "\n" for e in events if e.kind == "print")
    if timed_out is not None:
        return RunResult("timeout", tuple(events), stdout, timed_out, wall_s)
    if end is None:
        memory = "Unable to grow" in stderr or "out of memory" in stderr.lower()
        tail = stderr.strip().splitlines()[-1:] or ["the VM exited without an end event"]
        return RunResult("memory" if memory else "crashed", tuple(events), stdout, tail[0][:500], wall_s)
    reason, error = end.get("reason"), end.get("error")
    if reason == "events":
        status = "timeout"
    elif reason == "memory" or (error or "").startswith("MemoryError"):
        status = "memory"
    else:
        status = _END_STATUS.get(reason, "crashed")
    return RunResult(status, tuple(events), stdout, error, wall_s)


def run_program(
    source: str, *, board: str = "pico", seconds: float = 10.0, world: dict | None = None, wall_timeout_s: float = 10.0
) -> RunResult:
    """Run ``source`` for ``seconds`` of virtual time on ``board``; see docs/evaluation.md."""
    if board not in BOARDS:
        raise ValueError(f"board {board!r}: not one of {', '.join(BOARDS)}")
    if not seconds > 0:
        raise ValueError(f"seconds {seconds!r}: the simulated budget must be positive")
    try:
        job = json.dumps({"board": board, "seconds": seconds, "world": world or {}, "max_lines": MAX_LINES})
    except TypeError as err:
        raise ValueError(f"world: {err}") from err
    command_node, module = _node(), _vm_module()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mpyforge-run-") as tmp:
        job_dir = Path(tmp).resolve()
        (job_dir / "main.py").write_text(source, encoding="utf-8", errors="replace")
        (job_dir / "job.json").write_text(job)
        proc = subprocess.Popen(
            [*permission_flags(command_node, job_dir), str(RUNNER), str(module), str(BOARD_DIR), str(job_dir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={},
            cwd=job_dir,
            start_new_session=True,
        )
        timed_out = None
        try:
            out, err = proc.communicate(timeout=wall_timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            timed_out = f"no end within {wall_timeout_s:g} s of real time (a loop that never sleeps?)"
    events, end = _parse(out)
    return _result(events, end, timed_out, err.decode(errors="replace"), time.monotonic() - start)


# Two lines any board runs: the self-check's program.
SELF_CHECK = "from machine import Pin\nPin(2, Pin.OUT).value(1)\n"


def self_check() -> None:
    """Raise SandboxError unless a two-line board program runs here.

    A sandbox that cannot run anything (no Node, no VM, reads denied) must stop a scoring run with its
    cause, not score every answer as a wrong one."""
    result = run_program(SELF_CHECK, seconds=0.01)
    if result.status != "ok":
        raise SandboxError(
            f"{vm_dir()}: the sandbox failed its own two-line board program ({result.status}: {result.error}); "
            "no answer can pass until it runs"
        )


def run_many(jobs: list[RunJob], workers: int | None = None) -> list[RunResult]:
    """Run jobs side by side, one child each, results in the jobs' order."""
    # Threads are enough: each one only waits on its Node child.
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        return list(pool.map(_run_job, jobs))


def _run_job(job: RunJob) -> RunResult:
    return run_program(
        job.source, board=job.board, seconds=job.seconds, world=job.world, wall_timeout_s=job.wall_timeout_s
    )


def format_event(event: Event) -> str:
    """One timeline line: ``   500.0 ms  pin.value  pin=25 value=1``."""
    args = " ".join(
        f"{k}={json.dumps(v) if isinstance(v, str) else v}" for k, v in event.args.items() if k != "traceback"
    )
    return f"{event.t_ms:8.1f} ms  {event.kind}  {args}".rstrip()


def format_timeline(result: RunResult) -> str:
    """The whole run for a person: every event, the traceback if the program raised, the status."""
    lines = [format_event(e) for e in result.events]
    traceback = next((e.args.get("traceback") for e in result.events if e.kind == "end"), None)
    if traceback:
        lines.append(traceback.rstrip())
    ending = f"status: {result.status}" + (f" ({result.error})" if result.error else "")
    lines.append(f"{ending}; {len(result.events)} events in {result.wall_s:.2f} s of real time")
    return "\n".join(lines)
