import os
import re
import shutil
from pathlib import Path

import pytest

from pipeline.common.content import sha256_file
from pipeline.pdf.inbox import partition_key, scan_inbox

SAMPLE_PDF = sorted((Path(__file__).resolve().parents[1] / "data" / "pdfs").glob("*.pdf"))[0]

SAFE_KEY = re.compile(r"[a-z0-9_-]+")


def test_canonical_names_keep_their_stem():
    assert partition_key("esp32_first_steps.pdf") == "esp32_first_steps"
    assert partition_key("/some/dir/rp2040-book.pdf") == "rp2040-book"


@pytest.mark.parametrize(
    "name", ["My Book.pdf", "Über MicroPython (2nd ed).PDF", "a b.pdf", "...pdf", "x" * 200 + ".pdf"]
)
def test_sanitised_names_are_safe_stable_and_hashed(name):
    key = partition_key(name)
    assert SAFE_KEY.fullmatch(key), key
    assert key == partition_key(name)  # stable
    assert len(key) <= 60 + 1 + 8
    assert re.search(r"-[0-9a-f]{8}$", key), "a changed name carries a hash suffix"


def test_names_that_sanitise_alike_get_distinct_keys():
    keys = {partition_key(n) for n in ["a b.pdf", "a-b.pdf", "A-B.pdf", "a_b.pdf", "a-b.PDF"]}
    assert len(keys) == 5


def test_empty_name_is_rejected():
    with pytest.raises(ValueError, match="empty file name"):
        partition_key("")


def test_scan_inbox_lists_pdfs_with_hash_and_size(tmp_path: Path):
    (tmp_path / "book.pdf").write_bytes(b"%PDF-1.4 one")
    (tmp_path / "Other Book.PDF").write_bytes(b"%PDF-1.4 two!")
    (tmp_path / "notes.txt").write_text("not a pdf")
    (tmp_path / ".hidden.pdf").write_bytes(b"%PDF-")
    (tmp_path / "sub").mkdir()
    files = scan_inbox(tmp_path)
    assert sorted(files) == sorted(["book", partition_key("Other Book.PDF")])
    book = files["book"]
    assert book.path == tmp_path / "book.pdf"
    assert book.size == len(b"%PDF-1.4 one")
    assert book.sha256 == sha256_file(tmp_path / "book.pdf")


def test_residual_collision_is_resolved_deterministically(tmp_path: Path):
    hashed_key = partition_key("X.pdf")  # e.g. "x-1a2b3c4d"
    (tmp_path / "X.pdf").write_bytes(b"%PDF- upper")
    (tmp_path / f"{hashed_key}.pdf").write_bytes(b"%PDF- canonical")
    first = scan_inbox(tmp_path)
    assert len(first) == 2
    assert first[hashed_key].path.name == f"{hashed_key}.pdf"  # the canonical name keeps the plain key
    other = next(f for k, f in first.items() if k != hashed_key)
    assert other.path.name == "X.pdf" and SAFE_KEY.fullmatch(other.key)
    assert {k: f.path for k, f in scan_inbox(tmp_path).items()} == {k: f.path for k, f in first.items()}


def test_missing_inbox_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ValueError, match="not a directory"):
        scan_inbox(tmp_path / "nope")


def test_a_name_that_is_not_utf8_is_skipped_with_a_warning_naming_it(tmp_path):
    shutil.copy(SAMPLE_PDF, tmp_path / "good.pdf")
    bad = os.path.join(os.fsencode(tmp_path), b"caf\xe9.pdf")
    with open(bad, "wb") as handle:
        handle.write(SAMPLE_PDF.read_bytes())
    warnings = []
    assert list(scan_inbox(tmp_path, warnings.append)) == ["good"]
    assert len(warnings) == 1 and "b'caf\\xe9.pdf'" in warnings[0] and "not valid UTF-8" in warnings[0]
