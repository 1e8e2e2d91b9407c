# I2C, SPI and UART on the simulated board; the world dict says what the devices answer.
import _boards
import _sim
from _sim import emit, hexs

_PICO = _sim.BOARD == "pico"


def _num(pin):
    return _boards.pin_number(pin)


def _pin_arg(pin, default):
    return default if pin is None else _num(pin)


class I2C:
    _soft = False

    def __init__(self, id=-1 if _sim.BOARD == "esp8266" else 0, *, scl=None, sda=None, freq=400_000, timeout=50_000):
        if self._soft:
            id = "soft"
        elif id not in _boards.I2C_DEFAULT:
            raise ValueError("I2C(%s) doesn't exist" % id)
        dscl, dsda = _boards.I2C_DEFAULT.get(id, (None, None))
        self._bus, self._scl, self._sda = id, _pin_arg(scl, dscl), _pin_arg(sda, dsda)
        if not self._soft and _boards.I2C_PINS is not None:
            _boards.check_bus_pin({id: _boards.I2C_PINS[id][0]}, id, self._scl, "SCL")
            _boards.check_bus_pin({id: _boards.I2C_PINS[id][1]}, id, self._sda, "SDA")
        self._reg = {}
        emit("i2c.init", {"bus": id, "scl": self._scl, "sda": self._sda, "freq": freq})

    def _device(self, addr):
        for key, regs in (_sim.WORLD.get("i2c") or {}).items():
            if int(key, 16) == addr:
                return regs
        raise OSError(5 if _PICO else 19)  # a NACK: EIO on rp2, ENODEV on the ESP ports

    def scan(self):
        found = sorted(int(k, 16) for k in (_sim.WORLD.get("i2c") or {}))
        emit("i2c.scan", {"bus": self._bus, "found": found})
        return found

    def _bytes(self, regs, reg, n):
        out = []
        while len(out) < n:
            vals = regs.get("0x%02x" % reg)
            if vals is None:
                out.append(0)
                reg += 1
            else:
                out.extend(vals)
                reg += len(vals)
        return bytes(b & 0xFF for b in out[:n])

    def writeto(self, addr, buf, stop=True):
        self._device(addr)
        buf = bytes(buf)
        emit("i2c.write", {"bus": self._bus, "addr": addr, "data": hexs(buf)})
        if buf:
            self._reg[addr] = buf[0]
        return len(buf) + 1

    def writevto(self, addr, vector, stop=True):
        return self.writeto(addr, b"".join(bytes(v) for v in vector), stop)

    def readfrom(self, addr, nbytes, stop=True):
        regs = self._device(addr)
        data = self._bytes(regs, self._reg.get(addr, 0), nbytes)
        emit("i2c.read", {"bus": self._bus, "addr": addr, "n": nbytes, "data": hexs(data)})
        return data

    def readfrom_into(self, addr, buf, stop=True):
        buf[:] = self.readfrom(addr, len(buf), stop)

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self._device(addr)
        emit("i2c.write", {"bus": self._bus, "addr": addr, "reg": memaddr, "data": hexs(bytes(buf))})

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        data = self._bytes(self._device(addr), memaddr, nbytes)
        emit("i2c.read", {"bus": self._bus, "addr": addr, "reg": memaddr, "n": nbytes, "data": hexs(data)})
        return data

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        buf[:] = self.readfrom_mem(addr, memaddr, len(buf), addrsize=addrsize)

    def deinit(self):
        pass


class SoftI2C(I2C):
    _soft = True

    def __init__(self, scl, sda, *, freq=400_000, timeout=50_000):
        super().__init__(scl=scl, sda=sda, freq=freq)


class SPI:
    MSB, LSB = 0, 1
    _soft = False

    def __init__(
        self, id=1, baudrate=1_000_000, *, polarity=0, phase=0, bits=8, firstbit=0, sck=None, mosi=None, miso=None
    ):
        if self._soft:
            id = "soft"
        elif id not in _boards.SPI_DEFAULT:
            raise ValueError("SPI(%s) doesn't exist" % id)
        dsck, dmosi, dmiso = _boards.SPI_DEFAULT.get(id, (None, None, None))
        self._bus = id
        pins = (_pin_arg(sck, dsck), _pin_arg(mosi, dmosi), _pin_arg(miso, dmiso))
        if not self._soft and _boards.SPI_PINS is not None:
            for what, num, allowed in zip(("SCK", "MOSI", "MISO"), pins, _boards.SPI_PINS[id]):
                _boards.check_bus_pin({id: allowed}, id, num, what)
        emit("spi.init", {"bus": id, "baudrate": baudrate, "sck": pins[0], "mosi": pins[1], "miso": pins[2]})

    def init(self, baudrate=1_000_000, **kwargs):
        pass

    def _rx(self, n):
        pattern = bytes.fromhex((_sim.WORLD.get("spi_rx") or "0x00")[2:]) or b"\x00"
        return bytes(pattern[i % len(pattern)] for i in range(n))

    def write(self, buf):
        emit("spi.write", {"bus": self._bus, "data": hexs(bytes(buf))})

    def read(self, nbytes, write=0):
        data = self._rx(nbytes)
        emit("spi.read", {"bus": self._bus, "n": nbytes, "data": hexs(data)})
        return data

    def readinto(self, buf, write=0):
        buf[:] = self.read(len(buf), write)

    def write_readinto(self, write_buf, read_buf):
        # Full duplex: a device answers only after the command byte has gone out, so the byte
        # clocked in beside it is the idle line (0xff), as a real SPI flash gives.
        self.write(write_buf)
        data = (b"\xff" + self._rx(len(read_buf) - 1)) if len(read_buf) else b""
        emit("spi.read", {"bus": self._bus, "n": len(read_buf), "data": hexs(data)})
        read_buf[:] = data

    def deinit(self):
        pass


class SoftSPI(SPI):
    _soft = True

    def __init__(self, baudrate=500_000, *, polarity=0, phase=0, bits=8, firstbit=0, sck=None, mosi=None, miso=None):
        super().__init__(baudrate=baudrate, sck=sck, mosi=mosi, miso=miso)


class UART:
    def __init__(self, id, baudrate=115_200, bits=8, parity=None, stop=1, *, tx=None, rx=None, timeout=0, **kwargs):
        if id not in _boards.UART_DEFAULT:
            raise ValueError("UART(%s) doesn't exist" % id)
        dtx, drx = _boards.UART_DEFAULT[id]
        self._bus, self._tx, self._rx = id, _pin_arg(tx, dtx), _pin_arg(rx, drx)
        _boards.check_bus_pin(_boards.UART_TX, id, self._tx, "TX")
        _boards.check_bus_pin(_boards.UART_RX, id, self._rx, "RX")
        self._next = 0  # index of the next world uart_rx chunk to arrive
        self._buf = b""
        emit("uart.init", {"bus": id, "baudrate": baudrate, "tx": self._tx, "rx": self._rx})

    def init(self, baudrate=115_200, bits=8, parity=None, stop=1, **kwargs):
        emit("uart.init", {"bus": self._bus, "baudrate": baudrate, "tx": self._tx, "rx": self._rx})

    def _arrive(self):
        chunks = _sim.WORLD.get("uart_rx") or []
        while self._next < len(chunks) and chunks[self._next][0] * 1000 <= _sim.now_us:
            self._buf += chunks[self._next][1].encode()
            self._next += 1

    def _take(self, n):
        data, self._buf = self._buf[:n], self._buf[n:]
        if data:
            emit("uart.read", {"bus": self._bus, "data": hexs(data)})
        return data or None

    def write(self, buf):
        data = buf.encode() if isinstance(buf, str) else bytes(buf)
        emit("uart.write", {"bus": self._bus, "data": hexs(data)})
        return len(data)

    def any(self):
        self._arrive()
        return len(self._buf)

    def read(self, nbytes=None):
        self._arrive()
        return self._take(len(self._buf) if nbytes is None else nbytes)

    def readinto(self, buf, nbytes=None):
        data = self.read(len(buf) if nbytes is None else nbytes)
        if not data:
            return None
        buf[: len(data)] = data
        return len(data)

    def readline(self):
        self._arrive()
        i = self._buf.find(b"\n")
        return self._take(len(self._buf) if i < 0 else i + 1)

    def flush(self):
        pass

    def deinit(self):
        pass
