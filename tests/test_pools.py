"""Only the GPU pool is limited (to one training at a time); everything else may run in parallel."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml

from assets.definitions import defs
from resources.pools import GPU_POOL, GPU_POOL_LIMIT, ensure_pool_limits, release_abandoned_runs
from tests.waits import STARTUP_S

REPO = Path(__file__).resolve().parents[1]


def _instance_from_repo_config(home: Path) -> dg.DagsterInstance:
    """The project's dagster.yaml, with its storage moved into the test's directory."""
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    config["storage"] = {"sqlite": {"base_dir": str(home / "storage")}}
    for key in ("local_artifact_storage", "compute_logs"):
        config[key]["config"]["base_dir"] = str(home / key)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return dg.DagsterInstance.from_config(str(home))


def test_the_gpu_pool_admits_one_step_and_no_other_pool_is_limited(tmp_path):
    with _instance_from_repo_config(tmp_path) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit is None
        ensure_pool_limits(instance)
        assert instance.event_log_storage.get_concurrency_info(GPU_POOL).slot_count == GPU_POOL_LIMIT == 1
        assert instance.event_log_storage.get_concurrency_keys() == {GPU_POOL}
        # A limit an operator set by hand (e.g. two GPUs) is left alone.
        instance.event_log_storage.set_concurrency_slots(GPU_POOL, 2)
        ensure_pool_limits(instance)
        assert instance.event_log_storage.get_concurrency_info(GPU_POOL).slot_count == 2


def test_only_the_training_assets_use_a_pool():
    # The pool is set on the op that materializes an asset.
    pools = {
        key.to_user_string(): assets_def.op.pool
        for assets_def in defs.assets
        if isinstance(assets_def, dg.AssetsDefinition)
        for key in assets_def.keys
    }
    assert {name for name, pool in pools.items() if pool} == {"base_checkpoint", "instruct_checkpoint"}
    assert {pools["base_checkpoint"], pools["instruct_checkpoint"]} == {GPU_POOL}


# A run executed in-process by a `mpyforge run`-like process; it holds the gpu slot until killed.
_HOLDER = """
import sys, time
import dagster as dg
from resources.pools import GPU_POOL, ensure_pool_limits, process_tags

@dg.asset(pool=GPU_POOL)
def training() -> None:
    print("HOLDING", flush=True)
    time.sleep(600)

with dg.DagsterInstance.from_config(sys.argv[1]) as instance:
    ensure_pool_limits(instance)
    dg.materialize([training], instance=instance, tags=process_tags())
"""


def test_a_killed_cli_run_gives_its_gpu_slot_back(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    _instance_from_repo_config(home).dispose()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(home)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        try:
            # The slot is claimed before the step body runs, so HOLDING means the slot is taken.
            assert holder.stdout.readline().strip() == "HOLDING"
            # While its process lives, the run is left alone.
            assert release_abandoned_runs(instance) == []
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=STARTUP_S)

        (dead,) = instance.get_runs()
        assert dead.status == dg.DagsterRunStatus.STARTED
        assert instance.event_log_storage.get_concurrency_info(GPU_POOL).claimed_slots
        assert release_abandoned_runs(instance) == [dead.run_id]
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_info(GPU_POOL).claimed_slots
        failure = instance.all_logs(dead.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        assert "ended without finishing it" in failure[0].message
        assert release_abandoned_runs(instance) == []  # nothing left to release
