"""A protocol-faithful Ollama stand-in: real HTTP, real blobs, real GGUF parsing, real llama.cpp.

Endpoints (Ollama ``docs/api.md``): ``GET /api/version``, ``HEAD``/``POST
/api/blobs/sha256:<hex>``, ``POST /api/create``, ``POST /api/show``, ``GET
/api/tags``, ``POST /api/generate`` (``stream`` is always answered as false),
``DELETE /api/delete``, ``POST /api/copy``. Errors are ``{"error": "..."}`` with Ollama's status codes.
A version <= 0.5.4 switches ``/api/create`` to the old ``modelfile``-only form.

In tests: ``with running_standin(tmp_path) as server: server.url, server.store.counters``.
By hand (``make ollama-standin``)::

    python -m scripts.ollama_standin --port 11434 --store DIR [--version 0.5.4]
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from scripts.ollama_standin_store import ModelStore, StandinError

CURRENT_VERSION = "0.12.6"
OLD_CREATE_API_VERSION = "0.5.4"
READ_CHUNK = 1 << 20
# Bounds on what one request may send: a JSON request is a few KB; a blob is a GGUF file.
MAX_JSON_BYTES = 16 << 20
MAX_BLOB_BYTES = 1 << 40
SOCKET_TIMEOUT_S = 60.0  # a client that stops sending mid-request frees its thread


class StandinHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive like Go's server; every answer carries Content-Length
    server: StandinServer

    def setup(self) -> None:
        self.timeout = self.server.socket_timeout_s  # StreamRequestHandler applies it to the socket
        super().setup()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        if self.server.verbose:
            super().log_message(format, *args)

    # --- plumbing ------------------------------------------------------------------------
    def _send(self, status: int, payload: dict | None = None) -> None:
        body = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body_chunks(self, limit: int = MAX_BLOB_BYTES) -> Iterator[bytes]:
        """The request body, Content-Length or chunked (the ollama package streams blobs chunked),
        refused with 413 once it passes ``limit`` bytes."""
        too_large = StandinError(413, f"request body over {limit} bytes")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            total = 0
            while size := int(self.rfile.readline(64).split(b";")[0].strip() or b"0", 16):
                total += size
                if total > limit:
                    raise too_large
                yield self.rfile.read(size)
                self.rfile.readline(64)
            while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return
        remaining = int(self.headers.get("Content-Length") or 0)
        if remaining > limit:
            raise too_large
        while remaining > 0:
            chunk = self.rfile.read(min(READ_CHUNK, remaining))
            if not chunk:
                raise StandinError(400, "unexpected EOF in request body")
            remaining -= len(chunk)
            yield chunk

    def _json_body(self) -> dict:
        raw = b"".join(self._body_chunks(MAX_JSON_BYTES))
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError as exc:
            raise StandinError(400, f"invalid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise StandinError(400, "request body must be a JSON object")
        return body

    def _dispatch(self, routes: dict) -> None:
        store = self.server.store
        path = self.path.split("?", 1)[0]
        try:
            if path.startswith("/api/blobs/") and "blobs" in routes:
                routes["blobs"](store, path.removeprefix("/api/blobs/"))
            elif path in routes:
                routes[path](store)
            else:
                self._send(404, {"error": "404 page not found"})
        except StandinError as exc:
            self.close_connection = True  # the request body may be unread; don't reuse the stream
            self._send(exc.status, {"error": exc.message})

    # --- endpoints -----------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch(
            {
                "/api/version": lambda store: self._send(200, {"version": store.version}),
                "/api/tags": lambda store: self._send(200, store.tags()),
            }
        )

    def do_HEAD(self) -> None:  # noqa: N802
        def head_blob(store: ModelStore, digest: str) -> None:
            self._send(200 if store.has_blob(digest) else 404)

        self._dispatch({"blobs": head_blob})

    def do_POST(self) -> None:  # noqa: N802
        def copy(store: ModelStore) -> None:
            store.copy(self._json_body())
            self._send(200)

        def post_blob(store: ModelStore, digest: str) -> None:
            self._send(store.write_blob(digest, self._body_chunks()))

        self._dispatch(
            {
                "blobs": post_blob,
                "/api/create": lambda store: self._send(200, store.create(self._json_body())),
                "/api/show": lambda store: self._send(200, store.show(self._model_name(self._json_body()))),
                "/api/generate": lambda store: self._send(200, store.generate(self._json_body())),
                "/api/chat": lambda store: self._chat(store, self._json_body()),
                "/api/copy": copy,
            }
        )

    def do_DELETE(self) -> None:  # noqa: N802
        def delete(store: ModelStore) -> None:
            store.delete(self._model_name(self._json_body()))
            self._send(200)

        self._dispatch({"/api/delete": delete})

    def _chat(self, store: ModelStore, body: dict) -> None:
        objects = store.chat(body)
        if body.get("stream", True) is False:
            self._send(200, objects[-1])
            return
        # Ollama streams application/x-ndjson with chunked transfer encoding, one object a chunk.
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for item in objects:
            data = (json.dumps(item) + "\n").encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    @staticmethod
    def _model_name(body: dict) -> str:
        name = body.get("model") or body.get("name")  # "name" is the deprecated spelling
        if not name:
            raise StandinError(400, "model is required")
        return name


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, store: ModelStore, verbose: bool = False, socket_timeout_s: float = SOCKET_TIMEOUT_S):
        super().__init__(("127.0.0.1", port), StandinHandler)
        self.store = store
        self.verbose = verbose
        self.socket_timeout_s = socket_timeout_s


@dataclass
class RunningStandin:
    url: str
    store: ModelStore


@contextmanager
def running_standin(
    store_dir: Path, version: str = CURRENT_VERSION, socket_timeout_s: float = SOCKET_TIMEOUT_S
) -> Iterator[RunningStandin]:
    """Serve on an ephemeral 127.0.0.1 port in a background thread for the duration of the block."""
    store = ModelStore(store_dir, version)
    server = StandinServer(0, store, socket_timeout_s=socket_timeout_s)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RunningStandin(f"http://127.0.0.1:{server.server_address[1]}", store)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Ollama stand-in server (mpyforge tests)")
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--store", type=Path, required=True, help="directory for blobs and manifests")
    parser.add_argument(
        "--version",
        default=CURRENT_VERSION,
        help=f"reported version; <= {OLD_CREATE_API_VERSION} switches /api/create to the old modelfile form",
    )
    args = parser.parse_args(argv)
    server = StandinServer(args.port, ModelStore(args.store, args.version), verbose=True)
    print(f"Ollama stand-in {args.version} on http://127.0.0.1:{args.port}, store {args.store}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.store.close()


if __name__ == "__main__":
    main()
