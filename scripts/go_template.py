"""A small renderer for the subset of Go ``text/template`` that Ollama TEMPLATEs use here.

Supported (with Go's semantics): text; ``{{ .Field }}``, ``{{ $.Field }}``, ``{{ . }}``;
``{{ range PIPE }}…{{ end }}`` over lists (dot becomes the element);
``{{ if PIPE }}…{{ else if PIPE }}…{{ else }}…{{ end }}`` with Go truthiness
(false, 0, nil, empty string/list/map are false); the ``eq``/``ne``/``not``
functions; string literals; trim markers ``{{- `` and `` -}}`` that remove all
adjacent ASCII whitespace. Anything else raises ``ValueError`` naming the action,
so a template outside the subset fails loudly instead of rendering wrongly.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

# Go requires a space (or tab/newline) between the trim dash and the action body.
_ACTION = re.compile(r"\{\{(-[ \t\r\n])?(.*?)([ \t\r\n]-)?\}\}", re.S)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\S+')
_GO_SPACE = " \t\r\n"
_FUNCTIONS = {"eq", "ne", "not"}


@dataclass
class _Text:
    text: str


@dataclass
class _Value:
    tokens: list[str]


@dataclass
class _If:
    branches: list[tuple[list[str], list]] = field(default_factory=list)  # (condition, body)
    otherwise: list | None = None


@dataclass
class _Range:
    tokens: list[str]
    body: list = field(default_factory=list)


def _lex(template: str) -> list[tuple[str, object]]:
    """("text", str) and ("action", [tokens]) items with trim markers already applied."""
    items: list[tuple[str, object]] = []
    position = 0
    trim_next = False
    for match in _ACTION.finditer(template):
        text = template[position : match.start()]
        if trim_next:
            text = text.lstrip(_GO_SPACE)
        if match.group(1):
            text = text.rstrip(_GO_SPACE)
        items.append(("text", text))
        items.append(("action", _TOKEN.findall(match.group(2))))
        trim_next = bool(match.group(3))
        position = match.end()
    tail = template[position:]
    items.append(("text", tail.lstrip(_GO_SPACE) if trim_next else tail))
    return items


def parse(template: str) -> list:
    """The node tree of ``template``."""
    root: list = []
    stack: list[tuple[object, list]] = [(None, root)]  # (open block node, list being filled)
    for kind, payload in _lex(template):
        body = stack[-1][1]
        if kind == "text":
            if payload:
                body.append(_Text(payload))
            continue
        tokens = payload
        keyword = tokens[0] if tokens else ""
        if keyword == "if":
            node = _If([(tokens[1:], [])])
            body.append(node)
            stack.append((node, node.branches[0][1]))
        elif keyword == "range":
            node = _Range(tokens[1:])
            body.append(node)
            stack.append((node, node.body))
        elif keyword == "else":
            node = stack[-1][0]
            if not isinstance(node, _If) or node.otherwise is not None:
                raise ValueError(f"Go template: {{{{ {' '.join(tokens)} }}}} outside an if block")
            stack.pop()
            if tokens[1:2] == ["if"]:
                node.branches.append((tokens[2:], []))
                stack.append((node, node.branches[-1][1]))
            else:
                node.otherwise = []
                stack.append((node, node.otherwise))
        elif keyword == "end":
            if len(stack) == 1:
                raise ValueError("Go template: {{ end }} without an open if/range")
            stack.pop()
        elif keyword.startswith((".", "$", '"', "`")) or keyword in _FUNCTIONS:
            body.append(_Value(tokens))
        else:
            raise ValueError(f"Go template: action {{{{ {' '.join(tokens)} }}}} is outside the supported subset")
    if len(stack) != 1:
        raise ValueError("Go template: unexpected EOF (an if/range has no {{ end }})")
    return root


def _lookup(token: str, dot, root):
    if token == ".":
        return dot
    if token == "$":
        return root
    if token.startswith(("$.", ".")):
        value = root if token.startswith("$") else dot
        for name in token.lstrip("$").strip(".").split("."):
            if not isinstance(value, dict) or name not in value:
                raise ValueError(f"Go template: can't evaluate field {name} in {token}")
            value = value[name]
        return value
    if token[0] in '"`':
        return token[1:-1] if token[0] == "`" else ast.literal_eval(token)
    raise ValueError(f"Go template: unsupported operand {token!r}")


def _evaluate(tokens: list[str], dot, root):
    if not tokens:
        raise ValueError("Go template: missing value for command")
    name, args = tokens[0], [_lookup(t, dot, root) for t in tokens[1:]]
    if name == "eq":
        return any(args[0] == other for other in args[1:])  # Go's eq takes 1+ comparands
    if name == "ne":
        return args[0] != args[1]
    if name == "not":
        return not _truth(args[0])
    if args:
        raise ValueError(f"Go template: {name} is not a function")
    return _lookup(name, dot, root)


def _truth(value) -> bool:
    return value not in (None, False, 0, "") and not (isinstance(value, (list, dict)) and not value)


def _print(value) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _render(nodes: list, dot, root, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, _Text):
            out.append(node.text)
        elif isinstance(node, _Value):
            out.append(_print(_evaluate(node.tokens, dot, root)))
        elif isinstance(node, _Range):
            items = _evaluate(node.tokens, dot, root) or []
            if not isinstance(items, list):
                raise ValueError(f"Go template: range can't iterate over {type(items).__name__}")
            for item in items:
                _render(node.body, item, root, out)
        else:
            chosen = next((body for cond, body in node.branches if _truth(_evaluate(cond, dot, root))), None)
            _render(chosen if chosen is not None else node.otherwise or [], dot, root, out)


def render_go_template(template: str, data: dict) -> str:
    """Execute ``template`` with ``data`` as dot (dict keys play the role of struct fields)."""
    out: list[str] = []
    _render(parse(template), data, data, out)
    return "".join(out)
