"""Modelfiles we write are read back, by a reader of the documented Modelfile rules, exactly as intended."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.common.decoding import DECODING
from pipeline.common.prompt_format import ollama_template, stop_sequences
from pipeline.serve.modelfile import quote_value, write_modelfile
from pipeline.serve.settings import OllamaSettings
from scripts.modelfile_parser import ModelfileParseError, parse_modelfile

TRICKY_VALUES = [
    "plain",
    "",
    "  padded on both sides  ",
    'has "quotes" inside',
    '"wrapped in quotes"',
    'ends with two quotes ""',
    "multi\nline\n\nwith blank lines",
    "ends with a newline\n",
    "\nstarts with a newline",
    "tab\tseparated",
    "# not a comment",
    "Windows\r\nline ends",
    "Übung 温度 🌡️",
]


@pytest.mark.parametrize("value", TRICKY_VALUES)
def test_quoted_values_survive_the_modelfile_rules(value):
    modelfile = f"FROM ./m.gguf\nSYSTEM {quote_value(value, 'SYSTEM')}\nPARAMETER num_ctx 8\n"
    assert parse_modelfile(modelfile) == [("model", "./m.gguf"), ("system", value), ("num_ctx", "8")]


@pytest.mark.parametrize(
    "value,problem", [('a """ b', '"""'), ("bell\x07", "not printable"), ("zero\u200bwidth", "not printable")]
)
def test_values_the_parser_would_alter_are_refused(value, problem):
    with pytest.raises(ValueError, match=problem) as caught:
        quote_value(value, "SYSTEM")
    assert "SYSTEM" in str(caught.value)


def test_written_modelfile_holds_template_parameters_system_and_license(tmp_path):
    gguf = tmp_path / "tiny-q8_0.gguf"
    gguf.write_bytes(b"GGUF")
    settings = OllamaSettings(system='Answer in "MicroPython".', license="MIT License\n\nCopyright (c) mpyforge")
    text = write_modelfile(tmp_path / "Modelfile", gguf, 512, settings)
    assert (tmp_path / "Modelfile").read_text() == text

    commands = parse_modelfile(text)
    values = {name: [v for n, v in commands if n == name] for name, _ in commands}
    assert values["model"] == ["./tiny-q8_0.gguf"]  # relative: survives moving the directory
    assert values["template"] == [ollama_template()]
    assert values["stop"] == stop_sequences()
    assert values["num_ctx"] == ["512"]
    assert float(values["temperature"][0]) == DECODING.temperature  # the settings the model was scored with
    assert int(values["num_predict"][0]) == DECODING.max_new_tokens
    assert values["system"] == [settings.system]
    assert values["license"] == [settings.license]
    assert 'TEMPLATE """' in text  # multi-line template in triple quotes


def test_gguf_outside_the_modelfile_directory_is_referenced_absolutely(tmp_path):
    gguf = tmp_path / "models" / "m.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF")
    (tmp_path / "ollama").mkdir()
    text = write_modelfile(tmp_path / "ollama" / "Modelfile", gguf, 128, OllamaSettings(license=""))
    commands = parse_modelfile(text)
    assert commands[0] == ("model", str(gguf.resolve()))
    assert not any(name == "license" for name, _ in commands)


def test_a_gguf_elsewhere_in_the_artifact_store_is_referenced_relatively(tmp_path):
    store = tmp_path / "artifacts"
    gguf = store / "gguf_models" / "q4_k_m" / "v1" / "model-q4_k_m.gguf"
    gguf.parent.mkdir(parents=True)
    gguf.write_bytes(b"GGUF")
    modelfile = store / "ollama_model" / "q4_k_m" / "v2" / "Modelfile"
    modelfile.parent.mkdir(parents=True)
    text = write_modelfile(modelfile, gguf, 128, OllamaSettings(license=""), root=store)
    ref = parse_modelfile(text)[0][1]
    assert not Path(ref).is_absolute() and ref.startswith("../")
    # Ollama resolves it against the Modelfile's directory; the store may be mounted anywhere.
    moved = tmp_path / "mounted-elsewhere"
    store.rename(moved)
    assert (moved / "ollama_model" / "q4_k_m" / "v2" / ref).resolve() == (moved / gguf.relative_to(store)).resolve()


def test_reader_rejects_what_ollama_rejects():
    with pytest.raises(ModelfileParseError, match="no FROM line"):
        parse_modelfile('SYSTEM "x"\n')
    with pytest.raises(ModelfileParseError, match="open quote"):
        parse_modelfile('FROM m\nTEMPLATE """never closed\n')
    with pytest.raises(ModelfileParseError, match="command must be one of"):
        parse_modelfile("FROM m\nBOGUS x\n")
