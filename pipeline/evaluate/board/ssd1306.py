# ssd1306 on the simulated board: the port's built-in framebuf draws, and show() reports the text
# on screen. Like the real driver, construction talks to the display, so an I2C display needs its
# address in the world's "i2c" dict (e.g. "0x3c": {}) or it raises OSError.
import framebuf
from _sim import emit

# The usual power-on sequence (display off, clocking, charge pump, display on), sent once.
_INIT = bytes([0xAE, 0x20, 0x00, 0x40, 0xA1, 0xC8, 0xD5, 0x80, 0x8D, 0x14, 0x81, 0xFF, 0xA4, 0xA6, 0xAF])


class SSD1306(framebuf.FrameBuffer):
    def __init__(self, width, height, external_vcc=False):
        self.width = width
        self.height = height
        self.external_vcc = external_vcc
        self.pages = height // 8
        self.buffer = bytearray(self.pages * width)
        super().__init__(self.buffer, width, height, framebuf.MONO_VLSB)
        self._texts = []
        self._fill = 0
        self.write_cmd(_INIT)

    def fill(self, c):
        super().fill(c)
        self._fill = c
        self._texts = []

    def text(self, s, x, y, c=1):
        super().text(s, x, y, c)
        if c != self._fill:
            self._texts = [t for t in self._texts if (t[0], t[1]) != (x, y)]
            self._texts.append([x, y, str(s)])

    def show(self):
        emit("oled.show", {"text": self._texts, "fill": self._fill})

    def poweroff(self):
        self.write_cmd(b"\xae")

    def poweron(self):
        self.write_cmd(b"\xaf")

    def contrast(self, contrast):
        self.write_cmd(bytes([0x81, contrast]))

    def invert(self, invert):
        self.write_cmd(bytes([0xA6 | (invert & 1)]))

    def rotate(self, rotate):
        self.write_cmd(bytes([0xC0 | ((rotate & 1) << 3), 0xA0 | (rotate & 1)]))


class SSD1306_I2C(SSD1306):
    def __init__(self, width, height, i2c, addr=0x3C, external_vcc=False):
        self.i2c = i2c
        self.addr = addr
        super().__init__(width, height, external_vcc)

    def write_cmd(self, cmds):
        self.i2c.writeto(self.addr, b"\x00" + cmds)


class SSD1306_SPI(SSD1306):
    def __init__(self, width, height, spi, dc, res, cs, external_vcc=False):
        self.spi = spi
        self.dc, self.res, self.cs = dc, res, cs
        super().__init__(width, height, external_vcc)

    def write_cmd(self, cmds):
        self.spi.write(cmds)
