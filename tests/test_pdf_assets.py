"""PDF partitions in Dagster: the inbox sensor, failing partitions, and the corpus over them."""

import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.definitions import defs
from assets.inbox import pdf_partitions, sync_pdf_partitions
from assets.pdf import pdf_inbox_sensor
from pipeline.corpus.build import CORPUS_FILE
from pipeline.pdf.inbox import partition_key
from resources.artifact_store import ArtifactStoreResource

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "data" / "pdfs").glob("*.pdf"))


@pytest.fixture()
def instance():
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture()
def inbox(tmp_path, monkeypatch):
    path = tmp_path / "inbox"
    path.mkdir()
    monkeypatch.setenv("MPYFORGE_PDF_INBOX", str(path))
    return path


def _tick(instance):
    result = pdf_inbox_sensor(dg.build_sensor_context(instance=instance))
    for request in result.dynamic_partitions_requests:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
    return result


def test_sensor_adds_reruns_changed_and_removes_deleted(instance, inbox):
    shutil.copy(SAMPLES[0], inbox / "First Book.pdf")
    first = _tick(instance)
    (add,) = first.dynamic_partitions_requests
    first_key = partition_key("First Book.pdf")
    assert list(add.partition_keys) == [first_key]
    assert [r.partition_key for r in first.run_requests] == [first_key]
    unchanged_key = first.run_requests[0].run_key

    # A second PDF arrives: one new partition; the first one's run key is unchanged (no re-run).
    shutil.copy(SAMPLES[1], inbox / "second.pdf")
    second = _tick(instance)
    assert [list(r.partition_keys) for r in second.dynamic_partitions_requests] == [["second"]]
    keys = {r.partition_key: r.run_key for r in second.run_requests}
    assert keys[first_key] == unchanged_key

    # The first PDF changes: same partition, new run key (the content hash), so it runs again.
    shutil.copy(SAMPLES[2], inbox / "First Book.pdf")
    third = _tick(instance)
    assert third.dynamic_partitions_requests == []
    assert {r.partition_key: r.run_key for r in third.run_requests}[first_key] != unchanged_key

    # The second PDF is deleted: its partition is removed.
    (inbox / "second.pdf").unlink()
    fourth = _tick(instance)
    (delete,) = fourth.dynamic_partitions_requests
    assert isinstance(delete, dg.DeleteDynamicPartitionsRequest) and list(delete.partition_keys) == ["second"]
    assert instance.get_dynamic_partitions(pdf_partitions.name) == [first_key]


def test_bad_pdf_fails_its_partition_only(instance, inbox, tmp_path):
    for sample in SAMPLES[:2]:
        shutil.copy(sample, inbox / sample.name)
    (inbox / "broken.pdf").write_bytes(SAMPLES[0].read_bytes()[:2000])  # truncated
    sync_pdf_partitions(instance)
    resources = {**defs.resources, "artifact_store": ArtifactStoreResource(root=str(tmp_path / "artifacts"))}
    outcomes = {}
    for key in instance.get_dynamic_partitions(pdf_partitions.name):
        result = dg.materialize(
            defs.assets,
            selection=["pdf_documents"],
            partition_key=key,
            instance=instance,
            resources=resources,
            raise_on_error=False,
        )
        outcomes[key] = result
    assert outcomes["broken"].success is False
    failure = next(e for e in outcomes["broken"].all_events if e.is_step_failure)
    message = failure.step_failure_data.user_failure_data.description
    assert "broken.pdf" in message and "truncated" in message, message
    assert all(outcomes[Path(s).stem].success for s in SAMPLES[:2])

    for key in ("source_files", "corpus"):
        assert dg.materialize(defs.assets, selection=[key], instance=instance, resources=resources).success
    store = resources["artifact_store"].store()
    corpus = pd.read_parquet(store.current("corpus").file(CORPUS_FILE))
    assert {f"pdf:{Path(s).stem}" for s in SAMPLES[:2]} <= set(corpus.source)
    assert "pdf:broken" not in set(corpus.source)
    assert [f["partition"] for f in store.current("corpus").manifest["metadata"]["failed_pdfs"]] == ["broken"]

    # A PDF leaves the inbox: the next corpus build drops its text and removes its artifacts.
    gone = Path(SAMPLES[0]).stem
    (inbox / SAMPLES[0].name).unlink()
    sync_pdf_partitions(instance)
    assert dg.materialize(defs.assets, selection=["corpus"], instance=instance, resources=resources).success
    assert f"pdf:{gone}" not in set(pd.read_parquet(store.current("corpus").file(CORPUS_FILE)).source)
    assert not (store.root / "pdf_documents" / gone).exists()
    assert Path(SAMPLES[1]).stem in store.partitions("pdf_documents")

    # The inbox empties (unmounted?): the corpus refuses to delete every extraction unless told to.
    for pdf in inbox.iterdir():
        pdf.unlink()
    sync_pdf_partitions(instance)
    assert dg.materialize(defs.assets, selection=["corpus"], instance=instance, resources=resources).success
    assert Path(SAMPLES[1]).stem in store.partitions("pdf_documents")
    told = {"ops": {"corpus": {"config": {"remove_all_pdfs": True}}}}
    assert dg.materialize(
        defs.assets, selection=["corpus"], instance=instance, resources=resources, run_config=told
    ).success
    assert store.partitions("pdf_documents") == []
