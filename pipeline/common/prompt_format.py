"""The one prompt format of mpyforge: every other rendering is generated from here.

A single-turn instruction pair is laid out as::

    <bos><|user|>
    {instruction}
    <|assistant|>
    {response}<eos>

An optional system message comes first as ``<|system|>\\n{system}\\n``. The text is
written with the special tokens spelled out; the tokenizer reserves them (fixed low
ids, see ``SPECIAL_TOKENS``) so each one encodes to exactly one id. ``<bos>`` is part
of the rendered text, so neither the HF tokenizer nor llama.cpp adds one by itself
(GGUF ``tokenizer.ggml.add_bos_token`` is false).

From this module come: the HF Jinja ``chat_template``, the SFT split between prompt
(loss masked out) and response (loss kept, closing ``<eos>`` included), the GGUF
``tokenizer.chat_template`` (the same Jinja), and the Ollama ``TEMPLATE`` (a Go
template) with its ``stop`` parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

PAD = "<pad>"
BOS = "<bos>"
EOS = "<eos>"
UNK = "<unk>"
SYSTEM = "<|system|>"
USER = "<|user|>"
ASSISTANT = "<|assistant|>"

# Order is the token id: the tokenizer places these at ids 0..6.
SPECIAL_TOKENS: tuple[str, ...] = (PAD, BOS, EOS, UNK, SYSTEM, USER, ASSISTANT)
SPECIAL_TOKEN_IDS: dict[str, int] = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}

ROLE_TOKENS = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT}


@dataclass(frozen=True)
class Message:
    role: str  # system | user | assistant
    content: str


def _turn(message: Message) -> str:
    """One turn: role token, newline, content, then the turn terminator.

    User and system turns end with a newline; an assistant turn ends with ``<eos>``,
    which is what the model learns to emit and what generation stops on.
    """
    if message.role not in ROLE_TOKENS:
        raise ValueError(f"unknown role {message.role!r}; expected one of {sorted(ROLE_TOKENS)}")
    end = EOS if message.role == "assistant" else "\n"
    return f"{ROLE_TOKENS[message.role]}\n{message.content}{end}"


def render(messages: list[Message], add_generation_prompt: bool = False) -> str:
    """Render a conversation exactly as the model sees it."""
    text = BOS + "".join(_turn(m) for m in messages)
    if add_generation_prompt:
        text += f"{ASSISTANT}\n"
    return text


def split_pair(instruction: str, response: str, system: str | None = None) -> tuple[str, str]:
    """(prompt_text, response_text) of one pair; their concatenation is ``render``.

    The SFT loss mask is 0 over the prompt text and 1 over the response text
    (which ends with ``<eos>``). The prompt ends with a newline, and the byte-level
    pre-tokenizer always makes a newline before a non-space its own piece, so
    encoding the two parts separately gives the same ids as encoding them together.
    """
    messages = [Message("system", system)] if system else []
    messages.append(Message("user", instruction))
    prompt = render(messages, add_generation_prompt=True)
    return prompt, f"{response}{EOS}"


def format_prompt(instruction: str, system: str | None = None) -> str:
    """The text a model is given to answer ``instruction`` (ends with the assistant header)."""
    return split_pair(instruction, "", system)[0]


def chat_template_jinja() -> str:
    """HF ``chat_template`` (also written to GGUF ``tokenizer.chat_template``)."""
    return (
        "{{- '" + BOS + "' -}}"
        "{%- for message in messages -%}"
        "{%- if message['role'] == 'system' -%}{{- '" + SYSTEM + "\\n' + message['content'] + '\\n' -}}"
        "{%- elif message['role'] == 'user' -%}{{- '" + USER + "\\n' + message['content'] + '\\n' -}}"
        "{%- elif message['role'] == 'assistant' -%}"
        "{{- '" + ASSISTANT + "\\n' + message['content'] + '" + EOS + "' -}}"
        "{%- endif -%}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{- '" + ASSISTANT + "\\n' -}}{%- endif -%}"
    )


def ollama_template() -> str:
    """Ollama ``TEMPLATE`` (Go text/template over ``.Messages``).

    Ollama always asks for the assistant's next turn, so the template always ends
    with the assistant header: it equals ``render(messages, add_generation_prompt=True)``.
    """
    return (
        BOS
        + "{{ range .Messages }}"
        + '{{ if eq .Role "system" }}'
        + SYSTEM
        + "\n{{ .Content }}\n"
        + '{{ else if eq .Role "user" }}'
        + USER
        + "\n{{ .Content }}\n"
        + '{{ else if eq .Role "assistant" }}'
        + ASSISTANT
        + "\n{{ .Content }}"
        + EOS
        + "{{ end }}"
        + "{{ end }}"
        + ASSISTANT
        + "\n"
    )


def stop_sequences() -> list[str]:
    """Strings that end generation: the end of an answer, or the model starting a new turn."""
    return [EOS, USER, SYSTEM]


def cut_at_stop(text: str) -> str:
    """The answer up to the first stop sequence (llama.cpp stops there; HF only stops at ``<eos>``)."""
    ends = [text.find(stop) for stop in stop_sequences() if stop in text]
    return text[: min(ends)] if ends else text
