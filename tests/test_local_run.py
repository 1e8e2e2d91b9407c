"""`mpyforge run`: builds only what is missing or stale (Dagster's data versions, read back from the real
instance's event log), `--force`, `--config`/`--set`, and its failure rules."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.client import runner as local_run
from assets.client.run_config import RunConfigError, load_config_file, merge_ops, parse_sets
from pipeline.common.artifacts import ArtifactStore
from pipeline.sources.files import SOURCE_FILES_FILE

REPO = Path(__file__).resolve().parents[1]
MPYFORGE = str(Path(sys.executable).parent / "mpyforge")
SAMPLE_PDF = sorted((REPO / "data" / "pdfs").glob("*.pdf"))[0]


def _started_steps(instance: dg.DagsterInstance, after: set[str]) -> list[str]:
    """Step keys with a STEP_START event in every run that is not in `after` (the runs made before)."""
    steps = []
    for run in instance.get_runs():
        if run.run_id not in after:
            records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START).records
            steps += [r.event_log_entry.step_key for r in records]
    return sorted(steps)


def _run_ids(instance: dg.DagsterInstance) -> set[str]:
    return {run.run_id for run in instance.get_runs()}


# --- the real pipeline through the command line, as `make demo` runs it ------------------------------


@pytest.fixture()
def home(tmp_path) -> Path:
    """A Dagster home and artifact store of its own, with the user's own sources and one PDF."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    shutil.copytree(REPO / "data" / "sources" / "examples", tmp_path / "my_sources")
    (tmp_path / "my_pdfs").mkdir()
    shutil.copy(SAMPLE_PDF, tmp_path / "my_pdfs" / SAMPLE_PDF.name)
    (tmp_path / "my.yaml").write_text(
        f"ops:\n  source_files:\n    config:\n      source_dir: {tmp_path / 'my_sources'}\n"
    )
    return home


def _mpyforge_run(home: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """`mpyforge run ARGS` against `home`; also the steps started by the runs it made (from the event log)."""
    with _instance(home) as instance:
        before = _run_ids(instance)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MPYFORGE_ARTIFACT_ROOT": str(home / "artifacts"),
        "MPYFORGE_PDF_INBOX": str(home.parent / "my_pdfs"),
    }
    done = subprocess.run([MPYFORGE, "run", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    with _instance(home) as instance:
        return done, _started_steps(instance, before)


def _instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home))


def test_second_mpyforge_run_on_unchanged_inputs_executes_no_step(home):
    config = str(home.parent / "my.yaml")
    sources = home.parent / "my_sources"
    first, steps = _mpyforge_run(home, "--select", "*corpus", "--config", config)
    assert first.returncode == 0, first.stdout + first.stderr
    assert steps == ["corpus", "corpus_extraction_failures", "pdf_documents", "source_files"]
    # The config reached the asset: the table holds the files of the user's folder.
    table = pd.read_parquet(ArtifactStore(home / "artifacts").current("source_files").file(SOURCE_FILES_FILE))
    assert set(table.path) == {p.relative_to(sources).as_posix() for p in sources.rglob("*.py")}
    with _instance(home) as instance:
        made = instance.get_runs()
        assert {run.job_name for run in made} == {"__ASSET_JOB"}  # the code location's job, as the UI runs it
        assert all(run.tags["mpyforge/launched_by"] == "cli" for run in made)
        (pdf_run,) = [run for run in made if "dagster/partition" in run.tags]
        assert pdf_run.tags["dagster/partition"] == SAMPLE_PDF.stem  # found in $MPYFORGE_PDF_INBOX

    second, steps = _mpyforge_run(home, "--select", "*corpus", "--config", config)
    assert second.returncode == 0, second.stdout + second.stderr
    assert steps == []
    assert "[3/3] corpus: up to date (code version, inputs and config unchanged), skipped" in second.stdout

    # A changed source file: source_files and the corpus are rebuilt, the PDF is not extracted again.
    victim = sorted(sources.rglob("*.py"))[0]
    victim.write_text(victim.read_text() + "\nprint('one more line')\n")
    third, steps = _mpyforge_run(home, "--select", "*corpus", "--config", config)
    assert steps == ["corpus", "corpus_extraction_failures", "source_files"], third.stdout
    assert "source_files: building (input files changed)" in third.stdout
    assert "[3/3] corpus: building (stale: has a new dependency data version (source_files))" in third.stdout

    # One field changed with --set over --config: that asset runs again.
    fourth, steps = _mpyforge_run(
        home, "--select", "*corpus", "--config", config, "--set", "pdf_documents.timeout_s=99"
    )
    assert steps == ["pdf_documents"], fourth.stdout  # the same blocks again: the corpus stays fresh
    assert "building (run config changed)" in fourth.stdout
    with _instance(home) as instance:
        newest = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": SAMPLE_PDF.stem}), limit=1)[0]
        assert newest.run_config["ops"]["pdf_documents"]["config"]["timeout_s"] == 99

    forced, steps = _mpyforge_run(home, "--select", "source_files", "--config", config, "--force")
    assert forced.returncode == 0 and steps == ["source_files"], forced.stdout

    # A misspelt field is named, and nothing runs.
    bad, steps = _mpyforge_run(home, "--select", "source_files", "--set", "source_files.sourcedir=/x")
    assert bad.returncode == 2 and steps == []
    assert "source_files.sourcedir: no such config field (fields of source_files: source_dir)" in bad.stderr


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ({"source_files": {"source_folder": "x"}}, r"source_files\.source_folder: no such config field"),
        ({"sourcefiles": {"source_dir": "x"}}, r"unknown asset 'sourcefiles'"),
        ({"bpe_tokenizer": {"vocab_size": "many"}}, r"bpe_tokenizer: .*vocab_size"),
        # One inbox for the sensor, the asset and the CLI: run config cannot move it.
        ({"pdf_documents": {"inbox": "/books"}}, r"pdf_documents\.inbox: .*set MPYFORGE_PDF_INBOX"),
    ],
)
def test_unknown_asset_or_field_is_refused_before_anything_runs(ops, message):
    with dg.instance_for_test() as instance:
        with pytest.raises(RunConfigError, match=message):
            local_run.run_pipeline(selection="source_files", instance=instance, ops=ops)
        assert instance.get_runs() == []


def test_config_file_and_sets_merge_field_by_field(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text("ops:\n  bpe_tokenizer:\n    config: {vocab_size: 4096, min_frequency: 3}\n")
    ops = merge_ops(load_config_file(path), parse_sets(["bpe_tokenizer.vocab_size=2048", "corpus.shingle=7"]))
    assert ops == {"bpe_tokenizer": {"vocab_size": 2048, "min_frequency": 3}, "corpus": {"shingle": 7}}
    path.write_text("resources:\n  gpu: {}\n")
    with pytest.raises(RunConfigError, match="unsupported top-level section 'resources'"):
        load_config_file(path)
    with pytest.raises(RunConfigError, match="expected asset.field=value"):
        parse_sets(["vocab_size=1"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ops: [source_files]\n", r"ops must be a mapping of asset names, not list"),
        ("ops:\n  corpus:\n    config: [1, 2]\n", r"ops\.corpus\.config must be a mapping of field: value"),
        ("ops:\n  corpus:\n    config: abc\n", r"ops\.corpus\.config must be a mapping of field: value, not 'abc'"),
    ],
)
def test_a_config_file_of_the_wrong_shape_names_the_field(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(RunConfigError, match=message):
        load_config_file(path)


# --- failure rules, on a small code location of real assets -------------------------------------------

variants = dg.StaticPartitionsDefinition(["good", "broken"])


@dg.asset(partitions_def=variants)
def exported(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    if context.partition_key == "broken":
        raise dg.Failure("parity check failed")
    return dg.MaterializeResult(metadata={"path": f"/artifacts/{context.partition_key}", "pid": os.getpid()})


@dg.asset(partitions_def=variants, deps=[exported])
def registered(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"status": f"registered {context.partition_key}"})


@dg.asset
def never_built() -> None:
    raise ValueError("no input")


@dg.asset(deps=[never_built])
def report() -> None:
    pass


small_location_defs = dg.Definitions(assets=[exported, registered, never_built, report])


@pytest.fixture()
def small_location(monkeypatch):
    # By its importable name: partition runs execute in worker processes that import it afresh.
    monkeypatch.setattr(local_run, "LOCATION", ("tests.test_local_run", "small_location_defs"))
    monkeypatch.setattr(local_run, "defs", small_location_defs)
    monkeypatch.setattr(local_run, "sync_pdf_partitions", lambda instance: None)
    monkeypatch.setattr(local_run, "preset_ops", lambda preset: {})


def test_failed_partition_skips_the_same_partition_downstream(small_location):
    lines = []
    with dg.instance_for_test() as instance:
        ok = local_run.run_pipeline(selection="exported*", instance=instance, echo=lines.append, workers=2)
        (broken_run,) = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": "broken"}))
        good = instance.get_latest_materialization_event(dg.AssetKey("exported")).asset_materialization
    assert ok is False
    text = "\n".join(lines)
    assert "exported[broken]: FAILED in" in text and "parity check failed" in text
    assert f"full log: http://127.0.0.1:3000/runs/{broken_run.run_id}" in text
    assert "exported[good]: ok" in text and "-> /artifacts/good" in text
    assert "registered[good]: ok" in text and "    registered good" in text
    assert "registered[broken]: skipped (upstream exported[broken] failed)" in text
    # The two partitions ran side by side in worker processes (one per core), not in this one.
    assert good.metadata["pid"].value != os.getpid()


def test_failed_asset_skips_everything_downstream_and_is_retried_next_time(small_location):
    with dg.instance_for_test() as instance:
        for _ in range(2):  # a failure leaves nothing materialized, so the next run tries again
            lines = []
            assert local_run.run_pipeline(selection="never_built*", instance=instance, echo=lines.append) is False
            failed = next(line for line in lines if "never_built: FAILED" in line)
            assert failed.startswith("[1/2] never_built: FAILED") and ": no input; full log: " in failed
            assert any(line.startswith("[2/2] report: skipped (upstream never_built failed)") for line in lines)
        assert len(instance.get_runs()) == 2  # one run for both assets each time
