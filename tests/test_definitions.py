"""The code location loads, validates, and materializes with stable data versions."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from assets.client.presets import preset_ops
from assets.client.run_config import resolved_config
from assets.client.staleness import waiting_for_upstream
from assets.definitions import defs
from assets.evaluation import TaskScoresConfig, scoring_settings
from assets.report import ModelReportConfig, report_settings
from assets.sources import SourceFilesConfig
from assets.training import TrainingConfig, checkpoint_settings
from models.presets import scoring_plan, size_plan
from pipeline.evaluate.score import ScoreSettings
from pipeline.sources.files import SOURCE_FILES_FILE
from resources.artifact_store import ArtifactStoreResource

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_definitions_are_loadable():
    dg.Definitions.validate_loadable(defs)


def test_dagster_cli_validates_the_workspace(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    proc = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All code locations passed validation" in proc.stdout + proc.stderr


def _data_version(instance: dg.DagsterInstance, key: str) -> str:
    record = instance.get_latest_materialization_event(dg.AssetKey(key))
    return record.asset_materialization.tags.get("dagster/data_version") if record else None


@pytest.fixture()
def instance(tmp_path):
    with dg.instance_for_test() as inst:
        yield inst


def test_unchanged_inputs_keep_the_data_version(tmp_path, instance):
    resources = {**defs.resources, "artifact_store": ArtifactStoreResource(root=str(tmp_path / "artifacts"))}
    config = dg.RunConfig({"source_files": SourceFilesConfig(source_dir=str(REPO / "data" / "sources"))})
    first = dg.materialize(
        defs.assets, resources=resources, instance=instance, run_config=config, selection=["source_files"]
    )
    version_one = _data_version(instance, "source_files")
    second = dg.materialize(
        defs.assets, resources=resources, instance=instance, run_config=config, selection=["source_files"]
    )
    assert first.success and second.success
    assert version_one and _data_version(instance, "source_files") == version_one
    # A changed input gives a new version.
    changed = tmp_path / "sources"
    changed.mkdir()
    (changed / "extra.py").write_text("print('new')\n")
    config = dg.RunConfig({"source_files": SourceFilesConfig(source_dir=str(changed))})
    dg.materialize(defs.assets, resources=resources, instance=instance, run_config=config, selection=["source_files"])
    assert _data_version(instance, "source_files") != version_one


def test_cli_run_then_artifacts_json(tmp_path):
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "MPYFORGE_ARTIFACT_ROOT": str(tmp_path / "artifacts")}
    run = subprocess.run(
        [str(BIN / "mpyforge"), "run", "--select", "source_files"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[1/1] source_files: ok" in run.stdout
    listing = subprocess.run(
        [str(BIN / "mpyforge"), "artifacts", "--json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    rows = json.loads(listing.stdout)
    assert [r["asset"] for r in rows] == ["source_files"]
    assert Path(rows[0]["path"], SOURCE_FILES_FILE).is_file()


@pytest.mark.parametrize(("asset", "mode"), [("base_checkpoint", "pretrain"), ("instruct_checkpoint", "sft")])
def test_the_tiny_preset_trains_alike_from_the_cli_and_from_a_ui_materialize(asset, mode):
    # The UI's "Materialize" runs the asset's default config (size tiny); `mpyforge run --preset tiny`
    # the preset's run config. Both, completed by Dagster's config system, give the trainer one plan.
    from_ui = checkpoint_settings(TrainingConfig(**resolved_config(defs, asset, {})), mode)
    from_cli = checkpoint_settings(TrainingConfig(**resolved_config(defs, asset, preset_ops("tiny")[asset])), mode)
    assert from_cli == from_ui
    assert {k: getattr(from_ui, k) for k in size_plan("tiny", mode)} == size_plan("tiny", mode)
    # A field the run config sets wins over the plan; another size is planned from the data.
    assert checkpoint_settings(TrainingConfig(**resolved_config(defs, asset, {"lr": 5e-4})), mode).lr == 5e-4
    larger = checkpoint_settings(TrainingConfig(**resolved_config(defs, asset, preset_ops("25m")[asset])), mode)
    assert (larger.size, larger.lr, larger.token_budget, larger.seq_len) == ("25m", None, None, None)


def _scoring(asset: str, ops: dict, size: str) -> ScoreSettings:
    """How ``asset`` scores a model of ``size`` under the run config ``ops``, completed by Dagster."""
    config = resolved_config(defs, asset, ops.get(asset, {}))
    if asset == "task_scores":
        return scoring_settings(TaskScoresConfig(**config), size)
    return report_settings(ModelReportConfig(**config), size).scoring()


@pytest.mark.parametrize("asset", ["task_scores", "model_report"])
def test_a_tiny_model_is_scored_alike_from_the_cli_and_from_a_ui_materialize(asset):
    # The size comes from the model being scored (the instruct checkpoint's preset): a UI "Materialize"
    # of a tiny model scores the demo subset with the demo's answer length, as `mpyforge run --preset tiny`.
    plan = scoring_plan("tiny")
    from_cli, from_ui = _scoring(asset, preset_ops("tiny"), "tiny"), _scoring(asset, {}, "tiny")
    assert from_cli == from_ui
    assert (from_ui.tasks, from_ui.max_new_tokens) == (plan["tasks"], plan["max_new_tokens"]) == ("demo", 128)
    # A field the run config sets wins over the plan; a larger model is scored on the whole suite.
    own = _scoring(asset, {asset: {"tasks": "blink/*"}}, "tiny")
    assert (own.tasks, own.max_new_tokens) == ("blink/*", 128)
    larger = _scoring(asset, preset_ops("25m"), "25m")
    assert (larger.tasks, larger.max_new_tokens) == ("*", 256)


def _copy_source(write) -> dict:
    (write.directory / "y.txt").write_text(write.input("source").file("x.txt").read_text())
    return {}


def test_a_build_that_reads_an_input_its_deps_do_not_name_fails(tmp_path):
    # An asset's deps are the one list of its inputs: lineage, staleness and the report's generation
    # check all read them, so a read they do not name must not pass silently.
    @dg.asset
    def source(context, artifact_store: ArtifactStoreResource):
        return artifact_store.materialize(context, lambda w: (w.directory / "x.txt").write_text("x") and {})

    @dg.asset(deps=[source])
    def declared(context, artifact_store: ArtifactStoreResource):
        return artifact_store.materialize(context, _copy_source)

    @dg.asset
    def undeclared(context, artifact_store: ArtifactStoreResource):
        return artifact_store.materialize(context, _copy_source)

    resources = {"artifact_store": ArtifactStoreResource(root=str(tmp_path / "artifacts"))}
    assets = [source, declared, undeclared]
    with dg.instance_for_test() as instance:
        assert dg.materialize(assets, resources=resources, instance=instance, selection=[source, declared]).success
        failed = dg.materialize(
            assets, resources=resources, instance=instance, selection=[undeclared], raise_on_error=False
        )
    assert not failed.success
    (failure,) = [e for e in failed.all_events if e.is_step_failure]
    assert "undeclared read ['source'], which its deps do not name" in failure.step_failure_data.error.cause.message


def test_a_wave_defers_what_an_unstale_asset_stands_between():
    """New pairs (a new code version) with instruct_checkpoint stale as well: the SFT must wait until
    the tokenizer and shards the pairs make stale are rebuilt, and the report until the GGUFs are; a
    stretch that is stale as a whole is built in one wave."""
    key = dg.AssetKey
    pairs, sft, report = key("instruction_pairs"), key("instruct_checkpoint"), key("model_report")
    assert waiting_for_upstream(defs, {pairs, sft}) == {sft}
    assert waiting_for_upstream(defs, {sft, report}) == {report}
    everything = set(defs.resolve_asset_graph().get_all_asset_keys())
    assert waiting_for_upstream(defs, everything) == set()
    assert waiting_for_upstream(defs, {pairs, key("bpe_tokenizer"), key("token_shards")}) == set()
