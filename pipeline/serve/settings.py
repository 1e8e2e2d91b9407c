"""Settings shared by the Ollama client and the Modelfile writer.

Both ways of registering a model (REST ``/api/create`` and ``ollama create -f
Modelfile``) must give the same model, so the parameter set is built once here. Its decoding
parameters are ``pipeline.common.decoding.DECODING``, the settings the model was scored with.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from pipeline.common.decoding import DECODING, DecodingSettings

DEFAULT_PORT = 11434
DEFAULT_HOST = f"http://127.0.0.1:{DEFAULT_PORT}"


@dataclass
class OllamaSettings:
    # The SFT data has no system turn, so by default Ollama gets none: a SYSTEM text the model never
    # saw in training is only noise in its prompt. Set one only for a model trained with it.
    system: str = ""
    license: str = ""  # LICENSE text shown by `ollama show --license`; empty = none
    smoke_prompt: str = "Blink the LED on pin 2 once per second."
    num_predict: int = 48  # tokens the smoke prompt may produce
    timeout_s: float = 300.0  # create on a real server re-validates the GGUF, which takes a while


def normalize_host(value: str | None) -> str:
    """``scheme://host:port`` from an ``OLLAMA_HOST``-style value, as Ollama reads it.

    Accepts ``host``, ``host:port``, ``:port`` and full URLs; the scheme defaults to
    http and the port to 11434 (443 for https), like the ollama CLI and Python client.
    """
    text = (value or "").strip().rstrip("/")
    if not text:
        return DEFAULT_HOST
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"Ollama host {value!r}: scheme must be http or https, not {parts.scheme!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"Ollama host {value!r}: {exc}") from exc
    hostname = parts.hostname or "127.0.0.1"
    if ":" in hostname:  # IPv6 literal
        hostname = f"[{hostname}]"
    port = port or (443 if parts.scheme == "https" else DEFAULT_PORT)
    return f"{parts.scheme}://{hostname}:{port}{parts.path}"


def default_host() -> str:
    """The server the ollama CLI would talk to: ``$OLLAMA_HOST`` or 127.0.0.1:11434."""
    return normalize_host(os.environ.get("OLLAMA_HOST"))


def model_parameters(context_length: int, decoding: DecodingSettings = DECODING) -> dict:
    """Ollama model parameters: the trained context and ``decoding`` (stop strings, sampling, token limit).

    Ollama's own defaults (top_k 40, min_p 0) are set explicitly so a sample is drawn as HF draws it.
    """
    if context_length <= 0:
        raise ValueError(f"context_length must be positive, got {context_length}")
    return {
        "stop": list(decoding.stop),
        "num_ctx": int(context_length),
        "num_predict": int(decoding.max_new_tokens),
        "temperature": float(decoding.temperature),
        "top_k": 0,
        "top_p": float(decoding.top_p),
        "min_p": 0.0,
        "repeat_penalty": float(decoding.repeat_penalty),
        "repeat_last_n": int(decoding.repeat_last_n),
    }
