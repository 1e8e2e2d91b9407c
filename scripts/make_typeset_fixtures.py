"""Typeset the fixture sources in ``data/typeset_fixtures`` into PDFs with real typesetters.

Each ``NAME.md`` there is both the source and the ground truth (its fenced blocks, scored by
``pipeline.pdf.scoring``); ``NAME.pdf`` is committed beside it, so tests need none of the
toolchains (the fpdf2 sample inbox is ``scripts/make_sample_pdfs.py``). The typesetter is
named by the file name's suffix:

* ``*_chromium.md``: a GitHub-style HTML page (code in ``<pre>`` with a shaded background,
  ``white-space: pre-wrap`` so long lines wrap) printed by headless Chromium
  (``--print-to-pdf``). Debian: ``chromium`` (``/usr/bin/chromium``) and a monospace font
  (``fonts-dejavu-core``).
* ``*_weasyprint.md``: the same kind of HTML page (a framed, shaded ``<pre>``) printed by
  WeasyPrint. PyPI: ``weasyprint``; Debian: ``fonts-dejavu-core``.
* ``*_sphinx.md``: converted to reStructuredText (``code-block`` directives) and built by
  Sphinx's LaTeX builder with ``latex_engine = "xelatex"``, the way the MicroPython docs PDF
  is made (FreeMono listings, ``␣``/``↪`` wrap marks, "continued" notes at page splits).
  PyPI: ``sphinx``; Debian: ``texlive-xetex texlive-latex-extra texlive-latex-recommended
  texlive-fonts-recommended tex-gyre latexmk fonts-freefont-otf``.
* ``*_pandoc.md``: ``pandoc --listings`` to LaTeX (the ``listings`` package, monospace
  font, ``breaklines``) typeset by xelatex. Debian: ``pandoc texlive-xetex
  texlive-latex-recommended lmodern``.

The Markdown understood is what the sources use: ``#`` headings, paragraphs, fenced code
blocks and inline code; for Sphinx, a paragraph opening with ``.. `` is a reStructuredText
directive passed through with its indented body (``.. function:: reset()``: the API
reference's signature lines, which are no code blocks of the truth). Usage:
``python scripts/make_typeset_fixtures.py [NAME ...]``.
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
CHROMIUM_STYLE = """
@page { size: A4; margin: 18mm; }
body { font-family: "DejaVu Sans", sans-serif; font-size: 16px; line-height: 1.5; }
code, pre { font-family: "DejaVu Sans Mono", monospace; font-size: 85%; }
pre { background: #f6f8fa; padding: 16px; border-radius: 6px; white-space: pre-wrap; line-height: 1.45; }
pre code { font-size: 100%; }
"""
# A documentation-site look: smaller type, code in a framed box with a tinted background.
WEASYPRINT_STYLE = """
@page { size: A4; margin: 20mm; }
body { font-family: "DejaVu Serif", serif; font-size: 11pt; line-height: 1.4; }
code, pre { font-family: "DejaVu Sans Mono", monospace; font-size: 9pt; }
pre { background: #f4f4f0; border: 1px solid #c8c8c0; padding: 6pt 8pt; white-space: pre-wrap; line-height: 1.3; }
"""
# Sphinx's LaTeX builder as the MicroPython docs configure it (xelatex, FreeSerif/FreeMono).
SPHINX_CONF = """
project = "mpyforge fixture"
author = "mpyforge"
extensions = []
latex_engine = "xelatex"
latex_use_xindy = False
latex_documents = [("index", "fixture.tex", "mpyforge fixture", "mpyforge", "howto")]
latex_elements = {"papersize": "a4paper", "pointsize": "10pt"}
"""
# pandoc --listings leaves the listing style to the document; this is the common one
# (monospace, bold keywords, italic comments, long lines broken onto the next row).
LISTINGS_HEADER = r"""
\lstset{basicstyle=\ttfamily\small, keywordstyle=\bfseries, commentstyle=\itshape,
        breaklines=true, showstringspaces=false, columns=fixed}
"""
RST_UNDERLINES = {1: "=", 2: "-", 3: "~"}


def inline_html(line: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(line))


def parse_markdown(text: str) -> list[tuple[str, object]]:
    """("heading", (level, text)), ("paragraph", [lines]), ("code", [lines]) and
    ("directive", [lines]) in order."""
    parts: list[tuple[str, object]] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            kind = "directive" if paragraph[0].startswith(".. ") else "paragraph"
            parts.append((kind, [*paragraph]))
            paragraph.clear()

    lines = iter(text.split("\n"))
    for line in lines:
        if paragraph and paragraph[0].startswith(".. ") and (line.startswith(" ") or not line):
            paragraph.append(line.rstrip())  # the directive's own lines keep their indentation
        elif line.startswith("```"):
            flush()
            code = []
            for code_line in lines:
                if code_line.startswith("```"):
                    break
                code.append(code_line)
            parts.append(("code", code))
        elif line.startswith("#"):
            flush()
            level = len(line) - len(line.lstrip("#"))
            parts.append(("heading", (level, line[level:].strip())))
        elif line.strip():
            if line.startswith(".. ") or (paragraph and paragraph[0].startswith(".. ")):
                flush()
            paragraph.append(line.strip())
        else:
            flush()
    flush()
    return parts


def markdown_to_html(text: str, title: str, style: str) -> str:
    parts: list[str] = []
    for kind, value in parse_markdown(text):
        if kind == "directive":
            raise SystemExit(f"{title}: reStructuredText directives can only be typeset by Sphinx")
        if kind == "code":
            parts.append(f"<pre><code>{html.escape(chr(10).join(value))}</code></pre>")
        elif kind == "heading":
            level, heading = value
            parts.append(f"<h{level}>{inline_html(heading)}</h{level}>")
        else:
            parts.append(f"<p>{' '.join(inline_html(line) for line in value)}</p>")
    head = f"<meta charset='utf-8'><title>{title}</title><style>{style}</style>"
    return f"<!DOCTYPE html><html><head>{head}</head><body>{chr(10).join(parts)}</body></html>"


def markdown_to_rst(text: str) -> str:
    """Headings underlined, inline code as literals, code as ``code-block`` (pycon for a REPL)."""
    parts: list[str] = []
    for kind, value in parse_markdown(text):
        if kind == "code":
            language = "pycon" if any(line.startswith(">>>") for line in value) else "python"
            body = "\n".join(f"   {line}" if line else "" for line in value)
            parts.append(f".. code-block:: {language}\n\n{body}")
        elif kind == "directive":
            parts.append("\n".join(value).rstrip())
        elif kind == "heading":
            level, heading = value
            parts.append(f"{heading}\n{RST_UNDERLINES[level] * len(heading)}")
        else:
            parts.append("\n".join(re.sub(r"`([^`]+)`", r"``\1``", line) for line in value))
    return "\n\n".join(parts) + "\n"


def run_tool(command: list[str], cwd: Path | None = None) -> None:
    """A typesetter run; its own output is shown when it fails."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


def require(tool: str, packages: str) -> None:
    if shutil.which(tool) is None:
        raise SystemExit(f"{tool} is missing: apt-get install {packages}")


def print_with_chromium(source: Path, tmp: Path) -> Path:
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium fonts-dejavu-core")
    page = tmp / f"{source.stem}.html"
    page.write_text(markdown_to_html(source.read_text(encoding="utf-8"), source.stem, CHROMIUM_STYLE), encoding="utf-8")
    pdf = tmp / "out.pdf"
    run_tool([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", f"--print-to-pdf={pdf}", page.as_uri()])
    return pdf


def print_with_weasyprint(source: Path, tmp: Path) -> Path:
    page = tmp / f"{source.stem}.html"
    page.write_text(
        markdown_to_html(source.read_text(encoding="utf-8"), source.stem, WEASYPRINT_STYLE), encoding="utf-8"
    )
    pdf = tmp / "out.pdf"
    run_tool([sys.executable, "-m", "weasyprint", str(page), str(pdf)])  # pip install weasyprint
    return pdf


def build_with_sphinx(source: Path, tmp: Path) -> Path:
    require("latexmk", "latexmk texlive-xetex texlive-latex-extra fonts-freefont-otf")
    src, out = tmp / "src", tmp / "latex"
    src.mkdir()
    (src / "conf.py").write_text(SPHINX_CONF, encoding="utf-8")
    (src / "index.rst").write_text(markdown_to_rst(source.read_text(encoding="utf-8")), encoding="utf-8")
    run_tool([sys.executable, "-m", "sphinx", "-q", "-b", "latex", str(src), str(out)])  # pip install sphinx
    run_tool(["latexmk", "-pdfxe", "-interaction=nonstopmode", "-halt-on-error", "fixture.tex"], cwd=out)
    return out / "fixture.pdf"


def typeset_with_pandoc(source: Path, tmp: Path) -> Path:
    require("pandoc", "pandoc texlive-xetex texlive-latex-recommended lmodern")
    header = tmp / "listings.tex"
    header.write_text(LISTINGS_HEADER, encoding="utf-8")
    pdf = tmp / "out.pdf"
    command = ["pandoc", str(source), "--listings", "--pdf-engine=xelatex", f"--include-in-header={header}"]
    run_tool([*command, "-V", "geometry:a4paper,margin=25mm", "-o", str(pdf)])
    return pdf


TYPESETTERS = {
    "chromium": print_with_chromium,
    "weasyprint": print_with_weasyprint,
    "sphinx": build_with_sphinx,
    "pandoc": typeset_with_pandoc,
}


def typeset(source: Path) -> Path:
    typesetter = source.stem.rsplit("_", 1)[-1]
    if typesetter not in TYPESETTERS:
        raise SystemExit(f"{source}: no typesetter named {typesetter!r} (one of {sorted(TYPESETTERS)})")
    pdf = source.with_suffix(".pdf")
    with tempfile.TemporaryDirectory(prefix=f"mpyforge-{typesetter}-") as tmp:
        shutil.move(TYPESETTERS[typesetter](source, Path(tmp)), pdf)  # complete files only
    return pdf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="fixture names (default: all)")
    args = parser.parse_args(argv)
    sources = [FIXTURES / f"{name}.md" for name in args.names] or sorted(FIXTURES.glob("*.md"))
    for source in sources:
        pdf = typeset(source)
        print(f"{pdf.relative_to(REPO)}: {pdf.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
