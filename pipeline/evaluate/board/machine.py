# machine on the simulated board: every hardware call becomes an event (see docs/evaluation.md).
import _boards
import _sim
from _buses import I2C, SPI, UART, SoftI2C, SoftSPI  # noqa: F401 - machine's names
from _sim import emit

_PICO = _sim.BOARD == "pico"
_ESP32 = _sim.BOARD == "esp32"
_state = {}  # pin number -> {"mode", "pull", "out"}: Pin(25) twice is one pin
_MODE_NAMES = {0: "in", 1: "out", 2: "open_drain", 3: "alt"}
_PULL_NAMES = {None: None, 1: "up", 2: "down"}


def _num(pin):
    return _boards.pin_number(pin)


def _opt_num(pin):
    return None if pin is None else _num(pin)


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    ALT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4 if _PICO else 2
    IRQ_RISING = 8 if _PICO else 1
    IRQ_LOW_LEVEL = 1 if _PICO else 4
    IRQ_HIGH_LEVEL = 2 if _PICO else 5
    DRIVE_0, DRIVE_1, DRIVE_2, DRIVE_3 = 0, 1, 2, 3

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, alt=None):
        self._num = _num(id)
        _state.setdefault(self._num, {"mode": None, "pull": None, "out": 0})
        if mode != -1 or pull != -1 or value is not None:
            self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, *, value=None, drive=None, alt=None):
        st = _state[self._num]
        if mode not in (-1, None):
            if mode not in _MODE_NAMES:
                raise ValueError("invalid pin mode: %r" % (mode,))
            if mode in (Pin.OUT, Pin.OPEN_DRAIN):
                _boards.check_output(self._num)
            st["mode"] = mode
        if pull != -1:
            st["pull"] = pull
        emit("pin.init", {"pin": self._num, "mode": _MODE_NAMES.get(st["mode"]), "pull": _PULL_NAMES.get(st["pull"])})
        if value is not None:
            self._write(value)

    def _write(self, v):
        v = 1 if v else 0
        _state[self._num]["out"] = v
        emit("pin.value", {"pin": self._num, "value": v})

    def _level(self):
        st = _state[self._num]
        if st["mode"] == Pin.OUT:
            return st["out"]
        return 1 if _sim.schedule_level("pins", self._num, 1 if st["pull"] == Pin.PULL_UP else 0) else 0

    def value(self, v=None):
        if v is not None:
            self._write(v)
            return None
        level = self._level()
        emit("pin.read", {"pin": self._num, "value": level})
        return level

    __call__ = value

    def on(self):
        self._write(1)

    def off(self):
        self._write(0)

    high = on
    low = off

    def toggle(self):
        self._write(1 - _state[self._num]["out"])

    def mode(self, mode=None):
        if mode is None:
            return _state[self._num]["mode"]
        self.init(mode)

    def pull(self, pull=None):
        if pull is None:
            return _state[self._num]["pull"]
        self.init(pull=pull)

    def irq(self, handler=None, trigger=None, *, priority=1, wake=None, hard=False):
        if trigger is None:
            trigger = Pin.IRQ_FALLING | Pin.IRQ_RISING
        mask = (_sim.RISING if trigger & Pin.IRQ_RISING else 0) | (_sim.FALLING if trigger & Pin.IRQ_FALLING else 0)
        name = {_sim.RISING: "rising", _sim.FALLING: "falling"}.get(mask, "both")
        emit("pin.irq", {"pin": self._num, "trigger": name})
        _sim.add_irq(self._num, mask, handler, self)
        return _IRQ(trigger)

    def __repr__(self):
        return "Pin(%s%d)" % ("GPIO" if _PICO else "", self._num)


class _IRQ:
    def __init__(self, trigger):
        self._trigger = trigger

    def trigger(self):
        return self._trigger

    def flags(self):
        return 0


class Signal:
    def __init__(self, pin, *args, invert=False, **kwargs):
        self._pin = pin if isinstance(pin, Pin) else Pin(pin, *args, **kwargs)
        self._invert = bool(invert)

    def value(self, v=None):
        if v is None:
            return self._pin.value() ^ self._invert
        self._pin.value((1 if v else 0) ^ self._invert)

    __call__ = value

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class PWM:
    _DEFAULT_FREQ = {"pico": 1000, "esp32": 5000, "esp8266": 500}[_sim.BOARD]

    def __init__(self, dest, freq=None, duty=None, *, duty_u16=None, duty_ns=None, invert=False):
        self._num = _num(dest)
        _boards.check_output(self._num)
        _boards.check_pwm(self._num)
        self._freq = self._DEFAULT_FREQ
        self._duty = 0.0 if _PICO else 0.5
        self.init(freq=freq, duty_u16=duty_u16, duty_ns=duty_ns, duty=duty)

    def init(self, *, freq=None, duty_u16=None, duty_ns=None, duty=None, invert=False):
        if freq is not None:
            self.freq(freq)
        if duty_u16 is not None:
            self.duty_u16(duty_u16)
        if duty_ns is not None:
            self.duty_ns(duty_ns)
        if duty is not None:
            self.duty(duty)

    def freq(self, value=None):
        if value is None:
            return self._freq
        if not 0 < value <= 40_000_000:
            raise ValueError("freq out of range")
        self._freq = value
        emit("pwm.freq", {"pin": self._num, "freq": value})

    def _set(self, fraction):
        self._duty = min(1.0, max(0.0, fraction))
        emit("pwm.duty", {"pin": self._num, "duty": self._duty})

    def duty_u16(self, value=None):
        if value is None:
            return int(self._duty * 65535)
        self._set(value / 65535)

    def duty_ns(self, value=None):
        period_ns = 1_000_000_000 / self._freq
        if value is None:
            return int(self._duty * period_ns)
        self._set(value / period_ns)

    if not _PICO:  # rp2's PWM has no duty(); the ESP ports take 0..1023

        def duty(self, value=None):
            if value is None:
                return int(self._duty * 1023)
            self._set(value / 1023)

    def deinit(self):
        emit("pwm.deinit", {"pin": self._num})


class ADC:
    ATTN_0DB, ATTN_2_5DB, ATTN_6DB, ATTN_11DB = 0, 1, 2, 3
    WIDTH_9BIT, WIDTH_10BIT, WIDTH_11BIT, WIDTH_12BIT = 0, 1, 2, 3
    CORE_TEMP = 4

    def __init__(self, pin, *, atten=None):
        self._num = _boards.adc_channel(pin)

    def read_u16(self):
        default = 14_000 if self._num == "temp" else 0  # ~27 C on the RP2040's sensor
        value = int(_sim.schedule_level("adc", 4 if self._num == "temp" else self._num, default))
        emit("adc.read", {"pin": self._num, "value": value})
        return value

    if not _PICO:  # the ESP ports' raw read: 12 bits on ESP32, 10 on ESP8266

        def read(self):
            return self.read_u16() >> (4 if _ESP32 else 6)

    if _ESP32:

        def read_uv(self):
            return self.read_u16() * 3_300_000 // 65535

        def atten(self, value):
            pass

        def width(self, value):
            pass


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, *args, **kwargs):
        if id not in _boards.TIMER_IDS:
            raise ValueError("Timer(%s) doesn't exist" % id)
        self.id = id
        self.next_us = 0
        self.period_us = 0
        self.periodic = False
        self.callback = None
        if args or kwargs:
            self.init(*args, **kwargs)

    def init(self, *, mode=PERIODIC, period=-1, freq=-1, tick_hz=1000, callback=None):
        if freq is not None and freq > 0:
            period_us = 1_000_000 / freq
        elif period is not None and period > 0:
            period_us = period * 1_000_000 / tick_hz
        else:
            raise ValueError("period must be positive")
        if self in _sim._timers:
            _sim._timers.remove(self)
        self.period_us = max(1, int(period_us))
        self.periodic = mode == Timer.PERIODIC
        self.callback = callback
        self.next_us = _sim.now_us + self.period_us
        _sim._timers.append(self)
        emit(
            "timer.init",
            {"id": self.id, "period_ms": self.period_us / 1000, "mode": "periodic" if self.periodic else "one_shot"},
        )

    def deinit(self):
        if self in _sim._timers:
            _sim._timers.remove(self)
        emit("timer.deinit", {"id": self.id})


class RTC:
    def __init__(self, id=0):
        pass

    def datetime(self, value=None):
        import time

        if value is None:
            y, mo, d, h, mi, s, wd, _ = time.localtime()
            return (y, mo, d, wd, h, mi, s, 0)
        y, mo, d, wd, h, mi, s = tuple(value)[:7]
        _sim.rtc_base_s = time.mktime((y, mo, d, h, mi, s, 0, 0)) - _sim.now_us // 1_000_000
        emit("rtc.datetime", {"value": list(value)})

    def init(self, value):
        self.datetime(value)


class WDT:
    internal = True  # scheduled like a one-shot timer, but it resets the board instead of calling back
    periodic = False

    def __init__(self, id=0, timeout=5000):
        self.period_us = int(timeout) * 1000
        self.next_us = _sim.now_us + self.period_us
        self.callback = _watchdog_bites
        _sim._timers.append(self)
        emit("wdt.init", {"timeout_ms": timeout})

    def feed(self):
        self.next_us = _sim.now_us + self.period_us
        emit("wdt.feed")


def _watchdog_bites(wdt):
    emit("machine.reset", {"cause": "wdt"})
    _sim.finish("reset")


PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5
_freq = {"pico": 125_000_000, "esp32": 160_000_000, "esp8266": 80_000_000}[_sim.BOARD]


def freq(hz=None):
    global _freq
    if hz is None:
        return _freq
    _freq = hz


def unique_id():
    return b"\xe6\x61\x41\x04\x03\x2b\x6d\x2a"[: 8 if _PICO else 6]


def reset_cause():
    return PWRON_RESET


def reset():
    emit("machine.reset")
    _sim.finish("reset")


soft_reset = reset


def deepsleep(ms=None):
    emit("machine.deepsleep", {"ms": ms})
    _sim.finish("deepsleep")


def lightsleep(ms=None):
    emit("machine.lightsleep", {"ms": ms})
    _sim.advance(_sim.BUDGET_US if ms is None else ms * 1000)


def idle():
    _sim.advance(1000)  # waits for the next interrupt: at least the 1 ms system tick


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


def time_pulse_us(pin, pulse_level, timeout_us=1_000_000):
    _sim.advance(timeout_us)
    return -1
