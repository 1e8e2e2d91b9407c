"""Count presses of a push button on GPIO 14 using a pin interrupt with debouncing."""
import time
from machine import Pin

button = Pin(14, Pin.IN, Pin.PULL_UP)
presses = 0
last_press = 0


def on_press(pin):
    global presses, last_press
    now = time.ticks_ms()
    if time.ticks_diff(now, last_press) > 200:
        presses += 1
        last_press = now


button.irq(trigger=Pin.IRQ_FALLING, handler=on_press)

while True:
    print("presses:", presses)
    time.sleep(1)
