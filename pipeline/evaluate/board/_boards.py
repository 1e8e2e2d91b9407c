# Board profiles: which pins exist and what each can do, and the errors the real ports raise
# otherwise. Facts from MicroPython's quickref pages (docs/rp2, docs/esp32, docs/esp8266) and the
# RP2040 datasheet's GPIO function table; messages follow ports/*/machine_*.c where they could be
# checked, plain ValueErrors where not.
import _sim

BOARD = _sim.BOARD

if BOARD == "pico":
    PINS = tuple(range(29))
    NAMES = {"LED": 25}
    NAMES.update({"GP%d" % n: n for n in PINS})
    NAMES.update({"GPIO%d" % n: n for n in PINS})  # the RP2040's CPU names
    INPUT_ONLY = ()
    FLASH = ()
    ADC_PINS = {26: 26, 27: 27, 28: 28, 0: 26, 1: 27, 2: 28, 4: "temp"}  # ADC(n) channels too
    NO_PWM = ()
    TIMER_IDS = (-1,)
    I2C_DEFAULT = {0: (5, 4), 1: (7, 6)}  # bus -> (scl, sda)
    # RP2040 datasheet, GPIO function table: each bus signal is on every fourth (or eighth) pin.
    I2C_PINS = {
        0: ((1, 5, 9, 13, 17, 21, 25), (0, 4, 8, 12, 16, 20, 24, 28)),
        1: ((3, 7, 11, 15, 19, 23, 27), (2, 6, 10, 14, 18, 22, 26)),
    }
    SPI_DEFAULT = {0: (18, 19, 16), 1: (10, 11, 8)}  # bus -> (sck, mosi, miso)
    SPI_PINS = {0: ((2, 6, 18, 22), (3, 7, 19, 23), (0, 4, 16, 20)), 1: ((10, 14, 26), (11, 15, 27), (8, 12, 28))}
    UART_DEFAULT = {0: (0, 1), 1: (4, 5)}  # bus -> (tx, rx)
    UART_TX = {0: (0, 12, 16, 28), 1: (4, 8, 20, 24)}
    UART_RX = {0: (1, 13, 17), 1: (5, 9, 21, 25)}
elif BOARD == "esp32":
    PINS = tuple(range(0, 6)) + tuple(range(12, 24)) + (25, 26, 27) + tuple(range(32, 40))
    NAMES = {}
    INPUT_ONLY = tuple(range(34, 40))
    FLASH = tuple(range(6, 12))
    ADC_PINS = {n: n for n in (0, 2, 4, 12, 13, 14, 15, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39)}
    NO_PWM = INPUT_ONLY
    TIMER_IDS = (0, 1, 2, 3)
    I2C_DEFAULT = {0: (18, 19), 1: (25, 26)}
    I2C_PINS = None  # any output-capable pin, through the GPIO matrix
    SPI_DEFAULT = {1: (14, 13, 12), 2: (18, 23, 19)}
    SPI_PINS = None
    UART_DEFAULT = {0: (1, 3), 1: (10, 9), 2: (17, 16)}
    UART_TX = UART_RX = None
else:  # esp8266
    PINS = (0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16)
    NAMES = {}
    INPUT_ONLY = ()
    FLASH = (6, 7, 8, 9, 10, 11)
    ADC_PINS = {0: 0}
    NO_PWM = (16,)
    TIMER_IDS = (-1, 0)
    I2C_DEFAULT = {-1: (5, 4), 0: (5, 4)}
    I2C_PINS = None
    SPI_DEFAULT = {1: (14, 13, 12)}
    SPI_PINS = None
    UART_DEFAULT = {0: (1, 3), 1: (2, None)}
    UART_TX = UART_RX = None


def pin_number(pin):
    """The board number for a Pin, an int or a name ("GP25", "LED"); ValueError otherwise."""
    if hasattr(pin, "_num"):
        return pin._num
    if isinstance(pin, str):
        if pin in NAMES:
            return NAMES[pin]
        raise ValueError('unknown named pin "%s"' % pin)
    if not isinstance(pin, int):
        raise TypeError("can't convert %s to int" % type(pin).__name__)
    if pin in FLASH:
        raise ValueError("invalid pin: GPIO%d is connected to the SPI flash" % pin)
    if pin not in PINS:
        raise ValueError("invalid pin")
    return pin


def check_output(num):
    if num in INPUT_ONLY:
        raise ValueError("pin can only be input")


def check_pwm(num):
    if num in NO_PWM:
        raise ValueError("PWM not supported on pin %d" % num)


def adc_channel(pin):
    """(board pin, channel label) for ADC(pin or channel); ValueError for a pin without an ADC."""
    key = pin._num if hasattr(pin, "_num") else pin
    if isinstance(key, str):
        key = pin_number(key)
    if key not in ADC_PINS:
        raise ValueError("invalid Pin for ADC")
    target = ADC_PINS[key]
    return target


def check_bus_pin(table, bus, num, what):
    if table is not None and bus in table and num not in table[bus]:
        raise ValueError("bad %s pin" % what)
