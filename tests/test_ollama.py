"""Ollama registration end to end against the stand-in server (real HTTP, real GGUF, real llama.cpp)."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from pipeline.common.prompt_format import ollama_template, stop_sequences
from pipeline.gguf.writer import write_gguf
from pipeline.serve.client import OllamaClient, file_digest, register_model, uses_modelfile_api
from pipeline.serve.errors import BlobDigestMismatchError, OllamaAPIError, OllamaUnreachableError, TransientOllamaError
from pipeline.serve.settings import OllamaSettings, default_host, normalize_host
from scripts.ollama_standin import OLD_CREATE_API_VERSION, running_standin
from tests.tiny_models import build_tiny_llama
from tests.waits import STARTUP_S


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    model_dir = build_tiny_llama(root / "hf", hidden=64, layers=1, heads=2, kv_heads=1, intermediate=128, context=256)
    return Path(write_gguf(model_dir, root / "tiny-llama-f32.gguf")["path"])


@pytest.fixture()
def settings() -> OllamaSettings:
    return OllamaSettings(license="MIT License\n\nCopyright (c) mpyforge", num_predict=8, timeout_s=60)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("version,api_form", [("0.12.6", "files"), (OLD_CREATE_API_VERSION, "modelfile")])
def test_register_verifies_and_answers_with_both_create_apis(tmp_path, tiny_gguf, settings, version, api_form):
    with running_standin(tmp_path, version=version) as server:
        result = register_model(server.url, "mpyforge-tiny", tiny_gguf, settings)
        shown = OllamaClient(server.url).show("mpyforge-tiny")
        tags = requests.get(f"{server.url}/api/tags", timeout=10).json()["models"]

    assert result["api_form"] == api_form and result["server_version"] == version
    assert result["blob_uploaded"] is True and result["digest"] == file_digest(tiny_gguf)
    assert (result["architecture"], result["context_length"]) == ("llama", 256)
    assert result["smoke_answer"].strip()
    assert not any(stop in result["smoke_answer"] for stop in stop_sequences())
    # Both forms must leave the same model behind: template, stops, context, license.
    assert shown["template"] == ollama_template()
    stop_lines = [line.split(None, 1)[1] for line in shown["parameters"].splitlines() if line.startswith("stop ")]
    assert stop_lines == [f'"{stop}"' for stop in stop_sequences()]
    assert any(line.split() == ["num_ctx", "256"] for line in shown["parameters"].splitlines())
    assert shown["license"] == settings.license
    assert shown["model_info"]["llama.context_length"] == 256
    assert [tag["name"] for tag in tags] == ["mpyforge-tiny:latest"]
    assert tags[0]["details"]["family"] == "llama"


def test_reregistering_the_same_gguf_reuses_the_blob(tmp_path, tiny_gguf, settings):
    with running_standin(tmp_path) as server:
        first = register_model(server.url, "tiny:v1", tiny_gguf, settings)
        second = register_model(server.url, "tiny:v1", tiny_gguf, settings)
        counters = dict(server.store.counters)

    assert first["blob_uploaded"] is True and second["blob_uploaded"] is False
    assert counters["blob_upload"] == 1 and counters["blob_head"] == 2 and counters["create"] == 2
    assert second["smoke_answer"] == first["smoke_answer"]  # greedy: same model, same answer


def test_unreachable_host_names_it_and_says_how_to_start_ollama():
    host = f"127.0.0.1:{_closed_port()}"
    client = OllamaClient(host, timeout_s=5)
    for call in (client.version, lambda: client.show("anything")):  # requests path and ollama-package path
        with pytest.raises(OllamaUnreachableError) as caught:
            call()
        message = str(caught.value)
        assert f"http://{host}" in message and "ollama serve" in message and "OLLAMA_HOST" in message
        assert isinstance(caught.value, TransientOllamaError)


def test_a_server_that_never_answers_is_a_transient_timeout():
    with socket.socket() as listener:  # accepts connections (kernel backlog) but never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = OllamaClient(f"127.0.0.1:{listener.getsockname()[1]}", timeout_s=0.5)
        with pytest.raises(TransientOllamaError, match="timed out") as caught:
            client.version()
    assert not isinstance(caught.value, OllamaUnreachableError)


def test_digest_mismatch_is_reported_and_nothing_is_stored(tmp_path, tiny_gguf):
    wrong = "sha256:" + "0" * 64
    with running_standin(tmp_path / "store") as server:
        client = OllamaClient(server.url)
        with pytest.raises(BlobDigestMismatchError) as caught:
            client.push_blob(tiny_gguf, wrong)
        assert not client.has_blob(wrong)
        assert server.store.counters["blob_upload"] == 0
    assert str(tiny_gguf) in str(caught.value) and "digest mismatch" in str(caught.value)


def test_server_error_bodies_are_shown_as_is(tmp_path, settings):
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("this is not a model")
    with running_standin(tmp_path / "store") as server:
        client = OllamaClient(server.url)
        with pytest.raises(OllamaAPIError) as missing:
            client.show("nope")
        with pytest.raises(OllamaAPIError) as bad_file:
            client.create("bad", not_gguf, ollama_template(), "", {"num_ctx": 8}, "")
    assert missing.value.status == 404 and missing.value.error == "model 'nope' not found"
    assert "POST /api/show" in str(missing.value)
    assert bad_file.value.status == 400 and bad_file.value.error == "supplied file was not in GGUF format"


def test_delete_removes_the_model(tmp_path, tiny_gguf, settings):
    with running_standin(tmp_path) as server:
        client = OllamaClient(server.url)
        client.create("gone", tiny_gguf, ollama_template(), "", {"num_ctx": 64}, "")
        client.delete("gone")
        with pytest.raises(OllamaAPIError, match="not found"):
            client.show("gone")
        with pytest.raises(OllamaAPIError) as again:
            client.delete("gone")
    assert again.value.status == 404


@pytest.mark.parametrize(
    "version,body,error",
    [
        # A new server ignores the removed "modelfile" field; an old one does not know "files".
        ("0.12.6", {"model": "m", "modelfile": "FROM @sha256:" + "0" * 64}, "neither 'from' or 'files' was specified"),
        (
            OLD_CREATE_API_VERSION,
            {"model": "m", "files": {"m.gguf": "sha256:" + "0" * 64}},
            "path or Modelfile are required",
        ),
    ],
)
def test_each_server_generation_rejects_the_other_create_form(tmp_path, version, body, error):
    with running_standin(tmp_path, version=version) as server:
        response = requests.post(f"{server.url}/api/create", json={**body, "stream": False}, timeout=10)
    assert response.status_code == 400 and response.json() == {"error": error}


def test_version_switch_between_create_forms():
    assert uses_modelfile_api("0.5.4") and uses_modelfile_api("0.1.32")
    assert not uses_modelfile_api("0.5.5") and not uses_modelfile_api("0.12.6-rc1")
    assert not uses_modelfile_api("0.0.0")  # source builds are always newer
    assert not uses_modelfile_api("unknown")


@pytest.mark.parametrize(
    "value,expected",
    [
        (None, "http://127.0.0.1:11434"),
        ("", "http://127.0.0.1:11434"),
        ("example.com", "http://example.com:11434"),
        ("10.0.0.5:8080", "http://10.0.0.5:8080"),
        (":9999", "http://127.0.0.1:9999"),
        ("https://ollama.example.com", "https://ollama.example.com:443"),
        ("http://[::1]:11435/", "http://[::1]:11435"),
    ],
)
def test_host_values_are_read_like_ollama_does(value, expected):
    assert normalize_host(value) == expected


def test_default_host_comes_from_ollama_host(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box:11500")
    assert default_host() == "http://gpu-box:11500"
    assert OllamaClient().host == "http://gpu-box:11500"
    with pytest.raises(ValueError, match="scheme"):
        normalize_host("ftp://gpu-box")


def test_standin_generation_is_greedy_and_cuts_at_stop_strings(tmp_path, tiny_gguf):
    with running_standin(tmp_path) as server:
        client = OllamaClient(server.url)
        client.create("tiny", tiny_gguf, ollama_template(), "", {"num_ctx": 256}, "")

        def answer(options: dict) -> dict:
            body = {"model": "tiny", "prompt": "led = Pin(2)", "stream": False, "options": options}
            return requests.post(f"{server.url}/api/generate", json=body, timeout=60).json()

        free = answer({"num_predict": 12})
        stop = free["response"][3:5]
        cut = answer({"num_predict": 12, "stop": [stop]})
    assert free["eval_count"] == 12 and free["done_reason"] == "length"
    assert cut["response"] == free["response"][: free["response"].index(stop)]
    assert cut["done_reason"] == "stop"


def test_standin_runs_as_a_script_for_make_ollama_standin(tmp_path):
    port = _closed_port()
    # As the Makefile starts it: a module run from the repository root.
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scripts.ollama_standin",
            "--port",
            str(port),
            "--store",
            str(tmp_path),
            "--version",
            "0.5.4",
        ],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        client = OllamaClient(f"127.0.0.1:{port}", timeout_s=5)
        deadline = time.monotonic() + STARTUP_S
        while True:
            try:
                assert client.version() == "0.5.4"
                break
            except OllamaUnreachableError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, f"stand-in did not start within {STARTUP_S} s"
                time.sleep(0.2)
        assert (tmp_path / "blobs").is_dir()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_registration_that_fails_verification_leaves_the_live_tag_alone(tmp_path, tiny_gguf, settings):
    other = build_tiny_llama(
        tmp_path / "other", hidden=64, layers=1, heads=2, kv_heads=1, intermediate=128, context=128
    )
    other_gguf = Path(write_gguf(other, tmp_path / "other-f32.gguf")["path"])
    with running_standin(tmp_path / "server") as server:
        register_model(server.url, "tiny:live", tiny_gguf, settings)
        live = OllamaClient(server.url).show("tiny:live")
        # The smoke prompt fails on the new model (it overflows the stand-in's 128-token context).
        too_long = dataclasses.replace(settings, smoke_prompt="led.on() " * 200)
        with pytest.raises(OllamaAPIError, match="exceeds the context length"):
            register_model(server.url, "tiny:live", other_gguf, too_long)
        after = OllamaClient(server.url).show("tiny:live")
        names = [tag["name"] for tag in requests.get(f"{server.url}/api/tags", timeout=10).json()["models"]]
    assert after["model_info"]["llama.context_length"] == live["model_info"]["llama.context_length"] == 256
    assert names == ["tiny:live"]  # no staging tag left behind


def test_standin_refuses_oversized_bodies_and_drops_silent_clients(tmp_path):
    with running_standin(tmp_path, socket_timeout_s=1) as server:
        address = server.url.removeprefix("http://").split(":")
        with socket.create_connection((address[0], int(address[1])), timeout=30) as sock:
            sock.sendall(f"POST /api/show HTTP/1.1\r\nHost: x\r\nContent-Length: {1 << 40}\r\n\r\n{{".encode())
            assert sock.recv(4096).startswith(b"HTTP/1.1 413")
        with socket.create_connection((address[0], int(address[1])), timeout=30) as sock:
            sock.sendall(b"POST /api/show HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            # The body never comes: after its socket timeout the server closes the connection.
            assert sock.recv(4096) == b"", "the stand-in kept a silent client's connection open"
