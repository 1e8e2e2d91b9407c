"""`mpyforge run`'s ordering and failure rules, on a small code location of real assets."""

import dagster as dg
import pytest

from assets import runner as local_run

variants = dg.StaticPartitionsDefinition(["good", "broken"])


@dg.asset(partitions_def=variants)
def exported(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    if context.partition_key == "broken":
        raise dg.Failure("parity check failed")
    return dg.MaterializeResult(metadata={"path": f"/artifacts/{context.partition_key}"})


@dg.asset(partitions_def=variants, deps=[exported])
def registered(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"status": f"registered {context.partition_key}"})


@dg.asset
def never_built() -> None:
    raise dg.Failure("no input")


@dg.asset(deps=[never_built])
def report() -> None:
    pass


@pytest.fixture()
def small_location(monkeypatch):
    monkeypatch.setattr(local_run, "defs", dg.Definitions(assets=[exported, registered, never_built, report]))
    monkeypatch.setattr(local_run, "sync_pdf_partitions", lambda instance: None)
    monkeypatch.setattr(local_run, "run_config_for_preset", lambda preset, key: dg.RunConfig({}))


def test_failed_partition_skips_the_same_partition_downstream(small_location):
    lines = []
    with dg.instance_for_test() as instance:
        ok = local_run.run_pipeline(selection="exported*", instance=instance, echo=lines.append)
    assert ok is False
    text = "\n".join(lines)
    assert "exported[broken]: FAILED" in text and "parity check failed" in text
    assert "exported[good]: ok" in text and "-> /artifacts/good" in text
    assert "registered[good]: ok" in text and "    registered good" in text
    assert "registered[broken]: skipped (upstream exported[broken] failed)" in text


def test_failed_asset_skips_everything_downstream(small_location):
    lines = []
    with dg.instance_for_test() as instance:
        assert local_run.run_pipeline(selection="never_built*", instance=instance, echo=lines.append) is False
    assert lines[0].startswith("[1/2] never_built: FAILED")
    assert lines[1] == "[2/2] report: skipped (upstream never_built failed)"
