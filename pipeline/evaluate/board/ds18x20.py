# ds18x20 on the simulated board. A conversion takes 750 ms (12-bit); a read before then gets
# the sensor's power-on value, 85.0, as on real hardware.
import _sim
from _sim import emit

_CONVERT_US = 750_000
_POWER_ON = 85.0


class DS18X20:
    def __init__(self, onewire):
        self.ow = onewire
        self._done_us = None

    def scan(self):
        return [rom for rom in self.ow.scan() if rom[0] in (0x10, 0x22, 0x28)]

    def convert_temp(self):
        self.ow.reset(True)
        emit("ds18x20.convert", {"pin": self.ow._num})
        self._done_us = _sim.now_us + _CONVERT_US

    def read_temp(self, rom):
        self.ow.reset(True)
        if self._done_us is None or _sim.now_us < self._done_us:
            return _POWER_ON
        return float((_sim.WORLD.get("ds18x20") or {}).get("temperature", 20.0))
