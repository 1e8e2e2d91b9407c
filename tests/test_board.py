"""The simulated board (pipeline/evaluate/board): each driver's events and each board's rules, in real MicroPython."""

from __future__ import annotations

import shutil

import pytest

from pipeline.evaluate.sandbox import run_program

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def run(source: str, board: str = "pico", world: dict | None = None, seconds: float = 5.0):
    result = run_program(source, board=board, seconds=seconds, world=world)
    assert result.status == "ok", f"{result.status}: {result.error}"
    return result


def events(result, kind: str) -> list[tuple[float, dict]]:
    return [(e.t_ms, e.args) for e in result.events if e.kind == kind]


@pytest.mark.parametrize(
    ("board", "source", "error"),
    [
        ("pico", "Pin(29)", "ValueError: invalid pin"),
        ("pico", "Pin('GP31')", 'ValueError: unknown named pin "GP31"'),
        ("pico", "PWM(Pin(15)).duty(512)", "AttributeError: 'PWM' object has no attribute 'duty'"),
        ("pico", "ADC(Pin(5))", "ValueError: invalid Pin for ADC"),
        ("pico", "I2C(0, scl=Pin(2), sda=Pin(8))", "ValueError: bad SCL pin"),
        ("pico", "Timer(0)", "ValueError: Timer(0) doesn't exist"),
        ("esp32", "Pin(6, Pin.OUT)", "ValueError: invalid pin: GPIO6 is connected to the SPI flash"),
        ("esp32", "Pin(34, Pin.OUT)", "ValueError: pin can only be input"),
        ("esp32", "Pin(24)", "ValueError: invalid pin"),
        ("esp8266", "PWM(Pin(16))", "ValueError: PWM not supported on pin 16"),
        ("esp8266", "ADC(1)", "ValueError: invalid Pin for ADC"),
        ("esp8266", "Pin(6)", "ValueError: invalid pin: GPIO6 is connected to the SPI flash"),
    ],
)
def test_board_rules_raise_what_the_real_port_raises(board, source, error):
    program = f"from machine import Pin, PWM, ADC, I2C, Timer\n{source}\n"
    result = run_program(program, board=board, seconds=1.0)
    assert (result.status, result.error) == ("raised", error)


def test_inputs_follow_the_world_and_irqs_fire_on_its_edges():
    source = (
        "from machine import Pin\nimport time\nb = Pin(14, Pin.IN, Pin.PULL_UP)\n"
        "b.irq(lambda p: print('press', time.ticks_ms()), Pin.IRQ_FALLING)\nprint(b.value())\n"
    )
    result = run(source, world={"pins": {"14": [[0, 1], [1000, 0], [1200, 1], [3000, 0]]}})
    assert result.stdout == "1\npress 1000\npress 3000\n"
    assert [t for t, _ in events(result, "irq.fire")] == [1000.0, 3000.0]
    assert events(result, "pin.init")[0][1] == {"pin": 14, "mode": "in", "pull": "up"}


def test_signal_inverts_and_names_resolve():
    result = run("from machine import Pin, Signal\ns = Signal(Pin('LED', Pin.OUT), invert=True)\ns.on()\ns.off()\n")
    assert [a["value"] for _, a in events(result, "pin.value")] == [0, 1]


def test_pwm_freq_and_duty_in_every_unit():
    source = (
        "from machine import Pin, PWM\np = PWM(Pin(2), freq=1000)\n"
        "p.duty(512)\np.duty_u16(16384)\np.duty_ns(750000)\np.deinit()\n"
    )
    result = run(source, board="esp32")
    assert events(result, "pwm.freq") == [(0.0, {"pin": 2, "freq": 1000})]
    assert [round(a["duty"], 3) for _, a in events(result, "pwm.duty")] == [0.5, 0.25, 0.75]
    assert events(result, "pwm.deinit") == [(0.0, {"pin": 2})]


def test_adc_follows_the_world_schedule():
    source = (
        "from machine import ADC, Pin\nimport time\na = ADC(Pin(34))\n"
        "print(a.read())\ntime.sleep(3)\nprint(a.read_u16())\n"
    )
    result = run(source, board="esp32", world={"adc": {"34": [[0, 12000], [2000, 40000]]}})
    assert result.stdout == "750\n40000\n"
    assert [(t, a["value"]) for t, a in events(result, "adc.read")] == [(0.0, 12000), (3000.0, 40000)]


def test_i2c_scan_and_register_reads_and_writes():
    source = (
        "from machine import I2C, Pin\ni2c = I2C(0, scl=Pin(9), sda=Pin(8), freq=100000)\nprint(i2c.scan())\n"
        "print(i2c.readfrom_mem(0x76, 0xd0, 1))\nb = bytearray(3)\ni2c.readfrom_mem_into(0x76, 0xfa, b)\nprint(b)\n"
        "i2c.writeto_mem(0x76, 0xf4, b'\\x27')\ni2c.writeto(0x76, b'\\xd0')\nprint(i2c.readfrom(0x76, 1))\n"
        "try:\n    i2c.writeto(0x3c, b'\\x00')\nexcept OSError as e:\n    print('nack', e)\n"
    )
    result = run(source, world={"i2c": {"0x76": {"0xd0": [0x60], "0xfa": [1, 2, 3]}}})
    assert result.stdout == "[118]\nb'`'\nbytearray(b'\\x01\\x02\\x03')\nb'`'\nnack [Errno 5] EIO\n"
    assert events(result, "i2c.init") == [(0.0, {"bus": 0, "scl": 9, "sda": 8, "freq": 100000})]
    assert events(result, "i2c.write")[0][1] == {"bus": 0, "addr": 0x76, "reg": 0xF4, "data": "27"}
    assert events(result, "i2c.read")[1][1] == {"bus": 0, "addr": 0x76, "reg": 0xFA, "n": 3, "data": "010203"}


def test_spi_and_uart_traffic():
    source = (
        "from machine import SPI, UART, Pin\nimport time\ns = SPI(0, baudrate=1000000)\ns.write(b'\\x9f')\n"
        "print(s.read(3))\nu = UART(1, 9600, tx=Pin(4), rx=Pin(5))\nu.write('hi')\nprint(u.any())\n"
        "time.sleep(1)\nprint(u.readline(), u.read())\n"
    )
    result = run(source, world={"spi_rx": "0x9f0102", "uart_rx": [[500, "hello\nrest"]]})
    assert result.stdout == "b'\\x9f\\x01\\x02'\n0\nb'hello\\n' b'rest'\n"
    assert events(result, "spi.init")[0][1] == {"bus": 0, "baudrate": 1000000, "sck": 18, "mosi": 19, "miso": 16}
    assert events(result, "uart.write") == [(0.0, {"bus": 1, "data": "6869"})]
    assert [a["data"] for _, a in events(result, "uart.read")] == ["68656c6c6f0a", "72657374"]


def test_spi_full_duplex_answers_after_the_command_byte():
    source = (
        "from machine import SPI\ns = SPI(0)\nbuf = bytearray(4)\n"
        "s.write_readinto(b'\\x9f\\0\\0\\0', buf)\nprint(buf.hex())\n"
    )
    result = run(source, world={"spi_rx": "0xef4018"})
    assert result.stdout == "ffef4018\n"
    assert events(result, "spi.read") == [(0.0, {"bus": 0, "n": 4, "data": "ffef4018"})]


def test_timers_one_shot_and_periodic_and_deinit():
    source = (
        "from machine import Timer\nimport time\nt = Timer(1)\n"
        "t.init(period=1000, mode=Timer.ONE_SHOT, callback=print)\n"
        "p = Timer(2, period=400, callback=lambda t: None)\ntime.sleep(1)\np.deinit()\n"
    )
    result = run(source, board="esp32", seconds=3.0)
    assert events(result, "timer.init")[0][1] == {"id": 1, "period_ms": 1000.0, "mode": "one_shot"}
    assert [(t, a["id"]) for t, a in events(result, "timer.fire")] == [(400.0, 2), (800.0, 2), (1000.0, 1)]
    assert events(result, "timer.deinit") == [(1000.0, {"id": 2})]


def test_neopixel_wlan_dht_and_ds18x20():
    source = (
        "import neopixel, network, dht, onewire, ds18x20, machine, time\n"
        "n = neopixel.NeoPixel(machine.Pin(5), 2)\nn[0] = (255, 0, 0)\nn.write()\n"
        "w = network.WLAN(network.STA_IF)\nw.active(True)\nw.connect('MyNet', 'secret')\nprint(w.isconnected())\n"
        "d = dht.DHT22(machine.Pin(4))\nd.measure()\nprint(d.temperature(), d.humidity())\n"
        "ds = ds18x20.DS18X20(onewire.OneWire(machine.Pin(15)))\nrom = ds.scan()[0]\nds.convert_temp()\n"
        "print(ds.read_temp(rom))\ntime.sleep_ms(750)\nprint(ds.read_temp(rom))\n"
    )
    world = {
        "wlan": {"MyNet": "secret"},
        "dht": {"temperature": 22.5, "humidity": 40.0},
        "ds18x20": {"temperature": 21},
    }
    result = run(source, board="esp32", world=world)
    assert result.stdout == "True\n22.5 40.0\n85.0\n21.0\n"  # 85.0: read before the 750 ms conversion
    assert events(result, "neopixel.write") == [(0.0, {"pin": 5, "pixels": [[255, 0, 0], [0, 0, 0]]})]
    assert events(result, "wlan.connect") == [(0.0, {"ssid": "MyNet", "password": "secret", "ok": True})]
    assert events(result, "dht.measure") == [(0.0, {"pin": 4, "model": "DHT22"})]
    assert events(result, "ds18x20.convert") == [(0.0, {"pin": 15})]


def test_ssd1306_reports_its_text_and_needs_its_i2c_address():
    source = (
        "from machine import Pin, I2C\nimport ssd1306\n"
        "o = ssd1306.SSD1306_I2C(128, 64, I2C(0, scl=Pin(22), sda=Pin(21)))\n"
        "o.fill(0)\no.text('Hello', 0, 0)\no.text('22.5 C', 0, 16)\no.show()\n"
    )
    result = run(source, board="esp32", world={"i2c": {"0x3c": {}}})
    assert events(result, "oled.show") == [(0.0, {"text": [[0, 0, "Hello"], [0, 16, "22.5 C"]], "fill": 0})]
    missing = run_program(source, board="esp32", seconds=1.0)
    assert (missing.status, missing.error) == ("raised", "OSError: [Errno 19] ENODEV")


def test_watchdog_resets_a_board_that_stops_feeding_it_and_deepsleep_ends_the_run():
    source = (
        "from machine import WDT\nimport time\nw = WDT(timeout=2000)\ntime.sleep(1)\nw.feed()\n"
        "while True:\n    time.sleep(0.1)\n"
    )
    result = run(source, board="esp32")
    assert events(result, "machine.reset") == [(3000.0, {"cause": "wdt"})]
    assert result.events[-1].args["reason"] == "reset"
    sleeper = run("import machine, time\ntime.sleep(1)\nmachine.deepsleep(5000)\nprint('never')\n", board="esp8266")
    assert events(sleeper, "machine.deepsleep") == [(1000.0, {"ms": 5000})]
    assert sleeper.stdout == "" and sleeper.events[-1].args["reason"] == "deepsleep"


def test_rtc_sets_the_clock_time_reads():
    source = (
        "from machine import RTC\nimport time\nRTC().datetime((2025, 1, 2, 3, 4, 5, 6, 0))\n"
        "time.sleep(2)\nprint(time.localtime()[:6])\n"
    )
    assert run(source).stdout == "(2025, 1, 2, 4, 5, 8)\n"


def test_asyncio_runs_on_the_virtual_clock_with_irqs_waking_tasks():
    source = (
        "import uasyncio as asyncio\nfrom machine import Pin\nimport time\nled = Pin(25, Pin.OUT)\n"
        "flag = asyncio.ThreadSafeFlag()\nPin(14, Pin.IN, Pin.PULL_UP).irq(lambda p: flag.set(), Pin.IRQ_FALLING)\n"
        "async def blink():\n    while True:\n        led.toggle()\n        await asyncio.sleep_ms(250)\n"
        "async def button():\n    while True:\n        await flag.wait()\n        print('pressed', time.ticks_ms())\n"
        "async def main():\n    asyncio.create_task(blink())\n    asyncio.create_task(button())\n"
        "    try:\n        await asyncio.wait_for(asyncio.sleep(5), 0.3)\n    except asyncio.TimeoutError:\n"
        "        print('timeout', time.ticks_ms())\n    await asyncio.sleep(1)\n"
        "asyncio.run(main())\nprint('returned', time.ticks_ms())\n"
    )
    result = run(source, world={"pins": {"14": [[0, 1], [700, 0], [800, 1]]}}, seconds=2.0)
    assert result.stdout == "timeout 300\npressed 700\nreturned 1300\n"
    assert [t for t, _ in events(result, "pin.value")] == [0.0, 250.0, 500.0, 750.0, 1000.0, 1250.0]
