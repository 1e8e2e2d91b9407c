"""Model and blob store behind the Ollama stand-in server (see ``ollama_standin.py``).

Behaviour follows Ollama's ``docs/api.md`` and ``server/`` handlers: blobs are
content-addressed files checked against their digest; ``/api/create`` takes the
``files`` form (>= 0.5.5) or, in old mode, only the ``modelfile`` form (<= 0.5.4);
``/api/show`` flattens the GGUF metadata into ``model_info`` (arrays blanked, as
without ``verbose``); generation (``/api/generate``, ``/api/chat``) is in
``ollama_standin_generation.py``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import gguf

from scripts.modelfile_parser import ModelfileParseError, parse_modelfile
from scripts.ollama_standin_generation import PARAMETER_TYPES, Generation, StandinError, typed_parameters

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,79})?$")
GGUF_MAGIC = b"GGUF"
DEFAULT_TEMPLATE = "{{ .Prompt }}"


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def full_name(name: str) -> str:
    if not name or not NAME.match(name):
        raise StandinError(400, "invalid model name")
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _human_number(n: int) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:.3g}{suffix}"
    return str(n)


def gguf_summary(path: Path) -> tuple[dict, dict]:
    """(model_info, details) of a GGUF blob as /api/show reports them."""
    try:
        reader = gguf.GGUFReader(str(path))
    except (ValueError, OSError) as exc:
        raise StandinError(400, f"supplied file was not in GGUF format: {exc}") from None
    info: dict[str, object] = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue  # header pseudo-fields, not metadata
        is_array = field.types and field.types[0] == gguf.GGUFValueType.ARRAY
        info[key] = None if is_array else field.contents()
    n_params = sum(int(t.n_elements) for t in reader.tensors)
    info["general.parameter_count"] = n_params
    arch = str(info.get("general.architecture", ""))
    file_type = info.get("general.file_type")
    level = (
        gguf.LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_")
        if file_type is not None
        else "unknown"
    )
    details = {
        "parent_model": "",
        "format": "gguf",
        "family": arch,
        "families": [arch],
        "parameter_size": _human_number(n_params),
        "quantization_level": level,
    }
    return info, details


class ModelStore:
    """Blobs under ``root/blobs``, one JSON manifest per model under ``root/manifests``."""

    def __init__(self, root: Path, version: str):
        self.root = Path(root)
        self.version = version
        self.modelfile_api = version_tuple(version) <= (0, 5, 4)
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        (self.root / "manifests").mkdir(parents=True, exist_ok=True)
        self.counters: Counter[str] = Counter()
        self.generation = Generation(self)

    # --- blobs -------------------------------------------------------------------------
    def blob_path(self, digest: str) -> Path:
        if not DIGEST.match(digest):
            raise StandinError(400, "invalid digest format")
        return self.root / "blobs" / digest.replace(":", "-")

    def has_blob(self, digest: str) -> bool:
        self.counters["blob_head"] += 1
        return self.blob_path(digest).is_file()

    def write_blob(self, digest: str, chunks: Iterable[bytes]) -> int:
        """Store the body as ``digest``: 201 created, 200 already present, 400 on mismatch."""
        target = self.blob_path(digest)
        if target.is_file():
            for _ in chunks:  # drain the body so the connection stays usable
                pass
            return 200
        partial = target.with_suffix(".partial")
        sha = hashlib.sha256()
        with open(partial, "wb") as handle:
            for chunk in chunks:
                sha.update(chunk)
                handle.write(chunk)
        got = f"sha256:{sha.hexdigest()}"
        if got != digest:
            partial.unlink()
            raise StandinError(400, f"digest mismatch, expected {digest!r}, got {got!r}")
        partial.rename(target)
        self.counters["blob_upload"] += 1
        return 201

    # --- models ------------------------------------------------------------------------
    def _manifest(self, name: str) -> Path:
        return self.root / "manifests" / (full_name(name).replace("/", "%2F") + ".json")

    def load(self, name: str) -> dict:
        path = self._manifest(name)
        if not path.is_file():
            raise StandinError(404, f"model '{name}' not found")
        return json.loads(path.read_text())

    def _create_fields(self, body: dict) -> dict:
        """Normalise both create forms to (blob digest, template, system, license, parameters)."""
        if self.modelfile_api:
            if not body.get("modelfile"):
                raise StandinError(400, "path or Modelfile are required")
            try:
                commands = parse_modelfile(body["modelfile"])
            except ModelfileParseError as exc:
                raise StandinError(400, str(exc)) from None
            fields = {"licenses": [], "raw_parameters": {}}
            for command, value in commands:
                if command == "model":
                    if not value.startswith("@"):
                        raise StandinError(400, f"FROM {value}: only uploaded blobs (@sha256:...) are supported")
                    fields["digest"] = value[1:]
                elif command in ("template", "system"):
                    fields[command] = value
                elif command == "license":
                    fields["licenses"].append(value)
                elif command in PARAMETER_TYPES:
                    if PARAMETER_TYPES[command] is list:
                        fields["raw_parameters"].setdefault(command, []).append(value)
                    else:
                        fields["raw_parameters"][command] = value
                else:
                    raise StandinError(400, f"unknown parameter '{command}'")
            return fields
        files = body.get("files") or {}
        if not files and not body.get("from"):
            raise StandinError(400, "neither 'from' or 'files' was specified")
        if len(files) != 1:
            raise StandinError(400, "the stand-in takes exactly one GGUF file")
        license_value = body.get("license") or []
        return {
            "digest": next(iter(files.values())),
            "template": body.get("template"),
            "system": body.get("system"),
            "licenses": [license_value] if isinstance(license_value, str) else list(license_value),
            "raw_parameters": body.get("parameters") or {},
        }

    def create(self, body: dict) -> dict:
        self.counters["create"] += 1
        name = full_name(body.get("model") or body.get("name") or "")
        fields = self._create_fields(body)
        blob = self.blob_path(fields["digest"])
        if not blob.is_file():
            raise StandinError(400, f"blob {fields['digest']} not found; upload it with POST /api/blobs first")
        with open(blob, "rb") as handle:
            if handle.read(4) != GGUF_MAGIC:
                raise StandinError(400, "supplied file was not in GGUF format")
        model_info, details = gguf_summary(blob)
        record = {
            "name": name,
            "blob": fields["digest"],
            "size": blob.stat().st_size,
            "template": fields.get("template") or DEFAULT_TEMPLATE,
            "system": fields.get("system") or "",
            "license": fields["licenses"],
            "parameters": typed_parameters(fields["raw_parameters"]),
            "model_info": model_info,
            "details": details,
            "modified_at": datetime.now(UTC).isoformat(),
        }
        record["digest"] = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
        self._manifest(name).write_text(json.dumps(record))
        return {"status": "success"}

    def delete(self, name: str) -> None:
        self.load(name)
        self._manifest(name).unlink()

    def copy(self, body: dict) -> None:
        source, destination = body.get("source"), body.get("destination")
        if not source or not destination:
            raise StandinError(400, "source and destination are required")
        record = {**self.load(source), "name": full_name(destination)}
        tmp = self._manifest(destination).with_suffix(".partial")
        tmp.write_text(json.dumps(record))
        tmp.replace(self._manifest(destination))  # the live tag switches in one step

    def tags(self) -> dict:
        models = []
        for path in sorted((self.root / "manifests").glob("*.json")):
            record = json.loads(path.read_text())
            models.append(
                {
                    "name": record["name"],
                    "model": record["name"],
                    "modified_at": record["modified_at"],
                    "size": record["size"],
                    "digest": record["digest"],
                    "details": record["details"],
                }
            )
        return {"models": models}

    def show(self, name: str) -> dict:
        record = self.load(name)
        parameter_lines = [
            f"{key:<30} {json.dumps(item)}"
            for key, value in sorted(record["parameters"].items())
            for item in (value if isinstance(value, list) else [value])
        ]
        return {
            "license": "\n".join(record["license"]),
            "modelfile": f"# Modelfile generated by the stand-in\nFROM {self.blob_path(record['blob'])}\n",
            "parameters": "\n".join(parameter_lines),
            "template": record["template"],
            "system": record["system"],
            "details": record["details"],
            "model_info": record["model_info"],
            "capabilities": ["completion"],
            "modified_at": record["modified_at"],
        }

    def close(self) -> None:
        self.generation.close()

    def generate(self, body: dict) -> dict:
        return self.generation.generate(body)

    def chat(self, body: dict) -> list[dict]:
        return self.generation.chat(body)
