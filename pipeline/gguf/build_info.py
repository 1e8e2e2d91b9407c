"""Which llama.cpp build is installed: the record `scripts/build_llama_cpp.py` leaves in the venv.

Standard library only, because the build script reads it before the project's dependencies exist.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

STAMP_NAME = ".llama-cpp-build.json"


def stamp_path(prefix: str | Path | None = None) -> Path:
    return Path(sys.prefix if prefix is None else prefix) / STAMP_NAME


def read_build_stamp(prefix: str | Path | None = None) -> dict | None:
    """``{"key", "cmake_args", "wheel"}`` of the installed build, or None when pip built it on its own."""
    path = stamp_path(prefix)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_build_stamp(record: dict, prefix: str | Path | None = None) -> None:
    path = stamp_path(prefix)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)
