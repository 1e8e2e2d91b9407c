"""The sandbox: real MicroPython (WebAssembly, under Node) running programs on the simulated board."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from pipeline.evaluate import sandbox
from pipeline.evaluate.sandbox import MAX_LINES, RunJob, SandboxError, permission_flags, run_many, run_program, vm_dir

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

BLINK = """
from machine import Pin
import time
led = Pin("GP25", Pin.OUT)
while True:
    led.toggle()
    time.sleep_ms(500)
"""


@pytest.fixture(scope="module", autouse=True)
def _vm_installed():
    assert (vm_dir() / "node_modules").is_dir(), "run `make setup`: it installs the VM from the lockfile"


def test_blink_timeline_and_budget_end_a_while_true_loop():
    result = run_program(BLINK, seconds=2.0)
    assert result.status == "ok", result.error
    writes = [(e.t_ms, e.args["value"]) for e in result.events if e.kind == "pin.value"]
    assert writes == [(0.0, 1), (500.0, 0), (1000.0, 1), (1500.0, 0)]
    assert result.events[-1].kind == "end" and result.events[-1].args["reason"] == "budget"
    assert result.events[-1].t_ms == 2000.0


def test_timer_keeps_firing_after_the_program_returns():
    source = "from machine import Timer\nTimer(period=300, callback=lambda t: print('tick'))\nprint('main done')\n"
    result = run_program(source, seconds=1.0)
    assert result.status == "ok", result.error
    assert result.stdout == "main done\ntick\ntick\ntick\n"
    assert [e.t_ms for e in result.events if e.kind == "timer.fire"] == [300.0, 600.0, 900.0]
    assert result.events[-1].args["reason"] == "returned"


def test_utime_is_the_virtual_clock_too():
    source = "import utime\nutime.sleep(1.5)\nprint(utime.ticks_ms())\n"
    assert run_program(source, seconds=3.0).stdout == "1500\n"


def test_uncaught_exception_is_raised_with_its_last_line():
    result = run_program("from machine import Pin\nPin(29, Pin.OUT)\n", board="pico")
    assert result.status == "raised"
    assert result.error == "ValueError: invalid pin"


def test_run_many_keeps_the_jobs_order():
    jobs = [RunJob(f"print({n})", seconds=0.1) for n in range(4)]
    assert [r.stdout for r in run_many(jobs, workers=2)] == ["0\n", "1\n", "2\n", "3\n"]


# The escapes: each ends as a clean failure (a status, never an exception here) and the file
# system outside the run's temp dir is untouched, which the tests check on disk.


def test_open_writes_stay_in_the_vms_memory(tmp_path):
    # /tmp exists inside the VM's in-memory file system, so this write succeeds, in memory only;
    # the test's own directory does not exist in there, so that write fails.
    in_vm = Path(tempfile.gettempdir()) / f"mpyforge-escape-{uuid.uuid4().hex}.txt"
    target = tmp_path / "opened.txt"
    source = (
        f"with open({str(in_vm)!r}, 'w') as f:\n    f.write('x')\nprint(open({str(in_vm)!r}).read())\n"
        f"try:\n    open({str(target)!r}, 'w')\nexcept OSError as e:\n    print('refused', e)\n"
    )
    result = run_program(source, seconds=0.1)
    assert result.status == "ok", result.error
    assert result.stdout == "x\nrefused 44\n"  # Emscripten's ENOENT
    assert not in_vm.exists() and not target.exists()


def test_js_fs_write_is_refused(tmp_path):
    target = tmp_path / "escaped.txt"
    source = f"import js\njs.process.getBuiltinModule('fs').writeFileSync({str(target)!r}, 'x')\n"
    result = run_program(source, seconds=0.1)
    assert result.status == "raised"
    assert result.error.startswith("PermissionError")
    assert not target.exists()


def test_js_child_process_and_reads_outside_are_refused_and_the_environment_is_empty(tmp_path):
    target = tmp_path / "spawned.txt"
    spawn = f"import js\njs.process.getBuiltinModule('child_process').execSync('touch {target}')\n"
    result = run_program(spawn, seconds=0.1)
    assert result.status == "raised" and result.error.startswith("PermissionError")
    assert not target.exists()
    secret = tmp_path / "secret.txt"
    secret.write_text("token")
    read = (
        "import js\nprint(js.Object.keys(js.process.env).length)\n"
        f"js.process.getBuiltinModule('fs').readFileSync({str(secret)!r})\n"
    )
    result = run_program(read, seconds=0.1)
    assert result.stdout == "0\n"
    assert result.status == "raised" and result.error.startswith("PermissionError")


def test_nodes_permission_flags_refuse_writes_reads_and_children_by_themselves(tmp_path):
    # The outer layer alone, without run.mjs's lock-down: the flags every run starts Node with.
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    target, secret = tmp_path / "written.txt", tmp_path / "secret.txt"
    secret.write_text("token")
    attempts = {
        "FileSystemWrite": f"fs.writeFileSync({json.dumps(str(target))}, 'x')",
        "FileSystemRead": f"fs.readFileSync({json.dumps(str(secret))})",
        "ChildProcess": "process.getBuiltinModule('child_process').execSync('true')",
    }
    for permission, attempt in attempts.items():
        script = f"import fs from 'node:fs';\n{attempt};\n"
        flags = permission_flags(shutil.which("node"), job_dir)
        done = subprocess.run([*flags, "--input-type=module", "-e", script], capture_output=True, text=True, env={})
        assert done.returncode != 0 and f"permission: '{permission}'" in done.stderr, done.stderr
    assert not target.exists()


def test_signals_and_the_network_do_not_reach_other_processes():
    # Node's permission model does not cover signals or sockets: run.mjs shuts those doors itself.
    bystander = subprocess.Popen(["sleep", "60"])
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        for call in (f"js.process.kill({bystander.pid}, 'SIGKILL')", f"js.process._debugProcess({bystander.pid})"):
            result = run_program(f"import js\n{call}\n", seconds=0.1)
            assert result.status == "raised" and result.error.startswith("PermissionError"), result.error
        assert bystander.poll() is None
        network = f"import js, time\njs.fetch('http://127.0.0.1:{port}/')\njs.process.getBuiltinModule('net')\n"
        result = run_program(network, seconds=0.1)
        assert result.status == "raised" and "getBuiltinModule" in result.error
        listener.settimeout(0.5)
        with pytest.raises(TimeoutError):
            listener.accept()  # the fetch never ran: the run ends without returning to Node's event loop
    finally:
        bystander.kill()
        bystander.wait()
        listener.close()


def test_a_loop_that_never_sleeps_is_killed_and_keeps_its_trace():
    source = "from machine import Pin\nPin(2, Pin.OUT).on()\nprint('spinning')\nwhile True:\n    pass\n"
    result = run_program(source, board="esp32", seconds=5.0, wall_timeout_s=2.0)
    assert result.status == "timeout"
    assert [e.kind for e in result.events] == ["pin.init", "pin.value", "print"]
    assert result.stdout == "spinning\n"


def test_a_print_flood_is_cut_off_before_it_fills_the_parents_memory():
    result = run_program("while True:\n    print('x')\n", wall_timeout_s=60.0)
    assert result.status == "timeout"
    assert result.error == f"stopped after {MAX_LINES} events and printed lines"
    assert len(result.events) == MAX_LINES + 1


def test_unbounded_allocation_ends_in_memory_error():
    result = run_program("x = []\nwhile True:\n    x.append(bytearray(1 << 20))\n", wall_timeout_s=30.0)
    assert result.status == "memory"
    assert result.error.startswith("MemoryError")


def test_unknown_board_is_refused_before_running():
    with pytest.raises(ValueError, match="board 'uno'"):
        run_program("pass", board="uno")


def test_a_node_without_the_permission_model_is_named(tmp_path, monkeypatch):
    fake = tmp_path / "node"
    fake.write_text("#!/bin/sh\necho v18.20.4\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    sandbox._node.cache_clear()
    try:
        with pytest.raises(SandboxError, match=r"Node.js v18.20.4 has no permission model; need 20\+"):
            run_program("pass")
    finally:
        sandbox._node.cache_clear()


def test_mpyforge_simulate_prints_the_timeline(tmp_path, capsys):
    from assets.client.cli import main

    program = tmp_path / "main.py"
    program.write_text(BLINK)
    assert main(["simulate", str(program), "--seconds", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "   500.0 ms  pin.value  pin=25 value=0" in lines
    assert lines[-2] == '  1000.0 ms  end  reason="budget"'
    assert lines[-1].startswith("status: ok;")


def test_a_vm_and_temp_folder_behind_symlinks_still_run(tmp_path, monkeypatch):
    # Node's permission model checks the real path of each read: allowed by their symlinked paths,
    # the VM and the job folder were denied every read and every answer "raised" PermissionError.
    (tmp_path / "tmp").mkdir()
    (tmp_path / "tmp-link").symlink_to(tmp_path / "tmp")
    (tmp_path / "vm-link").symlink_to(sandbox.vm_dir().resolve())
    monkeypatch.setenv("MPYFORGE_MICROPYTHON_VM", str(tmp_path / "vm-link"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp-link"))
    result = run_program(sandbox.SELF_CHECK, seconds=0.01)
    assert (result.status, result.error) == ("ok", None)
    sandbox.self_check()


def test_a_sandbox_that_runs_nothing_stops_scoring_before_any_answer(tmp_path, monkeypatch):
    from pipeline.evaluate.dev_tasks import dev_tasks_for
    from pipeline.evaluate.score import ScoreSettings, score_model
    from pipeline.train.settings import TrainSettings

    broken = tmp_path / "vm"
    shutil.copytree(sandbox.vm_dir().resolve(), broken)
    (broken / "node_modules" / sandbox.VM_PACKAGE / "micropython.mjs").write_text("throw new Error('broken VM');\n")
    monkeypatch.setenv("MPYFORGE_MICROPYTHON_VM", str(broken))
    with pytest.raises(SandboxError, match="failed its own two-line board program"):
        score_model(tmp_path / "no-model", ScoreSettings(tasks="blink/*"))
    warnings: list[str] = []
    assert dev_tasks_for(TrainSettings(dev_tasks=4), warnings.append) is None
    assert len(warnings) == 1 and "failed its own two-line board program" in warnings[0]
