"""Exceptions of the Ollama client, split by what a caller can do about them.

``TransientOllamaError`` (and its subclass ``OllamaUnreachableError``) mark failures
where a retry with backoff may succeed: timeouts, dropped connections, a busy
server, a server that is still starting. Everything else is permanent for the
given input and says why.
"""

from __future__ import annotations

# Ollama answers 503 when its request queue is full (OLLAMA_MAX_QUEUE); proxies in
# front of it answer 502/504 while it restarts.
TRANSIENT_STATUS_CODES = frozenset({429, 502, 503, 504})


class OllamaError(RuntimeError):
    """Any failure talking to an Ollama server."""


class TransientOllamaError(OllamaError):
    """A failure a later retry may not see (timeout, dropped connection, busy server)."""


class OllamaUnreachableError(TransientOllamaError):
    """No server accepts connections at the host."""

    def __init__(self, host: str, detail: str):
        super().__init__(
            f"cannot reach Ollama at {host} ({detail}). Start it with `ollama serve`, "
            f"or set OLLAMA_HOST to the address of a running server."
        )
        self.host = host


class OllamaAPIError(OllamaError):
    """The server answered with an error; ``error`` is its message, unchanged."""

    def __init__(self, endpoint: str, status: int, error: str):
        super().__init__(f"Ollama {endpoint} failed (HTTP {status}): {error}")
        self.endpoint = endpoint
        self.status = status
        self.error = error


class TransientOllamaAPIError(OllamaAPIError, TransientOllamaError):
    """An error answer that means "try again later" (busy, gateway errors)."""


class BlobDigestMismatchError(OllamaError):
    """The bytes that reached the server do not hash to the digest they were sent under."""


class ModelVerificationError(OllamaError):
    """The registered model does not report what the GGUF says, or the smoke prompt failed."""


def api_error(endpoint: str, status: int, error: str) -> OllamaAPIError:
    """The right error class for an error answer from ``endpoint``."""
    cls = TransientOllamaAPIError if status in TRANSIENT_STATUS_CODES else OllamaAPIError
    return cls(endpoint, status, error)
