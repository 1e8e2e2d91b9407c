"""A timing picture of two runs, the way a logic analyser shows them: one row per signal over
virtual time, the answer's run beside the reference's, so a wrong pin or period shows at a glance.

Digital pins are square waves, a PWM pin its duty (0..1, frequency in the label), and every other
kind of hardware event (I2C, UART, NeoPixel, timers, prints, ...) a row of ticks.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.evaluate.sandbox import RunResult

MAX_ROWS = 10
_NOT_SHOWN = {"pin.init", "sleep", "end", "pin.read"}


def signal_rows(events, world: dict | None = None) -> dict[str, list[tuple[float, float]]]:
    """``row label -> [(t_ms, value)]``: levels for pins (inputs from the world's schedule), duty for
    PWM, 1 per event for the rest."""
    rows: dict[str, list[tuple[float, float]]] = {
        f"pin {pin} (input)": [(float(t), float(level)) for t, level in schedule]
        for pin, schedule in ((world or {}).get("pins") or {}).items()
    }
    freqs: dict[int, float] = {}
    for event in events:
        args = event.args
        if event.kind == "pin.value":
            rows.setdefault(f"pin {args['pin']}", []).append((event.t_ms, float(args["value"])))
        elif event.kind == "pwm.freq":
            freqs[args["pin"]] = args["freq"]
        elif event.kind == "pwm.duty":
            rows.setdefault(f"pwm {args['pin']}", []).append((event.t_ms, float(args["duty"])))
        elif event.kind == "pwm.deinit":
            rows.setdefault(f"pwm {args['pin']}", []).append((event.t_ms, 0.0))
        elif event.kind not in _NOT_SHOWN:
            rows.setdefault(event.kind, []).append((event.t_ms, 1.0))
    return {
        (
            f"{label} @ {freqs[int(label[4:])]:g} Hz" if label.startswith("pwm ") and int(label[4:]) in freqs else label
        ): v
        for label, v in rows.items()
    }


def _is_level(label: str) -> bool:
    return label.startswith(("pin ", "pwm "))


def plot_timing(
    answer: RunResult, reference: RunResult, seconds: float, path: Path, title: str, world: dict | None = None
) -> Path:
    """Write a PNG with the answer's signals (left) beside the reference's (right), shared rows; the
    inputs the world drives appear on both sides."""
    import matplotlib  # loaded by the step that plots, not by the code location

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {"answer": signal_rows(answer.events, world), "reference": signal_rows(reference.events, world)}
    labels = sorted({label for rows in runs.values() for label in rows}, key=lambda x: (not _is_level(x), x))
    labels = labels[:MAX_ROWS] or ["(no hardware events)"]
    end_ms = seconds * 1000
    fig, axes = plt.subplots(
        len(labels), 2, figsize=(11, 0.7 * len(labels) + 1.3), sharex=True, squeeze=False, sharey="row"
    )
    for column, (name, rows) in enumerate(runs.items()):
        run = answer if name == "answer" else reference
        axes[0][column].set_title(f"{name}: {run.status}" + (f" ({run.error})" if run.error else ""), fontsize=9)
        for row, label in enumerate(labels):
            ax = axes[row][column]
            points = rows.get(label, [])
            if _is_level(label) and points:
                low_first = [(0.0, 0.0)] if points[0][0] > 0 else []  # low before the first write
                steps = low_first + points + [(end_ms, points[-1][1])]
                times, values = [t for t, _ in steps], [v for _, v in steps]
                ax.step(times, values, where="post", color="tab:green" if name == "reference" else "tab:blue")
                ax.set_ylim(-0.15, 1.15)
            elif points:
                ax.vlines([t for t, _ in points], 0, 1, color="tab:orange")
            ax.set_yticks([])
            ax.set_xlim(-0.01 * end_ms, end_ms)  # a tick at t=0 stays visible
            if column == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
            ax.grid(axis="x", alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("virtual time (ms)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
