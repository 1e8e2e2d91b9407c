"""Serving in Ollama: the REST client (blob upload, create, verify), its errors and settings,
and the Modelfile for `ollama create -f`."""
