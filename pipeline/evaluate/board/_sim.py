# The simulated board's core, in MicroPython: the virtual clock, the event stream, the world
# (what the hardware answers) and the scheduler that fires timer and pin-IRQ callbacks as
# virtual time passes. Only sleeping moves the clock, so a run is deterministic.
import json
import sys

import _simhost

JOB = json.loads(_simhost.job)
BOARD = JOB["board"]
WORLD = JOB.get("world") or {}
BUDGET_US = int(JOB["seconds"] * 1_000_000)
rtc_base_s = 1_704_067_200  # the RTC starts at 2024-01-01 00:00:00 UTC (machine.RTC sets it)

now_us = 0
_in_callback = False
_end_reason = "budget"  # "returned" once the program is back at the REPL
_timers = []  # active machine.Timer objects (each has .next_us)
_irqs = {}  # pin number -> [trigger mask, handler, Pin, next edge index]
RISING = 1
FALLING = 2


def now_ms():
    return now_us / 1000


def emit(kind, args=None):
    _simhost.emit(now_us / 1000, json.dumps([now_us / 1000, kind, args or {}]))


def finish(reason, error=None, traceback=None):
    # End the run from anywhere (a sleep past the budget, machine.reset, deepsleep): the host
    # exits the process, so no `except:` in the program can swallow it.
    args = {"reason": reason}
    if error is not None:
        args["error"] = error
        args["traceback"] = traceback
    _simhost.emit(now_us / 1000, json.dumps([now_us / 1000, "end", args]))
    _simhost.exit(0)


def hexs(data):
    return "".join("%02x" % b for b in data)


def schedule_level(table, key, default):
    """The value a world schedule [[t_ms, v], ...] holds now, or default before its first entry."""
    steps = (WORLD.get(table) or {}).get(str(key))
    value = default
    if steps:
        for t_ms, v in steps:
            if t_ms * 1000 <= now_us:
                value = v
            else:
                break
    return value


def _edges(pin):
    # [(t_us, new_level)] where the world's schedule for this pin changes level.
    steps = (WORLD.get("pins") or {}).get(str(pin)) or []
    out, level = [], None
    for t_ms, v in steps:
        v = 1 if v else 0
        if level is not None and v != level:
            out.append((int(t_ms * 1000), v))
        level = v
    return out


def add_irq(pin, mask, handler, obj):
    if handler is None:
        _irqs.pop(pin, None)
        return
    edges = _edges(pin)
    i = 0
    while i < len(edges) and edges[i][0] <= now_us:
        i += 1
    _irqs[pin] = [mask, handler, obj, edges, i]


def _next_due(limit_us):
    """The earliest (t_us, kind, item) callback due at or before limit_us, or None."""
    best = None
    for tm in _timers:
        if tm.next_us <= limit_us and (best is None or tm.next_us < best[0]):
            best = (tm.next_us, "timer", tm)
    for pin, entry in _irqs.items():
        mask, _, _, edges, i = entry
        while i < len(edges):
            t, level = edges[i]
            if mask & (RISING if level else FALLING):
                break
            i += 1
        entry[4] = i
        if i < len(edges) and edges[i][0] <= limit_us and (best is None or edges[i][0] < best[0]):
            best = (edges[i][0], "irq", pin)
    return best


def next_due_us():
    """When the next timer or IRQ callback falls due (None if none will before the budget)."""
    due = _next_due(BUDGET_US - 1)
    return None if due is None else due[0]


def _call(handler, arg):
    global _in_callback
    _in_callback = True
    try:
        handler(arg)
    except Exception as e:  # a real board prints the traceback and keeps running
        sys.print_exception(e)
    finally:
        _in_callback = False


def advance(us):
    """Let `us` microseconds of virtual time pass, firing callbacks that fall due on the way."""
    global now_us
    target = now_us + max(0, int(us))
    end = target >= BUDGET_US
    if end:
        target = BUDGET_US
    while not _in_callback:
        due = _next_due(target - 1 if end else target)
        if due is None:
            break
        now_us = max(now_us, due[0])
        _simhost.clock(now_us / 1000)
        if due[1] == "timer":
            tm = due[2]
            if tm.period_us and tm.periodic:
                tm.next_us += tm.period_us
            else:
                _timers.remove(tm)
            if not getattr(tm, "internal", False):
                emit("timer.fire", {"id": tm.id})
            if tm.callback is not None:
                _call(tm.callback, tm)
        else:
            entry = _irqs[due[2]]
            entry[4] += 1
            emit("irq.fire", {"pin": due[2]})
            _call(entry[1], entry[2])
    now_us = max(now_us, target)
    _simhost.clock(now_us / 1000)
    if end:
        finish(_end_reason)


def run(source):
    """Run the answer as __main__, then idle at the REPL until the budget (timers keep firing)."""
    try:
        exec(compile(source, "main.py", "exec"), {"__name__": "__main__"})
    except SystemExit:
        pass
    except BaseException as e:  # noqa: B036 - everything the program raises ends the run here
        import io

        buf = io.StringIO()
        sys.print_exception(e, buf)
        lines = [line for line in buf.getvalue().split("\n") if line.strip()]
        finish("raised", error=lines[-1] if lines else repr(e), traceback=buf.getvalue())
    global _end_reason
    _end_reason = "returned"
    advance(BUDGET_US - now_us)
