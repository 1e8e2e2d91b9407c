"""GGUF blob upload to an Ollama server: our HEAD-then-stream client against the ollama package.

Against the stand-in server (scripts/ollama_standin.py, real HTTP on 127.0.0.1), on a
random file of ``--mib`` MiB, each measured ``--repeats`` times on a fresh store:

- baseline: ``ollama.Client.create_blob`` (hashes the file, then always POSTs it, chunked)
- ``OllamaClient.ensure_blob`` on an empty store (hash, HEAD 404, streamed POST with Content-Length)
- ``OllamaClient.ensure_blob`` again with the blob present (hash, HEAD 200, no upload)
- ``file_digest`` alone (the hashing floor every variant pays)

Reported: median seconds and speed relative to the baseline in the same run.

Run: .venv/bin/python -m benchmarks.ollama_blob [--mib 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import ollama

from pipeline.serve.client import OllamaClient, file_digest
from scripts.ollama_standin import running_standin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        blob = work / "model.gguf"
        blob.write_bytes(os.urandom(args.mib << 20))
        results: dict[str, float] = {}

        def measure(label: str, action: Callable[[str], object], prime: bool = False) -> None:
            """Median time of ``action`` against a server with a fresh store (primed with the blob or not)."""
            times = []
            for attempt in range(args.repeats):
                with running_standin(work / f"store-{len(results)}-{attempt}") as server:
                    if prime:
                        OllamaClient(server.url).ensure_blob(blob)
                    start = time.perf_counter()
                    action(server.url)
                    times.append(time.perf_counter() - start)
            results[label] = statistics.median(times)

        measure("ollama package create_blob (baseline)", lambda url: ollama.Client(host=url).create_blob(blob))
        measure("ensure_blob, new blob", lambda url: OllamaClient(url).ensure_blob(blob))
        measure("ensure_blob, blob present", lambda url: OllamaClient(url).ensure_blob(blob), prime=True)
        measure("file_digest only", lambda url: file_digest(blob))

    baseline = results["ollama package create_blob (baseline)"]
    print(f"{args.mib} MiB, median of {args.repeats}")
    print("| variant | seconds | speed vs baseline |")
    print("|---|---:|---:|")
    for label, seconds in results.items():
        print(f"| {label} | {seconds:.3f} | x{baseline / seconds:.2f} |")


if __name__ == "__main__":
    main()
