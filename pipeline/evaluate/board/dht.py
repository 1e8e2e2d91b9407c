# dht on the simulated board: the world's "dht" dict is what the sensor measures; none -> ETIMEDOUT.
import _boards
import _sim
from _sim import emit


class _DHT:
    MODEL = ""

    def __init__(self, pin):
        self._num = _boards.pin_number(pin)
        self._t = self._h = None

    def measure(self):
        emit("dht.measure", {"pin": self._num, "model": self.MODEL})
        reading = _sim.WORLD.get("dht")
        if not reading:
            raise OSError(110)  # ETIMEDOUT: no sensor answered, as on the real ports
        self._t, self._h = reading.get("temperature", 20.0), reading.get("humidity", 50.0)

    def temperature(self):
        return self._round(self._t)

    def humidity(self):
        return self._round(self._h)


class DHT11(_DHT):
    MODEL = "DHT11"

    def _round(self, value):
        return None if value is None else int(value)  # whole degrees and percent


class DHT22(_DHT):
    MODEL = "DHT22"

    def _round(self, value):
        return None if value is None else round(value, 1)
