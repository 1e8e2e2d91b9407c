"""Partial re-runs, from PDFs through both checkpoints: a new PDF extracts only itself, unchanged data
keeps downstream fresh, and a changed code_version shows as unsynced (Dagster's stale status, from
the real instance)."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from assets.client.dagster_private import StaleCauseCategory, StaleStatus, stale_status_resolver
from assets.client.presets import preset_ops
from assets.definitions import defs
from assets.inbox import pdf_partitions
from assets.pdf import pdf_documents, pdf_inbox_sensor
from resources.artifact_store import ArtifactStoreResource

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "data" / "pdfs").glob("*.pdf"))
CHAIN = [
    "source_files",
    "corpus",
    "instruction_pairs",
    "bpe_tokenizer",
    "token_shards",
    "base_checkpoint",
    "instruct_checkpoint",
]


def _status(instance, assets, key: str, partition: str | None = None) -> StaleStatus:
    graph = dg.Definitions(assets=assets, resources=defs.resources).resolve_asset_graph()
    resolver = stale_status_resolver(instance, graph)
    return resolver.get_status(dg.AssetKey(key), partition)


def _materializations(instance, partition: str) -> int:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("pdf_documents"), asset_partitions=[partition]), limit=100
    )
    return len(records.records)


class Daemon:
    """What the Dagster daemon does with a sensor tick: apply partition requests, launch runs
    whose run key it has not seen (we launch them in-process)."""

    def __init__(self, instance, resources):
        self.instance, self.resources, self.seen = instance, resources, set()

    def tick(self) -> list[str]:
        result = pdf_inbox_sensor(dg.build_sensor_context(instance=self.instance))
        for request in result.dynamic_partitions_requests:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        launched = []
        for run in result.run_requests:
            if run.run_key not in self.seen:
                self.seen.add(run.run_key)
                launched.append(run.partition_key)
                self.materialize(["pdf_documents"], run.partition_key)
        return launched

    def materialize(self, selection, partition=None):
        (key,) = selection
        result = dg.materialize(
            defs.assets,
            selection=selection,
            partition_key=partition,
            instance=self.instance,
            resources=self.resources,
            run_config={
                "ops": {name: {"config": fields} for name, fields in preset_ops("tiny").items() if name == key}
            },
        )
        assert result.success


def _storage(request) -> dict:
    """Instance storage overrides: Dagster's default (SQLite), or a fresh database on the test server."""
    if request.param == "sqlite":
        return {}
    url = request.getfixturevalue("postgres").create_database()
    return {"storage": {"postgres": {"postgres_url": url}}}


# The same scenario on both run/event-log/schedule storages a deployment can choose.
@pytest.fixture(params=["sqlite", "postgres"])
def daemon(request, tmp_path, monkeypatch):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    monkeypatch.setenv("MPYFORGE_PDF_INBOX", str(inbox))
    monkeypatch.setenv("MPYFORGE_ARTIFACT_ROOT", str(tmp_path / "artifacts"))  # training checkpoints beside it
    resources = {**defs.resources, "artifact_store": ArtifactStoreResource(root=str(tmp_path / "artifacts"))}
    with dg.instance_for_test(overrides=_storage(request)) as instance:
        yield Daemon(instance, resources), inbox


def test_new_pdf_reruns_only_itself_and_unchanged_data_stays_fresh(daemon):
    daemon, inbox = daemon
    instance = daemon.instance
    for sample in SAMPLES[:2]:
        shutil.copy(sample, inbox / sample.name)
    first_two = sorted(daemon.tick())
    assert len(first_two) == 2
    for key in ["python_warmup_files", *CHAIN]:  # the warm-up files (off: empty) read no PDF
        daemon.materialize([key])
    assert _status(instance, defs.assets, "instruct_checkpoint") == StaleStatus.FRESH

    # A third PDF: one new partition, and only that PDF is extracted.
    shutil.copy(SAMPLES[2], inbox / SAMPLES[2].name)
    launched = daemon.tick()
    third = SAMPLES[2].stem
    assert launched == [third]
    assert instance.get_dynamic_partitions(pdf_partitions.name) == sorted([*first_two, third])
    assert [_materializations(instance, k) for k in first_two] == [1, 1]
    assert _materializations(instance, third) == 1
    # Downstream goes stale one step at a time (Dagster's staleness is not transitive): each asset is
    # stale once its parent has a new data version, until it is rebuilt itself.
    for key in CHAIN[1:]:
        assert _status(instance, defs.assets, key) == StaleStatus.STALE, key
        daemon.materialize([key])
    assert _status(instance, defs.assets, "instruct_checkpoint") == StaleStatus.FRESH

    # Re-extracting an unchanged PDF gives the same data version: nothing downstream goes stale.
    daemon.materialize(["pdf_documents"], first_two[0])
    assert _materializations(instance, first_two[0]) == 2
    for key in CHAIN[1:]:
        assert _status(instance, defs.assets, key) == StaleStatus.FRESH, key

    # A new code_version on pdf_documents: its partitions show as unsynced (stale, cause: code).
    bumped = pdf_documents.map_asset_specs(lambda spec: spec.replace_attributes(code_version="2"))
    assets = [bumped if a.key == pdf_documents.key else a for a in defs.assets]
    graph = dg.Definitions(assets=assets, resources=defs.resources).resolve_asset_graph()
    resolver = stale_status_resolver(instance, graph)
    causes = resolver.get_stale_causes(pdf_documents.key, third)
    assert resolver.get_status(pdf_documents.key, third) == StaleStatus.STALE
    assert any(c.category == StaleCauseCategory.CODE for c in causes)
