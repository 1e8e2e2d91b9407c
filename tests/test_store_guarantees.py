"""The store's guarantees under concurrency and faults (issue 24): nothing lost, nothing wedged.

Every race here runs with a second real process on the real store, the way two Dagster runs
(or two hosts) meet: the other process is a `python -c` child driven through stdin/stdout.
"""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipeline.common.artifacts import CURRENT, MANIFEST, ArtifactStore, PruneRefused
from pipeline.common.store_locks import slot_lock

REPO = Path(__file__).resolve().parents[1]

# A second writer: begins a write, fills it, says "ready", commits on "go", says the result.
WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    from pipeline.common.artifacts import ArtifactStore
    store = ArtifactStore({root!r}, keep_versions={keep})
    write = store.begin({asset!r}, {partition!r})
    (write.directory / "data.txt").write_text({text!r})
    print("ready", write.directory, flush=True)
    sys.stdin.readline()
    print("committed", write.commit("run-other", "1").version, flush=True)
""")


def _writer(root: Path, asset: str, partition: str | None, text: str, keep: int = 3) -> subprocess.Popen:
    script = WRITER.format(repo=str(REPO), root=str(root), keep=keep, asset=asset, partition=partition, text=text)
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline().split()
    assert line[0] == "ready", line
    child.tmp = Path(line[1])
    return child


def _go(child: subprocess.Popen) -> str:
    child.stdin.write("go\n")
    child.stdin.flush()
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0, out
    return out.split()[-1]


def _write(store: ArtifactStore, asset: str, text: str, partition: str | None = None, **commit):
    write = store.begin(asset, partition)
    (write.directory / "data.txt").write_text(text)
    return write.commit(commit.pop("run_id", "run-1"), "1", **commit)


# 1. Partition removal never touches a live write and never prunes a whole store unasked.
def test_removing_partitions_spares_a_write_in_progress_in_another_process(tmp_path):
    store = ArtifactStore(tmp_path)
    _write(store, "pdf_documents", "old", "old")
    _write(store, "pdf_documents", "gone", "gone")
    other = _writer(tmp_path, "pdf_documents", "new", "a PDF the sensor just added")
    assert store.remove_partitions("pdf_documents", keep={"old"}) == ["gone"]
    version = _go(other)  # the old store deleted its temp directory: "wrote no files"
    assert store.current("pdf_documents", "new").version == version
    assert store.partitions("pdf_documents") == ["new", "old"]


def test_keep_is_read_when_deleting(tmp_path):
    store = ArtifactStore(tmp_path)
    for key in ("a", "b", "c"):
        _write(store, "pdf_documents", key, key)
    asked = []
    assert store.remove_partitions("pdf_documents", keep=lambda: asked.append(1) or {"a", "b"}) == ["c"]
    assert asked == [1]


def test_an_empty_inbox_does_not_prune_every_partition_unless_told(tmp_path):
    # The extractions come from another process, as from the pdf_documents runs.
    for key in ("book_a", "book_b"):
        _go(_writer(tmp_path, "pdf_documents", key, key))
    store = ArtifactStore(tmp_path)
    with pytest.raises(PruneRefused, match="every partition of pdf_documents"):
        store.remove_partitions("pdf_documents", keep=set())
    assert store.partitions("pdf_documents") == ["book_a", "book_b"]
    assert store.remove_partitions("pdf_documents", keep=set(), allow_all=True) == ["book_a", "book_b"]
    assert store.partitions("pdf_documents") == [] and not any((tmp_path / "pdf_documents").iterdir())


def test_a_writer_waiting_on_a_removed_slot_locks_the_new_one(tmp_path):
    store = ArtifactStore(tmp_path)
    _write(store, "pdf_documents", "x", "x")
    _write(store, "pdf_documents", "y", "y")
    assert store.remove_partitions("pdf_documents", keep={"y"}) == ["x"]
    with slot_lock(tmp_path / "pdf_documents" / "x"):  # recreates the slot it locks
        assert (tmp_path / "pdf_documents" / "x" / ".lock").exists()
    assert _write(store, "pdf_documents", "x again", "x").path.is_dir()


# 2. A rebuild with identical bytes records the run that made it.
def test_identical_rebuild_takes_the_new_upstream_run_and_quarantine(tmp_path):
    store = ArtifactStore(tmp_path)
    _write(store, "corpus", "corpus v1")

    def tokenizer(run_id: str, quarantine: str | None = None):
        write = store.begin("bpe_tokenizer")
        write.input("corpus")
        (write.directory / "tokenizer.json").write_text("same vocabulary")
        return write.commit(run_id, "1", quarantine=quarantine)

    first = tokenizer("run-1")
    _write(store, "corpus", "corpus v2")
    assert store.upstream_mismatches("bpe_tokenizer")
    again = tokenizer("run-2")
    assert again.version == first.version
    assert store.upstream_mismatches("bpe_tokenizer") == []
    assert store.current("bpe_tokenizer").manifest["run_id"] == "run-2"

    # Quarantined, then written again by a passing build: current and no longer quarantined.
    _write(store, "corpus", "corpus v3")
    write = store.begin("bpe_tokenizer")
    write.input("corpus")
    (write.directory / "tokenizer.json").write_text("other vocabulary")
    bad = write.commit("run-3", "1", quarantine="blocking check failed")
    assert store.quarantined("bpe_tokenizer")[0]["version"] == bad.version
    write = store.begin("bpe_tokenizer")
    write.input("corpus")
    (write.directory / "tokenizer.json").write_text("other vocabulary")
    good = write.commit("run-4", "1")
    assert good.version == bad.version == store.current_version("bpe_tokenizer")
    assert store.quarantined("bpe_tokenizer") == []

    # The current version rebuilt by a failing build stays current as last verified, not "quarantined".
    _write(store, "corpus", "corpus v4")
    write = store.begin("bpe_tokenizer")
    write.input("corpus")
    (write.directory / "tokenizer.json").write_text("other vocabulary")
    write.commit("run-5", "1", quarantine="blocking check failed")
    assert store.current_version("bpe_tokenizer") == good.version and store.quarantined("bpe_tokenizer") == []
    assert store.current("bpe_tokenizer").manifest["run_id"] == "run-4"
    assert store.upstream_mismatches("bpe_tokenizer")  # built from corpus v3, not v4


# 3. Pruning never counts another writer's pending commit as a version.
def test_prune_spares_a_pending_commit_of_another_process(tmp_path):
    store = ArtifactStore(tmp_path, keep_versions=1)
    _write(store, "shards", "first")
    other = _writer(tmp_path, "shards", None, "the other writer's", keep=1)
    ours = store.begin("shards")
    (ours.directory / "data.txt").write_text("ours")
    slot = tmp_path / "shards"
    with slot_lock(slot):
        other.stdin.write("go\n")
        other.stdin.flush()
        # The other commit has written its manifest into its temp directory and waits for the lock.
        deadline = time.monotonic() + 30
        while not (other.tmp / MANIFEST).exists():
            assert time.monotonic() < deadline, "the other writer never reached its commit"
            time.sleep(0.05)
        assert other.tmp.name not in store.versions("shards")
        # Commits and prunes with keep_versions=1; its unlock also lets the other commit go on.
        ours.commit(None, None)
    out, _ = other.communicate(timeout=60)
    assert other.returncode == 0, f"pruning deleted the other writer's pending commit: {out}"
    assert store.current_version("shards") == out.split()[-1]


# 4. Durability and a readable listing of a damaged store.
def test_commit_fsyncs_files_directories_and_pointer(tmp_path, monkeypatch):
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)  # every module of the store syncs through os.fsync
    store = ArtifactStore(tmp_path)
    write = store.begin("demo")
    (write.directory / "sub").mkdir()
    (write.directory / "sub" / "a.bin").write_bytes(b"a")
    artifact = write.commit(None, None)
    final = artifact.path
    slot = tmp_path / "demo"
    # Files were synced under their temp name; after the rename only the names changed.
    tmp_names = {Path(p).name for p in synced}
    assert {"a.bin", MANIFEST, "sub"} <= tmp_names
    assert str(slot) in synced, "the slot directory (the rename and CURRENT) was never synced"
    assert any(Path(p).parent == slot and Path(p).name.startswith(".tmp-CURRENT") for p in synced)
    assert (slot / CURRENT).read_text().strip() == final.name


def test_a_torn_current_is_listed_as_broken_not_a_traceback(tmp_path):
    store = ArtifactStore(tmp_path)
    _write(store, "good", "fine")
    _write(store, "torn", "fine too")
    (tmp_path / "torn" / CURRENT).write_text("")
    _write(store, "parts", "p", "p1")
    (tmp_path / "parts" / "p1" / CURRENT).write_text("0123")  # cut mid-write
    cli = subprocess.run(
        [sys.executable, "-m", "assets.client.cli", "artifacts", "--json", "--root", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    rows = {(r["asset"], r["partition"]): r for r in json.loads(cli.stdout)}
    assert rows[("good", None)]["version"] and "broken" not in rows[("good", None)]
    assert "CURRENT is empty" in rows[("torn", None)]["broken"] and rows[("torn", None)]["version"] is None
    assert "0123" in rows[("parts", "p1")]["broken"]
