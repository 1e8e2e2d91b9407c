"""Typeset the fixture sources in ``data/typeset_fixtures`` into PDFs with real typesetters.

Each ``NAME.md`` there is both the source and the ground truth (its fenced blocks, scored by
``pipeline.pdf.scoring``); ``NAME.pdf`` is committed beside it, so tests need none of the
toolchains. The typesetter is named by the file name's suffix:

* ``*_chromium.md``: a GitHub-style HTML page (code in ``<pre>`` with a shaded background,
  ``white-space: pre-wrap`` so long lines wrap) printed by headless Chromium
  (``--print-to-pdf``). Needs the Debian package ``chromium`` (``/usr/bin/chromium``) and
  a monospace font (``fonts-dejavu-core`` or ``fonts-liberation``), nothing from PyPI.

The Markdown understood is what the sources use: ``#`` headings, paragraphs, fenced code
blocks and inline code. Usage: ``python scripts/make_typeset_fixtures.py [NAME ...]``.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "data" / "typeset_fixtures"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-pdf-header-footer",
)
# GitHub's README look: 16 px body, code at 85 % on a light grey box.
STYLE = """
@page { size: A4; margin: 18mm; }
body { font-family: "DejaVu Sans", sans-serif; font-size: 16px; line-height: 1.5; }
code, pre { font-family: "DejaVu Sans Mono", monospace; font-size: 85%; }
pre { background: #f6f8fa; padding: 16px; border-radius: 6px; white-space: pre-wrap; line-height: 1.45; }
pre code { font-size: 100%; }
"""


def markdown_to_html(text: str, title: str) -> str:
    parts: list[str] = []
    paragraph: list[str] = []

    def inline(line: str) -> str:
        return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(line))

    def flush() -> None:
        if paragraph:
            parts.append(f"<p>{' '.join(inline(line) for line in paragraph)}</p>")
            paragraph.clear()

    lines = iter(text.split("\n"))
    for line in lines:
        if line.startswith("```"):
            flush()
            code = []
            for code_line in lines:
                if code_line.startswith("```"):
                    break
                code.append(code_line)
            parts.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
        elif line.startswith("#"):
            flush()
            level = len(line) - len(line.lstrip("#"))
            parts.append(f"<h{level}>{inline(line[level:].strip())}</h{level}>")
        elif line.strip():
            paragraph.append(line.strip())
        else:
            flush()
    flush()
    body = "\n".join(parts)
    head = f"<meta charset='utf-8'><title>{title}</title><style>{STYLE}</style>"
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


def print_with_chromium(source: Path, pdf: Path) -> None:
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium fonts-dejavu-core")
    with tempfile.TemporaryDirectory(prefix="mpyforge-chromium-") as tmp:
        page = Path(tmp) / f"{source.stem}.html"
        page.write_text(markdown_to_html(source.read_text(encoding="utf-8"), source.stem), encoding="utf-8")
        partial = Path(tmp) / pdf.name
        command = [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp}/profile",
            f"--print-to-pdf={partial}",
            page.as_uri(),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=120)
        shutil.move(partial, pdf)  # complete files only


TYPESETTERS = {"chromium": print_with_chromium}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="fixture names (default: all)")
    args = parser.parse_args(argv)
    sources = [FIXTURES / f"{name}.md" for name in args.names] or sorted(FIXTURES.glob("*.md"))
    for source in sources:
        typesetter = source.stem.rsplit("_", 1)[-1]
        if typesetter not in TYPESETTERS:
            raise SystemExit(f"{source}: no typesetter named {typesetter!r} (one of {sorted(TYPESETTERS)})")
        pdf = source.with_suffix(".pdf")
        TYPESETTERS[typesetter](source, pdf)
        print(f"{pdf.relative_to(REPO)}: {pdf.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
