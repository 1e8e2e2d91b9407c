"""The Ollama TEMPLATE renders exactly the prompt the model was trained on.

Three renderings of one prompt format must agree: ``prompt_format.render``, the
HF/GGUF Jinja ``chat_template`` (through jinja2 and through transformers), and the
Go ``TEMPLATE`` (through the subset renderer in ``scripts/go_template.py`` and, where
a Go toolchain exists, through real ``text/template``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from pipeline.common.prompt_format import Message, chat_template_jinja, ollama_template, render
from scripts.go_template import render_go_template
from tests.tiny_models import build_tiny_tokenizer

CONVERSATIONS = {
    "user only": [Message("user", "Blink the LED on pin 2.")],
    "system and user": [Message("system", "You write MicroPython."), Message("user", "Read ADC 0.")],
    "multi-turn": [
        Message("system", "Be brief."),
        Message("user", "Scan the I2C bus."),
        Message("assistant", "from machine import I2C\nprint(I2C(0).scan())"),
        Message("user", "Now at 100 kHz?"),
    ],
    "awkward content": [
        Message("user", '  leading spaces, {{ braces }}, {% tags %}, "quotes", tabs\tand\n\nblank lines\n')
    ],
    "no system, two turns": [Message("user", "a"), Message("assistant", "b"), Message("user", "c")],
}


def _go_data(messages: list[Message]) -> dict:
    return {"Messages": [{"Role": m.role, "Content": m.content} for m in messages]}


def _jinja(messages: list[Message]) -> str:
    # transformers renders chat templates in this sandbox with these two options.
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(chat_template_jinja()).render(
        messages=[{"role": m.role, "content": m.content} for m in messages], add_generation_prompt=True
    )


@pytest.mark.parametrize("name", CONVERSATIONS)
def test_go_jinja_and_python_renderings_agree(name):
    messages = CONVERSATIONS[name]
    expected = render(messages, add_generation_prompt=True)
    assert render_go_template(ollama_template(), _go_data(messages)) == expected
    assert _jinja(messages) == expected


def test_hf_apply_chat_template_agrees(tmp_path):
    tokenizer = build_tiny_tokenizer(tmp_path)
    tokenizer.chat_template = chat_template_jinja()
    for messages in CONVERSATIONS.values():
        as_dicts = [{"role": m.role, "content": m.content} for m in messages]
        hf = tokenizer.apply_chat_template(as_dicts, tokenize=False, add_generation_prompt=True)
        assert hf == render_go_template(ollama_template(), _go_data(messages))


GO_PROGRAM = """package main

import (
	"encoding/json"
	"os"
	"text/template"
)

type Message struct{ Role, Content string }

func main() {
	var in struct {
		Template string
		Data     struct{ Messages []Message }
	}
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	tmpl := template.Must(template.New("t").Parse(in.Template))
	if err := tmpl.Execute(os.Stdout, in.Data); err != nil {
		panic(err)
	}
}
"""


@pytest.mark.skipif(shutil.which("go") is None, reason="no Go toolchain on PATH (`which go` is empty)")
def test_real_go_text_template_agrees(tmp_path):
    (tmp_path / "render.go").write_text(GO_PROGRAM)
    binary = tmp_path / "render"
    env = {**os.environ, "GOCACHE": str(tmp_path / "gocache"), "GO111MODULE": "off"}
    build = subprocess.run(
        ["go", "build", "-o", str(binary), "render.go"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    for name, messages in CONVERSATIONS.items():
        request = json.dumps({"Template": ollama_template(), "Data": _go_data(messages)})
        result = subprocess.run([str(binary)], input=request, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout == render(messages, add_generation_prompt=True), name


@pytest.mark.parametrize(
    "template,data,expected",
    [
        ("a  {{- .X -}}  b", {"X": "x"}, "axb"),  # trim markers eat all adjacent whitespace
        ("a {{-3}}", {}, None),  # no space after the dash: a number, which the subset refuses
        ('{{ if eq .R "a" }}A{{ else if eq .R "b" "c" }}BC{{ else }}other{{ end }}', {"R": "c"}, "BC"),
        ('{{ if eq .R "a" }}A{{ else }}other{{ end }}', {"R": "z"}, "other"),
        ("{{ if .S }}[{{ .S }}]{{ end }}{{ .P }}", {"S": "", "P": "p"}, "p"),
        ("{{ range .M }}{{ $.Sep }}{{ .V }}{{ end }}", {"Sep": "-", "M": [{"V": 1}, {"V": 2}]}, "-1-2"),
        ("{{ range .M }}x{{ end }}", {"M": []}, ""),
        ("{{ if not .S }}none{{ end }}", {"S": ""}, "none"),
    ],
)
def test_go_subset_semantics(template, data, expected):
    if expected is None:
        with pytest.raises(ValueError, match="supported subset"):
            render_go_template(template, data)
    else:
        assert render_go_template(template, data) == expected


@pytest.mark.parametrize(
    "template,error",
    [
        ("{{ if .A }}open", "no {{ end }}"),
        ("{{ end }}", "without an open"),
        ("{{ else }}", "outside an if"),
        ("{{ .Missing }}", "can't evaluate field Missing"),
        ('{{ template "x" }}', "supported subset"),
    ],
)
def test_go_subset_reports_what_it_cannot_do(template, error):
    with pytest.raises(ValueError, match=error):
        render_go_template(template, {"A": True})
