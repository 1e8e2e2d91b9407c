"""Versioned, atomically written artifact directories.

Layout under the store root::

    <asset>/[<partition>/]<version>/...files...   a finished artifact; its files never change
    <asset>/[<partition>/]<version>/manifest.json files, sizes, sha256, and the latest build of them
                                                  (run id, upstream versions, check verdict)
    <asset>/[<partition>/]CURRENT                  the version readers should use
    <asset>/[<partition>/].tmp-<hex>/              a write in progress (never read)
    <asset>/[<partition>/].tmp-<hex>.owner         its owner (host, pid) and heartbeat
    <asset>/[<partition>/].lock                    held while a version is committed

A write goes into a temporary sibling directory; only when every file is in place is
the content hashed, the manifest written and the directory renamed to its version
(the content hash), and then ``CURRENT`` is replaced atomically (hashing and durable writes:
``pipeline.common.content``). A writer killed at
any point leaves at most a ``.tmp-*`` directory, which readers never look at and a later
write removes once it is known to be abandoned (``store_locks``: at once on the writer's host,
after a stale heartbeat from any other host sharing the store). Identical content gives the
identical version, which is what keeps Dagster from marking downstream assets stale after a
no-op re-run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.common.content import TMP_PREFIX, content_files, content_version, fsync, fsync_tree, write_text_atomic
from pipeline.common.store_locks import (
    DEFAULT_STALE_AFTER_S,
    OWNER_SUFFIX,
    Heartbeat,
    claim,
    host_id,
    is_abandoned,
    owner_path,
    remove_slot,
    slot_lock,
)

MANIFEST = "manifest.json"
CURRENT = "CURRENT"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ArtifactNotFound(LookupError):
    """No finished artifact exists for an asset (or partition) yet."""


class PruneRefused(ValueError):
    """Removing partitions would have removed every stored one (an empty or unmounted inbox?)."""


# Fields of a manifest that describe the build rather than the bytes: a rebuild with identical
# content rewrites them, so the version records the inputs and verdict of its latest build.
_BUILD_FIELDS = ("run_id", "code_version", "upstream", "quarantined")


@dataclass(frozen=True)
class Artifact:
    asset: str
    partition: str | None
    version: str
    path: Path

    @property
    def manifest(self) -> dict:
        return json.loads((self.path / MANIFEST).read_text())

    def file(self, name: str) -> Path:
        path = self.path / name
        if not path.exists():
            raise FileNotFoundError(f"artifact {self.asset} version {self.version} has no file {name!r} ({self.path})")
        return path


@dataclass
class ArtifactWrite:
    """An open write: fill ``directory``, then ``commit`` (the store does this for you)."""

    store: ArtifactStore
    asset: str
    partition: str | None
    directory: Path
    upstream: dict[str, str] = field(default_factory=dict)
    heartbeat: Heartbeat | None = None

    def input(self, asset: str, partition: str | None = None) -> Artifact:
        """Locate an upstream artifact and record its version in this write's manifest."""
        artifact = self.store.current(asset, partition)
        label = asset if partition is None else f"{asset}/{partition}"
        self.upstream[label] = artifact.version
        return artifact

    def commit(
        self,
        run_id: str | None,
        code_version: str | None,
        extra: dict | None = None,
        identity: tuple[str, ...] | None = None,
        quarantine: str | None = None,
    ) -> Artifact:
        """Finish the write. With ``quarantine`` (why a blocking check failed) the version is kept
        for inspection but ``CURRENT`` keeps naming the previous one, so nothing downstream reads it."""
        if (self.directory / MANIFEST).exists():
            raise ValueError(
                f"artifact {self.asset}: the build wrote its own {MANIFEST} at the top level, "
                "where the store keeps its manifest; write it into a subdirectory"
            )
        files = content_files(self.directory, MANIFEST)
        if not files:
            raise ValueError(f"artifact {self.asset} wrote no files into {self.directory}")
        missing = sorted(set(identity or ()) - {f["path"] for f in files})
        if missing:
            raise ValueError(f"artifact {self.asset}: identity files {missing} were not written")
        version = content_version(files, identity)
        manifest = {
            "asset": self.asset,
            "partition": self.partition,
            "version": version,
            "files": files,
            "total_bytes": sum(f["bytes"] for f in files),
            "run_id": run_id,
            "code_version": code_version,
            "upstream": dict(sorted(self.upstream.items())),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "quarantined": quarantine,
            **(extra or {}),
        }
        (self.directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        fsync_tree(self.directory)
        slot = self.directory.parent
        final = slot / version
        with slot_lock(slot):
            if final.exists():
                # Same content as an earlier write: keep the earlier files, drop this copy, but record
                # this build's inputs, run and verdict, or the version would claim an older generation.
                # Except a failed build of the current version: it stays current as last verified,
                # its old inputs show it stale (upstream_mismatches) rather than quarantined-yet-current.
                shutil.rmtree(self.directory)
                if quarantine is None or self.store.current_version(self.asset, self.partition) != version:
                    kept = json.loads((final / MANIFEST).read_text())
                    kept.update({name: manifest[name] for name in _BUILD_FIELDS})
                    write_text_atomic(final / MANIFEST, json.dumps(kept, indent=2) + "\n", tmp_dir=slot)
                os.utime(final)  # now the newest version again, for pruning order
            else:
                os.replace(self.directory, final)
                fsync(slot)
            if quarantine is None:
                write_text_atomic(slot / CURRENT, version + "\n")
                self.store.prune(self.asset, self.partition)
        self._release()
        return Artifact(self.asset, self.partition, version, final)

    def abort(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.stop()
        owner_path(self.directory).unlink(missing_ok=True)


class ArtifactStore:
    def __init__(
        self,
        root: Path | str,
        keep_versions: int = 3,
        host: str | None = None,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
    ):
        if keep_versions < 1:
            raise ValueError(f"keep_versions must be at least 1, got {keep_versions}")
        self.root = Path(root).resolve()
        self.keep_versions = keep_versions
        self.host = host or host_id()  # hosts sharing the store must have distinct ids
        self.stale_after_s = stale_after_s

    def relative(self, path: Path) -> str:
        """``path`` relative to the store root: what metadata records, valid on every host's mount."""
        return Path(path).resolve().relative_to(self.root).as_posix()

    def _slot(self, asset: str, partition: str | None) -> Path:
        for label, name in (("asset", asset), ("partition", partition)):
            if name is not None and not _SAFE_NAME.match(name):
                raise ValueError(f"artifact {label} name {name!r} is not a safe directory name")
        slot = self.root / asset
        return slot / partition if partition is not None else slot

    def begin(self, asset: str, partition: str | None = None) -> ArtifactWrite:
        slot = self._slot(asset, partition)
        tmp = slot / f"{TMP_PREFIX}{uuid.uuid4().hex[:16]}"
        # Under the lock, so that remove_partitions either sees this write (and spares the slot)
        # or has removed the slot before it starts.
        with slot_lock(slot):
            self._remove_abandoned(slot)
            tmp.mkdir()
            claim(tmp, self.host)
        return ArtifactWrite(self, asset, partition, tmp, heartbeat=Heartbeat(tmp))

    def current(self, asset: str, partition: str | None = None) -> Artifact:
        slot = self._slot(asset, partition)
        pointer = slot / CURRENT
        if not pointer.exists():
            where = asset if partition is None else f"{asset} partition {partition!r}"
            raise ArtifactNotFound(f"no finished artifact for {where} under {self.root}; materialize it first")
        version = pointer.read_text().strip()
        if not version:
            raise ArtifactNotFound(f"{pointer}: CURRENT is empty (torn by a crash?)")
        path = slot / version
        if not _SAFE_NAME.match(version) or not (path / MANIFEST).exists():
            raise ArtifactNotFound(f"{pointer} names version {version}, but {path} has no {MANIFEST}")
        return Artifact(asset, partition, version, path)

    def current_version(self, asset: str, partition: str | None = None) -> str | None:
        """The version ``CURRENT`` names, or None before the first finished write."""
        try:
            return self.current(asset, partition).version
        except ArtifactNotFound:
            return None

    def upstream_mismatches(self, asset: str, partition: str | None = None) -> list[str]:
        """Inputs of the current ``asset`` version that are no longer current themselves, in words.

        Every write records the versions it read (``manifest.upstream``); an artifact built from an
        input that has since been replaced belongs to an older generation of the pipeline.
        """
        artifact = self.current(asset, partition)
        name = asset if partition is None else f"{asset}[{partition}]"
        problems = []
        for label, version in artifact.manifest.get("upstream", {}).items():
            source, _, source_partition = label.partition("/")
            now = self.current_version(source, source_partition or None)
            if now != version:
                problems.append(f"{name} was built from {label} {version}, but the current {label} is {now}")
        return problems

    def partitions(self, asset: str) -> list[str]:
        """Partitions of ``asset`` that have a finished artifact."""
        slot = self._slot(asset, None)
        if not slot.exists():
            return []
        return sorted(p.name for p in slot.iterdir() if (p / CURRENT).exists())

    def versions(self, asset: str, partition: str | None = None) -> list[str]:
        slot = self._slot(asset, partition)
        if not slot.exists():
            return []
        # A temp directory holds its manifest before its commit takes the lock: not a version yet.
        found = [p for p in slot.iterdir() if not p.name.startswith(TMP_PREFIX) and (p / MANIFEST).exists()]
        return [p.name for p in sorted(found, key=lambda p: p.stat().st_mtime)]

    def quarantined(self, asset: str, partition: str | None = None) -> list[dict]:
        """Versions kept for inspection after a blocking check failed: ``{version, path, reason}``."""
        slot = self._slot(asset, partition)
        rows = []
        for version in self.versions(asset, partition):
            reason = json.loads((slot / version / MANIFEST).read_text()).get("quarantined")
            if reason:
                rows.append({"version": version, "path": str(slot / version), "reason": reason})
        return rows

    def listing(self) -> list[dict]:
        """Current version and path of every asset (and partition) in the store, and its quarantined versions."""
        rows = []
        if not self.root.exists():
            return rows
        for asset_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            slots = [(None, asset_dir)] if (asset_dir / CURRENT).exists() else []
            slots += [(p.name, p) for p in sorted(asset_dir.iterdir()) if (p / CURRENT).exists()]
            for partition, _ in slots:
                try:
                    artifact = self.current(asset_dir.name, partition)
                    manifest = artifact.manifest
                except (ArtifactNotFound, OSError, ValueError) as err:
                    # One damaged slot must not hide the others from scripts.
                    rows.append({"asset": asset_dir.name, "partition": partition, "version": None, "broken": str(err)})
                    continue
                rows.append(
                    {
                        "asset": artifact.asset,
                        "partition": partition,
                        "version": artifact.version,
                        "path": str(artifact.path),
                        "files": [f["path"] for f in manifest["files"]],
                        "bytes": manifest["total_bytes"],
                        "created_at": manifest["created_at"],
                        "quarantined": self.quarantined(asset_dir.name, partition),
                    }
                )
        return rows

    def prune(self, asset: str, partition: str | None = None) -> None:
        """Keep the newest ``keep_versions`` versions; never the one CURRENT names."""
        current = self.current(asset, partition).version
        old = [v for v in self.versions(asset, partition) if v != current]
        slot = self._slot(asset, partition)
        for version in old[: max(0, len(old) - (self.keep_versions - 1))]:
            shutil.rmtree(slot / version, ignore_errors=True)

    def remove_partitions(
        self, asset: str, keep: set[str] | Callable[[], set[str]], allow_all: bool = False
    ) -> list[str]:
        """Delete every stored partition of ``asset`` not in ``keep`` (a PDF that left the inbox).

        ``keep`` may be a function, called here, so the keys are those of the moment of deletion
        (not of when the caller started). A slot with a live write is left alone, and removing
        every stored partition raises ``PruneRefused`` unless ``allow_all``: an empty or
        unmounted inbox must not silently delete every extraction. Returns what was removed."""
        root = self._slot(asset, None)
        stored = (
            {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")} if root.is_dir() else set()
        )
        doomed = sorted(stored - (keep() if callable(keep) else keep))
        if doomed and len(doomed) == len(stored) and not allow_all:
            raise PruneRefused(
                f"refusing to remove every partition of {asset} ({len(doomed)}: {', '.join(doomed[:5])}"
                f"{', ...' if len(doomed) > 5 else ''}): is the inbox empty or unmounted?"
            )
        removed = []
        for partition in doomed:
            slot = self._slot(asset, partition)
            with slot_lock(slot):
                if self._live_writes(slot):
                    continue  # written right now: a partition that came back, or is being added
                remove_slot(slot)
            removed.append(partition)
        return removed

    def _live_writes(self, slot: Path) -> list[Path]:
        return [
            tmp
            for tmp in slot.glob(f"{TMP_PREFIX}*")
            if tmp.is_dir() and not is_abandoned(tmp, self.host, self.stale_after_s)
        ]

    def _remove_abandoned(self, slot: Path) -> None:
        """Delete temp directories (and files) whose writer is gone, with their owner files."""
        for tmp in slot.glob(f"{TMP_PREFIX}*"):
            if tmp.name.endswith(OWNER_SUFFIX) or not is_abandoned(tmp, self.host, self.stale_after_s):
                continue
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
            owner_path(tmp).unlink(missing_ok=True)


def default_root() -> Path:
    """The store root the code location and the CLI share: ``$MPYFORGE_ARTIFACT_ROOT`` or ``var/artifacts``."""
    return Path(os.environ.get("MPYFORGE_ARTIFACT_ROOT", "var/artifacts"))
