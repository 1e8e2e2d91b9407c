"""Children that outlive their parents (issue 24, item 7): the trainer, a reused pid, the PDF worker."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg

from pipeline.common.store_locks import process_token, token_alive
from pipeline.train.run_dir import RunDirectoryBusy, RunLock
from resources.pools import RUN_HOST_TAG, RUN_PID_TAG, RUN_PROCESS_TAG, release_abandoned_runs

REPO = Path(__file__).resolve().parents[1]

# The Dagster step: launches a "trainer" that takes the run directory's lock, then waits.
STEP = textwrap.dedent("""
    import os, subprocess, sys, time
    sys.path.insert(0, {repo!r})
    from pipeline.train.run_dir import launcher_env
    trainer = (
        "import sys, time; sys.path.insert(0, {repo!r}); from pipeline.train.run_dir import RunLock; "
        "lock = RunLock({run_dir!r}).__enter__(); print('locked', flush=True); time.sleep(600)"
    )
    child = subprocess.Popen([sys.executable, "-c", trainer], env={{**os.environ, **launcher_env()}})
    print(child.pid, flush=True)
    time.sleep(600)
""")


def _wait_for(predicate, timeout_s: float = 60) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _lock_free(run_dir: Path) -> bool:
    try:
        with RunLock(run_dir):
            return True
    except RunDirectoryBusy:
        return False


def test_a_trainer_whose_step_was_killed_gives_up_its_lock(tmp_path):
    run_dir = tmp_path / "run"
    step = subprocess.Popen(
        [sys.executable, "-c", STEP.format(repo=str(REPO), run_dir=str(run_dir))], stdout=subprocess.PIPE, text=True
    )
    trainer_pid = int(step.stdout.readline())
    assert _wait_for(lambda: not _lock_free(run_dir)), "the trainer never took the lock"
    step.send_signal(signal.SIGKILL)  # the step alone, as an OOM kill or a lost pod would
    step.wait()
    try:
        assert _wait_for(lambda: _lock_free(run_dir)), "the orphaned trainer still holds trainer.lock"
    finally:
        try:
            os.kill(trainer_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_trainer_past_its_deadline_stops(tmp_path):
    trainer = (
        f"import sys, time; sys.path.insert(0, {str(REPO)!r}); from pipeline.train.run_dir import RunLock; "
        f"RunLock({str(tmp_path)!r}).__enter__(); time.sleep(600)"
    )
    env = {**os.environ, "MPYFORGE_TRAIN_DEADLINE": str(time.time() + 1)}
    done = subprocess.run([sys.executable, "-c", trainer], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3 and "ran past its deadline" in done.stderr


def test_a_reused_pid_does_not_keep_an_abandoned_run_alive():
    # A run recorded before a reboot: its pid now belongs to a live process (this one), but the
    # boot and start time differ.
    me = process_token(os.getpid())
    assert token_alive(me)
    pid, _, started = me.split(":")
    before_reboot = f"{pid}:00000000-0000-0000-0000-000000000000:{started}"
    assert not token_alive(before_reboot)
    tags = {RUN_HOST_TAG: socket.gethostname(), RUN_PID_TAG: pid}
    with dg.instance_for_test() as instance:
        live, stale = (
            instance.add_run(
                dg.DagsterRun(job_name="j", status=dg.DagsterRunStatus.STARTED, tags={**tags, RUN_PROCESS_TAG: token})
            )
            for token in (me, before_reboot)
        )
        assert release_abandoned_runs(instance) == [stale.run_id]
        assert instance.get_run_by_id(live.run_id).status == dg.DagsterRunStatus.STARTED
