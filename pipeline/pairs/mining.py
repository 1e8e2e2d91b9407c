"""Mine candidate (request, code) pairs from the corpus and pass them through the quality gate.

Documents (PDF books, Markdown/reST sources): each code block takes its request from a
caption ("Listing 3: An example program that ..."), else the lead-in prose before it
("To blink the LED, ...", "The following code reads ..."), else its section heading when
that reads as a job ("Blinking an LED"; a title such as "Constructors" is no request);
page furniture between the prose and the listing is skipped. When the text gives no
request a maker would type, a complete snippet that does a hardware job is asked for by
what its code does (``describe``). A listing the text shows as what not to do ("Don't do
this:", "This example illustrates a subtle source of bugs") is rejected. The earlier
listings of the document are the context that completes the snippet
(``snippet.complete_snippet``). ``.py`` sources give a module pair (docstring or leading
comment → the module) and one pair per documented top-level function and class, with
the imports and constants the body needs.

Every candidate ends as a ``MinedPair`` or a ``Rejected`` with a reason (``quality``).
"""

from __future__ import annotations

import ast
import random
import re
from dataclasses import dataclass

import pandas as pd

from pipeline.pairs import quality
from pipeline.pairs.board_pins import detect_board
from pipeline.pairs.describe import describe_code
from pipeline.pairs.snippet import Statement, complete_snippet, context_statements
from pipeline.pairs.templates import (
    Request,
    clean_heading,
    code_specifics,
    is_vague,
    phrasings,
    request_from_caption,
    request_from_docstring,
    request_from_heading,
    task_from_api,
    task_from_sentence,
    topic_from_lead,
)
from pipeline.pairs.text import (
    caption_text,
    clean_response,
    mark_code,
    normalize_instruction,
    sentences,
    strip_licence_header,
)

# A heading that names a board, e.g. "pyboard", gives the board phrase for requests too.
_PYBOARD = re.compile(r"pyboard|\bpyb\b", re.IGNORECASE)


_LEAD_REASONS = (quality.TYPESETTER, quality.LICENCE, quality.SECTION_NUMBERING)
# Candidates the text gives no request for, which a description of the code may still serve.
_DESCRIBABLE = (quality.HEADING_ONLY, quality.NO_CONTEXT, quality.NOT_NATURAL, quality.UNUSED_NAME)


@dataclass(frozen=True)
class MinedPair:
    origin_id: str
    instruction: str
    response: str
    split: str
    source_doc: str
    request: Request  # what the instruction asks, for the rephrase augmentation
    board: str | None  # board named by the text, code or document name


@dataclass(frozen=True)
class Rejected:
    origin_id: str
    source_doc: str
    reason: str
    instruction: str
    response: str


@dataclass(frozen=True)
class MiningLimits:
    max_response_lines: int = 150
    max_instruction_chars: int = 300


@dataclass(frozen=True)
class _Candidate:
    origin_id: str
    split: str
    source_doc: str
    phrase: str  # the text the request came from, for the prompt checks
    request: Request | None
    raw_code: str
    context: list[Statement]
    reason: str | None = None


def _lead_in(rows: list[dict], index: int) -> tuple[str | None, bool]:
    """The prose right before a listing (furniture skipped), and whether furniture was all there was."""
    saw_furniture = False
    for back in (1, 2):
        row = rows[index - back] if index - back >= 0 else None
        if row is None or row["kind"] != "prose":
            break
        text = normalize_instruction(row["text"])
        if quality.prompt_reason(text, "") == quality.FURNITURE:
            saw_furniture = True
            continue
        return text, False
    return None, saw_furniture


def _request_from_text(caption: str | None, lead: str | None, heading: str | None) -> tuple[Request | None, str]:
    """(request, the phrase it came from): caption, then lead-in sentences, then the heading."""
    vague: tuple[Request, str] | None = None
    api_task = task_from_api(lead) if lead else None
    if api_task is not None:
        return Request("task", api_task), api_task
    if caption:
        request = request_from_caption(caption)
        return Request(request.form, mark_code(request.phrase)), caption
    for text in list(reversed(sentences(lead))) if lead else []:
        if not text:
            continue
        task = task_from_sentence(text)
        if task is not None:
            if not is_vague(task):
                return Request("task", mark_code(task)), task
            vague = vague or (Request("task", mark_code(task)), task)
        topic = topic_from_lead(text)
        if topic is not None and not is_vague(topic):
            return Request("topic", mark_code(topic)), topic
    if heading:
        request = request_from_heading(heading)
        if request is not None:
            return Request(request.form, mark_code(request.phrase)), heading
    return vague if vague else (None, heading or "")


def _document_candidates(doc_id: str, rows: list[dict], source: str) -> list[_Candidate]:
    found, context = [], []
    heading: str | None = None
    for i, row in enumerate(rows):
        if row["kind"] == "heading":
            heading = clean_heading(row["text"]) or heading
            continue
        if row["kind"] != "code":
            continue
        code = clean_response(row["text"])
        lead, only_furniture = _lead_in(rows, i)
        after = rows[i + 1] if i + 1 < len(rows) else None
        after_next = rows[i + 2] if i + 2 < len(rows) else None
        # A caption after the code belongs to it only when no other listing follows that caption.
        if after_next is not None and after_next["kind"] == "code":
            after = None
        captions = [caption_text(r["text"]) for r in (rows[i - 1] if i else None, after) if r and r["kind"] == "prose"]
        caption = next((c for c in captions if c), None)
        request, phrase = _request_from_text(caption, lead, heading) if not only_furniture else (None, "")
        # A lead-in with typesetter marks, licence text or a section number is a glued heading or furniture.
        reason = quality.prompt_reason(lead, "") if lead else None
        if reason not in _LEAD_REASONS and request is not None:
            reason = None
        elif request is None and reason is None:
            reason = quality.FURNITURE if only_furniture else quality.HEADING_ONLY if heading else quality.NO_CONTEXT
        following = rows[i + 1]["text"] if i + 1 < len(rows) and rows[i + 1]["kind"] == "prose" else None
        reason = quality.counter_example_reason(lead, following) or reason
        found.append(
            _Candidate(
                f"{doc_id}#{row['seq']}", row["split"], source, phrase, request, row["text"], list(context), reason
            )
        )
        context += context_statements(code)
    return found


def _without_docstring(source: str, node: ast.AST, offset: int) -> str:
    lines = source.split("\n")
    doc = node.body[0]
    return "\n".join(lines[: doc.lineno - offset] + lines[doc.end_lineno - offset + 1 :])


def _python_candidates(doc_id: str, seq: int, code: str, split: str, source: str) -> list[_Candidate]:
    """Module, function and class candidates of one .py file."""
    base = f"{doc_id}#{seq}"
    if source.endswith("manifest.py"):
        return [_Candidate(f"{base}:module", split, source, "", None, code, [], quality.MANIFEST)]
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return [_Candidate(f"{base}:module", split, source, "", None, code, [], "python source does not parse")]
    module_context = context_statements(code)
    found = []
    module_doc = ast.get_docstring(tree)
    body_code = _without_docstring(code, tree, 1) if module_doc else code
    header = _leading_comment(code)
    doc_text = _summary(module_doc or header or "")
    if doc_text:
        first = doc_text
        found.append(
            _Candidate(
                f"{base}:module", split, source, first, request_from_docstring(first, "module", ""), body_code, []
            )
        )
    named: set[str] = set()
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or not ast.get_docstring(node):
            continue
        # A name defined again (heapq's two `nlargest`) gets its line too: origin ids must be unique.
        origin = f"{base}:{node.name}" if node.name not in named else f"{base}:{node.name}@{node.lineno}"
        named.add(node.name)
        if len(node.body) < 2:
            continue
        first = _summary(ast.get_docstring(node))
        kind = "class" if isinstance(node, ast.ClassDef) else "function"
        segment = ast.get_source_segment(code, node)
        start = node.lineno
        if kind == "function":
            segment = _without_docstring(segment, node, start)
            name = f"{node.name}({ast.unparse(node.args)})"
        else:
            name = node.name
        decorators = [f"@{ast.get_source_segment(code, d)}" for d in node.decorator_list]
        others = [s for s in module_context if node.name not in s.binds]
        request = request_from_docstring(mark_code(first), kind, name)
        found.append(_Candidate(origin, split, source, first, request, "\n".join([*decorators, segment]), others))
    return found


def _summary(docstring: str) -> str:
    """A docstring's summary: its first line when that is a phrase of its own, else its first sentence."""
    paragraph = docstring.strip().split("\n\n")[0]
    first_line = paragraph.split("\n")[0].strip()
    if len(first_line.split()) >= 3 and (first_line.endswith(".") or "\n" in paragraph):
        return (sentences(first_line) or [first_line])[0]
    return (sentences(paragraph) or [paragraph])[0]


def _leading_comment(source: str) -> str:
    """The comment block at the top of a file, without shebang/encoding/licence lines."""
    lines = []
    for line in source.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            if stripped or lines:
                break
            continue
        text = stripped.lstrip("#").strip()
        if text.startswith("!") or "coding" in text or quality.LICENCE_TEXT.search(text) or text.startswith("ruff:"):
            continue
        lines.append(text)
    return "\n".join(lines)


def _board_of(texts: list[str]) -> str | None:
    board = detect_board(*texts)
    if board is not None:
        return board.name
    return "pyboard" if any(_PYBOARD.search(t) for t in texts) else None


def _judge(candidate: _Candidate, limits: MiningLimits) -> MinedPair | Rejected:
    code = strip_licence_header(clean_response(candidate.raw_code))
    completed, unresolved = complete_snippet(code, candidate.context)
    request = candidate.request
    instruction = ""
    board = _board_of([candidate.phrase, candidate.source_doc, completed])
    if request is not None and request.form in ("task", "topic", "program"):
        request = Request(request.form, request.phrase, request.name, code_specifics(completed, request.phrase, board))
    if request is not None:
        instruction = random.Random(candidate.origin_id).choice(phrasings(request, board))
    prompt_problem = (
        candidate.reason
        or (quality.NOT_NATURAL if request is None else None)  # e.g. a docstring that is a signature
        or quality.prompt_reason(candidate.phrase, instruction)
        or (quality.NOT_NATURAL if len(instruction) > limits.max_instruction_chars else None)
        or (None if quality.uses_prompt_names(instruction, completed) else quality.UNUSED_NAME)
    )
    answer_problem = quality.answer_reason(candidate.raw_code, completed, unresolved, limits.max_response_lines)
    if prompt_problem in _DESCRIBABLE and answer_problem is None:
        # The text names no job a maker would type, but the code does one: ask for that instead.
        described = describe_code(completed, board, random.Random(candidate.origin_id))
        if described is not None:
            request, instruction, prompt_problem = Request("code", described), described, None
    reason = prompt_problem or answer_problem or quality.one_line_reason(completed, instruction)
    if reason is not None:
        return Rejected(candidate.origin_id, candidate.source_doc, reason, instruction or candidate.phrase, completed)
    return MinedPair(candidate.origin_id, instruction, completed, candidate.split, candidate.source_doc, request, board)


def mine_pairs(corpus: pd.DataFrame, limits: MiningLimits) -> tuple[list[MinedPair], list[Rejected]]:
    """Every candidate of the corpus, judged: the accepted pairs and the rejected ones with reasons."""
    candidates: list[_Candidate] = []
    for doc_id, doc in corpus.sort_values(["doc_id", "seq"]).groupby("doc_id", sort=True):
        source = str(doc["source"].iloc[0])
        if source.endswith(".py"):
            for row in doc[doc["kind"] == "code"].itertuples():
                candidates += _python_candidates(str(doc_id), int(row.seq), row.text, row.split, source)
        else:
            candidates += _document_candidates(str(doc_id), doc.to_dict("records"), source)
    accepted, rejected = [], []
    for candidate in candidates:
        judged = _judge(candidate, limits)
        (accepted if isinstance(judged, MinedPair) else rejected).append(judged)
    return accepted, rejected
