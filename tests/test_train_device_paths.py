"""GPU-path decisions as pure functions, checked on CPU: device pinning, precision by compute
capability, MFU peaks, the fp16-tolerant NaN guard, timing windows, progress lines, resume rules."""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from transformers import TrainerControl, TrainerState, TrainingArguments

from pipeline.train.callbacks import (
    FP16_NONFINITE_TOLERANCE,
    NonFiniteLossError,
    NonFiniteLossGuard,
    ProgressCallback,
    ThroughputCallback,
    progress_line,
)
from pipeline.train.device import (
    ChildDevice,
    child_device,
    cpu_peak_flops,
    cpu_theoretical_peak_flops,
    model_flops_utilization,
    resolve_precision,
)
from pipeline.train.run_dir import RunDirectoryBusy, RunLock, last_complete_checkpoint, prune_run_dirs
from resources.gpu import GpuResource

REPO = Path(__file__).resolve().parents[1]


def test_cuda_n_reaches_the_child_as_visible_devices():
    alloc = {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}
    assert child_device("cuda:3", 1) == ChildDevice(
        "cuda:0",
        {**alloc, "CUDA_VISIBLE_DEVICES": "3"},
        "device 'cuda:3' is physical GPU 3; the trainer sees only it, as cuda:0, so the HF Trainer cannot spread "
        "one process over several GPUs",
    )
    assert child_device("cuda", 2).env == alloc and child_device("cuda", 2).device == "cuda"  # torchrun: LOCAL_RANK
    assert child_device("cpu", 4).env == alloc and child_device("cpu", 1).device == "cpu"
    with pytest.raises(ValueError, match=r"'cuda:1' pins one GPU but nproc_per_node is 2"):
        child_device("cuda:1", 2)
    with pytest.raises(ValueError, match="'cuda:x' is not understood"):
        child_device("cuda:x", 1)
    child = GpuResource(device="cuda:2").child()
    assert child.device == "cuda:0" and child.env["CUDA_VISIBLE_DEVICES"] == "2"


def test_torchrun_launcher_is_standalone():
    assert GpuResource().launcher("py") == ["py"]
    command = GpuResource(nproc_per_node=2).launcher("py")
    assert command == ["py", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


@pytest.mark.parametrize(
    ("capability", "expected"),
    [
        ((6, 1), "fp16-mixed"),
        ((7, 0), "fp16-mixed"),
        ((7, 5), "fp16-mixed"),
        ((8, 0), "bf16-mixed"),
        ((9, 0), "bf16-mixed"),
    ],
)
def test_auto_precision_follows_compute_capability(capability, expected):
    assert resolve_precision("auto", "cuda", capability) == expected


def test_explicit_precision_checks():
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("bf16-mixed", "cpu") == "bf16-mixed"
    assert resolve_precision("fp16-mixed", "cuda", (7, 5)) == "fp16-mixed"
    with pytest.raises(ValueError, match=r"'bf16-mixed' would be emulated .* \(7, 5\)"):
        resolve_precision("bf16-mixed", "cuda", (7, 5))
    with pytest.raises(ValueError, match="needs a CUDA device"):
        resolve_precision("fp16-mixed", "cpu")


def test_mfu_needs_a_known_peak_and_is_below_one():
    assert model_flops_utilization(1000.0, 10**6, 1e10) == pytest.approx(0.1)
    assert model_flops_utilization(1000.0, 10**6, None) is None
    assert model_flops_utilization(0.0, 10**6, 1e10) is None
    assert model_flops_utilization(1000.0, 10**7, 1e9) is None  # 10x the "peak": the peak is wrong


def test_cpu_peak_is_an_isa_bound():
    cpuinfo = "processor : 0\ncpu MHz\t\t: 2445.404\nflags\t\t: fpu sse sse2 avx fma avx2\n"
    assert cpu_theoretical_peak_flops(cpuinfo, None, threads=2) == pytest.approx(2 * 2445.404e6 * 1.5 * 32)
    assert cpu_theoretical_peak_flops(cpuinfo, 3_500_000, threads=1) == pytest.approx(3.5e9 * 32)
    assert cpu_theoretical_peak_flops("flags : avx512f avx2 fma\ncpu MHz : 1000\n", 1_000_000, 1) == pytest.approx(64e9)
    assert cpu_theoretical_peak_flops("flags : sse2\ncpu MHz : 1000\n", 1_000_000, 1) == pytest.approx(8e9)
    assert cpu_theoretical_peak_flops("", None, 2) is None
    assert cpu_peak_flops() > 1e9  # this machine: the larger of its ISA bound and a measured matmul


def _state(step: int, max_steps: int = 100) -> TrainerState:
    state = TrainerState()
    state.global_step, state.max_steps = step, max_steps
    return state


ARGS = TrainingArguments(output_dir="/tmp/unused", logging_steps=1, report_to="none", use_cpu=True)
CONTROL = TrainerControl()


def test_nan_guard_stops_at_once_outside_fp16():
    guard = NonFiniteLossGuard()
    guard.on_log(ARGS, _state(1), CONTROL, logs={"loss": 2.0, "grad_norm": 1.0})
    with pytest.raises(NonFiniteLossError, match="training grad_norm became inf at step 2"):
        guard.on_log(ARGS, _state(2), CONTROL, logs={"loss": 2.0, "grad_norm": math.inf})


def test_nan_guard_tolerates_scaler_skipped_steps_under_fp16():
    guard = NonFiniteLossGuard(FP16_NONFINITE_TOLERANCE)
    step = 0
    for _ in range(3):  # the GradScaler's usual overflow steps, each followed by a good one
        for _ in range(FP16_NONFINITE_TOLERANCE - 1):
            step += 1
            guard.on_log(ARGS, _state(step), CONTROL, logs={"loss": 3.0, "grad_norm": math.inf})
        step += 1
        guard.on_log(ARGS, _state(step), CONTROL, logs={"loss": 3.0, "grad_norm": 0.5})
        assert guard.streak == 0
    for _ in range(FP16_NONFINITE_TOLERANCE - 1):
        step += 1
        guard.on_log(ARGS, _state(step), CONTROL, logs={"loss": math.nan})
    with pytest.raises(NonFiniteLossError, match=f"{FP16_NONFINITE_TOLERANCE} log entries in a row"):
        guard.on_log(ARGS, _state(step + 1), CONTROL, logs={"loss": math.nan})


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.syncs = 0

    def __call__(self) -> float:
        return self.now

    def sync(self) -> None:
        self.syncs += 1


def test_throughput_excludes_warm_up_eval_and_save_and_synchronizes_per_window():
    clock = FakeClock()
    throughput = ThroughputCallback(1000, 10**6, 1e10, world_size=1, synchronize=clock.sync, clock=clock)
    throughput.on_train_begin(ARGS, _state(0), CONTROL)
    clock.now = 30.0  # the first window: compilation and CUDA warm-up, 10 steps in 30 s
    logs = {"loss": 1.2}
    throughput.on_log(ARGS, _state(10), CONTROL, logs=logs)
    assert "tokens_per_second" not in logs and "mfu" not in logs and throughput.overall() == {}
    clock.now = 32.0  # 10 steps in 2 s
    logs = {"loss": 1.0}
    throughput.on_log(ARGS, _state(20), CONTROL, logs=logs)
    assert logs["tokens_per_second"] == pytest.approx(5000) and logs["mfu"] == pytest.approx(0.5)
    clock.now = 60.0  # a 28 s evaluation, then a 5 s save: neither counts
    throughput.on_log(ARGS, _state(20), CONTROL, logs={"eval_loss": 1.5})
    throughput.on_evaluate(ARGS, _state(20), CONTROL)
    clock.now = 65.0
    throughput.on_save(ARGS, _state(20), CONTROL)
    clock.now = 69.0  # 10 more steps in 4 s
    logs = {"loss": 0.9}
    throughput.on_log(ARGS, _state(30), CONTROL, logs=logs)
    assert logs["tokens_per_second"] == pytest.approx(2500)
    overall = throughput.overall()  # 20 steps in 6 s: the 30 s warm-up window is not in it
    assert overall["tokens_per_second"] == pytest.approx(20 * 1000 / 6) and overall["mfu"] == pytest.approx(1 / 3)
    assert clock.syncs == 9  # at window boundaries (begin, 3 logs x2, eval, save), never per step
    # A resumed run warms up again (new process: compilation and CUDA start over).
    throughput.on_train_begin(ARGS, _state(30), CONTROL)
    clock.now = 100.0
    logs = {"loss": 0.8}
    throughput.on_log(ARGS, _state(40), CONTROL, logs=logs)
    assert "tokens_per_second" not in logs and throughput.total_steps == 20
    unknown = ThroughputCallback(1000, 10**6, None, world_size=1, clock=clock)
    unknown.on_train_begin(ARGS, _state(0), CONTROL)
    for step in (1, 2):
        clock.now += 1
        logs = {"loss": 1.0}
        unknown.on_log(ARGS, _state(step), CONTROL, logs=logs)
    assert "mfu" not in logs and "tokens_per_second" in logs


def test_progress_line_and_eta():
    assert progress_line(120, 400, 2.3141, 2.45, 5120.4, 192) == (
        "step 120/400 (30%)  loss 2.314  val 2.450  5,120 tok/s  ETA 3m12s"
    )
    assert progress_line(1, 10, 5.0, None, None, None) == "step 1/10 (10%)  loss 5.000  val –  – tok/s  ETA –"
    lines, clock = [], FakeClock()
    progress = ProgressCallback(lines.append, clock=clock)
    progress.on_train_begin(ARGS, _state(50, 150), CONTROL)  # resumed at step 50
    progress.on_log(ARGS, _state(50, 150), CONTROL, logs={"eval_loss": 3.0})
    clock.now = 10.0
    progress.on_log(ARGS, _state(60, 150), CONTROL, logs={"loss": 2.5, "tokens_per_second": 900.0})
    assert lines == ["step 60/150 (40%)  loss 2.500  val 3.000  900 tok/s  ETA 1m30s"]


def _checkpoint(root: Path, step: int, complete: bool = True) -> Path:
    path = root / f"checkpoint-{step}"
    path.mkdir(parents=True)
    for name in ("model.safetensors", "optimizer.pt", "scheduler.pt"):
        (path / name).write_bytes(b"x")
    if complete:
        (path / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return path


def test_a_torn_checkpoint_is_skipped_and_removed(tmp_path):
    assert last_complete_checkpoint(tmp_path / "missing") is None
    good = _checkpoint(tmp_path, 20)
    _checkpoint(tmp_path, 100)
    torn = _checkpoint(tmp_path, 30, complete=False)  # killed before trainer_state.json
    (tmp_path / "checkpoint-100" / "optimizer.pt").unlink()  # killed while writing the optimizer
    assert last_complete_checkpoint(tmp_path) == good
    assert torn.exists()  # other ranks only look
    assert last_complete_checkpoint(tmp_path, remove_torn=True) == good
    assert not torn.exists() and not (tmp_path / "checkpoint-100").exists()
    (good / "trainer_state.json").write_text("{trunc")
    assert last_complete_checkpoint(tmp_path) is None


@contextlib.contextmanager
def _trainer_holding(run_dir: Path):
    """Another process that holds ``run_dir``'s lock for the duration of the block (yields its pid)."""
    holder = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from pipeline.train.run_dir import RunLock
        with RunLock(Path({str(run_dir)!r})):
            print("locked", flush=True)
            sys.stdin.readline()
        """
    )
    other = subprocess.Popen(
        [sys.executable, "-c", holder], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert other.stdout.readline().strip() == "locked"
        yield other.pid
    finally:
        other.communicate("\n", timeout=60)


def test_the_run_lock_keeps_a_second_trainer_out(tmp_path):
    with _trainer_holding(tmp_path) as pid:
        with pytest.raises(RunDirectoryBusy, match=rf"another trainer \(pid {pid}\)"):
            with RunLock(tmp_path):
                pass
    with RunLock(tmp_path):  # released when its holder exits
        pass


def test_old_unfinished_run_directories_are_pruned_but_never_one_in_use(tmp_path):
    runs = []
    for age, name in enumerate(["newest", "second", "third", "oldest_busy", "oldest"]):
        run_dir = tmp_path / name
        (run_dir / "checkpoints" / "checkpoint-20").mkdir(parents=True)
        (run_dir / "settings.json").write_text("{}")
        os.utime(run_dir / "settings.json", (1_000_000 - age * 100, 1_000_000 - age * 100))
        runs.append(run_dir)
    with _trainer_holding(runs[3]):
        assert prune_run_dirs(tmp_path, keep=2) == [runs[2], runs[4]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newest", "oldest_busy", "second"]
    assert (runs[3] / "checkpoints" / "checkpoint-20").is_dir()  # a live trainer's files are untouched
    assert prune_run_dirs(tmp_path / "missing", keep=2) == []
