# time / utime on the virtual clock: sleeping moves it, nothing else does.
import _sim

_TICKS_PERIOD = 1 << 30  # MicroPython's ticks wrap at 2**30 on every port
_TICKS_HALF = _TICKS_PERIOD // 2


def _sleep_us(us):
    _sim.emit("sleep", {"ms": us / 1000})
    _sim.advance(us)


def sleep(seconds):
    _sleep_us(seconds * 1_000_000)


def sleep_ms(ms):
    _sleep_us(ms * 1000)


def sleep_us(us):
    _sleep_us(us)


def ticks_ms():
    return (_sim.now_us // 1000) % _TICKS_PERIOD


def ticks_us():
    return _sim.now_us % _TICKS_PERIOD


def ticks_cpu():
    return ticks_us()


def ticks_add(ticks, delta):
    return (ticks + delta) % _TICKS_PERIOD


def ticks_diff(end, start):
    return ((end - start + _TICKS_HALF) % _TICKS_PERIOD) - _TICKS_HALF


def time():
    return _sim.rtc_base_s + _sim.now_us // 1_000_000


def time_ns():
    return (_sim.rtc_base_s * 1_000_000 + _sim.now_us) * 1000


def gmtime(secs=None):
    return _civil(time() if secs is None else int(secs))


localtime = gmtime


def mktime(t):
    y, mo, d, h, mi, s = t[:6]
    return _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s


def _days_from_civil(y, m, d):
    # Howard Hinnant's days-from-civil algorithm (proleptic Gregorian calendar).
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil(secs):
    days, rem = divmod(secs, 86400)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    y = yoe + era * 400 + (m <= 2)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; MicroPython counts Monday as 0
    yearday = days - _days_from_civil(y, 1, 1) + 1
    return (y, m, d, rem // 3600, rem % 3600 // 60, rem % 60, weekday, yearday)
