# network.WLAN on the simulated board: the world's "wlan" dict is the networks in range.
import _sim
from _sim import emit

STA_IF = 0
AP_IF = 1
STAT_IDLE = 0
STAT_CONNECTING = 1
STAT_WRONG_PASSWORD = -3 if _sim.BOARD == "pico" else 202
STAT_NO_AP_FOUND = -2 if _sim.BOARD == "pico" else 201
STAT_CONNECT_FAIL = -1 if _sim.BOARD == "pico" else 203
STAT_GOT_IP = 3 if _sim.BOARD == "pico" else 1010
AUTH_OPEN, AUTH_WEP, AUTH_WPA_PSK, AUTH_WPA2_PSK, AUTH_WPA_WPA2_PSK = 0, 1, 2, 3, 4
_CONNECTED = ("192.168.1.42", "255.255.255.0", "192.168.1.1", "192.168.1.1")
_UNCONNECTED = ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")


def _networks():
    return _sim.WORLD.get("wlan") or {}


class WLAN:
    IF_STA = STA_IF
    IF_AP = AP_IF
    PM_NONE, PM_PERFORMANCE, PM_POWERSAVE = 0, 1, 2

    def __init__(self, interface=STA_IF):
        self._if = interface
        self._active = False
        self._status = STAT_IDLE
        self._config = {"essid": "", "hostname": "mpy-" + _sim.BOARD}

    def active(self, value=None):
        if value is None:
            return self._active
        self._active = bool(value)
        emit("wlan.active", {"value": self._active})

    def connect(self, ssid=None, key=None, *, bssid=None):
        if not self._active and _sim.BOARD != "pico":
            raise OSError("Wifi Not Started" if _sim.BOARD == "esp32" else "STA must be active")
        networks = _networks()
        if ssid not in networks:
            self._status = STAT_NO_AP_FOUND
        elif networks[ssid] not in (key, None, ""):
            self._status = STAT_WRONG_PASSWORD
        else:
            self._status = STAT_GOT_IP
        self._config["essid"] = ssid
        emit("wlan.connect", {"ssid": ssid, "password": key, "ok": self._status == STAT_GOT_IP})

    def disconnect(self):
        self._status = STAT_IDLE

    def isconnected(self):
        return self._active and self._status == STAT_GOT_IP

    def status(self, param=None):
        if param == "rssi":
            return -55
        return self._status

    def ifconfig(self, config=None):
        if config is not None:
            return None
        return _CONNECTED if self.isconnected() else _UNCONNECTED

    def ipconfig(self, name=None, **kwargs):
        return self.ifconfig()[0] if name == "addr4" else None

    def scan(self):
        return [
            (ssid.encode(), bytes([0x24, 0x0A, 0xC4, 0, 0, i]), 6, -50 - 5 * i, 3, False)
            for i, ssid in enumerate(_networks())
        ]

    def config(self, *args, **kwargs):
        if args:
            return self._config.get(args[0], None)
        self._config.update(kwargs)


def hostname(name=None):
    return "mpy-" + _sim.BOARD if name is None else None


def country(code=None):
    return "XX" if code is None else None
