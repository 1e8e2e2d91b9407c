"""The `mpyforge` command line: a client of the code location (`assets.definitions`) and its Dagster
instance. The code location never imports this package (an import-linter contract in pyproject.toml)."""
