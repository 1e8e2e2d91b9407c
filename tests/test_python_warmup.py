"""`python_warmup_files`: which Python files are kept (and why not), their licence, and the asset's default."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from assets.definitions import defs
from pipeline.sources.python_warmup import (
    WARMUP_FILE,
    WARMUP_SCHEMA,
    WarmupSettings,
    build_python_warmup,
    package_candidates,
    select_files,
    stdlib_candidates,
)
from resources.artifact_store import ArtifactStoreResource


def _module(name: str, lines: int) -> str:
    """A parseable module of about 40 bytes a line."""
    return f'"""{name}."""\n' + "".join(f"value_{i} = {i} * 2  # some line of {name}\n" for i in range(lines))


def _write(root: Path, rel: str, text: str | bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())


def _stdlib(root: Path) -> Path:
    _write(root, "json/decoder.py", _module("decoder", 60))
    _write(root, "json/encoder.py", _module("encoder", 70))
    # The same module with CRLF line endings and trailing blanks: a duplicate.
    _write(root, "json/copy_of_decoder.py", _module("decoder", 60).replace("\n", "  \r\n"))
    _write(root, "broken.py", _module("broken", 60) + "def f(:\n")
    _write(root, "latin.py", _module("latin", 60).encode() + b"# caf\xe9\n")
    _write(root, "tiny.py", "x = 1\n")
    _write(root, "huge.py", _module("huge", 4000))
    for skipped in ("test/test_json.py", "idlelib/editor.py", "lib2to3/main.py", "site-packages/pkg/mod.py"):
        _write(root, skipped, _module("skipped", 60))
    _write(root, "asyncio/test_utils.py", _module("named like a test", 60))
    return root


def test_the_collector_keeps_parseable_unique_files_within_the_caps(tmp_path):
    stdlib = _stdlib(tmp_path / "lib")
    candidates = stdlib_candidates(stdlib)
    assert [c.rel for c in candidates] == [
        "stdlib/broken.py",
        "stdlib/huge.py",
        "stdlib/json/copy_of_decoder.py",
        "stdlib/json/decoder.py",
        "stdlib/json/encoder.py",
        "stdlib/latin.py",
        "stdlib/tiny.py",
    ]
    settings = WarmupSettings(enabled=True, min_file_bytes=1024, max_file_bytes=8192, max_bytes=16384)
    kept, skipped = select_files(candidates, settings)
    assert skipped == {
        "does not parse": 1,
        "duplicate": 1,
        "larger than max_file_bytes": 1,
        "not UTF-8": 1,
        "smaller than min_file_bytes": 1,
    }
    kept_paths = [candidate.rel for candidate, _ in kept]
    assert kept_paths in (
        ["stdlib/json/decoder.py", "stdlib/json/encoder.py"],
        ["stdlib/json/copy_of_decoder.py", "stdlib/json/encoder.py"],
    )
    # max_bytes: room for one of the two modules only, and the same one every time.
    one = WarmupSettings(enabled=True, min_file_bytes=1024, max_file_bytes=8192, max_bytes=3500)
    first, skipped_one = select_files(candidates, one)
    assert len(first) == 1 and skipped_one["over max_bytes"] >= 1
    assert [c.rel for c, _ in select_files(list(reversed(candidates)), one)[0]] == [c.rel for c, _ in first]


def test_the_table_records_relative_paths_and_the_licence(tmp_path):
    stdlib = _stdlib(tmp_path / "lib")
    settings = WarmupSettings(enabled=True, min_file_bytes=1024, max_file_bytes=8192, max_bytes=16384)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    meta = build_python_warmup(tmp_path / "a", settings, stdlib=stdlib)
    build_python_warmup(tmp_path / "b", settings, stdlib=stdlib)
    table = pq.read_table(tmp_path / "a" / WARMUP_FILE)
    assert table.schema.equals(WARMUP_SCHEMA, check_metadata=False)
    assert meta["files"] == table.num_rows == 2 and meta["licences"]["PSF-2.0"]["files"] == 2
    assert set(table.column("licence").to_pylist()) == {"PSF-2.0"} and set(table.column("kind").to_pylist()) == {"code"}
    assert all(path.startswith("stdlib/json/") for path in table.column("path").to_pylist())
    assert str(tmp_path) not in str(table.to_pylist())  # no host path in the data
    assert (tmp_path / "a" / WARMUP_FILE).read_bytes() == (tmp_path / "b" / WARMUP_FILE).read_bytes()
    assert meta["bytes"] == sum(len(text.encode()) + 1 for text in table.column("text").to_pylist())


def test_installed_packages_carry_their_distributions_licence(tmp_path):
    site = tmp_path / "site-packages"
    _write(site, "fancy/core.py", _module("core", 60))
    _write(site, "fancy/tests/test_core.py", _module("its test", 60))
    _write(site, "plain/util.py", _module("util", 60))
    _write(tmp_path / "elsewhere", "project/own.py", _module("an editable project", 60))

    def dist(name: str, headers: str, files: list[str]) -> metadata.Distribution:
        info = site / f"{name}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.4\nName: {name}\nVersion: 1.0\n{headers}")
        (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))
        return metadata.PathDistribution(info)

    dists = [
        dist("fancy", "License-Expression: MIT\n", ["fancy/core.py", "fancy/tests/test_core.py"]),
        dist("plain", "Classifier: License :: OSI Approved :: BSD License\n", ["plain/util.py"]),
        dist("proj", "License: Apache 2.0\n", ["../elsewhere/project/own.py"]),
        dist("nolicence", "", []),
    ]
    found = package_candidates(dists, [site])
    assert [(c.rel, c.licence) for c in found] == [
        ("site-packages/fancy/core.py", "MIT"),
        ("site-packages/plain/util.py", "BSD License"),
    ]
    unknown = dist("anon", "", ["anon/mod.py"])
    _write(site, "anon/mod.py", _module("anon", 60))
    (anon,) = package_candidates([unknown], [site])
    kept, skipped = select_files([anon], WarmupSettings(enabled=True, min_file_bytes=1024))
    assert kept == [] and skipped == {"licence unknown": 1}


def test_the_asset_is_an_empty_table_by_default(tmp_path):
    resources = {**defs.resources, "artifact_store": ArtifactStoreResource(root=str(tmp_path / "artifacts"))}
    with dg.instance_for_test() as instance:
        result = dg.materialize(defs.assets, resources=resources, instance=instance, selection=["python_warmup_files"])
    assert result.success
    store = resources["artifact_store"].store()
    table = pq.read_table(store.current("python_warmup_files").file(WARMUP_FILE))
    assert table.num_rows == 0 and table.schema.equals(WARMUP_SCHEMA, check_metadata=False)
