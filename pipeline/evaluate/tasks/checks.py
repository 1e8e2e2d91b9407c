"""Reading a run's hardware timeline: small queries over events, and the checks the families share.

Every check returns a Verdict whose reason states what was seen and what was wanted, with the
tolerance, so a failing answer can be understood from one line.
"""

from __future__ import annotations

import re

from pipeline.evaluate.sandbox import Event, RunResult
from pipeline.evaluate.tasks.base import Verdict

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def events(result: RunResult, kind: str, **match) -> list[Event]:
    """The events of one kind whose args hold every given key=value."""
    return [e for e in result.events if e.kind == kind and all(e.args.get(k) == v for k, v in match.items())]


def last(result: RunResult, kind: str, before_ms: float | None = None, **match) -> Event | None:
    found = [e for e in events(result, kind, **match) if before_ms is None or e.t_ms <= before_ms]
    return found[-1] if found else None


def pin_changes(result: RunResult, pin: int) -> list[tuple[float, int]]:
    """(t_ms, level) where the output level of ``pin`` changes; writes at one instant count as their last."""
    final: dict[float, int] = {}
    for e in events(result, "pin.value", pin=pin):
        final[e.t_ms] = e.args["value"]
    changes: list[tuple[float, int]] = []
    for t, v in sorted(final.items()):
        if not changes or changes[-1][1] != v:
            changes.append((t, v))
    return changes


def level_at(result: RunResult, pin: int, t_ms: float) -> int | None:
    """The level last written to ``pin`` at or before ``t_ms`` (None before the first write)."""
    e = last(result, "pin.value", before_ms=t_ms, pin=pin)
    return None if e is None else e.args["value"]


def level_when(result: RunResult, pin: int, event: Event) -> int | None:
    """The level last written to ``pin`` before ``event`` in the run's order (events can share a t_ms)."""
    level = None
    for e in result.events:
        if e is event:
            return level
        if e.kind == "pin.value" and e.args.get("pin") == pin:
            level = e.args["value"]
    return level


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def within(value: float, target: float, rel: float) -> bool:
    return abs(value - target) <= rel * abs(target)


def printed(result: RunResult, after: str | None = None) -> list[tuple[float, str]]:
    """(t_ms, line) printed; with ``after``, only lines after the first event of that kind (a banner
    printed at start-up is not a reading)."""
    started = after is None
    out = []
    for e in result.events:
        started = started or e.kind == after
        if started and e.kind == "print":
            out.append((e.t_ms, e.args.get("text", "")))
    return out


def numbers(text: str) -> list[float]:
    return [float(n) for n in _NUMBER.findall(text)]


def pwm_at(result: RunResult, pin: int, t_ms: float | None = None) -> tuple[float | None, float | None]:
    """(freq Hz, duty 0..1) set on ``pin`` at or before ``t_ms`` (the end if None); None where never set."""
    f = last(result, "pwm.freq", before_ms=t_ms, pin=pin)
    d = last(result, "pwm.duty", before_ms=t_ms, pin=pin)
    return (None if f is None else f.args["freq"], None if d is None else d.args["duty"])


def i2c_register_reads(result: RunResult, addr: int, reg: int) -> list[Event]:
    """Reads of register ``reg`` of the device at ``addr``: readfrom_mem, or a one-byte write then a read."""
    out, pointer = [], None
    for e in result.events:
        if e.args.get("addr") != addr:
            continue
        if e.kind == "i2c.write" and "reg" not in e.args:
            pointer = int(e.args["data"][:2], 16) if e.args["data"] else pointer
        elif e.kind == "i2c.read" and e.args.get("reg", pointer) == reg:
            out.append(e)
    return out


def hex_digits(text: str) -> str:
    """The hex digits of ``text`` in order, "0x" prefixes dropped: "0xEF, 0x40" -> "ef40"."""
    return re.sub(r"[^0-9a-f]", "", re.sub(r"0x", "", text.lower()))


# --- checks shared by several families ---------------------------------------------------------


def toggles(
    result: RunResult, pin: int, on_ms: float, off_ms: float, rel: float = 0.15, min_changes: int = 4
) -> Verdict:
    """``pin`` stays high for on_ms and low for off_ms (each ± rel), with at least min_changes changes."""
    changes = pin_changes(result, pin)
    want = f"{on_ms:g} ms on / {off_ms:g} ms off ± {rel:.0%}"
    if len(changes) < min_changes:
        return Verdict(False, f"pin {pin} changed level {len(changes)} times, want >= {min_changes} ({want})")
    for (t0, level), (t1, _) in zip(changes, changes[1:], strict=False):
        target = on_ms if level else off_ms
        if not within(t1 - t0, target, rel):
            what = "high" if level else "low"
            return Verdict(False, f"pin {pin} stayed {what} {t1 - t0:g} ms at t={t0:g} ms, want {want}")
    return Verdict(True, f"pin {pin} blinks {want} ({len(changes)} changes)")


def pwm_level(
    result: RunResult, pin: int, freq: float, duty: float, freq_rel: float = 0.02, duty_abs: float = 0.03
) -> Verdict:
    """At the end of the run PWM on ``pin`` runs at freq ± freq_rel with duty ± duty_abs, not deinitialised."""
    f, d = pwm_at(result, pin)
    want = f"want {freq:g} Hz ± {freq_rel:.0%}, duty {duty:.2f} ± {duty_abs:.2f}"
    if f is None or d is None:
        return Verdict(False, f"no PWM frequency and duty set on pin {pin} ({want})")
    order = [e.kind for e in result.events if e.args.get("pin") == pin and e.kind.startswith("pwm.")]
    if order[-1] == "pwm.deinit":
        return Verdict(False, f"PWM on pin {pin} was stopped (deinit) after it was set")
    if not within(f, freq, freq_rel) or abs(d - duty) > duty_abs:
        return Verdict(False, f"PWM on pin {pin} ends at {f:g} Hz, duty {d:.3f}; {want}")
    return Verdict(True, f"PWM on pin {pin}: {f:g} Hz, duty {d:.3f} ({want})")


def periodic(times: list[float], period_ms: float, what: str, rel: float = 0.15, min_count: int = 3) -> Verdict:
    """``times`` (of reads, prints, writes) come every period_ms ± rel, at least min_count of them."""
    want = f"every {period_ms:g} ms ± {rel:.0%}"
    if len(times) < min_count:
        return Verdict(False, f"{len(times)} {what}, want >= {min_count} {want}")
    for t, gap in zip(times, gaps(times), strict=False):
        if not within(gap, period_ms, rel):
            return Verdict(False, f"{what} {gap:g} ms apart at t={t:g} ms, want {want}")
    return Verdict(True, f"{len(times)} {what} {want}")


def all_pass(*verdicts: Verdict) -> Verdict:
    """The first failing verdict, or one passing verdict that joins the reasons."""
    for v in verdicts:
        if not v.passed:
            return v
    return Verdict(True, "; ".join(v.reason for v in verdicts))
