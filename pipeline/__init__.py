"""mpyforge's domain library: one package per stage, no Dagster import (see docs/architecture.md).

Stages, each importing only `common` and the stages before it:
common → pdf | sources → corpus → pairs → tokens → train → gguf → serve | report.
"""
