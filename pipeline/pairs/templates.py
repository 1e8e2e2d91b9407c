"""Requests in a user's words, made from what the text gives (no model calls).

The text around a listing yields a *task* (a bare verb phrase: "blink the LED") or a
*topic* (a noun phrase: "a small async server"): from a lead-in sentence ("To blink the
LED, configure ...", "The following code reads ...", "Let's define a function that ..."),
a caption, a heading that names a job ("Blinking an LED"; a section title such as
"Hardware I2C bus" gives none) or a docstring ("Decode a bytestring ...", "Returns the
temperature"). Each form has its own templates (imperatives and questions), and the
specifics the code uses (pins, library, delay, frequency, board) are written into the
request, as a user would ("Blink the LED on GP25 every 500 ms").
The rephrase augmentation draws other phrasings from the same templates.
"""

from __future__ import annotations

import ast
import random
import re
from dataclasses import dataclass

from pipeline.pairs.params import find_params
from pipeline.pairs.units import say_period, stated_values

# Verbs that start a task, in their base form (tutorial headings, docstrings, lead-ins).
VERBS = frozenset(
    """blink toggle read write set create connect scan measure control drive use make turn send receive
    print configure initialise initialize start stop get display show play generate count flash fade dim
    wait sleep log run build define return convert draw enable disable check detect handle update load
    save open close test sample monitor listen respond attach add remove store fetch post query parse
    format calculate compute debounce schedule trigger power switch light move rotate encode decode
    position speed access find list copy delete mount install download upload serve sort insert split
    join compare fill clear reset wake put pass call apply register wrap print raise render register
    emit transmit capture record output input keep create join lock release invert shift pack unpack
    escape quote unquote hash sign verify encrypt decrypt compress decompress extract iterate map filter
    collect allocate free increase decrease change select specify assign attach detach interact talk
    implement provide represent perform execute produce process prepare exchange advertise pair bind
    replace support validate transfer scroll erase program blit invoke await manage hold simulate
    translate try look act append extend merge push pop peek seek tell flush truncate rename walk scan
    build print construct instantiate wrap unwrap match search substitute strip pad align round clamp
    scale normalise normalize reverse shuffle choose pick generate seed tick measure sense blink beep
    buzz ring notify alert warn report describe explain demonstrate illustrate connect disconnect
    subscribe publish broadcast ping resolve lookup authenticate login logout restart reboot boot
    shut suspend resume pause continue finish complete cancel abort retry repeat loop yield sync
    synchronise synchronize time delay throttle limit cache buffer queue stream pipe redirect route
    forward accept reject open create determine estimate guess infer predict ensure make direct debug
    wire plug solder mix tune dump deploy freeze embed""".split()
)
_IRREGULAR = {"does": "do", "has": "have", "is": "be", "goes": "go"}
ACRONYMS = frozenset(
    """I2C SPI UART PWM ADC DAC RTC WDT USB LCD OLED PIO CPU LED LEDS GPIO HTTP HTTPS TCP UDP IP DNS SSL
    TLS BLE DHT NTP MQTT JSON CAN I2S REPL SD WLAN WIFI API RGB IRQ DMA MAC OTA PCM VFS ROM RAM IO OK""".split()
)
_SPELLED = r"(?:ONE|TWO|THREE|FOUR|FIVE|SIX|SEVEN|EIGHT|NINE|TEN|ELEVEN|TWELVE|THIRTEEN|FOURTEEN|FIFTEEN|SIXTEEN"
_SPELLED += r"|SEVENTEEN|EIGHTEEN|NINETEEN|TWENTY\w*|THIRTY\w*)"
_CHAPTER_WORD = re.compile(rf"^{_SPELLED}\s+(?=\S)")
SECTION_NUMBER = re.compile(r"^\s*(?:(?:chapter|section|part)\s+)?(?:\d+(?:\.\d+)*\.?|[A-Z]\.)\s+", re.IGNORECASE)
_RUNNING_HEADER = re.compile(r"release latest|micropython documentation|\bchapter\s+\d|CHAPTER", re.IGNORECASE)
_GENERIC_HEADINGS = frozenset(
    """introduction overview examples example usage notes note summary reference general contents api
    description requirements license licence contributing changelog history features background
    conclusion references setup building testing tests documentation methods constants functions classes
    installation install quickstart glossary appendix index""".split()
) | {"basic usage", "example usage", "see also", "getting started", "quick reference", "more examples"}
_VAGUE = re.compile(r"\b(?:it|its|this|that|these|them|those|above|below|following|here|one)\b", re.IGNORECASE)
_LEAD_PATTERNS = (
    re.compile(
        r"^(?:for example, |now, |first, |then, |next, |finally, )?to ([^,]{3,120}?),?\s+(?:use|try|run|type|do)\b"
    ),
    re.compile(r"^(?:for example, |now, |first, |then, |next, |finally, )?to ([^,]{3,120}?),"),
    re.compile(r"\b(?:shows?|demonstrates?|explains?|illustrates?) how to (.{3,160})"),
    re.compile(
        r"^(?:the|this|here is an?|here's an?|below is an?|the following|an?)\s+(?:\w+\s+){0,3}?"
        r"(?:example|program|code|snippet|script|function|listing|class)s?\s+(?:(?:that|which|will|can|to)\s+)?(.{3,160})"
    ),
    re.compile(r"^(?:now |so |next |then )?let[’']s (?:now |also |then )?(.{3,160})"),
    re.compile(r"^(?:you|we) (?:can|could|need to|will|should|must|may)(?: also| now| then| first)? (.{3,160})"),
    re.compile(r"\b(?:function|way|method|command|snippet) (?:for|to) (.{3,160}?) is\b"),
)
_TRAILING = re.compile(
    r"(?:\s+(?:by|with|using|use|via|like this|like so|as follows|as shown|the following|the code|in the repl"
    r"|at the repl|from the repl|is|are|e\.g\.?|for example))+\s*$",
    re.IGNORECASE,
)
_TOPIC_LEAD = re.compile(r"^(?:an?|the|here is an?)\s+(.{3,80}?)\s+example\b", re.IGNORECASE)
_MODULE_LEAD = re.compile(
    r"^(?:an? )?(?:simple |small |basic )?(?:example|demo|test|tests)\s+(?:of|for|showing|using|that|which|to)\s+(.+)$",
    re.IGNORECASE,
)

TASK_TEMPLATES = (
    "Write a MicroPython program to {task}{spec}.",
    "How do I {task}{spec} in MicroPython?",
    "Show me MicroPython code to {task}{spec}.",
    "{Task}{spec} with MicroPython.",
    "What is the MicroPython code to {task}{spec}?",
    "Give me a MicroPython example that shows how to {task}{spec}.",
)
BOARD_TEMPLATES = (
    "On {a_board}, how do I {task}{spec}?",
    "Write MicroPython for {a_board} to {task}{spec}.",
    "Using MicroPython on {a_board}, {task}{spec}.",
)
# Topics come from lead-ins that name a program ("A small async server example::"), never from
# headings: "How do I use constructors on pin 0" read a section title as if a maker had typed it.
TOPIC_TEMPLATES = (
    "Write {an_topic}{spec} in MicroPython.",
    "I need {an_topic}{spec} in MicroPython - can you write one?",
    "Give me MicroPython code for {an_topic}{spec}.",
)
PROGRAM_TEMPLATES = (
    "Write MicroPython code for {topic}{spec}.",
    "Show a MicroPython implementation of {topic}{spec}.",
    "Give a MicroPython example of {topic}{spec}.",
)
FUNCTION_TEMPLATES = (
    "Write a MicroPython function `{name}` to {task}.",
    "Implement `{name}` in MicroPython; it should {task}.",
    "How would I write a MicroPython function `{name}` that can {task}?",
)
CLASS_TEMPLATES = (
    "Write a MicroPython class `{name}`: {topic}.",
    "Implement the MicroPython class `{name}` ({topic}).",
)


@dataclass(frozen=True)
class Request:
    """What a user asks for: the form picks the template family."""

    form: str  # task | topic | program (a module's purpose) | function | class
    phrase: str  # the task (verb phrase) or the topic (noun phrase)
    name: str = ""  # `signature` for function/class requests
    spec: str = ""  # " on GP25 using the neopixel module"


def base_verb(word: str) -> str | None:
    """'reads' → 'read', 'blinking' → 'blink', 'Fading' → 'fade'; None when not a known verb."""
    low = word.lower()
    if low in VERBS:
        return low
    if low in _IRREGULAR:
        return _IRREGULAR[low]
    candidates = []
    if low.endswith("ies"):
        candidates.append(low[:-3] + "y")
    if low.endswith("es"):
        candidates.append(low[:-2])
    if low.endswith("s"):
        candidates.append(low[:-1])
    if low.endswith("ing"):
        stem = low[:-3]
        candidates += [stem, stem + "e", stem[:-1]]
    return next((c for c in candidates if c in VERBS), None)


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    return text[:1].lower() + text[1:] if first[1:].islower() or len(first) == 1 else text


_NOT_VERBS = frozenset(
    "the a an this that these those it its if when while for from with in on of to by as is are was be all "
    "some any each every no not only also main internal helper private generic simple basic".split()
)


def _as_task(phrase: str, imperative: bool = False) -> str | None:
    """A phrase that starts with a verb (any inflection) as a base-form task, else None.

    ``imperative``: the text is a function docstring, which PEP 257 asks to start with a
    verb ("Return the ..."), so an unknown first word that is no determiner counts as one.
    """
    phrase = _TRAILING.sub("", " ".join(phrase.split()).strip(" .:;,")).strip(" .:;,")
    first, _, rest = phrase.partition(" ")
    verb = base_verb(first)
    if verb is None and imperative and first.isalpha() and first.lower() not in _NOT_VERBS:
        low = first.lower()
        verb = low[:-1] if low.endswith("s") and not low.endswith("ss") else low
    if verb in (None, "be", "have") or not rest or len(phrase) > 140:
        return None
    # "blinks at 1 Hz and raises an IRQ" → "... and raise an IRQ"
    rest = re.sub(r"\b(and|or) (\w+s)\b", lambda m: f"{m.group(1)} {base_verb(m.group(2)) or m.group(2)}", rest)
    return f"{verb} {rest}"


def sentence_case(heading: str) -> str:
    """'HARDWARE I2C BUS' → 'Hardware I2C bus' (acronyms kept); mixed case unchanged."""
    if any(c.islower() for c in heading):
        return heading
    words = [
        w if w.strip("()").upper() in ACRONYMS or any(c.isdigit() for c in w) else w.lower() for w in heading.split()
    ]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def clean_heading(heading: str) -> str | None:
    """A section title without numbers and page furniture; None for running headers."""
    text = " ".join(heading.split())
    if _RUNNING_HEADER.search(text):
        return None
    numbered = bool(SECTION_NUMBER.match(text) or _CHAPTER_WORD.match(text))
    text = _CHAPTER_WORD.sub("", SECTION_NUMBER.sub("", text))
    if numbered:
        # "Tutorials requiring extra components 31 Using the LCD": a running header glued on.
        text = re.split(r"\s\d{1,3}\s", text)[-1]
        text = re.sub(r"\s\d{1,3}$", "", text)
    text = re.sub(r":\s*\([^)]*\)$", "", text)  # "Update characteristic value: (Server)"
    text = sentence_case(text.strip(" .:"))
    return text or None


def is_generic_heading(heading: str) -> bool:
    low = heading.lower().strip(" .:")
    return low in _GENERIC_HEADINGS or "tutorial" in low or "quick reference" in low or len(low) < 3


def task_from_sentence(sentence: str) -> str | None:
    """The task a lead-in sentence names, or None."""
    text = " ".join(sentence.split()).strip()
    low = text[:1].lower() + text[1:]
    for pattern in _LEAD_PATTERNS:
        match = pattern.search(low)
        if match:
            task = _as_task(match.group(1))
            if task is not None:
                return task
    return _as_task(low)


_API_DESCRIPTION = re.compile(r"^`?((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*)\(([^)]*)\)`?\s+([A-Z].{3,160})$")


def task_from_api(text: str) -> str | None:
    """'`Pin.value([x])` Get or set the logic level' → 'get or set the logic level with `Pin.value()`'."""
    match = _API_DESCRIPTION.match(" ".join(text.split()))
    if not match:
        return None
    task = _as_task(match.group(3).split(". ")[0])
    return f"{task} with `{match.group(1)}()`" if task else None


def request_from_heading(heading: str) -> Request | None:
    """'Blinking an LED' → task; a heading that names no task ('Hardware I2C bus', 'Constructors') → None.

    A section title is what the text is about, not what a maker asks for, so only a heading
    that already reads as a job ("Blinking an LED", "Using the LCD") gives a request.
    """
    if is_generic_heading(heading):
        return None
    task = _as_task(heading)
    return Request("task", task) if task is not None else None


def request_from_docstring(first_sentence: str, kind: str, name: str) -> Request | None:
    """Function/class/module docstrings → a request naming the function or class."""
    text = " ".join(first_sentence.split()).strip(" .")
    if kind == "function":
        task = _as_task(text, imperative=True)
        return Request("function", task, name) if task else None
    if kind == "class":
        return Request("class", _lower_first(text), name) if text else None
    match = _MODULE_LEAD.match(text)
    if match:
        text = match.group(1)
    text = re.sub(r"^(?:micropython|an? )\s*", "", text, flags=re.IGNORECASE)
    text = re.sub(r"^(?:implementation|port|version) of\s+", "", text, flags=re.IGNORECASE)
    task = _as_task(text)
    return Request("task", task) if task else Request("program", _lower_first(text)) if text else None


def request_from_caption(caption: str) -> Request:
    """'An example program that blinks at 1 Hz' → task 'blink at 1 Hz'; other captions name a program."""
    text = re.sub(
        r"^(?:an? |the )?(?:example |simple |short )*(?:program|code|script) (?:that|which|to) ",
        "",
        caption,
        flags=re.I,
    )
    task = task_from_sentence(text)
    return Request("task", task) if task else Request("program", _lower_first(caption.strip(" .:")))


def topic_from_lead(sentence: str) -> str | None:
    """'A small async server example::' → 'a small async server'."""
    match = _TOPIC_LEAD.match(" ".join(sentence.split()))
    return match.group(1) if match else None


def is_vague(phrase: str) -> bool:
    return bool(_VAGUE.search(phrase))


def _pin_label(board: str | None) -> str:
    if board == "Raspberry Pi Pico":
        return "GP{}"
    return "GPIO{}" if board and board.startswith("ESP") else "pin {}"


def _code_pins(tree: ast.Module) -> list[int]:
    pins = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            first = node.args[0] if node.args else None
            if callee == "Pin" and isinstance(first, ast.Constant) and type(first.value) is int:
                pins.append(first.value)
    return list(dict.fromkeys(pins))


# Built-in modules too common to be worth naming in a request.
_PLAIN_MODULES = frozenset(
    "machine time utime micropython gc sys os struct math pyb random rp2 esp esp32 select".split()
)


def code_specifics(code: str, phrase: str, board: str | None) -> str:
    """' on GP25 using the neopixel module': pins, library and frequency the code uses, not yet named."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ""
    low = phrase.lower()
    parts = []
    pins = [p for p in _code_pins(tree) if not re.search(rf"(?<!\d){p}(?!\d)", phrase)]
    if 1 <= len(pins) <= 2:
        preposition = "using" if " on " in f" {low} " else "on"
        parts.append(f"{preposition} " + " and ".join(_pin_label(board).format(p) for p in pins))
    modules = [
        (a.name if isinstance(n, ast.Import) else n.module or "").split(".")[0]
        for n in tree.body
        if isinstance(n, ast.Import) or (isinstance(n, ast.ImportFrom) and n.level == 0)  # not package-relative
        for a in n.names
    ]
    library = next((m for m in dict.fromkeys(modules) if m and m not in _PLAIN_MODULES and m.lower() not in low), None)
    if library:
        parts.append(f"using the {library} module")
    delays = {p.seconds() for p in find_params(tree) if p.seconds()}
    if len(delays) == 1 and not any(unit == "time" for unit, _, _ in stated_values(phrase)):
        parts.append(say_period(delays.pop(), random.Random(phrase)))
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in ("freq", "baudrate") and isinstance(node.value, ast.Constant):
            value = node.value.value
            if type(value) is int and str(value) not in phrase and "hz" not in low and "baud" not in low:
                parts.append(f"at {value} Hz" if node.arg == "freq" else f"at {value} baud")
            break
    return "".join(f" {part}" for part in parts)


def _article(board: str) -> str:
    return ("an " if board[:1].upper() in "AEIOU" else "a ") + board


def phrasings(request: Request, board: str | None) -> list[str]:
    """Every template of the request's form, filled in."""
    if request.form == "function":
        return [t.format(name=request.name, task=request.phrase) for t in FUNCTION_TEMPLATES]
    if request.form == "class":
        return [t.format(name=request.name, topic=request.phrase) for t in CLASS_TEMPLATES]
    if request.form in ("topic", "program"):
        templates = TOPIC_TEMPLATES if request.form == "topic" else PROGRAM_TEMPLATES
        an_topic = request.phrase if re.match(r"(?:an?|the|my|some)\s", request.phrase) else _article(request.phrase)
        return [t.format(topic=request.phrase, an_topic=an_topic, spec=request.spec) for t in templates]
    task, spec = request.phrase, request.spec
    filled = [t.format(task=task, Task=task[:1].upper() + task[1:], spec=spec) for t in TASK_TEMPLATES]
    if board and board.lower() not in (task + spec).lower():
        filled += [t.format(task=task, spec=spec, a_board=_article(board)) for t in BOARD_TEMPLATES]
    return filled
