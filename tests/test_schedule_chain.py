"""A scheduled re-train travels all the way: schedule tick -> `retrain` (the job's own executor) ->
automation builds the GGUF variants -> the verified ones are registered in Ollama and reported."""

from __future__ import annotations

import datetime

import dagster as dg
import pytest

from assets.client.presets import preset_ops
from assets.definitions import defs
from assets.inbox import sync_pdf_partitions
from assets.jobs import weekly_retrain
from pipeline.gguf.export import published_variants
from resources.artifact_store import ArtifactStoreResource
from resources.ollama import OllamaResource
from scripts.ollama_standin import running_standin


def retrain_job() -> dg.JobDefinition:
    """Module-level, so each step's process can rebuild the job (`tests.` is how it imports this file)."""
    return defs.resolve_job_def("retrain")


def _tiny_run_config(names: set[str]) -> dict:
    """`--preset tiny` (what `make demo` runs) for the assets ``names``."""
    return {"ops": {name: {"config": fields} for name, fields in preset_ops("tiny").items() if name in names}}


def _build_data(instance: dg.DagsterInstance, resources: dict) -> None:
    """What the PDF sensor and the eager data assets would have built before the cron tick."""
    everything = [*defs.assets, *defs.asset_checks]
    sync_pdf_partitions(instance)
    for pdf in instance.get_dynamic_partitions("pdfs"):
        assert dg.materialize(
            everything, selection=["pdf_documents"], partition_key=pdf, instance=instance, resources=resources
        ).success
    data = ["source_files", "corpus", "instruction_pairs"]
    assert dg.materialize(everything, selection=data, instance=instance, resources=resources).success


@pytest.mark.slow
def test_scheduled_retrain_ends_registered_in_ollama_with_a_report(tmp_path, monkeypatch):
    with running_standin(tmp_path / "ollama") as ollama_server:
        # The schedule's run executes in fresh step processes: they read the store and Ollama from the env.
        monkeypatch.setenv("MPYFORGE_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
        monkeypatch.setenv("OLLAMA_HOST", ollama_server.url)
        resources = {
            **defs.resources,
            "artifact_store": ArtifactStoreResource(root=str(tmp_path / "artifacts")),
            "ollama": OllamaResource(host=ollama_server.url),
        }
        (tmp_path / "dagster").mkdir()
        with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
            _build_data(instance, resources)
            # The automation sensor has been on all along (it evaluates every 30 s): its first look,
            # before any model exists, requests nothing (eager only acts on what changes after it).
            cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor

            # The cron tick: one run of `retrain`, nothing else (one trigger per cron).
            tick = dg.build_schedule_context(
                instance=instance, scheduled_execution_time=datetime.datetime(2026, 12, 6, 3, 0)
            )
            (request,) = weekly_retrain.evaluate_tick(tick).run_requests
            assert not request.run_config  # the schedule trains with the assets' defaults ...
            trained = {"python_warmup_files", "bpe_tokenizer", "token_shards", "base_checkpoint", "instruct_checkpoint"}
            run_config = _tiny_run_config(trained)  # ... which here are CPU-sized
            with dg.execute_job(
                dg.build_reconstructable_job("tests.test_schedule_chain", "retrain_job"),
                instance=instance,
                run_config=run_config,
                tags=request.tags,
            ) as retrained:
                assert retrained.success
                built = {e.asset_key.to_user_string() for e in retrained.all_events if e.is_step_materialization}
            assert built == trained

            # The automation sensor's evaluations, each followed by the runs it requests.
            requested_rounds = []
            for _ in range(4):
                evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
                cursor = evaluation.cursor
                wanted = {
                    key.to_user_string(): sorted(p for p in evaluation.get_requested_partitions(key) if p)
                    for key in defs.resolve_asset_graph().toposorted_asset_keys  # a round may chain assets
                    if evaluation.get_num_requested(key)
                }
                if not wanted:
                    break
                requested_rounds.append(wanted)
                for name, partitions in wanted.items():
                    # The sensor's runs take the assets' defaults: for a tiny model, the demo's task subset.
                    for partition in partitions or [None]:
                        result = dg.materialize(
                            [*defs.assets, *defs.asset_checks],
                            selection=[name],
                            partition_key=partition,
                            instance=instance,
                            resources=resources,
                            raise_on_error=False,
                        )
                        assert result.success, f"{name}[{partition}] failed"

        variants = sorted(published_variants())
        # Eager automation requests a variant's scoring and its registration together (one round,
        # run in graph order); the report waits for every variant's scores.
        assert requested_rounds == [
            {"gguf_models": variants},
            {"task_scores": variants, "ollama_model": variants},
            {"model_report": []},
        ], requested_rounds
        registered = {model["name"] for model in ollama_server.store.tags()["models"]}
        assert {f"mpyforge-micropython:llama-tiny-{v}" for v in variants} <= registered, registered
    report = (tmp_path / "artifacts" / "model_report").glob("*/report.md")
    assert any("q4_k_m" in path.read_text() for path in report)


def test_training_has_one_trigger_per_cron():
    """The schedule starts training; no automation condition on the checkpoints fires on the same cron."""
    graph = defs.resolve_asset_graph()
    for name in ("base_checkpoint", "instruct_checkpoint"):
        assert graph.get(dg.AssetKey(name)).automation_condition is None, name
    assert weekly_retrain.job_name == "retrain"
    retrain_assets = {key.to_user_string() for key in defs.resolve_job_def("retrain").asset_layer.executable_asset_keys}
    assert "model_report" not in retrain_assets and "gguf_models" not in retrain_assets
