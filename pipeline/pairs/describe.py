"""Requests a maker would type, built from what the code does (read with ``ast``, never run).

The hardware objects the snippet makes (``led = Pin(25, Pin.OUT)``, ``NeoPixel(Pin(16), 8)``,
``UART(1, baudrate=9600)``, ``dht.DHT22(Pin(4))``, ``WLAN(STA_IF).connect(ssid, pw)``),
the methods it calls on them and the values it passes (``params``) name one job: blink,
PWM/fade/servo, button, pin interrupt, analog read, I2C scan, UART, periodic timer,
NeoPixel colour, DHT reading, Wi-Fi connection, deep sleep. Each job is said at three
levels of detail ("blink GP25"; "blink the LED on GP25 every 500 ms"; "make my Pico's
built-in LED flash twice a second") inside one of several frames, with the numbers the
code uses spelt in varied units, so the request and the answer always agree.
"""

from __future__ import annotations

import ast
import random

from pipeline.pairs.params import Param, callee, constant_bindings, constructors, find_params, receiver
from pipeline.pairs.units import say_colour, say_percent, say_period, say_rate, say_seconds

_ONBOARD_LED = {"Raspberry Pi Pico": 25, "ESP32": 2, "ESP8266": 2}
_SHORT_BOARD = {"Raspberry Pi Pico": "Pico"}
_FRAMES = (
    "{Core}.",
    "{Core} in MicroPython.",
    "MicroPython on {a_board}: {core}.",
    "I have {a_board} running MicroPython - how can I {core}?",
    "Can you write MicroPython that will {core}?",
    "Need a script to {core}{on_board}.",
    "How would I {core} with MicroPython{on_board}?",
    "{Core}{on_board}, please, using MicroPython.",
    "Please {core}. It's {a_board}.",
)


def pin_label(board: str | None, number: int) -> str:
    """A pin as makers write it on the board: GP25 on a Pico, GPIO2 on an ESP, else pin 4."""
    prefix = "GP" if board == "Raspberry Pi Pico" else "GPIO" if (board or "").startswith("ESP") else "pin "
    return f"{prefix}{number}"


def _pin_of(node: ast.expr | None, made: dict[str, ast.Call], bindings: dict) -> int | str | None:
    """The pin a constructor argument names: 25, Pin(25), Pin("LED"), a Pin variable, a bound constant."""
    if isinstance(node, ast.Name):
        if node.id in made:
            return _pin_of(made[node.id], made, bindings)
        node = bindings.get(node.id, node)
    if isinstance(node, ast.Call) and callee(node) in ("Pin", "Signal") and node.args:
        return _pin_of(node.args[0], made, bindings)
    if isinstance(node, ast.Constant) and type(node.value) in (int, str):
        return node.value
    return None


def _literal_arg(call: ast.Call) -> object:
    """The call's first argument where it is written as a literal (the 1 of UART(1)); else None."""
    return call.args[0].value if call.args and isinstance(call.args[0], ast.Constant) else None


class _Facts:
    """What the snippet makes and calls, for the job phrasings."""

    def __init__(self, tree: ast.Module, board: str | None) -> None:
        self.tree = tree
        self.board = board
        self.made = constructors(tree)
        self.bindings = constant_bindings(tree)
        self.params = find_params(tree)
        self.calls: dict[str, set[str]] = {}
        self.functions: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self.functions.add(callee(node))
                self.calls.setdefault(receiver(node), set()).add(callee(node))
                if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Attribute):
                    self.calls.setdefault(node.func.value.attr, set()).add(callee(node))

    def objects(self, *kinds: str) -> list[tuple[str, ast.Call]]:
        return [(name, call) for name, call in self.made.items() if callee(call) in kinds]

    def first(self, *kinds: str) -> tuple[str, str] | None:
        """The class of the first object of these kinds the snippet makes, and its pin ("a pin" if unsaid)."""
        found = self.objects(*kinds)
        if not found:
            return None
        call = found[0][1]
        return callee(call), self.pin(call) or "a pin"

    def pin(self, call: ast.Call, keyword: str = "") -> str | None:
        arg = next((k.value for k in call.keywords if k.arg == keyword), None) if keyword else None
        if arg is None and not keyword:
            arg = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "pin"), None)
        number = _pin_of(arg, self.made, self.bindings)
        if number is None:
            return None
        if isinstance(number, str):
            return f"pin {number}" if number != "LED" else "the onboard LED"
        return pin_label(self.board, number)

    def values(self, *kinds: str) -> list[Param]:
        return [p for p in self.params if p.kind in kinds]

    def delay(self) -> list[Param]:
        return self.values("s", "ms", "us", "period_ms")


def _choose(rng: random.Random, options: list[str]) -> str:
    return rng.choice([o for o in options if o])


def _when(facts: _Facts, rng: random.Random, delays: list[Param] | None = None) -> str:
    delays = facts.delay() if delays is None else delays
    if len(delays) == 1:
        return " " + say_period(delays[0].seconds(), rng)
    return ""


def _blink(facts: _Facts, rng: random.Random) -> str | None:
    leds = [
        (n, c)
        for n, c in facts.objects("Pin", "Signal", "LED")
        if facts.calls.get(n, set()) & {"toggle", "on", "off", "value", "high", "low"}
    ]
    if not leds or not facts.delay():
        return None
    name, call = leds[0]
    where = facts.pin(call) or "the LED"
    delays = facts.delay()
    onboard = _ONBOARD_LED.get(facts.board or "") == _pin_of(
        call.args[0] if call.args else None, facts.made, facts.bindings
    )
    board = _SHORT_BOARD.get(facts.board or "", facts.board or "board")
    thing = f"my {board}'s built-in LED ({where})" if onboard else f"an LED wired to {where}"
    if len(delays) == 2:
        on, off = (say_seconds(d.seconds(), rng) for d in delays)
        return _choose(
            rng, [f"switch {where} on for {on} and off for {off}, over and over", f"flash {thing}: {on} on, {off} off"]
        )
    period = delays[0].seconds()
    rate = 1 / (2 * period)
    options = [f"blink {where}", f"blink {thing}{_when(facts, rng)}", f"toggle {where}{_when(facts, rng)}"]
    options.append(f"make {thing} flash {say_period(2 * period, rng)}")
    if abs(round(rate, 2) - rate) < 1e-9:
        options.append(f"make {thing} flash at {say_rate(rate, rng)}")
    return _choose(rng, options)


def _pwm(facts: _Facts, rng: random.Random) -> str | None:
    if (found := facts.first("PWM")) is None:
        return None
    where = found[1]
    freq = facts.values("pwm_hz")
    duty = facts.values("duty", "duty_u16")
    hz = f" at {say_rate(float(freq[0].value), rng)}" if len(freq) == 1 else ""
    if freq and freq[0].value == 50:
        return _choose(rng, [f"drive a hobby servo from {where} with 50 Hz PWM", f"move a servo on {where}"])
    if not duty and facts.functions & {"duty", "duty_u16"}:  # a duty set from a variable: a fade
        return _choose(
            rng, [f"fade an LED on {where} up and down{hz}", f"smoothly dim and brighten {where} with PWM{hz}"]
        )
    if len(duty) == 1:
        percent = f"{say_percent(duty[0]):g}%"
        return _choose(
            rng, [f"output PWM{hz} with a {percent} duty cycle on {where}", f"run {where} as PWM{hz}, duty {percent}"]
        )
    return _choose(rng, [f"set up PWM on {where}{hz}", f"generate a PWM signal{hz} on {where}"])


def _neopixel(facts: _Facts, rng: random.Random) -> str | None:
    if (found := facts.first("NeoPixel")) is None:
        return None
    where = found[1]
    count = facts.values("pixels")
    colours = facts.values("rgb")
    size = f"{count[0].value} " if len(count) == 1 else ""
    if len(colours) == 1:
        colour = say_colour(colours[0].value, rng)
        return _choose(
            rng,
            [
                f"set a strip of {size}NeoPixels on {where} to {colour}",
                f"light {size}WS2812 LEDs on {where} in colour {colour}",
            ],
        )
    return _choose(
        rng,
        [
            f"drive a {size}pixel NeoPixel strip on {where}".replace("  ", " "),
            f"control {size}addressable RGB LEDs on {where}",
        ],
    )


def _dht(facts: _Facts, rng: random.Random) -> str | None:
    if (found := facts.first("DHT11", "DHT22")) is None:
        return None
    kind, where = found
    return _choose(
        rng,
        [
            f"read temperature and humidity from a {kind} on {where}{_when(facts, rng)}",
            f"print the {kind} readings from {where}{_when(facts, rng)}",
        ],
    )


def _wifi(facts: _Facts, rng: random.Random) -> str | None:
    if not facts.objects("WLAN") or "connect" not in facts.functions:
        return None
    ssid, password = facts.values("ssid"), facts.values("password")
    if ssid and password:
        return _choose(
            rng,
            [
                f'join the Wi-Fi network "{ssid[0].value}" with password "{password[0].value}"',
                f'connect to Wi-Fi (SSID "{ssid[0].value}", password "{password[0].value}")',
            ],
        )
    return _choose(rng, ["connect to my Wi-Fi network as a station", "get onto Wi-Fi and print the IP address"])


def _i2c(facts: _Facts, rng: random.Random) -> str | None:
    buses = facts.objects("I2C", "SoftI2C")
    if not buses or "scan" not in facts.functions:
        return None
    scl, sda = facts.pin(buses[0][1], "scl"), facts.pin(buses[0][1], "sda")
    pins = f" (SCL {scl}, SDA {sda})" if scl and sda else ""
    return _choose(
        rng, [f"scan the I2C bus{pins} and list the devices found", f"find the addresses of the I2C devices{pins}"]
    )


def _uart(facts: _Facts, rng: random.Random) -> str | None:
    ports = facts.objects("UART")
    if not ports:
        return None
    number = _literal_arg(ports[0][1])
    port = f"UART{number}" if type(number) is int else f"UART {number}" if number else "a UART"
    baud = facts.values("baud")
    speed = f" at {baud[0].value} baud" if len(baud) == 1 else ""
    if facts.calls.get(ports[0][0], set()) & {"read", "readline", "any", "readinto"}:
        return _choose(rng, [f"read incoming serial data on {port}{speed}", f"receive bytes over {port}{speed}"])
    return _choose(rng, [f"send text over {port}{speed}{_when(facts, rng)}", f"write messages to {port}{speed}"])


def _adc(facts: _Facts, rng: random.Random) -> str | None:
    adcs = facts.objects("ADC")
    if not adcs:
        return None
    call = adcs[0][1]
    channel = _literal_arg(call)
    if type(channel) is int and facts.board == "Raspberry Pi Pico":
        # ADC(n) on an RP2040 is a channel: 0-2 are GP26-GP28, 4 the internal temperature sensor.
        if channel == 4:
            return _choose(rng, [f"read the Pico's internal temperature sensor{_when(facts, rng)}"])
        where = f" on GP{26 + channel}" if channel < 3 else ""
    elif type(channel) is int:
        where = f" on ADC channel {channel}"
    else:
        where = f" on {facts.pin(call)}" if facts.pin(call) else ""
    return _choose(
        rng, [f"read an analog voltage{where}{_when(facts, rng)}", f"print the ADC value{where}{_when(facts, rng)}"]
    )


def _timer(facts: _Facts, rng: random.Random) -> str | None:
    if not facts.objects("Timer") and "Timer" not in facts.functions:
        return None
    period, freq = facts.values("period_ms"), facts.values("timer_hz")
    if len(period) == 1:
        when = say_period(period[0].seconds(), rng)
    elif len(freq) == 1 and freq[0].value:
        hertz = float(freq[0].value)
        whole_ms = abs(1000 / hertz - round(1000 / hertz)) < 1e-9
        when = rng.choice([f"at {say_rate(hertz, rng)}"] + [say_period(1 / hertz, rng)] * whole_ms)
    elif len(period) == 2:
        # Two timers (the quickref's ONE_SHOT and PERIODIC pair): said by their periods, not their modes.
        first, second = (say_seconds(p.seconds(), rng) for p in period)
        return _choose(rng, [f"start two timers, one with a {first} period and one with {second}"])
    else:
        return None
    return _choose(rng, [f"run a function {when} from a hardware timer", f"use a timer callback {when}"])


def _button(facts: _Facts, rng: random.Random) -> str | None:
    for name, call in facts.objects("Pin"):
        if _pin_mode(call) != "IN":
            continue
        where = facts.pin(call) or "a pin"
        if "irq" in facts.calls.get(name, set()):
            return _choose(
                rng,
                [
                    f"run a handler when {where} changes, using an interrupt",
                    f"react to a button on {where} with a pin IRQ",
                ],
            )
        lamp = _output_pin(facts, follows=name)
        if lamp is not None:
            # A button that drives an LED is asked for by both ends, not as a bare read.
            pull = " (internal pull-up, pressed = low)" if _pulled_up(call) else ""
            return _choose(
                rng,
                [
                    f"switch {lamp} on while a push button on {where} is pressed{pull}",
                    f"make {lamp} follow the button on {where}{pull}",
                ],
            )
        return _choose(rng, [f"read a push button on {where}", f"check whether the switch on {where} is pressed"])
    return None


def _output_pin(facts: _Facts, follows: str = "") -> str | None:
    """The first pin the snippet makes as an output, as a maker names it; with ``follows``, only one
    that a loop writes in the same loop that reads the pin ``follows`` (a button driving an LED)."""
    loops = [node for node in ast.walk(facts.tree) if isinstance(node, ast.While)]
    for name, call in facts.objects("Pin"):
        if _pin_mode(call) != "OUT":
            continue
        if not follows or any({follows, name} <= _receivers(loop) for loop in loops):
            return facts.pin(call)
    return None


def _pin_mode(call: ast.Call) -> str | None:
    """``IN`` for ``Pin(9, Pin.IN)``; None when the mode is not given as an attribute."""
    mode = call.args[1] if len(call.args) > 1 else None
    return mode.attr if isinstance(mode, ast.Attribute) else None


def _receivers(node: ast.AST) -> set[str]:
    return {receiver(n) for n in ast.walk(node) if isinstance(n, ast.Call)}


def _pulled_up(call: ast.Call) -> bool:
    pull = call.args[2] if len(call.args) > 2 else next((k.value for k in call.keywords if k.arg == "pull"), None)
    return isinstance(pull, ast.Attribute) and pull.attr == "PULL_UP"


def _deepsleep(facts: _Facts, rng: random.Random) -> str | None:
    if "deepsleep" not in facts.functions:
        return None
    naps = [p for p in facts.delay() if p.kind == "ms" and p.value >= 1000]
    awake = [p for p in facts.delay() if p not in naps]
    lamp = _output_pin(facts)
    if naps and lamp and len(awake) == 1:
        # What the board does while awake is half the job ("flash GP12, then sleep 45 s").
        on, nap = say_seconds(awake[0].seconds(), rng), say_seconds(naps[0].seconds(), rng)
        options = [f"switch {lamp} on for {on}, then deep-sleep for {nap}", f"light {lamp} for {on}, then sleep {nap}"]
        return _choose(rng, options)
    if naps:
        nap = say_seconds(naps[0].seconds(), rng)
        return _choose(rng, [f"put the board into deep sleep for {nap}", f"wake up every {nap} from deep sleep"])
    return _choose(rng, ["put the board into deep sleep", "save power with deep sleep between readings"])


# Other hardware a snippet may set up, for requests that name it and what the code calls on it.
_PERIPHERALS = {
    "RTC": "the real-time clock", "Accel": "the accelerometer", "Servo": "a servo", "LCD": "the LCD",
    "StateMachine": "a PIO state machine", "Switch": "the user switch", "LED": "an onboard LED",
    "TouchPad": "a touch pad", "DAC": "the DAC", "WDT": "the watchdog timer", "SPI": "an SPI device",
    "SoftSPI": "an SPI device", "I2C": "an I2C device", "SoftI2C": "an I2C device", "I2S": "I2S audio",
    "CAN": "the CAN bus", "SDCard": "an SD card", "SD": "an SD card", "BLE": "Bluetooth LE",
    "ExtInt": "an external interrupt", "OneWire": "a 1-Wire bus", "DS18X20": "a DS18B20 temperature sensor",
    "SSD1306_I2C": "an SSD1306 OLED display", "Timer": "a timer", "PWM": "a PWM output", "Pin": "a GPIO pin",
}  # fmt: skip


def _peripheral(facts: _Facts, rng: random.Random) -> str | None:
    found = facts.objects(*_PERIPHERALS)
    if not found:
        return None
    name, call = found[0]
    noun = _PERIPHERALS[callee(call)]
    # DAC(1) or Servo(1) on a pyboard is a channel, not a pin: only Pin(...) arguments name one.
    first = call.args[0] if call.args else None
    pin_given = callee(call) == "Pin" or (isinstance(first, ast.Call) and callee(first) == "Pin")
    where = facts.pin(call) if pin_given else None
    where = f" on {where}" if where else ""
    methods = sorted(m for m in facts.calls.get(name, set()) if m and not m.startswith("_"))[:3]
    listed = ", ".join(f"`{m}()`" for m in methods)
    return _choose(
        rng, [f"use {noun}{where}", f"try out {noun}{where} ({listed})" if methods else "", f"set up {noun}{where}"]
    )


_JOBS = (_wifi, _neopixel, _dht, _i2c, _uart, _pwm, _adc, _timer, _deepsleep, _button, _blink, _peripheral)


def describe_code(code: str, board: str | None, rng: random.Random) -> str | None:
    """A maker's request for what the code does; None when it does no hardware job this knows."""
    try:
        facts = _Facts(ast.parse(code), board)
    except SyntaxError:
        return None
    core = next((job for job in (j(facts, rng) for j in _JOBS) if job), None)
    if core is None:
        return None
    frames = [f for f in _FRAMES if board or "{a_board}" not in f]
    a_board = ("an " if (board or "")[:1] in "AEIOU" else "a ") + (board or "")
    on_board = f" on my {_SHORT_BOARD.get(board, board)}" if board and rng.random() < 0.5 else ""
    frame = rng.choice(frames)
    return frame.format(core=core, Core=core[:1].upper() + core[1:], a_board=a_board, on_board=on_board)
