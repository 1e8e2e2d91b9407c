"""Register a GGUF with an Ollama server over its REST API, then verify it answers.

The official ``ollama`` package covers create (new form), show, generate and
delete. It has no ``/api/version``, its ``create_blob`` always uploads (no HEAD
first), and since 0.4 it cannot send the ``modelfile`` form that Ollama <= 0.5.4
needs, so those three go over plain ``requests``.

Create API history (ollama/ollama commit 29a8975c6, first released in v0.5.5):
newer servers take ``files: {name: "sha256:<hex>"}`` plus typed fields; older ones
only a ``modelfile`` string whose FROM names the uploaded blob as ``@sha256:<hex>``.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import ollama
import requests
import urllib3

from pipeline.common.content import sha256_file
from pipeline.common.prompt_format import ollama_template
from pipeline.gguf.summary import read_gguf_facts
from pipeline.serve.errors import (
    BlobDigestMismatchError,
    ModelVerificationError,
    OllamaError,
    OllamaUnreachableError,
    TransientOllamaError,
    api_error,
)
from pipeline.serve.modelfile import render_modelfile
from pipeline.serve.settings import OllamaSettings, default_host, model_parameters, normalize_host

CHUNK_BYTES = 1 << 20
LAST_MODELFILE_API_VERSION = (0, 5, 4)
# Builds from source report 0.0.0; they are always newer than the create-API change.
DEVELOPMENT_VERSION = (0, 0, 0)


def file_digest(path: Path) -> str:
    """``sha256:<hex>`` of a file, read in chunks (GGUF files can be gigabytes)."""
    return f"sha256:{sha256_file(path)}"


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``(major, minor, patch)`` of ``0.5.4`` / ``v0.6.0-rc1``; None when unrecognisable."""
    match = re.match(r"v?(\d+)\.(\d+)\.(\d+)", text.strip())
    return tuple(int(part) for part in match.groups()) if match else None


def uses_modelfile_api(version: str) -> bool:
    """True for servers (<= 0.5.4) whose /api/create only accepts the ``modelfile`` form."""
    parsed = parse_version(version)
    return parsed is not None and parsed != DEVELOPMENT_VERSION and parsed <= LAST_MODELFILE_API_VERSION


class _HashingReader:
    """The body of a streamed upload: 1 MiB chunks, hashed exactly as they are handed out.

    ``__len__`` lets requests send a Content-Length instead of chunked encoding. There
    is deliberately no ``read``: given one, urllib3 would pull 16 KiB blocks instead.
    """

    def __init__(self, path: Path):
        self._path = Path(path)
        self._size = self._path.stat().st_size
        self._sha = hashlib.sha256()

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[bytes]:
        with open(self._path, "rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                self._sha.update(chunk)
                yield chunk

    def digest(self) -> str:
        return f"sha256:{self._sha.hexdigest()}"


def _is_connect_failure(exc: Exception) -> bool:
    """Whether a requests error happened before any connection existed (refused, no route, DNS)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, urllib3.exceptions.NewConnectionError)


def _error_text(response: requests.Response) -> str:
    """Ollama's ``{"error": ...}`` message, or the raw body when it is not JSON."""
    try:
        return str(response.json().get("error", response.text))
    except (ValueError, AttributeError):
        return response.text or response.reason


class OllamaClient:
    def __init__(self, host: str | None = None, timeout_s: float = 300.0):
        """``host`` as OLLAMA_HOST accepts it (``host:port`` is fine); None reads OLLAMA_HOST."""
        self.host = normalize_host(host) if host else default_host()
        self.timeout_s = timeout_s
        self._http = requests.Session()
        self._ollama = ollama.Client(host=self.host, timeout=timeout_s)

    @contextmanager
    def _translated_errors(self, endpoint: str) -> Iterator[None]:
        """Map both HTTP stacks' exceptions (httpx under ollama, requests here) onto ours."""
        try:
            yield
        except ollama.ResponseError as exc:
            raise api_error(endpoint, exc.status_code, exc.error) from exc
        except (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # the ollama package turns httpx.ConnectError into a builtin ConnectionError
            raise OllamaUnreachableError(self.host, "connection refused or host not found") from exc
        except requests.RequestException as exc:
            if _is_connect_failure(exc):
                raise OllamaUnreachableError(self.host, "connection refused or host not found") from exc
            if isinstance(exc, requests.Timeout):
                raise TransientOllamaError(f"{endpoint} on {self.host} timed out after {self.timeout_s}s") from exc
            raise TransientOllamaError(f"{endpoint} on {self.host}: connection failed mid-request ({exc})") from exc
        except httpx.TimeoutException as exc:
            raise TransientOllamaError(f"{endpoint} on {self.host} timed out after {self.timeout_s}s") from exc
        except httpx.TransportError as exc:
            raise TransientOllamaError(f"{endpoint} on {self.host}: connection failed mid-request ({exc})") from exc

    def _request(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs) -> requests.Response:
        endpoint = f"{method} {path}"
        with self._translated_errors(endpoint):
            response = self._http.request(method, self.host + path, timeout=self.timeout_s, **kwargs)
        if response.status_code not in ok:
            raise api_error(endpoint, response.status_code, _error_text(response))
        return response

    def version(self) -> str:
        return str(self._request("GET", "/api/version").json()["version"])

    def has_blob(self, digest: str) -> bool:
        response = self._request("HEAD", f"/api/blobs/{digest}", ok=(200, 404))
        return response.status_code == 200

    def push_blob(self, path: Path, digest: str) -> None:
        """Stream ``path`` to the server as blob ``digest``; the server re-hashes what it receives."""
        reader = _HashingReader(path)
        response = self._request("POST", f"/api/blobs/{digest}", ok=(200, 201, 400), data=reader)
        if response.status_code == 400:
            raise BlobDigestMismatchError(f"{path}: Ollama rejected the upload as {digest}: {_error_text(response)}")
        if reader.digest() != digest:
            raise BlobDigestMismatchError(
                f"{path}: the file changed while uploading (sent {reader.digest()}, expected {digest})"
            )

    def _ensure_blob(self, path: Path) -> tuple[str, bool]:
        """(digest, uploaded): the server keeps blobs by content, so an existing one is reused."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"{path}: model file does not exist")
        digest = file_digest(path)
        if self.has_blob(digest):
            return digest, False
        self.push_blob(path, digest)
        return digest, True

    def ensure_blob(self, path: Path) -> str:
        return self._ensure_blob(path)[0]

    def create(self, model: str, gguf_path: Path, template: str, system: str, parameters: dict, license: str) -> dict:
        """Upload the GGUF if needed and create ``model`` with the form the server understands."""
        digest, uploaded = self._ensure_blob(gguf_path)
        version = self.version()
        if uses_modelfile_api(version):
            api_form = "modelfile"
            modelfile = render_modelfile(f"@{digest}", template, system, parameters, license)
            # "name" for servers older than the "model" field; 0.5.x reads either.
            body = {"model": model, "name": model, "modelfile": modelfile, "stream": False}
            status = self._request("POST", "/api/create", json=body).json().get("status")
        else:
            api_form = "files"
            with self._translated_errors("POST /api/create"):
                status = self._ollama.create(
                    model=model,
                    files={Path(gguf_path).name: digest},
                    template=template,
                    system=system or None,
                    parameters=parameters,
                    license=license or None,
                    stream=False,
                ).status
        if status != "success":
            raise OllamaError(f"Ollama POST /api/create for {model!r} ended with status {status!r}")
        return {
            "model": model,
            "digest": digest,
            "blob_uploaded": uploaded,
            "server_version": version,
            "api_form": api_form,
        }

    def show(self, model: str) -> dict:
        with self._translated_errors("POST /api/show"):
            return self._ollama.show(model).model_dump(by_alias=True, mode="json")

    def generate(self, model: str, prompt: str, num_predict: int = 64) -> str:
        """Greedy answer through the model's TEMPLATE (temperature 0, fixed seed)."""
        options = {"temperature": 0.0, "seed": 0, "num_predict": num_predict}
        with self._translated_errors("POST /api/generate"):
            return self._ollama.generate(model=model, prompt=prompt, options=options, stream=False).response

    def delete(self, model: str) -> None:
        with self._translated_errors("DELETE /api/delete"):
            self._ollama.delete(model)

    def copy(self, source: str, destination: str) -> None:
        with self._translated_errors("POST /api/copy"):
            self._ollama.copy(source, destination)


def _verify_show(model: str, shown: dict, architecture: str, context_length: int, template: str) -> None:
    model_info = shown.get("model_info") or {}
    reported = (model_info.get("general.architecture"), model_info.get(f"{architecture}.context_length"))
    if reported != (architecture, context_length):
        raise ModelVerificationError(
            f"Ollama reports {model!r} as architecture/context {reported}, "
            f"but the GGUF holds {(architecture, context_length)}"
        )
    if shown.get("template") != template:
        raise ModelVerificationError(f"Ollama's TEMPLATE for {model!r} differs from the one sent")


def staging_name(model_name: str) -> str:
    """A temporary tag beside ``model_name`` (``name:tag`` -> ``name:tag-staging-<hex>``)."""
    base, _, tag = model_name.partition(":")
    return f"{base}:{tag or 'latest'}-staging-{uuid.uuid4().hex[:8]}"


def register_model(host: str | None, model_name: str, gguf_path: Path, settings: OllamaSettings) -> dict:
    """Create ``model_name`` from ``gguf_path``, check /api/show against the GGUF, run one smoke prompt.

    All of it happens under a temporary tag that is copied to ``model_name`` only once verified, so a
    failed check leaves users on the model they had, never on an unverified one."""
    facts = read_gguf_facts(gguf_path)
    client = OllamaClient(host, settings.timeout_s)
    template = ollama_template()
    parameters = model_parameters(facts.context_length)
    staging = staging_name(model_name)
    try:
        created = client.create(staging, gguf_path, template, settings.system, parameters, settings.license)
        _verify_show(staging, client.show(staging), facts.architecture, facts.context_length, template)
        answer = client.generate(staging, settings.smoke_prompt, num_predict=settings.num_predict)
        if not answer.strip():
            raise ModelVerificationError(f"{model_name!r} gave an empty answer to the smoke prompt")
        client.copy(staging, model_name)
    finally:
        with contextlib.suppress(OllamaError):
            client.delete(staging)  # the blob stays: the live tag (or a retry) uses it
    return {
        **created,
        "host": client.host,
        "architecture": facts.architecture,
        "context_length": facts.context_length,
        "parameters": parameters,
        "smoke_prompt": settings.smoke_prompt,
        "smoke_answer": answer,
    }
