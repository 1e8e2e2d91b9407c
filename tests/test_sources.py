"""`source_files` parsing: code blocks survive exactly; bad files give clear errors."""

import pandas as pd
import pytest

from pipeline.sources.files import build_source_files, parse_markdown, parse_rst


def test_markdown_keeps_fenced_code_exactly():
    text = "# Title\n\nSome prose\nover two lines.\n\n```python\ndef f():\n    if x:\n        return 1\n```\n"
    blocks = parse_markdown(text)
    assert [(b.kind, b.level) for b in blocks] == [("heading", 1), ("prose", 0), ("code", 0)]
    assert blocks[1].text == "Some prose over two lines."
    assert blocks[2].text == "def f():\n    if x:\n        return 1"


def test_rst_literal_and_directive_blocks():
    text = (
        "Title\n=====\n\nIntro::\n\n    for i in range(3):\n        print(i)\n\n"
        "Sub\n---\n\n.. code-block:: python\n   :linenos:\n\n   x = 1\n   y = x\n\nAfter.\n"
    )
    blocks = parse_rst(text)
    kinds = [(b.kind, b.level, b.text) for b in blocks]
    assert kinds[0] == ("heading", 1, "Title")
    assert ("prose", 0, "Intro:") in kinds
    assert ("code", 0, "for i in range(3):\n    print(i)") in kinds
    assert ("heading", 2, "Sub") in kinds
    assert ("code", 0, "x = 1\ny = x") in kinds
    assert kinds[-1] == ("prose", 0, "After.")


def test_build_source_files_table(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "blink.py").write_text("from machine import Pin\nled = Pin(2, Pin.OUT)\n")
    (src / "notes.md").write_text("# Blink\n\nTo blink:\n\n```\nled.on()\n```\n")
    (src / "ignored.bin").write_bytes(b"\x00\x01")
    out = tmp_path / "out"
    out.mkdir()
    meta = build_source_files(src, out)
    table = pd.read_parquet(out / "source_files.parquet")
    assert meta["files"] == 2 and meta["blocks"] == len(table) == 4
    assert list(table.columns) == ["doc_id", "kind", "level", "text", "page", "seq", "path", "sha256"]
    code = table[table.path == "sub/blink.py"].iloc[0]
    assert code.kind == "code" and code.text == "from machine import Pin\nled = Pin(2, Pin.OUT)"
    assert table[table.path == "notes.md"].seq.tolist() == [0, 1, 2]


def test_bad_files_name_the_file_and_cause(tmp_path):
    (tmp_path / "latin1.py").write_bytes("x = 'caf\xe9'\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.py: not UTF-8"):
        build_source_files(tmp_path, tmp_path)
    (tmp_path / "latin1.py").unlink()
    (tmp_path / "open.md").write_text("```\nnever closed\n")
    with pytest.raises(ValueError, match=r"open\.md: unclosed ``` code fence"):
        build_source_files(tmp_path, tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_source_files(tmp_path / "missing", tmp_path)
