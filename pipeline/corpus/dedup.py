"""Exact and near-duplicate detection for code blocks and whole documents.

Two passes, in this order (see docs notes §5.3):

1. exact: a SHA-256 of the whitespace-normalized text; catches verbatim copies cheaply;
2. near: MinHash over k-token shingles, indexed with MinHash LSH (datasketch). For code
   the tokens are *normalized*: comments dropped, and (in code that parses as Python)
   every locally chosen identifier replaced by one placeholder, so the same program with renamed variables (a common
   difference between a book listing and the repository file) collapses to the same
   token stream. API names stay literal (attributes, imported names, builtins, keyword
   argument names), so two programs that call different hardware APIs stay distinct.

``DuplicateIndex`` keeps the first item it sees and reports every later duplicate, so
the caller decides which copy wins by the order it feeds items in.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import io
import keyword
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field

from datasketch import MinHash, MinHashLSH

IDENTIFIER_PLACEHOLDER = "ID"

# LSH banding has an S-shaped acceptance curve centred on its threshold, so pairs with
# Jaccard just above the dedup threshold are often never proposed. Banding for a lower
# threshold and then checking the signature estimate against the real one recovers them:
# see benchmarks/corpus_dedup.py and docs/benchmarks.md ("Corpus dedup").
LSH_CANDIDATE_MARGIN = 0.1

# Names a semantics-preserving rename never touches, so they keep their spelling.
_FIXED_NAMES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))

# Fallback lexer for code that Python's tokenizer rejects (PDF listings with broken
# indentation, REPL transcripts): identifiers, numbers, then any single symbol.
_FALLBACK_TOKEN = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\S")
_LINE_COMMENT = re.compile(r"#.*$", re.MULTILINE)
_WORD = re.compile(r"\w+")
_OPENING_BRACKETS = frozenset("([{")
_CLOSING_BRACKETS = frozenset(")]}")

_SKIPPED_TOKEN_TYPES = frozenset(
    {tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING, tokenize.ENDMARKER}
)


def normalize_whitespace(text: str) -> str:
    """Collapse every whitespace run to one space: the key for exact dedup."""
    return " ".join(text.split())


def exact_key(text: str) -> str:
    return hashlib.sha256(normalize_whitespace(text).encode("utf-8")).hexdigest()


def _lex(code: str) -> list[tuple[str, str]]:
    """(kind, text) pairs, kind "name", "newline" or "other"; comments and layout removed.

    Logical line ends are kept as "newline" so import statements can be delimited.
    """
    try:
        return [
            _classified(tok)
            for tok in tokenize.generate_tokens(io.StringIO(code).readline)
            if tok.type not in _SKIPPED_TOKEN_TYPES
        ]
    except (tokenize.TokenError, SyntaxError):
        # A naive comment strip can cut a string holding "#"; acceptable for a
        # similarity signal on code that does not even tokenize.
        lexed: list[tuple[str, str]] = []
        for line in _LINE_COMMENT.sub("", code).splitlines():
            lexed.extend(
                ("name" if (text[0].isalpha() or text[0] == "_") else "other", text)
                for text in _FALLBACK_TOKEN.findall(line)
            )
            lexed.append(("newline", "\n"))
        return lexed


def _classified(tok: tokenize.TokenInfo) -> tuple[str, str]:
    if tok.type == tokenize.NAME:
        return ("name", tok.string)
    if tok.type == tokenize.NEWLINE:
        return ("newline", "\n")
    return ("other", tok.string)


def _imported_names(lexed: list[tuple[str, str]]) -> set[str]:
    """Every name that appears in an import statement (modules, imported symbols, aliases)."""
    names: set[str] = set()
    in_import = False
    for kind, text in lexed:
        if kind == "name" and text in ("import", "from"):
            in_import = True
        elif in_import and kind == "name":
            names.add(text)
        elif in_import and kind == "newline":
            in_import = False
    return names


def _parses_as_python(code: str) -> bool:
    try:
        ast.parse(code)  # parse only; nothing from the corpus is ever executed
    except (SyntaxError, ValueError):  # ValueError: source holding NUL bytes
        return False
    return True


def code_tokens(code: str) -> list[str]:
    """Token stream of ``code`` with comments gone and local identifiers anonymized.

    Only code that parses as Python is anonymized. Shell commands, REPL transcripts and
    mangled listings keep every name: in "$ sudo apt install thonny" the names are the
    content, and anonymizing them would make unrelated short commands identical.
    """
    lexed = _lex(code)
    keep = _FIXED_NAMES | _imported_names(lexed)
    anonymize = _parses_as_python(code)
    tokens: list[str] = []
    depth = 0
    for i, (kind, text) in enumerate(lexed):
        if kind == "newline":
            continue
        if kind == "other" and text in _OPENING_BRACKETS:
            depth += 1
        elif kind == "other" and text in _CLOSING_BRACKETS:
            depth = max(depth - 1, 0)
        if not anonymize or kind != "name" or text in keep:
            tokens.append(text)
            continue
        after_dot = i > 0 and lexed[i - 1][1] == "."
        is_keyword_argument = depth > 0 and i + 1 < len(lexed) and lexed[i + 1][1] == "="
        tokens.append(text if after_dot or is_keyword_argument else IDENTIFIER_PLACEHOLDER)
    return tokens


def prose_tokens(text: str) -> list[str]:
    """Lower-cased words: the token stream for whole-document similarity."""
    return _WORD.findall(text.lower())


def shingles(tokens: list[str], size: int) -> set[bytes]:
    """Distinct ``size``-token windows; a stream shorter than ``size`` is one shingle."""
    if not tokens:
        return set()
    if len(tokens) <= size:
        return {"\x1f".join(tokens).encode("utf-8")}
    return {"\x1f".join(tokens[i : i + size]).encode("utf-8") for i in range(len(tokens) - size + 1)}


@dataclass
class DuplicateIndex:
    """First-come-first-kept dedup: exact hash set, then MinHash LSH with verification."""

    threshold: float = 0.8
    num_perm: int = 128
    shingle_size: int = 5
    candidate_margin: float = LSH_CANDIDATE_MARGIN
    _exact: set[str] = field(default_factory=set, init=False)
    _lsh: MinHashLSH = field(init=False)
    _signatures: list[MinHash] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"near-duplicate threshold must be in (0, 1), got {self.threshold}")
        if self.shingle_size < 1:
            raise ValueError(f"shingle size must be >= 1, got {self.shingle_size}")
        try:
            candidate_threshold = max(self.threshold - self.candidate_margin, 0.05)
            self._lsh = MinHashLSH(threshold=candidate_threshold, num_perm=self.num_perm)
        except ValueError as exc:  # e.g. too few permutations for the banding datasketch picks
            raise ValueError(
                f"near-duplicate threshold {self.threshold} with num_perm {self.num_perm} is not "
                f"usable for LSH ({exc}); lower the threshold or raise num_perm"
            ) from exc

    def check_and_add(self, text: str, tokens: list[str]) -> str | None:
        """Return "exact" or "near" if ``text`` duplicates an earlier item, else index it."""
        key = exact_key(text)
        if key in self._exact:
            return "exact"
        self._exact.add(key)
        windows = shingles(tokens, self.shingle_size)
        if not windows:
            # Nothing to compare (e.g. a comment-only block): every empty signature
            # would look identical, so such items take part in exact dedup only.
            return None
        signature = MinHash(num_perm=self.num_perm)
        signature.update_batch(list(windows))
        # LSH only proposes candidates (banded below the threshold, see LSH_CANDIDATE_MARGIN);
        # "near" means the signature estimate of Jaccard reaches the threshold itself.
        if any(self._signatures[c].jaccard(signature) >= self.threshold for c in self._lsh.query(signature)):
            return "near"
        item_id = len(self._signatures)
        self._signatures.append(signature)
        self._lsh.insert(item_id, signature)
        return None


def first_occurrences(items: Iterable[tuple[str, list[str]]], index: DuplicateIndex) -> list[str | None]:
    """Verdict per item in order: None (kept), "exact" or "near" (duplicate of an earlier one)."""
    return [index.check_and_add(text, tokens) for text, tokens in items]
