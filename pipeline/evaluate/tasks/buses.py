"""I2C and SPI: bus scan, a sensor's ID register, an SPI flash's JEDEC ID, text on an SSD1306 OLED."""

from __future__ import annotations

from pipeline.evaluate.sandbox import RunResult
from pipeline.evaluate.tasks import checks
from pipeline.evaluate.tasks.base import BOARD_NAMES, Case, Check, Verdict, case, family, pin_name


def _i2c(board: str, bus: int, sda: int, scl: int) -> str:
    """How each port builds the bus: rp2 and ESP32 hardware buses take pins; ESP8266 uses SoftI2C."""
    if board == "esp8266":
        return f"from machine import Pin, SoftI2C\n\ni2c = SoftI2C(scl=Pin({scl}), sda=Pin({sda}))\n"
    return f"from machine import I2C, Pin\n\ni2c = I2C({bus}, scl=Pin({scl}), sda=Pin({sda}))\n"


def _bus_words(board: str, bus: int, sda: int, scl: int) -> str:
    where = f"SDA {pin_name(board, sda)}, SCL {pin_name(board, scl)}"
    return f"I2C{bus} ({where})" if board == "pico" else f"I2C ({where})"


def bus_pins(result: RunResult, sda: int, scl: int) -> Verdict:
    if not any(e.args.get("sda") == sda and e.args.get("scl") == scl for e in checks.events(result, "i2c.init")):
        return Verdict(False, f"no I2C bus set up with SDA on pin {sda} and SCL on pin {scl}")
    return Verdict(True, f"I2C on SDA {sda} / SCL {scl}")


# --- I2C scan -----------------------------------------------------------------------------------

SCAN = {
    "pico": [(0, 4, 5, (0x3C, 0x76)), (1, 2, 3, (0x68,))],
    "esp32": [(0, 21, 22, (0x27, 0x68)), (1, 33, 32, (0x48, 0x77))],
    "esp8266": [(-1, 4, 5, (0x3C,)), (-1, 2, 14, (0x23, 0x40))],
}
# A pin the bus cannot use: GP6 is I2C1's SDA, not I2C0's, on a Pico; GPIO6 is the ESP boards' flash.
_BAD_SDA = {"pico": {0: 2, 1: 4}, "esp32": {0: 6, 1: 6}, "esp8266": {-1: 6}}


def scan_prints(result: RunResult, sda: int, scl: int, found: tuple[int, ...]) -> Verdict:
    pins = bus_pins(result, sda, scl)
    if not pins.passed:
        return pins
    if not checks.events(result, "i2c.scan"):
        return Verdict(False, "the bus was never scanned")
    missing = [hex(a) for a in found if hex(a) not in result.stdout.lower()]
    if missing:
        return Verdict(False, f"addresses {', '.join(missing)} not printed in hex (0x..)")
    return Verdict(True, f"scan on SDA {sda} / SCL {scl} printed {', '.join(map(hex, found))}")


@family(SCAN)
def i2c_scan(board, bus, sda, scl, found) -> Case:
    words = _bus_words(board, bus, sda, scl)
    scan = "print([hex(addr) for addr in i2c.scan()])\n"
    return case(
        "i2c_scan",
        board,
        f"{pin_name(board, sda).lower()}-{pin_name(board, scl).lower()}",
        [
            f"Scan {words} and print the address of every device found in hex, with a 0x prefix.",
            f"Which I2C devices are on my {BOARD_NAMES[board]}? The bus is {words}. Print each address as hex (0x..).",
        ],
        topic="scan the I2C bus",
        seconds=0.5,
        world={"i2c": {hex(a): {} for a in found}},
        reference=_i2c(board, bus, sda, scl) + scan,
        wrong=[
            ("swapped_pins", _i2c(board, bus, scl, sda) + scan),
            ("decimal", _i2c(board, bus, sda, scl) + "print(i2c.scan())\n"),
            ("no_scan", _i2c(board, bus, sda, scl) + "print('scanning')\n"),
            ("raises", _i2c(board, bus, _BAD_SDA[board][bus], scl) + scan),
        ],
        check=Check(scan_prints, sda=sda, scl=scl, found=found),
    )


# --- I2C register read --------------------------------------------------------------------------

# (board, bus, sda, scl, device, address, ID register, its value); the IDs are the datasheets'.
REGISTER = {
    "pico": [(0, 4, 5, "BME280", 0x76, 0xD0, 0x60), (1, 6, 7, "MPU6050", 0x68, 0x75, 0x68)],
    "esp32": [(0, 21, 22, "ADXL345", 0x53, 0x00, 0xE5), (1, 25, 26, "BMP180", 0x77, 0xD0, 0x55)],
    "esp8266": [(-1, 4, 5, "LIS3DH", 0x18, 0x0F, 0x33), (-1, 12, 14, "BME680", 0x77, 0xD0, 0x61)],
}


def _register_program(board, bus, sda, scl, addr, reg, show="hex(value)") -> str:
    return _i2c(board, bus, sda, scl) + f"value = i2c.readfrom_mem({addr:#04x}, {reg:#04x}, 1)[0]\nprint({show})\n"


def register_printed(result: RunResult, sda: int, scl: int, addr: int, reg: int, value: int) -> Verdict:
    pins = bus_pins(result, sda, scl)
    if not pins.passed:
        return pins
    if not checks.i2c_register_reads(result, addr, reg):
        return Verdict(False, f"register {reg:#04x} of the device at {addr:#04x} was never read")
    if hex(value) not in result.stdout.lower():
        return Verdict(False, f"{hex(value)} (the register's value) not printed in hex; printed {result.stdout[:60]!r}")
    return Verdict(True, f"read register {reg:#04x} at {addr:#04x} and printed {hex(value)}")


@family(REGISTER)
def i2c_register(board, bus, sda, scl, device, addr, reg, value) -> Case:
    words = _bus_words(board, bus, sda, scl)
    args = (board, bus, sda, scl)
    return case(
        "i2c_register",
        board,
        f"{device.lower()}-{addr:02x}-{reg:02x}",
        [
            f"Read register {reg:#04x} of the {device} at I2C address {addr:#04x} on {words} and print "
            f"the byte in hex (0x..).",
            f"Check that my {device} answers: it sits at {addr:#04x} on {words} of my "
            f"{BOARD_NAMES[board]}. Read its ID register {reg:#04x} (one byte) and print it as hex.",
        ],
        topic="read an I2C register",
        seconds=0.5,
        world={"i2c": {hex(addr): {f"0x{reg:02x}": [value]}}},
        reference=_register_program(*args, addr, reg),
        wrong=[
            ("wrong_register", _register_program(*args, addr, reg + 1)),
            ("wrong_address", _register_program(*args, addr + 1, reg)),
            ("decimal", _register_program(*args, addr, reg, show="value")),
            ("swapped_pins", _register_program(board, bus, scl, sda, addr, reg)),
        ],
        check=Check(register_printed, sda=sda, scl=scl, addr=addr, reg=reg, value=value),
    )


# --- SPI transfer -------------------------------------------------------------------------------

# (board, bus, sck, mosi, miso, cs, baudrate, JEDEC ID); ESP8266's hardware SPI(1) has fixed pins.
SPI = {
    "pico": [(0, 18, 19, 16, 17, 1_000_000, "ef4018"), (1, 10, 11, 12, 13, 4_000_000, "c22017")],
    "esp32": [(2, 18, 23, 19, 5, 1_000_000, "ef4016"), (1, 14, 13, 12, 15, 8_000_000, "1f8501")],
    "esp8266": [(1, 14, 13, 12, 15, 2_000_000, "ef4017"), (1, 14, 13, 12, 4, 500_000, "c84017")],
}
_NO_SPI_BUS = {"pico": 2, "esp32": 3, "esp8266": 0}


def _spi_program(board, bus, sck, mosi, miso, cs, baud, command="0x9F", select=True, show="data.hex()") -> str:
    pins = "" if board == "esp8266" else f", sck=Pin({sck}), mosi=Pin({mosi}), miso=Pin({miso})"
    low, high = ("cs.value(0)\n", "cs.value(1)\n") if select else ("", "")
    return (
        f"from machine import Pin, SPI\n\ncs = Pin({cs}, Pin.OUT, value=1)\nspi = SPI({bus}, baudrate={baud}{pins})\n"
        f"{low}spi.write(bytes([{command}]))\ndata = spi.read(3)\n{high}print({show})\n"
    )


def jedec_id(result: RunResult, sck: int, mosi: int, miso: int, cs: int, baud: int, ident: str) -> Verdict:
    init = checks.last(result, "spi.init")
    if init is None or (init.args.get("sck"), init.args.get("mosi"), init.args.get("miso")) != (sck, mosi, miso):
        return Verdict(False, f"no SPI bus on SCK {sck} / MOSI {mosi} / MISO {miso}")
    if init.args.get("baudrate") != baud:
        return Verdict(False, f"SPI at {init.args.get('baudrate')} baud, want {baud}")
    sent = [e for e in checks.events(result, "spi.write") if e.args["data"].startswith("9f")]
    reads = [e for e in checks.events(result, "spi.read") if e.args["n"] >= 3]
    if not sent or not reads:
        return Verdict(False, "the command 0x9f was not sent, or 3 reply bytes were not read")
    if checks.level_when(result, cs, sent[0]) != 0 or checks.level_when(result, cs, reads[-1]) != 0:
        return Verdict(False, f"chip select pin {cs} is not low during the transfer")
    if checks.level_at(result, cs, float("inf")) != 1:
        return Verdict(False, f"chip select pin {cs} is not released (high) after the transfer")
    if ident not in checks.hex_digits(result.stdout):
        return Verdict(False, f"the ID {ident} is not printed in hex; printed {result.stdout[:60]!r}")
    return Verdict(True, f"JEDEC ID {ident} read at {baud} baud with CS on pin {cs}")


@family(SPI)
def spi_transfer(board, bus, sck, mosi, miso, cs, baud, ident) -> Case:
    sck_name, mosi_name, miso_name, cs_name = (pin_name(board, n) for n in (sck, mosi, miso, cs))
    mhz = f"{baud / 1e6:g} MHz" if baud >= 1_000_000 else f"{baud / 1000:g} kHz"
    pins = f"SCK {sck_name}, MOSI {mosi_name}, MISO {miso_name}"
    args = (board, bus, sck, mosi, miso, cs, baud)
    return case(
        "spi_transfer",
        board,
        f"spi{bus}-cs{cs}-{baud // 1000}khz",
        [
            f"On SPI{bus} ({pins}) at {mhz}, with chip select on {cs_name} (active low), send the JEDEC ID "
            f"command 0x9F, read the 3-byte reply and print it in hex.",
            f"Identify the SPI flash on my {BOARD_NAMES[board]}: hardware SPI bus {bus} ({pins}), "
            f"{baud} baud, CS on {cs_name}. Pull CS low, write 0x9F, read 3 bytes, raise CS, print the hex.",
        ],
        topic="read an SPI flash ID",
        seconds=0.5,
        world={"spi_rx": "0x" + ident},
        reference=_spi_program(*args),
        wrong=[
            ("no_cs", _spi_program(*args, select=False)),
            ("wrong_baud", _spi_program(*args[:-1], baud * 10)),
            ("wrong_command", _spi_program(*args, command="0x90")),
            ("decimal", _spi_program(*args, show="list(data)")),
            ("raises", _spi_program(board, _NO_SPI_BUS[board], *args[2:])),
        ],
        check=Check(jedec_id, sck=sck, mosi=mosi, miso=miso, cs=cs, baud=baud, ident=ident),
    )


# --- OLED text ----------------------------------------------------------------------------------

# (board, bus, sda, scl, address, width, height, lines as (text, x, y))
OLED = {
    "pico": [
        (0, 4, 5, 0x3C, 128, 64, (("Hello", 0, 0),)),
        (1, 2, 3, 0x3C, 128, 32, (("Temp", 0, 0), ("21.5 C", 0, 16))),
    ],
    "esp32": [
        (0, 21, 22, 0x3C, 128, 64, (("Hi maker", 0, 0),)),
        (0, 21, 22, 0x3D, 128, 64, (("Line 1", 0, 0), ("Line 2", 0, 10))),
    ],
    "esp8266": [
        (-1, 4, 5, 0x3C, 128, 64, (("ESP8266", 0, 0),)),
        (-1, 4, 5, 0x3C, 64, 48, (("Hi", 0, 0), ("there", 0, 8))),
    ],
}


def _oled_program(board, bus, sda, scl, addr, width, height, lines, show=True) -> str:
    draw = "".join(f"oled.text({text!r}, {x}, {y})\n" for text, x, y in lines)
    return (
        _i2c(board, bus, sda, scl)
        + f"import ssd1306\n\noled = ssd1306.SSD1306_I2C({width}, {height}, i2c, addr={addr:#04x})\noled.fill(0)\n"
        + draw
        + ("oled.show()\n" if show else "")
    )


def oled_shows(result: RunResult, sda: int, scl: int, lines) -> Verdict:
    pins = bus_pins(result, sda, scl)
    if not pins.passed:
        return pins
    shown = checks.last(result, "oled.show")
    if shown is None:
        return Verdict(False, "nothing was shown on the display (no show())")
    for text, x, y in lines:
        if [x, y, text] not in shown.args["text"]:
            return Verdict(False, f"{text!r} is not at ({x}, {y}); the display shows {shown.args['text']}")
    return Verdict(True, f"the display shows {', '.join(f'{t!r} at ({x}, {y})' for t, x, y in lines)}")


@family(OLED)
def oled_text(board, bus, sda, scl, addr, width, height, lines) -> Case:
    words = _bus_words(board, bus, sda, scl)
    what = " and ".join(f"{t!r} at x={x}, y={y}" for t, x, y in lines)
    args = (board, bus, sda, scl, addr, width, height)
    moved = tuple((t, x, y + 8) for t, x, y in lines)
    return case(
        "oled_text",
        board,
        f"{width}x{height}-{addr:02x}-{len(lines)}lines",
        [
            f"Show {what} on a {width}x{height} SSD1306 OLED at address {addr:#04x} on {words}.",
            f"I wired an SSD1306 display ({width}x{height}, I2C address {addr:#04x}) to my "
            f"{BOARD_NAMES[board]}, {words}. Clear it and write {what}, using the ssd1306 driver.",
        ],
        topic="write text on an OLED",
        seconds=0.5,
        world={"i2c": {hex(addr): {}}},
        reference=_oled_program(*args, lines),
        wrong=[
            ("no_show", _oled_program(*args, lines, show=False)),
            ("wrong_position", _oled_program(*args, moved)),
            ("wrong_address", _oled_program(board, bus, sda, scl, addr ^ 1, width, height, lines)),
            ("swapped_pins", _oled_program(board, bus, scl, sda, addr, width, height, lines)),
        ],
        check=Check(oled_shows, sda=sda, scl=scl, lines=lines),
    )


FAMILIES = (i2c_scan, i2c_register, spi_transfer, oled_text)
