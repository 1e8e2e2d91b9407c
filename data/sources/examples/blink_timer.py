"""Blink the on-board LED of a Raspberry Pi Pico with a hardware timer."""
from machine import Pin, Timer

led = Pin(25, Pin.OUT)
blink_timer = Timer()


def toggle(timer):
    # Called from the timer interrupt: keep it short.
    led.toggle()


blink_timer.init(freq=2, mode=Timer.PERIODIC, callback=toggle)
