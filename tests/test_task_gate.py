"""The registration gate on a real Dagster instance: a GGUF variant that passes fewer tasks than the model
Ollama serves (the protocol-faithful stand-in) is quarantined with its figures; `force` registers it.
And what task_scores scores when its config is left at the defaults."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from assets.evaluation import TaskScoresConfig, task_scores
from assets.export import OllamaModelConfig, ollama_model
from pipeline.common.artifacts import ArtifactStore
from pipeline.evaluate.tasks import DEMO_TASK_IDS
from pipeline.gguf.writer import write_gguf
from pipeline.serve.client import OllamaClient, file_digest
from pipeline.serve.task_gate import hold_back_reason, served_digest, task_figures
from pipeline.train.outputs import PRESET_FILE
from resources.artifact_store import ArtifactStoreResource
from resources.ollama import OllamaResource
from scripts.ollama_standin import running_standin
from tests.answer_models import train_answering_model
from tests.tiny_models import build_tiny_llama

VARIANT = "f16"
TAG = f"mpyforge-micropython:llama-tiny-{VARIANT}"


@pytest.fixture(scope="module")
def task():
    from pipeline.evaluate.tasks import select_tasks

    return select_tasks("blink/pico/*")[0]


@pytest.fixture(scope="module")
def random_gguf(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("random")
    model = build_tiny_llama(root / "model", hidden=64, layers=1, heads=2, kv_heads=1, intermediate=256, context=512)
    return Path(write_gguf(model, root / "random.gguf", dtype="f16")["path"])


@pytest.fixture(scope="module")
def ggufs(tmp_path_factory, task, random_gguf) -> dict[str, Path]:
    """A variant that answers the task with its reference, and one with random weights."""
    root = tmp_path_factory.mktemp("gate")
    good = train_answering_model(root / "good", [(task.prompt, task.reference)])
    return {"good": Path(write_gguf(good, root / "good.gguf", dtype="f16")["path"]), "bad": random_gguf}


def _publish(store: ArtifactStore, asset: str, partition: str | None, files: dict[str, bytes], metadata: dict):
    """An upstream artifact as its stage would leave it."""
    write = store.begin(asset, partition)
    for name, data in files.items():
        (write.directory / name).write_bytes(data)
    return write.commit(run_id=None, code_version=None, extra={"metadata": metadata})


def _instruct_checkpoint(store: ArtifactStore, size: str) -> None:
    """The model the variants are exported from, as far as the export assets read it: its preset."""
    preset = {"family": "llama", "size": size}
    _publish(
        store, "instruct_checkpoint", None, {PRESET_FILE: json.dumps(preset).encode()}, {"preset": f"llama-{size}"}
    )


def _export(instance, store_root: Path, ollama_url: str, task_id: str, force: bool = False):
    return dg.materialize(
        [task_scores, ollama_model],
        partition_key=VARIANT,
        instance=instance,
        resources={
            "artifact_store": ArtifactStoreResource(root=str(store_root)),
            "ollama": OllamaResource(host=ollama_url),
        },
        run_config=dg.RunConfig(
            {
                "task_scores": TaskScoresConfig(tasks=task_id, samples=0, max_new_tokens=160),
                "ollama_model": OllamaModelConfig(num_predict=4, force=force),
            }
        ),
        raise_on_error=False,
    )


def test_a_worse_variant_is_quarantined_and_force_registers_it(tmp_path, ggufs, task):
    root = tmp_path / "artifacts"
    store = ArtifactStore(root)
    _instruct_checkpoint(store, "tiny")
    with running_standin(tmp_path / "ollama") as server, dg.instance_for_test() as instance:
        client = OllamaClient(server.url)
        # The variant that passes its task is registered (nothing served under the tag yet).
        _publish(store, "gguf_models", VARIANT, {f"model-{VARIANT}.gguf": ggufs["good"].read_bytes()}, {})
        first = _export(instance, root, server.url, task.task_id)
        assert first.success
        assert served_digest(client, TAG) == file_digest(ggufs["good"])
        registered = store.current("ollama_model", VARIANT)

        # A retrained variant that passes nothing: held back, quarantined with the figures.
        _publish(store, "gguf_models", VARIANT, {f"model-{VARIANT}.gguf": ggufs["bad"].read_bytes()}, {})
        worse = _export(instance, root, server.url, task.task_id)
        assert not worse.success
        assert served_digest(client, TAG) == file_digest(ggufs["good"])  # Ollama still serves the good one
        assert store.current("ollama_model", VARIANT).version == registered.version
        (held,) = store.quarantined("ollama_model", VARIANT)
        assert "passes 0 of 1 tasks" in held["reason"] and "passes 1" in held["reason"]
        (check,) = worse.get_asset_check_evaluations()
        assert check.check_name == "task_score_gate" and not check.passed
        assert check.metadata["tasks_passed"].value == 0 and check.metadata["tasks"].value == 1

        # The user insists: force registers it.
        forced = _export(instance, root, server.url, task.task_id, force=True)
        assert forced.success
        assert served_digest(client, TAG) == file_digest(ggufs["bad"])
        record = store.current("ollama_model", VARIANT).manifest["metadata"]
        assert record["registered"] and record["forced"] and record["task_figures"]["passed"] == []


def test_the_gate_compares_only_the_tasks_both_ran():
    registered = {"tasks": ["a", "b", "c"], "passed": ["a", "b"]}
    assert hold_back_reason({"tasks": ["a", "b", "c"], "passed": ["a"]}, registered).startswith("passes 1 of 3")
    assert hold_back_reason({"tasks": ["a", "b", "c"], "passed": ["b", "c"]}, registered) is None
    assert hold_back_reason({"tasks": ["a", "d"], "passed": ["a"]}, registered) is None  # 1 of 1 vs 1 of 1
    assert hold_back_reason({"tasks": ["x"], "passed": []}, registered) is None  # nothing in common
    assert hold_back_reason({"tasks": ["a"], "passed": []}, None) is None  # nothing recorded


def test_a_tiny_model_left_at_the_default_config_is_scored_on_the_demo_subset(tmp_path, random_gguf):
    # A UI "Materialize" sets no run config: the size the instruct checkpoint records picks the scoring plan.
    root = tmp_path / "artifacts"
    store = ArtifactStore(root)
    _instruct_checkpoint(store, "tiny")
    _publish(store, "gguf_models", VARIANT, {f"model-{VARIANT}.gguf": random_gguf.read_bytes()}, {})
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [task_scores],
            partition_key=VARIANT,
            instance=instance,
            resources={"artifact_store": ArtifactStoreResource(root=str(root))},
            run_config=dg.RunConfig({"task_scores": TaskScoresConfig(samples=0)}),  # greedy answers only: quick
        )
    assert result.success
    assert task_figures(store.current("task_scores", VARIANT).path)["tasks"] == sorted(DEMO_TASK_IDS)
