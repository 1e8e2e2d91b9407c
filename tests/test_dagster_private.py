"""Dagster's private API behind one door (assets/client/dagster_private.py): each name there does
what the client relies on, and no other file reaches into `dagster._`. A Dagster upgrade that moves
or changes one of them fails here, by name."""

from __future__ import annotations

import importlib
import re
import subprocess
from pathlib import Path

import dagster as dg
import pytest
import yaml

from assets.client import dagster_private as door
from assets.definitions import defs

REPO = Path(__file__).resolve().parents[1]
# The door, and this file, which names what it checks.
DOOR = {Path(door.__file__).resolve().relative_to(REPO).as_posix(), Path(__file__).relative_to(REPO).as_posix()}


@dg.asset
def upstream() -> dg.MaterializeResult:
    return dg.MaterializeResult(data_version=dg.DataVersion(upstream_version()))


@dg.asset(deps=[upstream])
def downstream() -> None:
    pass


_VERSION = {"value": "1"}


def upstream_version() -> str:
    return _VERSION["value"]


small_defs = dg.Definitions(assets=[upstream, downstream])
LOCATION = ("tests.test_dagster_private", "small_defs")
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


def _status(instance, key: str):
    resolver = door.stale_status_resolver(instance, small_defs.resolve_asset_graph())
    return resolver.get_status(dg.AssetKey(key), None), resolver.get_stale_causes(dg.AssetKey(key), None)


def test_asset_job_is_the_implicit_asset_job_and_executes_a_selection():
    job = door.asset_job(LOCATION)
    assert isinstance(job, door.ReconstructableJob)
    assert job.get_definition().name == door.IMPLICIT_ASSET_JOB_NAME
    with dg.instance_for_test() as instance:
        result = dg.execute_job(job, instance, run_config=IN_PROCESS, asset_selection=[upstream.key])
        assert result.success and result.asset_materializations_for_node("upstream")


def test_stale_status_resolver_says_missing_fresh_and_stale_with_its_cause():
    with dg.instance_for_test() as instance:
        dg.materialize([upstream, downstream], instance=instance, selection=[upstream])
        assert _status(instance, "downstream")[0] == door.StaleStatus.MISSING
        dg.materialize([upstream, downstream], instance=instance)
        assert _status(instance, "downstream")[0] == door.StaleStatus.FRESH
        _VERSION["value"] = "2"
        try:
            dg.materialize([upstream, downstream], instance=instance, selection=[upstream])
        finally:
            _VERSION["value"] = "1"
        status, causes = _status(instance, "downstream")
    assert status == door.StaleStatus.STALE
    (cause,) = causes
    assert cause.category == door.StaleCauseCategory.DATA and cause.dependency.asset_key == upstream.key
    assert isinstance(cause.reason, str) and cause.reason


def test_instance_ref_is_what_a_worker_opens_the_instance_from():
    with dg.instance_for_test() as instance:
        ref = instance.get_ref()
        assert isinstance(ref, door.InstanceRef)
        with dg.DagsterInstance.from_ref(ref) as again:
            assert again.root_directory == instance.root_directory


def test_process_config_fills_defaults_and_names_a_bad_value():
    config_type = defs.resolve_assets_def(dg.AssetKey("base_checkpoint")).op.config_field.config_type
    result = door.process_config(config_type, {"size": "5m"})
    assert result.success and result.value["size"] == "5m" and result.value["family"] == "llama"
    bad = door.process_config(config_type, {"eval_every": "often"})
    assert not bad.success and "eval_every" in bad.errors[0].message


def test_a_queue_without_a_daemon_is_not_healthy_and_a_submitted_run_waits_in_it(tmp_path):
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        yaml.safe_dump(
            {
                "load_from": [
                    {
                        "python_module": {
                            "module_name": LOCATION[0],
                            "attribute": LOCATION[1],
                            "working_directory": str(REPO),
                        }
                    }
                ]
            }
        )
    )
    queued = {"module": dg.QueuedRunCoordinator.__module__, "class": dg.QueuedRunCoordinator.__name__}
    with dg.instance_for_test(overrides={"run_coordinator": queued}) as instance:
        assert door.daemon_healthy(instance, "QUEUED_RUN_COORDINATOR", 90.0) is False
        context = door.open_workspace(instance, workspace)
        try:
            assert isinstance(context, door.WorkspaceProcessContext)
            request = dg.RunRequest(asset_selection=[upstream.key], run_config=IN_PROCESS, tags={"who": "test"})
            run_id = door.submit_asset_run(instance, context, request)
        finally:
            context.__exit__(None, None, None)
        run = instance.get_run_by_id(run_id)
    assert run.status == dg.DagsterRunStatus.QUEUED and run.tags["who"] == "test"
    assert run.asset_selection == {upstream.key} and run.job_name == door.IMPLICIT_ASSET_JOB_NAME


def _tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True)
    return [REPO / name for name in listed.stdout.splitlines() if (REPO / name).is_file()]


def test_no_file_but_the_door_reaches_into_dagster_private_modules():
    # Python of every room (tests, benchmarks, scripts included); instance YAML names classes by
    # module path, Dagster's documented form, and those modules are checked below instead.
    offenders = []
    for path in _tracked_files():
        if path.suffix != ".py" or path.relative_to(REPO).as_posix() in DOOR:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if re.search(r"\bdagster\._", line) and not re.match(r"\s*module: dagster\._", line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def _instance_config_classes() -> set[tuple[str, str]]:
    """(module, class) pairs that instance YAML in the repository names by a private module path."""
    pairs = set()
    for path in _tracked_files():
        if path.suffix not in (".py", ".yaml", ".yml"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        pairs |= set(re.findall(r"module: (dagster\._[\w.]+)\s+class: (\w+)", text))
    return pairs


def test_instance_config_names_classes_that_exist():
    pairs = _instance_config_classes()
    assert ("dagster._core.storage.root", "LocalArtifactStorage") in pairs  # dagster.yaml
    for module, name in sorted(pairs):
        assert hasattr(importlib.import_module(module), name), f"{module}.{name}"


@pytest.mark.parametrize("name", door.__all__)
def test_every_exported_name_exists(name):
    assert getattr(door, name) is not None
