"""Registration gate: a GGUF variant that passes fewer tasks than the model Ollama serves under the
same tag is held back (unless forced), so a worse model never silently replaces a better one.

Ollama is asked what it serves (``/api/show``: the blob its Modelfile's FROM names); the figures
of that blob are the ones recorded when this pipeline registered it (``registration.json`` of the
current ``ollama_model`` version). A served model with no such record, or no tag at all, holds
nothing back. The two are compared on the tasks both were scored on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pipeline.evaluate.score import SCORES_FILE
from pipeline.serve.client import OllamaClient
from pipeline.serve.errors import OllamaAPIError

REGISTRATION_FILE = "registration.json"
# Its key (and ollama_model's metadata key) saying whether Ollama now serves this version.
REGISTERED = "registered"
_BLOB = re.compile(r"sha256[-:]([0-9a-f]{64})")


def task_figures(scores_dir: Path) -> dict:
    """``{"tasks": [...], "passed": [...]}`` (greedy pass) from a ``task_scores`` artifact."""
    path = Path(scores_dir) / SCORES_FILE
    if not path.is_file():
        raise ValueError(f"{path}: not found; materialize task_scores for this variant first")
    rows = json.loads(path.read_text())["task_results"]
    return {
        "tasks": sorted(r["task_id"] for r in rows),
        "passed": sorted(r["task_id"] for r in rows if r["greedy_passed"]),
    }


def served_digest(client: OllamaClient, model: str) -> str | None:
    """``sha256:<hex>`` of the GGUF Ollama serves as ``model``; None when no such model exists."""
    try:
        shown = client.show(model)
    except OllamaAPIError as err:
        if err.status == 404:
            return None
        raise
    match = _BLOB.search(shown.get("modelfile") or "")
    return f"sha256:{match.group(1)}" if match else None


def recorded_figures(previous_dir: Path | None, digest: str | None) -> dict | None:
    """The figures registered with ``digest``, from the previous ``ollama_model`` artifact, if it holds them."""
    if previous_dir is None or digest is None:
        return None
    path = Path(previous_dir) / REGISTRATION_FILE
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    if not record.get(REGISTERED) or record.get("digest") != digest:
        return None
    return record.get("task_figures")


def hold_back_reason(new: dict, registered: dict | None) -> str | None:
    """Why ``new`` must not replace ``registered`` (fewer tasks passed on the tasks both ran), or None."""
    if not registered:
        return None
    common = set(new["tasks"]) & set(registered["tasks"])
    if not common:
        return None
    mine, theirs = len(common & set(new["passed"])), len(common & set(registered["passed"]))
    if mine >= theirs:
        return None
    return (
        f"passes {mine} of {len(common)} tasks, the model registered under this tag passes {theirs}; "
        "not registered (set force: true to register it anyway)"
    )
