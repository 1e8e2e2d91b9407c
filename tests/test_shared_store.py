"""One artifact store shared by several hosts (a network volume): writers as if from two hosts.

Host ids stand in for machines: a store opened with `host="host-b"` sees the other writer's
owner file say `host-a`, exactly as a second machine mounting the same volume would.
"""

import multiprocessing
import os
import subprocess
import sys
import time

from pipeline.common.artifacts import CURRENT, ArtifactStore
from pipeline.common.store_locks import is_abandoned, owner_path, read_owner


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _fake_owner(write, host: str, pid: int) -> None:
    owner_path(write.directory).write_text(f'{{"host": "{host}", "pid": {pid}, "started": {time.time()}}}')


def test_a_live_write_of_another_host_is_never_swept_even_when_its_pid_is_dead_here(tmp_path):
    host_a = ArtifactStore(tmp_path, host="host-a")
    host_b = ArtifactStore(tmp_path, host="host-b")
    write_a = host_a.begin("shards")
    (write_a.directory / "part.bin").write_bytes(b"half written")
    # The PID in A's owner file is not alive on this machine: the old store swept on that alone.
    _fake_owner(write_a, "host-a", _dead_pid())
    assert read_owner(write_a.directory).host == "host-a"

    write_b = host_b.begin("shards")  # begin() sweeps abandoned writes of the slot
    assert write_a.directory.is_dir(), "host B swept host A's live write"
    (write_b.directory / "part.bin").write_bytes(b"from b")
    write_b.commit(None, None)
    assert write_a.directory.is_dir()

    # A stops beating (its machine died): once the heartbeat is older than the limit, B sweeps it.
    write_a.heartbeat.stop()
    stale = time.time() - host_b.stale_after_s - 5
    os.utime(owner_path(write_a.directory), (stale, stale))
    assert is_abandoned(write_a.directory, "host-b", host_b.stale_after_s)
    host_b.begin("shards").abort()
    assert not write_a.directory.exists() and not owner_path(write_a.directory).exists()


def test_on_the_owners_own_host_a_dead_writer_is_swept_at_once(tmp_path):
    store = ArtifactStore(tmp_path, host="host-a")
    crashed = store.begin("corpus")
    crashed.heartbeat.stop()
    _fake_owner(crashed, "host-a", _dead_pid())  # fresh heartbeat, but its process is gone
    store.begin("corpus").abort()
    assert not crashed.directory.exists()
    # A live writer of the same host is kept.
    alive = store.begin("corpus")
    store.begin("corpus").abort()
    assert alive.directory.is_dir()
    alive.abort()


def _write_many(root: str, host: str, count: int, queue) -> None:
    store = ArtifactStore(root, keep_versions=2, host=host)
    versions = []
    for i in range(count):
        write = store.begin("model")
        (write.directory / "weights.bin").write_bytes(f"{host} {i}".encode() * 1000)
        versions.append(write.commit(None, None).version)
    queue.put(versions)


def test_two_hosts_committing_to_one_slot_keep_the_pointer_and_pruning_consistent(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    writers = [ctx.Process(target=_write_many, args=(str(tmp_path), host, 15, queue)) for host in ("a", "b")]
    for writer in writers:
        writer.start()
    written = [v for _ in writers for v in queue.get(timeout=300)]
    for writer in writers:
        writer.join(timeout=300)
        assert writer.exitcode == 0
    store = ArtifactStore(tmp_path, keep_versions=2)
    current = store.current("model")  # CURRENT names a complete version that pruning kept
    assert current.version in written
    assert (current.path / "weights.bin").read_bytes().startswith((b"a ", b"b "))
    kept = store.versions("model")
    assert current.version in kept and len(kept) <= 2
    assert not list((tmp_path / "model").glob(".tmp-*")), "finished writes leave no temp dirs or owner files"
    assert (tmp_path / "model" / CURRENT).read_text().strip() == current.version


def test_metadata_paths_are_relative_to_the_store_root(tmp_path):
    store = ArtifactStore(tmp_path / "store")
    write = store.begin("gguf_models", "q4_k_m")
    (write.directory / "model.gguf").write_bytes(b"GGUF")
    artifact = write.commit(None, None)
    assert store.relative(artifact.path) == f"gguf_models/q4_k_m/{artifact.version}"
    # Another host mounts the same volume elsewhere: the relative path still finds the artifact.
    moved = tmp_path / "elsewhere"
    (tmp_path / "store").rename(moved)
    assert (ArtifactStore(moved).root / store.relative(artifact.path) / "model.gguf").read_bytes() == b"GGUF"


def test_an_artifact_built_from_a_replaced_input_is_named_stale(tmp_path):
    store = ArtifactStore(tmp_path)

    def write(asset: str, content: str, partition: str | None = None, reads: tuple = ()):
        w = store.begin(asset, partition)
        for source in reads:
            w.input(*source)
        (w.directory / "data").write_text(content)
        return w.commit(None, None).version

    old_model = write("instruct_checkpoint", "model 1")
    write("gguf_models", "gguf of model 1", "q4_k_m", reads=(("instruct_checkpoint",),))
    assert store.upstream_mismatches("gguf_models", "q4_k_m") == []
    new_model = write("instruct_checkpoint", "model 2")  # retrain: a new model, the GGUF not yet rebuilt
    (problem,) = store.upstream_mismatches("gguf_models", "q4_k_m")
    assert "gguf_models[q4_k_m]" in problem and old_model in problem and new_model in problem
