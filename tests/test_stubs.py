"""API truth from the official stub wheels (fetched by `make setup` into var/stubs): known APIs pass,
invented ones are named, and ports differ where their firmware does."""

from __future__ import annotations

import shutil

import pytest

from pipeline.evaluate.stub_index import PORT_STUBS, STDLIB_STUBS, StubIndex, pinned_wheels, stubs_dir
from pipeline.evaluate.stubs import invented_apis

BLINK = """
from machine import Pin
import time
led = Pin(25, Pin.OUT)
while True:
    led.toggle()
    time.sleep_ms(500)
"""

ESP32_KIT = """
import machine, network, time, dht, onewire, ds18x20, neopixel
from machine import Pin, ADC, UART, SPI, RTC, WDT, SoftI2C
wlan = network.WLAN(network.STA_IF)
wlan.active(True)
wlan.connect("MyNet", "secret")
while not wlan.isconnected():
    time.sleep(0.5)
sensor = dht.DHT22(Pin(4)); sensor.measure(); print(sensor.temperature(), sensor.humidity())
ds = ds18x20.DS18X20(onewire.OneWire(Pin(5))); roms = ds.scan(); ds.convert_temp(); ds.read_temp(roms[0])
adc = ADC(Pin(34)); adc.atten(ADC.ATTN_11DB); adc.read_u16()
uart = UART(1, baudrate=9600, tx=17, rx=16); uart.write(b"hi"); uart.any()
spi = SPI(1, baudrate=1_000_000, polarity=0, phase=0, sck=Pin(18), mosi=Pin(23), miso=Pin(19)); spi.read(3)
RTC().datetime((2024, 1, 1, 0, 0, 0, 0, 0))
WDT(timeout=2000).feed()
i2c = SoftI2C(scl=Pin(22), sda=Pin(21), freq=100_000); i2c.scan(); i2c.readfrom_mem(0x76, 0xD0, 1)
np = neopixel.NeoPixel(Pin(13), 8); np[0] = (255, 0, 0); np.write()
pwm = machine.PWM(Pin(5), freq=50); pwm.duty(40); pwm.duty_u16(1000)
timer = machine.Timer(0); timer.init(period=1000, mode=machine.Timer.PERIODIC, callback=lambda t: None)
button = Pin(0, Pin.IN, Pin.PULL_UP); button.irq(trigger=Pin.IRQ_FALLING, handler=print)
time.ticks_diff(time.ticks_ms(), 0)
machine.deepsleep(1000)
"""


def test_the_pinned_wheels_are_the_ones_setup_fetched():
    wheels = pinned_wheels()
    assert set(wheels) == {*PORT_STUBS.values(), STDLIB_STUBS}
    assert all(w.version.startswith("1.29.") for w in wheels.values())
    for wheel in wheels.values():
        assert wheel.path(stubs_dir()).is_file()  # hash checked against the pin


@pytest.mark.parametrize("board", sorted(PORT_STUBS))
def test_a_blink_program_uses_only_real_apis(board):
    assert invented_apis(BLINK, board) == []


def test_common_esp32_code_uses_only_real_apis():
    assert invented_apis(ESP32_KIT, "esp32") == []


def test_invented_apis_are_named_through_imports_aliases_and_constructed_objects():
    source = """
import machine as m
import utime as time
from machine import Pin, PWM, blink
import RPi.GPIO as GPIO
led = m.Pin(25, m.Pin.OUT)
led.blink(3)
pwm = PWM(Pin(15), frequency=1000)
pwm.set_duty(0.5)
time.monotonic()
led.irq(handler=print, edge=Pin.IRQ_RISING)

class Fan:
    def __init__(self):
        self.pwm = PWM(Pin(3))
    def stop(self):
        self.pwm.stop()
"""
    assert invented_apis(source, "pico") == [
        "machine.blink",
        "RPi",
        "machine.Pin.blink",
        "machine.PWM(frequency=...)",
        "machine.PWM.set_duty",
        "utime.monotonic",
        "machine.Pin.irq(edge=...)",
        "machine.PWM.stop",
    ]


def test_ports_differ_where_their_firmware_does():
    # The RP2040 port's PWM has no duty() (duty_u16/duty_ns only) and a plain Pico has no Wi-Fi.
    source = "import network\nfrom machine import PWM, Pin\nPWM(Pin(2)).duty(512)\nnetwork.WLAN(network.STA_IF)\n"
    assert invented_apis(source, "pico") == ["network", "machine.PWM.duty"]
    assert invented_apis(source, "esp32") == []
    assert invented_apis("import esp32\nesp32.raw_temperature()\n", "esp8266") == ["esp32"]
    # Pin names: the Pico's board pins exist there only.
    assert invented_apis("from machine import Pin\nPin.board.GP25.toggle()\n", "pico") == []
    assert invented_apis("from machine import Pin\nPin.board.GP25.toggle()\n", "esp8266") == ["machine.Pin.board"]


def test_standard_modules_and_installable_drivers_count_as_known():
    source = """
import os, sys, json, struct, math, gc, random, asyncio
import ssd1306
from machine import I2C, Pin
os.listdir("/"); json.dumps({}); struct.pack("<H", 1); math.sqrt(2); gc.collect(); random.getrandbits(8)
oled = ssd1306.SSD1306_I2C(128, 64, I2C(0, scl=Pin(1), sda=Pin(0)))
oled.text("hi", 0, 0); oled.show(); oled.scroll_text("hi")
"""
    # ssd1306 is not frozen into the Pico firmware; its API is the ESP8266 port's frozen driver.
    assert invented_apis(source, "pico") == ["ssd1306.SSD1306_I2C.scroll_text"]


def test_what_cannot_be_followed_is_not_counted():
    rebound = "from machine import Pin\nled = Pin(2)\nled = 5\nled.blink()\n"
    parameter = "def blink(led):\n    led.blink()\n"
    own_attribute = "from machine import Pin\nled = Pin(2)\nled.count = 0\nprint(led.count)\n"
    assert invented_apis(rebound, "esp32") == []
    assert invented_apis(parameter, "esp32") == []
    assert invented_apis(own_attribute, "esp32") == []
    assert invented_apis("while True print(1)", "esp32") == []  # does not parse: nothing to see


def test_bad_board_and_missing_or_tampered_wheels_are_named(tmp_path):
    with pytest.raises(ValueError, match="board 'arduino' is unknown"):
        StubIndex("arduino")
    with pytest.raises(FileNotFoundError, match="run `make setup`"):
        StubIndex("pico", tmp_path)
    for wheel in pinned_wheels().values():
        shutil.copy(wheel.path(stubs_dir()), tmp_path)
    victim = pinned_wheels()[PORT_STUBS["esp32"]].path(tmp_path)
    victim.write_bytes(victim.read_bytes() + b"\0")
    assert StubIndex("pico", tmp_path).module("machine") is not None
    with pytest.raises(ValueError, match="is not the pinned"):
        StubIndex("esp32", tmp_path)


def test_a_malformed_pin_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "wheels.txt"
    path.write_text("# pinned\nmicropython-esp32-stubs>=1.29\n")
    with pytest.raises(ValueError, match=r"wheels.txt:2: expected 'NAME==VERSION --hash=sha256:HEX'"):
        pinned_wheels(path)


def test_every_reference_program_of_the_task_suite_uses_real_apis():
    from pipeline.evaluate.tasks import all_tasks

    found = {task.task_id: invented_apis(task.reference, task.board) for task in all_tasks()}
    # A plain Pico has no Wi-Fi: its stubs have no `network` (the Pico W's stubs, another package, do).
    wifi_on_pico = {task_id for task_id in found if task_id.startswith("wifi_connect/pico/")}
    assert all(found[task_id] == ["network"] for task_id in wifi_on_pico)
    assert {task_id: names for task_id, names in found.items() if names and task_id not in wifi_on_pico} == {}
