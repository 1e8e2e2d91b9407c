"""The artifact store: atomic commits, content versions, pruning, and crash safety."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipeline.common.artifacts import ArtifactNotFound, ArtifactStore


def _write(store: ArtifactStore, text: str, partition: str | None = None):
    write = store.begin("demo", partition)
    (write.directory / "data.txt").write_text(text)
    return write.commit(run_id="run-1", code_version="1")


def test_commit_writes_manifest_and_current(tmp_path):
    store = ArtifactStore(tmp_path)
    artifact = _write(store, "hello")
    assert store.current("demo") == artifact
    manifest = artifact.manifest
    assert manifest["files"][0]["path"] == "data.txt"
    assert manifest["files"][0]["bytes"] == 5
    assert manifest["run_id"] == "run-1" and manifest["code_version"] == "1"
    assert artifact.path.name == artifact.version


def test_identical_content_gives_identical_version(tmp_path):
    store = ArtifactStore(tmp_path)
    first = _write(store, "same")
    second = _write(store, "same")
    assert first.version == second.version
    assert store.versions("demo") == [first.version]
    assert _write(store, "different").version != first.version


def test_prune_keeps_last_n_and_never_current(tmp_path):
    store = ArtifactStore(tmp_path, keep_versions=2)
    versions = []
    for i in range(4):
        versions.append(_write(store, f"v{i}").version)
        time.sleep(0.01)  # distinct mtimes for the ordering
    assert store.versions("demo") == versions[-2:]
    assert store.current("demo").version == versions[-1]


def test_upstream_versions_are_recorded(tmp_path):
    store = ArtifactStore(tmp_path)
    upstream = _write(store, "up", partition="p1")
    write = store.begin("down")
    assert write.input("demo", "p1").version == upstream.version
    (write.directory / "out.txt").write_text("x")
    assert write.commit(None, None).manifest["upstream"] == {"demo/p1": upstream.version}


def test_missing_artifact_and_bad_names_are_clear(tmp_path):
    store = ArtifactStore(tmp_path)
    with pytest.raises(ArtifactNotFound, match="no finished artifact for corpus"):
        store.current("corpus")
    with pytest.raises(ValueError, match="not a safe directory name"):
        store.begin("../escape")
    with pytest.raises(ValueError, match="wrote no files"):
        store.begin("empty").commit(None, None)


def test_killed_writer_leaves_nothing_visible_and_next_write_succeeds(tmp_path):
    store = ArtifactStore(tmp_path)
    good = _write(store, "the finished one")
    # A writer that keeps writing until it is killed, in its own process.
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path.cwd())!r})
        from pipeline.common.artifacts import ArtifactStore
        write = ArtifactStore({str(tmp_path)!r}).begin("demo")
        with open(write.directory / "big.bin", "wb") as handle:
            print("writing", flush=True)
            while True:
                handle.write(b"x" * 65536)
                time.sleep(0.001)
    """)
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    time.sleep(0.3)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    leftovers = list((tmp_path / "demo").glob(".tmp-*"))
    assert leftovers, "the killed writer should have left its temp directory behind"
    # Readers still see only the finished artifact.
    assert store.current("demo") == good
    assert [row["version"] for row in store.listing()] == [good.version]
    # The next write succeeds and sweeps the abandoned temp directory away.
    newer = _write(store, "after the crash")
    assert store.current("demo") == newer
    assert not list((tmp_path / "demo").glob(".tmp-*"))
    assert json.loads((newer.path / "manifest.json").read_text())["version"] == newer.version


def test_identity_files_define_the_version(tmp_path):
    store = ArtifactStore(tmp_path)

    def write(weights: str, log: str):
        w = store.begin("ckpt")
        (w.directory / "model.bin").write_text(weights)
        (w.directory / "metrics.json").write_text(log)
        return w.commit(None, None, identity=("model.bin",))

    first = write("weights", "took 10 s")
    assert write("weights", "took 12 s").version == first.version
    assert write("other weights", "took 10 s").version != first.version
    incomplete = store.begin("ckpt")
    (incomplete.directory / "metrics.json").write_text("no weights")
    with pytest.raises(ValueError, match="identity files"):
        incomplete.commit(None, None, identity=("model.bin",))
