# onewire on the simulated board: one DS18B20 on the bus when the world has "ds18x20".
import _boards
import _sim

ROM = b"\x28\xff\x64\x1e\x0f\x00\x00\x5a"  # family code 0x28: a DS18B20


class OneWireError(Exception):
    pass


class OneWire:
    SEARCH_ROM = 0xF0
    MATCH_ROM = 0x55
    SKIP_ROM = 0xCC

    def __init__(self, pin):
        self.pin = pin
        self._num = _boards.pin_number(pin)

    def _present(self):
        return bool(_sim.WORLD.get("ds18x20"))

    def reset(self, required=False):
        if required and not self._present():
            raise OneWireError
        return self._present()

    def scan(self):
        return [bytearray(ROM)] if self._present() else []

    def readbit(self):
        return 1

    def readbyte(self):
        return 0xFF

    def readinto(self, buf):
        for i in range(len(buf)):
            buf[i] = 0xFF

    def writebit(self, value):
        pass

    def writebyte(self, value):
        pass

    def write(self, buf):
        pass

    def select_rom(self, rom):
        pass
