"""A version whose blocking check fails is kept for inspection but never becomes current."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipeline.common.artifacts import ArtifactStore
from resources.artifact_store import ArtifactStoreResource

REPO = Path(__file__).resolve().parents[1]


class ModelConfig(dg.Config):
    content: str
    parity_ok: bool


@dg.asset(check_specs=[dg.AssetCheckSpec("parity", asset="model", blocking=True)])
def model(context: dg.AssetExecutionContext, config: ModelConfig, artifact_store: ArtifactStoreResource):
    def build(write):
        (write.directory / "model.gguf").write_text(config.content)
        return {"parity_ok": config.parity_ok, "kl": 0.0 if config.parity_ok else 3.5}

    def checks(metadata):
        return [dg.AssetCheckResult(check_name="parity", passed=metadata["parity_ok"], metadata={"kl": metadata["kl"]})]

    return artifact_store.materialize(context, build, checks=checks)


@dg.asset(deps=[model])
def registered(artifact_store: ArtifactStoreResource) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"gguf": artifact_store.current("model").version})


def _run(instance, store_root: Path, content: str, parity_ok: bool) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [model, registered],
        instance=instance,
        resources={"artifact_store": ArtifactStoreResource(root=str(store_root))},
        run_config=dg.RunConfig({"model": ModelConfig(content=content, parity_ok=parity_ok)}),
        raise_on_error=False,
    )


def test_a_failed_blocking_check_leaves_the_previous_version_current(tmp_path):
    root = tmp_path / "artifacts"
    with dg.instance_for_test() as instance:
        assert _run(instance, root, "good weights", parity_ok=True).success
        store = ArtifactStore(root)
        good = store.current("model").version

        bad_run = _run(instance, root, "broken weights", parity_ok=False)
        # The blocking check stops what depends on it in the same run ...
        assert not bad_run.success
        assert not [e for e in bad_run.get_asset_materialization_events() if e.asset_key == dg.AssetKey("registered")]
        # ... and later runs still read the good version: the bad one is held, with its reason.
        assert store.current("model").version == good
        (held,) = store.quarantined("model")
        assert held["version"] != good and "parity failed" in held["reason"] and "3.5" in held["reason"]
        assert (Path(held["path"]) / "model.gguf").read_text() == "broken weights"
        materialization = instance.get_latest_materialization_event(dg.AssetKey("model")).asset_materialization
        assert "parity failed" in materialization.metadata["quarantined"].value

        # A click on the downstream asset alone uses the good version.
        again = dg.materialize(
            [model, registered],
            selection=["registered"],
            instance=instance,
            resources={"artifact_store": ArtifactStoreResource(root=str(root))},
        )
        assert again.asset_materializations_for_node("registered")[0].metadata["gguf"].value == good

    listing = _artifacts_cli(root)
    assert "QUARANTINED" in listing and held["version"] in listing
    rows = json.loads(_artifacts_cli(root, "--json"))
    assert rows[0]["version"] == good and rows[0]["quarantined"][0]["version"] == held["version"]


def _artifacts_cli(root: Path, *flags: str) -> str:
    command = [sys.executable, "-m", "assets.client.cli", "artifacts", *flags, "--root", str(root)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=True).stdout
