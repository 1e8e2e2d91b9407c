"""Fade an LED on GPIO 2 of an ESP32 up and down with PWM."""
import time
from machine import Pin, PWM

pwm = PWM(Pin(2), freq=1000)

def fade(step=16, pause_ms=10):
    for duty in range(0, 65536, step * 64):
        pwm.duty_u16(duty)
        time.sleep_ms(pause_ms)
    for duty in range(65535, -1, -step * 64):
        pwm.duty_u16(duty)
        time.sleep_ms(pause_ms)

while True:
    fade()
