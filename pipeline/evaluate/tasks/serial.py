"""Talking to other machines: UART send, UART echo, Wi-Fi connect."""

from __future__ import annotations

import re

from pipeline.evaluate.sandbox import RunResult
from pipeline.evaluate.tasks import checks
from pipeline.evaluate.tasks.base import BOARD_NAMES, Case, Check, Verdict, case, family, per_second, pin_name

# A UART each board lacks: rp2 has UART0/1, the ESP32 UART0-2, the ESP8266 UART0/1.
_NO_UART = {"pico": 2, "esp32": 3, "esp8266": 2}


def _uart(board: str, bus: int, tx: int, rx: int | None, baud: int) -> str:
    pins = "" if board == "esp8266" else f", tx=Pin({tx}), rx=Pin({rx})"  # the ESP8266's UART pins are fixed
    return f"from machine import Pin, UART\nimport time\n\nuart = UART({bus}, baudrate={baud}{pins})\n"


def _uart_words(board: str, bus: int, tx: int, rx: int | None) -> str:
    pins = f"TX {pin_name(board, tx)}" + ("" if rx is None else f", RX {pin_name(board, rx)}")
    return f"UART{bus} ({pins})"


def uart_setup(result: RunResult, tx: int, rx: int | None, baud: int) -> Verdict:
    init = checks.last(result, "uart.init", tx=tx)
    if init is None or (rx is not None and init.args.get("rx") != rx):
        return Verdict(False, f"no UART set up with TX on pin {tx}" + ("" if rx is None else f" and RX on pin {rx}"))
    if init.args.get("baudrate") != baud:
        return Verdict(False, f"the UART runs at {init.args.get('baudrate')} baud, want {baud}")
    return Verdict(True, f"UART on TX {tx} at {baud} baud")


def _written(result: RunResult, bus, before_ms: float = float("inf")) -> bytes:
    writes = checks.events(result, "uart.write", bus=bus)
    return b"".join(bytes.fromhex(e.args["data"]) for e in writes if e.t_ms <= before_ms)


# --- UART send ----------------------------------------------------------------------------------

SEND = {
    "pico": [(0, 0, 1, 9600, "hello", 1000), (1, 4, 5, 115200, "ping", 500)],
    "esp32": [(2, 17, 16, 9600, "status ok", 2000), (1, 25, 26, 57600, "tick", 1000)],
    "esp8266": [(1, 2, None, 115200, "hi", 1000), (1, 2, None, 9600, "data", 250)],
}


def _send_program(board, bus, tx, rx, baud, message, period, loop=True) -> str:
    body = f"uart.write({message + chr(10)!r})\n"
    return _uart(board, bus, tx, rx, baud) + (f"while True:\n    {body}    time.sleep_ms({period})\n" if loop else body)


def sends(result: RunResult, bus, tx: int, rx, baud: int, message: str, period: int) -> Verdict:
    setup = uart_setup(result, tx, rx, baud)
    if not setup.passed:
        return setup
    writes = [
        e for e in checks.events(result, "uart.write", bus=bus) if message.encode() in bytes.fromhex(e.args["data"])
    ]
    return checks.periodic([e.t_ms for e in writes], period, f"writes of {message!r} on UART{bus}")


@family(SEND)
def uart_send(board, bus, tx, rx, baud, message, period) -> Case:
    words = _uart_words(board, bus, tx, rx)
    args = (board, bus, tx, rx, baud, message, period)
    every = per_second(period) if period in (500, 1000) else f"every {period} ms"
    other_baud = 9600 if baud != 9600 else 115200
    return case(
        "uart_send",
        board,
        f"uart{bus}-{baud}-{period}ms",
        [
            f"Send {message!r} followed by a newline over {words} at {baud} baud {every}.",
            f"My {BOARD_NAMES[board]} should report to another board over serial: {words}, {baud} 8N1. "
            f"Write the line {message!r} every {period / 1000:g} s.",
        ],
        topic="send text over UART",
        seconds=3.5 * period / 1000,
        reference=_send_program(*args),
        wrong=[
            ("wrong_baud", _send_program(board, bus, tx, rx, other_baud, message, period)),
            ("wrong_period", _send_program(*args[:-1], 2 * period)),
            ("sends_once", _send_program(*args, loop=False)),
            ("raises", _send_program(board, _NO_UART[board], *args[2:])),
        ],
        check=Check(sends, bus=bus, tx=tx, rx=rx, baud=baud, message=message, period=period),
    )


# --- UART echo ----------------------------------------------------------------------------------

ECHO = {
    "pico": [(0, 0, 1, 115200), (1, 8, 9, 9600)],
    "esp32": [(2, 17, 16, 115200), (1, 4, 5, 9600)],
    "esp8266": [(0, 1, 3, 115200), (0, 1, 3, 9600)],
}
ARRIVALS = [[300, "hi\n"], [1200, "abc"], [2100, "12345\n"]]
ECHO_MS = 100


def _echo_program(board, bus, tx, rx, baud, pause=10, transform="data", loop=True) -> str:
    wait = f"time.sleep_ms({pause})" if pause else "pass"
    body = f"if uart.any():\n        data = uart.read()\n        uart.write({transform})\n    {wait}\n"
    return _uart(board, bus, tx, rx, baud) + (f"while True:\n    {body}" if loop else "if True:\n    " + body)


def echoes(result: RunResult, bus, tx: int, rx: int, baud: int) -> Verdict:
    setup = uart_setup(result, tx, rx, baud)
    if not setup.passed:
        return setup
    received = b""
    for t, chunk in ARRIVALS:
        received += chunk.encode()
        got = _written(result, bus, t + ECHO_MS)
        if got != received:
            return Verdict(False, f"by t={t + ECHO_MS} ms UART{bus} sent back {got!r}, want {received!r}")
    return Verdict(True, f"UART{bus} echoed {received!r} within {ECHO_MS} ms of each arrival")


@family(ECHO)
def uart_echo(board, bus, tx, rx, baud) -> Case:
    words = _uart_words(board, bus, tx, rx)
    args = (board, bus, tx, rx, baud)
    repl = " (detach the REPL from it first if needed)" if board == "esp8266" else ""
    wrong_bus = (board, 1, 2, None, baud) if board == "esp8266" else (board, bus, rx, tx, baud)
    return case(
        "uart_echo",
        board,
        f"uart{bus}-{baud}",
        [
            f"Echo every byte received on {words} at {baud} baud back to the sender, within {ECHO_MS} ms.",
            f"Serial loopback test for my {BOARD_NAMES[board]}: on {words}{repl}, {baud} baud, whatever "
            f"arrives must be written straight back (check at least every {ECHO_MS} ms).",
        ],
        topic="echo bytes on a UART",
        seconds=3.0,
        world={"uart_rx": ARRIVALS},
        reference=_echo_program(*args),
        wrong=[
            ("wrong_baud", _echo_program(board, bus, tx, rx, 9600 if baud != 9600 else 115200)),
            ("wrong_pins", _echo_program(*wrong_bus)),
            ("upper_case", _echo_program(*args, transform="data.upper()")),
            ("reads_once", _echo_program(*args, loop=False)),
            ("no_sleep", _echo_program(*args, pause=0)),
            ("raises", _echo_program(board, _NO_UART[board], tx, rx, baud)),
        ],
        check=Check(echoes, bus=bus, tx=tx, rx=rx, baud=baud),
    )


# --- Wi-Fi connect ------------------------------------------------------------------------------

WIFI = {
    "pico": [("Workshop", "pa55word"), ("HomeNet-5G", "correct horse")],
    "esp32": [("MakerSpace", "s0lder!"), ("Lab_2.4", "12345678")],
    "esp8266": [("Garage", "tinkering"), ("IoT", "hunter22")],
}
ADDRESS = "192.168.1.42"  # what the simulated access point hands out (board/network.py)


def _wifi_program(ssid: str, password: str, active: bool = True, show: bool = True) -> str:
    return (
        "import network\nimport time\n\nwlan = network.WLAN(network.STA_IF)\n"
        + ("wlan.active(True)\n" if active else "")
        + f"wlan.connect({ssid!r}, {password!r})\nfor _ in range(20):\n    if wlan.isconnected():\n        break\n"
        + "    time.sleep(0.5)\n"
        + ("print(wlan.ifconfig()[0])\n" if show else "")
    )


def connects(result: RunResult, ssid: str) -> Verdict:
    joined = [e for e in checks.events(result, "wlan.connect", ssid=ssid) if e.args.get("ok")]
    if not joined:
        return Verdict(False, f"never connected to {ssid!r} (wrong SSID or password?)")
    if ADDRESS not in result.stdout:
        return Verdict(False, f"connected, but the IP address {ADDRESS} was not printed")
    return Verdict(True, f"connected to {ssid!r} and printed {ADDRESS}")


@family(WIFI)
def wifi_connect(board, ssid, password) -> Case:
    name = "Pico W" if board == "pico" else BOARD_NAMES[board]
    return case(
        "wifi_connect",
        board,
        re.sub(r"[^a-z0-9]+", "-", ssid.lower()),
        [
            f"Connect my {name} to the Wi-Fi network {ssid!r} with password {password!r} and print its IP address.",
            f"Join Wi-Fi (station mode): SSID {ssid}, key {password}. Wait up to 10 s for the connection, "
            f"then print the IP address the {name} got.",
        ],
        topic="connect to Wi-Fi",
        seconds=12.0,
        world={"wlan": {ssid: password, "Neighbours": "not-ours"}},
        reference=_wifi_program(ssid, password),
        wrong=[
            ("wrong_password", _wifi_program(ssid, password.upper() + "x")),
            ("wrong_ssid", _wifi_program("Neighbours", "not-ours")),
            ("not_active", _wifi_program(ssid, password, active=False)),
            ("no_print", _wifi_program(ssid, password, show=False)),
        ],
        check=Check(connects, ssid=ssid),
    )


FAMILIES = (uart_send, uart_echo, wifi_connect)
