"""Each kind of bad PDF gives a PdfExtractionError naming the file and the cause in plain words."""

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fpdf import FPDF
from PIL import Image

from pipeline.pdf.extract import ExtractionLimits, PdfExtractionError, extract_blocks, extract_pdf_isolated

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "pdfs" / "rp2040_peripherals.pdf"


def text_pdf(path: Path, **encryption) -> Path:
    pdf = FPDF()
    if encryption:
        pdf.set_encryption(**encryption)
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text="led = Pin(2, Pin.OUT)")
    pdf.output(str(path))
    return path


def image_only_pdf(path: Path) -> Path:
    png = path.with_suffix(".png")
    Image.new("RGB", (120, 80), (200, 30, 30)).save(png)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(png), x=10, y=10, w=100)
    pdf.output(str(path))
    return path


def assert_error(path: Path, cause: str, limits: ExtractionLimits | None = None) -> None:
    with pytest.raises(PdfExtractionError) as caught:
        extract_blocks(path, "doc", limits or ExtractionLimits())
    message = str(caught.value)
    assert str(path) in message and cause in message, message


def test_user_password_encryption(tmp_path: Path):
    assert_error(
        text_pdf(tmp_path / "locked.pdf", owner_password="own", user_password="secret"),
        "encrypted with a user password",
    )


def test_owner_password_only_still_extracts(tmp_path: Path):
    path = text_pdf(tmp_path / "owner.pdf", owner_password="own")
    assert [b.text for b in extract_blocks(path, "doc")] == ["led = Pin(2, Pin.OUT)"]


def test_truncated_file(tmp_path: Path):
    path = tmp_path / "truncated.pdf"
    path.write_bytes(SAMPLE.read_bytes()[: SAMPLE.stat().st_size // 2])
    assert_error(path, "truncated")


def test_garbage_after_a_pdf_header(tmp_path: Path):
    path = tmp_path / "garbage.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    assert_error(path, "damaged or not a real PDF")


def test_empty_file(tmp_path: Path):
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    assert_error(path, "empty (0 bytes)")


def test_not_a_pdf(tmp_path: Path):
    path = tmp_path / "notes.pdf"
    path.write_text("# just Markdown\n\nled.on()\n")
    assert_error(path, "not a PDF file")


def test_missing_file(tmp_path: Path):
    assert_error(tmp_path / "absent.pdf", "file not found")


def test_image_only_pages_say_there_is_no_text_layer(tmp_path: Path):
    assert_error(image_only_pdf(tmp_path / "scan.pdf"), "no text layer")


def test_over_the_page_limit():
    assert_error(SAMPLE, "over the page limit of 2", ExtractionLimits(max_pages=2))


def test_over_the_size_limit():
    assert_error(SAMPLE, "over the size limit of 1000 bytes", ExtractionLimits(max_bytes=1000))


def test_isolated_worker_reports_errors_from_the_child(tmp_path: Path):
    path = tmp_path / "truncated.pdf"
    path.write_bytes(SAMPLE.read_bytes()[:3000])
    with pytest.raises(PdfExtractionError, match="truncated"):
        extract_pdf_isolated(path, "doc", ExtractionLimits(timeout_s=60))


def test_isolated_worker_times_out():
    with pytest.raises(PdfExtractionError, match=r"longer than the 0.01 s timeout"):
        extract_pdf_isolated(SAMPLE, "doc", ExtractionLimits(timeout_s=0.01))


def test_isolated_worker_memory_cap():
    # 100 MB is below what a Python process with pdfplumber loaded already maps.
    with pytest.raises(PdfExtractionError, match="ran out of memory \\(cap 100 MB\\)"):
        extract_pdf_isolated(SAMPLE, "doc", ExtractionLimits(max_memory_mb=100, timeout_s=60))


@pytest.mark.parametrize(
    ("field", "value"), [("max_memory_mb", -5), ("max_memory_mb", 10**13), ("timeout_s", -1), ("max_pages", 0)]
)
def test_limits_out_of_range_are_refused_naming_the_field(field: str, value):
    with pytest.raises(ValueError, match=rf"^pdf_documents\.{field}: {value} is out of range"):
        ExtractionLimits(**{field: value})


def test_a_worker_is_capped_in_cpu_time_even_without_its_parent():
    # The worker alone (as when its parent died and no timeout is enforced): SIGXCPU ends it.
    spin = (
        "from pipeline.pdf.extract import ExtractionLimits, _cap_worker\n"
        "_cap_worker(ExtractionLimits(timeout_s=0.5))\n"
        "while True:\n    pass\n"
    )
    done = subprocess.run([sys.executable, "-c", spin], cwd=REPO, timeout=120)
    assert done.returncode == -signal.SIGXCPU


def test_the_memory_cap_inside_the_parser_is_not_called_damage():
    from pdfplumber.utils.exceptions import PdfminerException

    from pipeline.pdf.extract import _memory_exhausted

    assert _memory_exhausted(PdfminerException(MemoryError()))
    assert not _memory_exhausted(PdfminerException(ValueError("bad xref")))
