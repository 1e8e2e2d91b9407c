"""`corpus`: every extracted PDF and the source files, deduplicated, filtered, split train/val."""

import dagster as dg
from pydantic import Field

from assets.automation import DATA_ASSET
from assets.inbox import pdf_partitions
from pipeline.common.artifacts import PruneRefused
from pipeline.corpus.build import CorpusSettings, build_corpus
from pipeline.pdf.extract import BLOCKS_FILE
from pipeline.sources.files import SOURCE_FILES_FILE
from resources.artifact_store import ArtifactStoreResource
from resources.settings_config import settings_config, to_settings

CorpusConfig = settings_config(
    CorpusSettings,
    "CorpusConfig",
    remove_all_pdfs=(
        bool,
        Field(False, description="let an empty inbox remove every stored PDF extraction (refused otherwise)"),
    ),
)

# Its inputs, each named once: the deps below and the build's reads use these names.
_PDFS, _SOURCES = "pdf_documents", "source_files"


@dg.asset(deps=[_PDFS, _SOURCES], kinds={"pandas", "parquet"}, **DATA_ASSET)
def corpus(
    context: dg.AssetExecutionContext, config: CorpusConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """All extracted PDFs and source files, deduplicated (exact + MinHash), filtered, split train/val by
    document or, with split_by=section, by section.
    """
    keys = context.instance.get_dynamic_partitions(pdf_partitions.name)
    extracted = set(artifact_store.store().partitions(_PDFS))

    def build(write):
        pdf_blocks = {k: write.input(_PDFS, k).file(BLOCKS_FILE) for k in keys if k in extracted}
        failed = {
            k: "no extracted text (its pdf_documents partition failed or has not run)"
            for k in keys
            if k not in extracted
        }
        sources = write.input(_SOURCES).file(SOURCE_FILES_FILE)
        return build_corpus(pdf_blocks, sources, write.directory, to_settings(config, CorpusSettings), failed)

    result = artifact_store.materialize(context, build)
    # A PDF that left the inbox lost its partition (the sensor); now that the corpus no longer
    # reads it, its extracted text goes too. The keys are read again at deletion: a PDF the
    # sensor added while this ran is not "gone".
    try:
        removed = artifact_store.store().remove_partitions(
            "pdf_documents",
            keep=lambda: set(context.instance.get_dynamic_partitions(pdf_partitions.name)),
            allow_all=config.remove_all_pdfs,
        )
    except PruneRefused as err:
        context.log.warning(
            f"{err}; nothing removed (set corpus.remove_all_pdfs=true if the inbox is meant to be empty)"
        )
        removed = []
    for key in removed:
        context.log.info(f"removed the artifacts of {key}: it is no longer in the inbox")
    return result


@dg.asset_check(
    asset=corpus, description="Every PDF in the inbox made it into the corpus (warns on failed extractions)."
)
def extraction_failures(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    failed = artifact_store.current("corpus").manifest["metadata"]["failed_pdfs"]
    return dg.AssetCheckResult(
        passed=not failed, severity=dg.AssetCheckSeverity.WARN, metadata={"failed_pdfs": len(failed), "details": failed}
    )
