"""Only the GPU pool is limited (to one training at a time); everything else may run in parallel."""

from pathlib import Path

import dagster as dg
import yaml

from assets.definitions import defs
from resources.pools import GPU_POOL, GPU_POOL_LIMIT, ensure_pool_limits

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
