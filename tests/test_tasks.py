"""The task suite: its shape, and every reference and planted wrong answer run for real on the simulated board."""

from __future__ import annotations

import collections
import re
import shutil
import time

import pytest

from pipeline.evaluate.sandbox import RunJob, run_many, vm_dir
from pipeline.evaluate.tasks import DEMO_TASK_IDS, all_cases, all_tasks, select_tasks
from pipeline.evaluate.tasks.base import BOARD_NAMES

needs_vm = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
# Only spinning answers need the wall clock; every other program gets time enough on a loaded machine,
# so a wrong answer fails on its merits, never because the runner was slow.
SPIN_LABELS = {"no_sleep"}
SPIN_WALL_S, WALL_S = 3.0, 30.0


def test_suite_size_families_and_boards():
    tasks = all_tasks()
    assert len(tasks) >= 120
    families = collections.defaultdict(set)
    for t in tasks:
        families[t.family].add(t.board)
    assert len(families) >= 15, sorted(families)
    # Every family exists on all three boards: each has the hardware (the ESP8266's one ADC included).
    assert all(boards == set(BOARD_NAMES) for boards in families.values()), dict(families)
    assert [t.task_id for t in tasks] == [t.task_id for t in all_tasks()], "the order is not stable"


def test_ids_and_prompts_are_unique_and_well_formed():
    tasks = all_tasks()
    assert len({t.task_id for t in tasks}) == len(tasks)
    assert len({t.prompt for t in tasks}) == len(tasks)
    for t in tasks:
        assert re.fullmatch(rf"{t.family}/{t.board}/[a-z0-9-]+/p\d", t.task_id), t.task_id
        # The request names its board: a Pico's "GP" pins do, "GPIO2" alone could be either ESP.
        assert (BOARD_NAMES[t.board] in t.prompt) or (t.board == "pico" and re.search(r"\bGP\d|Pico", t.prompt))
        labels = [label for label, _ in t.wrong]
        assert labels[:2] == ["empty", "comments"] and len(set(labels)) == len(labels) >= 5, (t.task_id, labels)
        assert t.seconds > 0


def test_prompts_state_the_numbers_the_check_needs():
    # Spot checks on the families whose numbers are easiest to drop from a phrasing.
    for t in select_tasks("pwm_level/*"):
        assert re.search(r"\d+ %", t.prompt) and re.search(r"\d+(\.\d+)? k?Hz", t.prompt), t.prompt
    for t in select_tasks("wifi_connect/*"):
        ssid, password = next(iter(t.world["wlan"].items()))
        assert ssid in t.prompt and password in t.prompt, t.prompt
    for t in select_tasks("dht/*"):
        assert ("DHT11" in t.prompt) != ("DHT22" in t.prompt), t.prompt


def test_select_tasks_patterns_and_unknown_pattern():
    assert len(select_tasks()) == len(all_tasks())
    blink = select_tasks("blink/*")
    assert blink and all(t.family == "blink" for t in blink)
    esp32 = select_tasks("*/esp32/*")
    assert esp32 and all(t.board == "esp32" for t in esp32)
    assert [t.task_id for t in select_tasks("blink/pico/gp25-500-500ms/p0")] == ["blink/pico/gp25-500-500ms/p0"]
    with pytest.raises(ValueError, match=r"'servo/atmega/\*'"):
        select_tasks("servo/atmega/*")


def test_demo_subset_is_real_and_one_per_family():
    ids = {t.task_id: t for t in all_tasks()}
    assert 10 <= len(DEMO_TASK_IDS) <= 14
    assert all(i in ids for i in DEMO_TASK_IDS), [i for i in DEMO_TASK_IDS if i not in ids]
    families = [ids[i].family for i in DEMO_TASK_IDS]
    assert len(set(families)) == len(families)
    assert {ids[i].board for i in DEMO_TASK_IDS} == set(BOARD_NAMES)


@pytest.fixture(scope="module")
def runs():
    """Each case's reference and wrong answers, run once (phrasings of a case share them)."""
    assert (vm_dir() / "node_modules").is_dir(), "run `make setup`: it installs the VM from the lockfile"
    jobs, keys = [], []
    for c in all_cases():
        for label, source in (("reference", c.reference), *c.wrong):
            wall = SPIN_WALL_S if label in SPIN_LABELS else WALL_S
            jobs.append(RunJob(source, board=c.board, seconds=c.seconds, world=c.world, wall_timeout_s=wall))
            keys.append((c, label))
    start = time.monotonic()
    results = run_many(jobs)
    print(f"\ntask suite: {len(jobs)} runs of {len(all_cases())} cases in {time.monotonic() - start:.1f} s")
    return [(c, label, result, c.check(result)) for (c, label), result in zip(keys, results, strict=True)]


@needs_vm
def test_every_reference_passes(runs):
    failed = [
        f"{c.family}/{c.board}/{c.slug}: {result.status} {result.error} | {verdict.reason}"
        for c, label, result, verdict in runs
        if label == "reference" and not verdict.passed
    ]
    assert not failed, "\n".join(failed)


@needs_vm
def test_every_wrong_answer_fails_on_its_merits(runs):
    problems = []
    for c, label, result, verdict in runs:
        if label == "reference":
            continue
        where = f"{c.family}/{c.board}/{c.slug} {label}"
        if verdict.passed:
            problems.append(f"{where} passed: {verdict.reason}")
        elif (result.status == "timeout") != (label in SPIN_LABELS):
            problems.append(f"{where} ended {result.status} ({result.error}): spinning is the only timeout expected")
        elif label == "raises" and result.status != "raised":
            problems.append(f"{where} did not raise: {result.status}")
    assert not problems, "\n".join(problems)


@needs_vm
def test_reasons_are_one_line(runs):
    assert all("\n" not in verdict.reason and verdict.reason for *_, verdict in runs)
