"""Ollama Modelfile writer, so ``ollama create NAME -f Modelfile`` gives the same model as the REST path.

Quoting follows Ollama's parser (``parser/parser.go`` ``ParseFile``/``unquote``):
a value ends at the first newline where the text so far, trimmed, is either
unquoted, wrapped in one double quote, or wrapped in three. There is no escape
character, so a value that holds a newline or a double quote must be wrapped in
three double quotes, and a value that itself holds three in a row cannot be
written at all. The parser also silently drops non-printable
characters (Go ``strconv.IsPrint``) other than spaces, tabs and newlines, so such
values are refused instead of being altered behind the user's back.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.common.prompt_format import ollama_template
from pipeline.serve.settings import OllamaSettings, model_parameters

TRIPLE_QUOTE = '"""'


def quote_value(value: str, field: str) -> str:
    """``value`` quoted so Ollama's Modelfile parser reads it back unchanged."""
    for index, char in enumerate(value):
        if not (char.isprintable() or char in "\t\r\n"):
            raise ValueError(
                f"Modelfile {field}: character {char!r} at offset {index} is not printable; "
                "Ollama's parser would silently drop it"
            )
    if TRIPLE_QUOTE in value:
        raise ValueError(f'Modelfile {field}: the value contains """, which no Modelfile quoting can hold')
    if '"' in value or "\n" in value or "\r" in value:
        return TRIPLE_QUOTE + value + TRIPLE_QUOTE
    return f'"{value}"'


def _parameter_lines(parameters: dict) -> list[str]:
    lines = []
    for name, value in parameters.items():
        # A list parameter (stop) is written as one PARAMETER line per element.
        for item in value if isinstance(value, list) else [value]:
            text = quote_value(item, f"PARAMETER {name}") if isinstance(item, str) else repr(item)
            lines.append(f"PARAMETER {name} {text}")
    return lines


def render_modelfile(from_ref: str, template: str, system: str, parameters: dict, license: str) -> str:
    """Modelfile text for a model built from ``from_ref`` (a path, or ``@sha256:<hex>`` for old servers).

    Empty ``system``/``license`` are left out rather than written as empty values.
    """
    lines = [
        f"FROM {quote_value(from_ref, 'FROM')}",
        f"TEMPLATE {quote_value(template, 'TEMPLATE')}",
        *_parameter_lines(parameters),
    ]
    if system:
        lines.append(f"SYSTEM {quote_value(system, 'SYSTEM')}")
    if license:
        lines.append(f"LICENSE {quote_value(license, 'LICENSE')}")
    return "\n".join(lines) + "\n"


def write_modelfile(
    out_path: Path, gguf_path: Path, context_length: int, settings: OllamaSettings, root: Path | None = None
) -> str:
    """Write a Modelfile for ``gguf_path`` at ``out_path`` and return its text.

    Ollama resolves a relative FROM against the Modelfile's directory. A GGUF next to (or below)
    the Modelfile, or anywhere in the same artifact store ``root``, is referenced relatively, so
    the pair keeps working after the artifact directory is moved into place and on every host
    that mounts the store, wherever it mounts it; any other GGUF by its absolute path.
    """
    out_path, gguf_path = Path(out_path), Path(gguf_path)
    relative = os.path.relpath(gguf_path.resolve(), out_path.parent.resolve())
    inside_root = root is not None and all(
        Path(path).resolve().is_relative_to(Path(root).resolve()) for path in (gguf_path, out_path)
    )
    if Path(relative).parts[0] != "..":
        from_ref = f"./{relative}"
    elif inside_root:
        from_ref = relative
    else:
        from_ref = str(gguf_path.resolve())
    text = render_modelfile(
        from_ref, ollama_template(), settings.system, model_parameters(context_length), settings.license
    )
    out_path.write_text(text, encoding="utf-8")
    return text
