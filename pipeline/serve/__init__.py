"""Serving in Ollama: the REST client (blob upload, create, verify), its errors and settings,
and the Modelfile for `ollama create -f`."""

from pipeline.common.exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "OllamaSettings": "settings",
        "register_model": "client",
        "OllamaClient": "client",
        "write_modelfile": "modelfile",
        "OllamaUnreachableError": "errors",
    },
)
