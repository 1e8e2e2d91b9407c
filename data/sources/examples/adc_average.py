# Read a potentiometer on ADC pin 26 and print a moving average of the voltage.
from machine import ADC
import time

sensor = ADC(26)
window = []

def read_volts():
    raw = sensor.read_u16()
    return raw * 3.3 / 65535

while True:
    window.append(read_volts())
    if len(window) > 8:
        window.pop(0)
    average = sum(window) / len(window)
    print("{:.3f} V".format(average))
    time.sleep_ms(250)
