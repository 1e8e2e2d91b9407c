"""Where the user's Ollama server is and what to register in it."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from pipeline.serve.settings import default_host, normalize_host


class OllamaResource(dg.ConfigurableResource):
    host: str = Field(
        default_factory=default_host, description="Ollama server; default $OLLAMA_HOST or http://127.0.0.1:11434"
    )
    timeout_s: float = Field(300.0, description="seconds for one request (create re-reads the whole GGUF)")
    model_name: str = Field("mpyforge-micropython", description="model name; the tag is <preset>-<variant>")

    def base_url(self) -> str:
        return normalize_host(self.host)

    def model_tag(self, preset: str, variant: str) -> str:
        return f"{self.model_name}:{preset}-{variant}"
