"""Scan the I2C bus on pins 21 (SDA) and 22 (SCL) of an ESP32 and list the devices found."""
from machine import I2C, Pin

i2c = I2C(0, scl=Pin(22), sda=Pin(21), freq=400000)
found = i2c.scan()
if not found:
    print("no I2C devices found")
for address in found:
    print("device at 0x{:02x}".format(address))
