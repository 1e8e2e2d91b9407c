"""The quality gate: every candidate pair gets a rejection reason or passes.

Prompt checks look at the phrase mined from the text (before templating) and at the
final request; answer checks look at the completed snippet. The reasons are counted
per source in the asset metadata, so a book that yields nothing shows why.
"""

from __future__ import annotations

import ast
import re

from pipeline.pairs.templates import SECTION_NUMBER

TYPESETTER = "typesetter marks or continuation note"
FURNITURE = "page furniture or link"
LICENCE = "licence text"
SECTION_NUMBERING = "section-numbered prompt"
HEADING_ONLY = "heading-only prompt"
NO_CONTEXT = "no instruction context"
NOT_NATURAL = "prompt is not natural language"
TRIVIAL = "trivial answer"
ONE_LINE = "one-line answer to a broad prompt"
MANIFEST = "manifest file"
SHELL = "shell session"
OUTPUT_ONLY = "output-only block"
UNUSED_NAME = "answer does not use what the prompt names"
INCOMPLETE = "incomplete snippet (undefined names)"
TOO_LONG = "answer too long"
COUNTER_EXAMPLE = "counter-example the text warns against"

# Sphinx/LaTeX listings mark wrapped lines with ␣ and ↪ and split listings with notes.
_TYPESETTER = re.compile(r"[␣↪↩⏎¶\u2424]|continued (?:from|on) (?:the )?(?:previous|next) page|\(continued\)", re.I)
_FURNITURE = re.compile(
    r"^(?:page\s*)?\d+(?:\s*(?:/|of)\s*\d+)?$|table of contents|https?://|www\.|\.(?:com|org|io)/", re.IGNORECASE
)
LICENCE_TEXT = re.compile(
    r"copyright|licen[cs]ed?\b|spdx|all rights reserved|permission is hereby granted|\bMIT license", re.IGNORECASE
)
# Attribution lines of a file header are not requests ("Originally ported from CPython by ...").
_ATTRIBUTION = re.compile(r"\b(?:ported|written|contributed|authored|maintained) (?:from|by)\b", re.IGNORECASE)
_NUMBERED = re.compile(r"(?:^|\s)\d+(?:\.\d+)+\.?\s+[A-Z]|\bchapter\s+\d|^[A-Z]{3,}\s+[A-Z]{3,}")
_CODE_IN_PROSE = re.compile(r"->|::|>>>|[=\[\]{}<>|\\]|\w\(|\b\w+_\w+\b|^[a-z_]+\.[a-z_]")
_BACKTICKED = re.compile(r"`[^`]+`")
_PIN_MENTION = re.compile(r"\b(?:GPIO|GP|pin)\s?(\d{1,2})\b")
_SHELL_COMMANDS = re.compile(
    r"^\s*(?:\$ |(?:mpremote|pip3?|esptool(?:\.py)?|make|git|cd|picocom|screen|sudo|python3?|ampy|rshell|"
    r"minicom|ls|cp|idf\.py|cmake|apt|wget|curl)\s)"
)
# The sentence that introduces a listing as what not to do, or the text after it that says so.
_WARNS_BEFORE = re.compile(
    r"\b(?:don['’]t|do not|never) (?:do|write|use|try) (?:this|that|it like this|the following|something like)"
    r"|\b(?:is|are|was) (?:wrong|incorrect|broken|a bad idea)\b|\bwrong(?:ly)? (?:way|code|example)\b"
    r"|\bincorrect(?:ly)?\b|\bbad (?:example|practice|idea|code)\b|\bcounter-?example|\bwhat not to do"
    r"|\bavoid (?:this|code like|writing|doing)|\b(?:won['’]t|will not|does not|doesn['’]t) work\b|\bpitfall",
    re.IGNORECASE,
)
_WARNS_AFTER = re.compile(
    r"^(?:instead,|rather,|do this instead|a better way)|\b(?:source|cause) of bugs\b|\bsubtle bug"
    r"|(?<!avoids a )(?<!avoid the )\brace condition\b|\b(?:can|could|will) go wrong\b"
    r"|^(?:this|the (?:above|code above)) (?:is wrong|is incorrect|won['’]t work|will not work|does not work|fails)"
    r"|\bthe problem (?:here|with this)\b",
    re.IGNORECASE,
)
_MANIFEST_CALLS = frozenset({"metadata", "require", "package", "module", "include", "freeze", "options"})
# What a prompt may name and how the answer shows it uses it.
_NAMED_PERIPHERALS = {
    r"\bI2C\b": r"I2C",
    r"\bSPI\b": r"SPI",
    r"\bUART\b": r"UART",
    r"\bPWM\b": r"PWM",
    r"\bADC\b": r"ADC",
    r"\bDAC\b": r"DAC",
    r"\bRTC\b": r"RTC",
    r"\bwatchdog|\bWDT\b": r"WDT",
    r"\bPIO\b": r"asm_pio|PIO|StateMachine",
    r"\btimers?\b": r"Timer|timer",
    r"\bneopixels?\b": r"neopixel|NeoPixel",
    r"\bwi-?fi\b|\bWLAN\b": r"network|WLAN|wlan",
    r"\bbluetooth\b|\bBLE\b": r"bluetooth|aioble|BLE",
    r"\bDHT(?:11|22)?\b": r"dht|DHT",
    r"\bdeep ?sleep\b": r"deepsleep",
    r"\bSSD1306\b": r"ssd1306|SSD1306",
    r"\basyncio\b": r"asyncio",
}


def prompt_reason(phrase: str, instruction: str) -> str | None:
    """Why the mined phrase / final request is not something a user would type, or None."""
    both = f"{phrase}\n{instruction}"
    if _TYPESETTER.search(both):
        return TYPESETTER
    if LICENCE_TEXT.search(both):
        return LICENCE
    if _FURNITURE.search(phrase.strip()) or _FURNITURE.search(instruction):
        return FURNITURE
    if SECTION_NUMBER.match(phrase) or _NUMBERED.search(phrase):
        return SECTION_NUMBERING
    prose = _BACKTICKED.sub("code", phrase)
    words = re.findall(r"[A-Za-z]{2,}", prose)
    # One word is a topic only when it is a plain word or an acronym, not an API name ("send", "RxPacket").
    one_word = len(words) == 1 and re.fullmatch(r"[A-Z](?:[a-z]+|[A-Z0-9]+)s?", phrase.strip(" .:"))
    if (
        (len(words) < 2 and not one_word)
        or len(words) > 30
        or _ATTRIBUTION.search(prose)
        or _CODE_IN_PROSE.search(prose)
        or phrase.rstrip().endswith((",", ";"))
    ):
        return NOT_NATURAL
    return None


def counter_example_reason(lead: str | None, after: str | None) -> str | None:
    """A listing the text shows as what not to do ("Don't do this:", "Instead, ...") is no answer."""
    introduces = (lead or "").replace("’", "'").split(". ")[-1]
    comment = " ".join(" ".join((after or "").split()).split(". ")[:2])
    if _WARNS_BEFORE.search(introduces) or _WARNS_AFTER.search(comment):
        return COUNTER_EXAMPLE
    return None


def answer_reason(raw_code: str, code: str, unresolved: set[str], max_lines: int) -> str | None:
    """Why the answer is not a complete snippet worth learning, or None (compiling is checked apart)."""
    if _TYPESETTER.search(code):
        return TYPESETTER
    if not code.strip():  # a licence header alone, or a REPL transcript with nothing typed
        return LICENCE if LICENCE_TEXT.search(raw_code) else OUTPUT_ONLY
    try:
        tree = ast.parse(code)
    except SyntaxError:
        if any(_SHELL_COMMANDS.match(line) for line in raw_code.splitlines()):
            return SHELL
        if not re.search(r"[=(:]|\b(?:def|import|class|for|while|if)\b", code):
            return OUTPUT_ONLY
        return None  # left to mpy-cross, which names the error
    if LICENCE_TEXT.search(code.split("\n\n")[0]) and code.lstrip().startswith("#"):
        return LICENCE
    body = tree.body
    if body and all(_callee_of(s) in _MANIFEST_CALLS for s in body):
        return MANIFEST
    if not body or all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in body) or all(_bare(s) for s in body):
        return TRIVIAL
    if unresolved:
        return INCOMPLETE
    if code.count("\n") + 1 > max_lines:
        return TOO_LONG
    return None


def one_line_reason(code: str, instruction: str) -> str | None:
    """A one-line answer only fits a prompt that asks for that one call."""
    lines = [line for line in code.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if len(lines) != 1:
        return None
    try:
        statement = ast.parse(lines[0]).body[0]
    except (SyntaxError, IndexError):
        return ONE_LINE
    callee = _callee_of(statement)
    return None if callee and re.search(rf"\b{re.escape(callee)}\b", instruction) else ONE_LINE


def uses_prompt_names(instruction: str, code: str) -> bool:
    """Every identifier, pin and peripheral the request names appears in the answer."""
    for span in _BACKTICKED.findall(instruction):
        names = re.findall(r"[A-Za-z_]\w*", span)
        if names and not re.search(rf"\b{re.escape(names[0] if '(' in span else names[-1])}\b", code):
            return False
    for number in _PIN_MENTION.findall(_BACKTICKED.sub("", instruction)):
        if not re.search(rf"(?<![\w.]){number}(?![\w.])", code):
            return False
    for named, used in _NAMED_PERIPHERALS.items():
        if re.search(named, instruction, re.IGNORECASE) and not re.search(used, code):
            return False
    return all(re.search(rf"\b{re.escape(m)}\b", code) for m in re.findall(r"the (\w+) module", instruction))


def _callee_of(statement: ast.stmt) -> str:
    value = statement.value if isinstance(statement, (ast.Expr, ast.Assign)) else None
    if isinstance(value, ast.Call):
        func = value.func
        return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return ""


def _bare(statement: ast.stmt) -> bool:
    """A statement that does nothing: a name, attribute, constant or operator expression."""
    return isinstance(statement, ast.Expr) and not any(
        isinstance(n, (ast.Call, ast.Await, ast.Yield, ast.NamedExpr)) for n in ast.walk(statement)
    )
