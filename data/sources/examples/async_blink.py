"""Blink two LEDs at different rates with asyncio tasks."""
import asyncio
from machine import Pin


async def blink(pin_number, period_ms):
    led = Pin(pin_number, Pin.OUT)
    while True:
        led.toggle()
        await asyncio.sleep_ms(period_ms)


async def main():
    asyncio.create_task(blink(15, 250))
    asyncio.create_task(blink(16, 700))
    while True:
        await asyncio.sleep(10)


asyncio.run(main())
