# neopixel on the simulated board: write() reports the colours as (r, g, b) whatever the byte order.
import _boards
from _sim import emit


class NeoPixel:
    ORDER = (1, 0, 2, 3)  # the driver's GRB(W) wire order; the event reports r, g, b

    def __init__(self, pin, n, bpp=3, timing=1):
        self.pin = pin
        self._num = _boards.pin_number(pin)
        _boards.check_output(self._num)
        self.n = n
        self.bpp = bpp
        self._pixels = [(0,) * bpp for _ in range(n)]

    def __len__(self):
        return self.n

    def __setitem__(self, i, colour):
        if len(colour) != self.bpp:
            raise ValueError("expected a tuple of %d values" % self.bpp)
        self._pixels[i] = tuple(int(c) & 0xFF for c in colour)

    def __getitem__(self, i):
        return self._pixels[i]

    def fill(self, colour):
        for i in range(self.n):
            self[i] = colour

    def write(self):
        emit("neopixel.write", {"pin": self._num, "pixels": [list(p[:3]) for p in self._pixels]})
