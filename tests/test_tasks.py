"""The task suite: its shape, and every reference and planted wrong answer run for real on the simulated board."""

from __future__ import annotations

import collections
import re
import shutil
import time

import pytest

from pipeline.evaluate.sandbox import RunJob, run_many, vm_dir
from pipeline.evaluate.tasks import DEMO_TASK_IDS, all_cases, all_tasks, select_tasks
from pipeline.evaluate.tasks.base import BOARD_NAMES

needs_vm = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
# Only spinning answers need the wall clock; every other program gets time enough on a loaded machine,
# so a wrong answer fails on its merits, never because the runner was slow.
SPIN_LABELS = {"no_sleep"}
SPIN_WALL_S, WALL_S = 2.0, 30.0


def test_suite_size_families_and_boards():
    tasks = all_tasks()
    assert len(tasks) >= 120
    families = collections.defaultdict(set)
    for t in tasks:
        families[t.family].add(t.board)
    assert len(families) >= 15, sorted(families)
    # Every family exists on all three boards: each has the hardware (the ESP8266's one ADC included).
    assert all(boards == set(BOARD_NAMES) for boards in families.values()), dict(families)
    assert [t.task_id for t in tasks] == [t.task_id for t in all_tasks()], "the order is not stable"


def test_ids_and_prompts_are_unique_and_well_formed():
    tasks = all_tasks()
    assert len({t.task_id for t in tasks}) == len(tasks)
    assert len({t.prompt for t in tasks}) == len(tasks)
    for t in tasks:
        assert re.fullmatch(rf"{t.family}/{t.board}/[a-z0-9-]+/p\d", t.task_id), t.task_id
        # The request names its board: a Pico's "GP" pins do, "GPIO2" alone could be either ESP.
        assert (BOARD_NAMES[t.board] in t.prompt) or (t.board == "pico" and re.search(r"\bGP\d|Pico", t.prompt))
        labels = [label for label, _ in t.wrong]
        assert labels[:2] == ["empty", "comments"] and len(set(labels)) == len(labels) >= 5, (t.task_id, labels)
        assert t.seconds > 0


def test_prompts_state_the_numbers_the_check_needs():
    # Spot checks on the families whose numbers are easiest to drop from a phrasing.
    for t in select_tasks("pwm_level/*"):
        assert re.search(r"\d+ %", t.prompt) and re.search(r"\d+(\.\d+)? k?Hz", t.prompt), t.prompt
    for t in select_tasks("wifi_connect/*"):
        ssid, password = next(iter(t.world["wlan"].items()))
        assert ssid in t.prompt and password in t.prompt, t.prompt
    for t in select_tasks("dht/*"):
        assert ("DHT11" in t.prompt) != ("DHT22" in t.prompt), t.prompt


def test_select_tasks_patterns_and_unknown_pattern():
    assert len(select_tasks()) == len(all_tasks())
    blink = select_tasks("blink/*")
    assert blink and all(t.family == "blink" for t in blink)
    esp32 = select_tasks("*/esp32/*")
    assert esp32 and all(t.board == "esp32" for t in esp32)
    assert [t.task_id for t in select_tasks("blink/pico/gp25-500-500ms/p0")] == ["blink/pico/gp25-500-500ms/p0"]
    with pytest.raises(ValueError, match=r"'servo/atmega/\*'"):
        select_tasks("servo/atmega/*")


def test_demo_subset_is_real_and_one_per_family():
    ids = {t.task_id: t for t in all_tasks()}
    assert 10 <= len(DEMO_TASK_IDS) <= 14
    assert all(i in ids for i in DEMO_TASK_IDS), [i for i in DEMO_TASK_IDS if i not in ids]
    families = [ids[i].family for i in DEMO_TASK_IDS]
    assert len(set(families)) == len(families)
    assert {ids[i].board for i in DEMO_TASK_IDS} == set(BOARD_NAMES)


@pytest.fixture(scope="module")
def runs():
    """Each case's reference and wrong answers, run once (phrasings of a case share them)."""
    assert (vm_dir() / "node_modules").is_dir(), "run `make setup`: it installs the VM from the lockfile"
    jobs, keys = [], []
    for c in all_cases():
        for label, source in (("reference", c.reference), *c.wrong):
            wall = SPIN_WALL_S if label in SPIN_LABELS else WALL_S
            jobs.append(RunJob(source, board=c.board, seconds=c.seconds, world=c.world, wall_timeout_s=wall))
            keys.append((c, label))
    start = time.monotonic()
    results = run_many(jobs)
    print(f"\ntask suite: {len(jobs)} runs of {len(all_cases())} cases in {time.monotonic() - start:.1f} s")
    return [(c, label, result, c.check(result)) for (c, label), result in zip(keys, results, strict=True)]


@needs_vm
def test_every_reference_passes(runs):
    failed = [
        f"{c.family}/{c.board}/{c.slug}: {result.status} {result.error} | {verdict.reason}"
        for c, label, result, verdict in runs
        if label == "reference" and not verdict.passed
    ]
    assert not failed, "\n".join(failed)


@needs_vm
def test_every_wrong_answer_fails_on_its_merits(runs):
    problems = []
    for c, label, result, verdict in runs:
        if label == "reference":
            continue
        where = f"{c.family}/{c.board}/{c.slug} {label}"
        if verdict.passed:
            problems.append(f"{where} passed: {verdict.reason}")
        elif (result.status == "timeout") != (label in SPIN_LABELS):
            problems.append(f"{where} ended {result.status} ({result.error}): spinning is the only timeout expected")
        elif label == "raises" and result.status != "raised":
            problems.append(f"{where} did not raise: {result.status}")
    assert not problems, "\n".join(problems)


@needs_vm
def test_reasons_are_one_line(runs):
    assert all("\n" not in verdict.reason and verdict.reason for *_, verdict in runs)


# Correct answers written the way makers and models also write them: a check must not demand the
# reference's own style (a timer instead of a sleep loop, duty_ns, split print lines, SoftI2C, ...).
ALTERNATES = {
    "blink/pico/gp25-500-500ms/p0": """
from machine import Pin, Timer
led = Pin("LED", Pin.OUT)
Timer(period=500, mode=Timer.PERIODIC, callback=lambda t: led.toggle())
""",
    "blink/esp8266/gpio2-1000-1000ms/p0": """
import machine, utime
p = machine.Pin(2, machine.Pin.OUT)
while True:
    p.value(not p.value())
    utime.sleep(1)
""",
    "pwm_level/pico/gp15-1000hz-50pct/p0": "from machine import Pin, PWM\nPWM(Pin(15), freq=1000, duty_u16=32768)\n",
    "pwm_level/esp32/gpio4-2000hz-75pct/p0": """
from machine import Pin, PWM
pwm = PWM(Pin(4), freq=2000)
pwm.duty_u16(49151)
""",
    "fade/pico/gp15-2000ms/p0": """
from machine import Pin, PWM
from time import sleep_ms
led = PWM(Pin(15))
led.freq(1000)
while True:
    for d in range(0, 65536, 655):
        led.duty_u16(d)
        sleep_ms(20)
    for d in range(65535, -1, -655):
        led.duty_u16(d)
        sleep_ms(20)
""",
    "servo/pico/gp15-90deg/p0": "from machine import Pin, PWM\ns = PWM(Pin(15))\ns.freq(50)\ns.duty_ns(1_500_000)\n",
    "button_pullup/pico/gp14-gp25/p0": """
from machine import Pin
import time
btn = Pin(14, Pin.IN, Pin.PULL_UP)
led = Pin(25, Pin.OUT)
while True:
    if btn.value() == 0:
        led.on()
    else:
        led.off()
    time.sleep(0.01)
""",
    "pin_irq/esp32/gpio0/p0": """
from machine import Pin
presses = 0
def on_press(p):
    global presses
    presses += 1
    print("Button pressed", presses, "times")
Pin(0, Pin.IN, Pin.PULL_UP).irq(handler=on_press, trigger=Pin.IRQ_FALLING)
print("Waiting for presses on GPIO0")
""",
    "adc_poll/esp32/gpio34-200ms-raw/p0": """
from machine import ADC, Pin
import time
adc = ADC(Pin(34))
adc.atten(ADC.ATTN_11DB)
print("Reading the ADC on pin 34 every 200 ms")
while True:
    print("Value:", adc.read_u16())
    time.sleep(0.2)
""",
    "dht/pico/dht22-gp15-2s/p0": """
import dht, machine, time
d = dht.DHT22(machine.Pin(15))
while True:
    d.measure()
    print("Temperature:", d.temperature(), "C")
    print("Humidity:", d.humidity(), "%")
    time.sleep(2)
""",
    "ds18b20/esp32/gpio4-2s/p0": """
import machine, onewire, ds18x20, time
sensor = ds18x20.DS18X20(onewire.OneWire(machine.Pin(4)))
roms = sensor.scan()
print("DS18B20 on pin 4, found", len(roms), "sensor")
while True:
    sensor.convert_temp()
    time.sleep(1)
    print('{:.2f} C'.format(sensor.read_temp(roms[0])))
    time.sleep(1)
""",
    "i2c_scan/esp8266/gpio4-gpio5/p0": """
from machine import I2C, Pin
i2c = I2C(scl=Pin(5), sda=Pin(4))
for a in i2c.scan():
    print("Found device at", hex(a))
""",
    "i2c_register/pico/bme280-76-d0/p0": """
from machine import I2C, Pin
i2c = I2C(0, sda=Pin(4), scl=Pin(5), freq=100000)
i2c.writeto(0x76, b'\\xd0')
print("0x%02x" % i2c.readfrom(0x76, 1)[0])
""",
    "spi_transfer/pico/spi0-cs17-1000khz/p0": """
from machine import Pin, SPI
cs = Pin(17, Pin.OUT)
cs(1)
spi = SPI(0, 1_000_000, sck=Pin(18), mosi=Pin(19), miso=Pin(16))
buf = bytearray(3)
cs(0)
spi.write(b'\\x9f')
spi.readinto(buf)
cs(1)
print(' '.join('%02x' % b for b in buf))
""",
    "oled_text/pico/128x64-3c-1lines/p0": """
from machine import Pin, SoftI2C
from ssd1306 import SSD1306_I2C
display = SSD1306_I2C(128, 64, SoftI2C(scl=Pin(5), sda=Pin(4)))
display.fill(0)
display.text('Hello', 0, 0, 1)
display.show()
""",
    "uart_send/pico/uart0-9600-1000ms/p0": """
from machine import UART
import time
uart = UART(0, 9600)
while True:
    uart.write(b"hello\\n")
    time.sleep(1)
""",
    "uart_echo/esp32/uart2-115200/p0": """
from machine import UART
import time
uart = UART(2, baudrate=115200, tx=17, rx=16)
while True:
    line = uart.readline()
    if line:
        uart.write(line)
    time.sleep_ms(20)
""",
    "wifi_connect/esp8266/garage/p0": """
import network, time
sta = network.WLAN(network.STA_IF)
sta.active(True)
sta.connect('Garage', 'tinkering')
while not sta.isconnected():
    time.sleep_ms(100)
print('network config:', sta.ifconfig())
""",
    "periodic_timer/esp32/gpio2-500ms/p0": """
from machine import Pin, Timer
led = Pin(2, Pin.OUT)
Timer(0).init(freq=2, callback=lambda t: led.value(not led.value()))
""",
    "deep_sleep/esp32/gpio2-1000ms-30s/p0": """
from machine import Pin, deepsleep
import time
led = Pin(2, Pin.OUT)
led.on()
time.sleep(1)
led.off()
deepsleep(30000)
""",
    "neopixel/esp32/gpio5-16px-all-ff8000/p0": """
import machine, neopixel
np = neopixel.NeoPixel(machine.Pin(5), 16)
for i in range(16):
    np[i] = (255, 128, 0)
np.write()
""",
}


@needs_vm
def test_other_correct_answers_pass():
    tasks = {t.task_id: t for t in all_tasks()}
    assert {tasks[i].family for i in ALTERNATES} == {t.family for t in tasks.values()}
    chosen = [tasks[i] for i in ALTERNATES]
    jobs = [
        RunJob(src, board=t.board, seconds=t.seconds, world=t.world, wall_timeout_s=WALL_S)
        for t, src in zip(chosen, ALTERNATES.values(), strict=True)
    ]
    verdicts = [t.check(r) for t, r in zip(chosen, run_many(jobs), strict=True)]
    failed = [f"{t.task_id}: {v.reason}" for t, v in zip(chosen, verdicts, strict=True) if not v.passed]
    assert not failed, "\n".join(failed)
