"""`mpyforge doctor` on this machine: it reports the llama.cpp build and a passing smoke run."""

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MPYFORGE = str(REPO / ".venv" / "bin" / "mpyforge")


def test_doctor_reports_the_llama_cpp_flags_and_a_passing_smoke_run(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "OLLAMA_HOST": "127.0.0.1:9"}  # port 9: nothing there
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    done = subprocess.run([MPYFORGE, "doctor"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    # Each finding is "STATUS  name(22 wide) detail".
    found = {
        line[6:28].strip(): (line[:4].strip(), line[29:])
        for line in done.stdout.splitlines()
        if line[:4].strip() in ("ok", "WARN", "FAIL")
    }
    assert done.returncode == 0, done.stdout + done.stderr
    # The build the project chose (scripts/build_llama_cpp.py), and what llama.cpp itself says it uses.
    assert found["llama.cpp build"][0] == "ok" and "GGML_NATIVE=OFF" in found["llama.cpp build"][1], done.stdout
    # What the build switched off is not used at run time, whatever this host's CPU offers.
    info = found["llama.cpp system info"][1]
    switched_off = re.findall(r"GGML_(\w+)=OFF", found["llama.cpp build"][1])
    assert switched_off and not [flag for flag in switched_off if f"{flag} = 1" in info], info
    status, smoke = found["llama.cpp smoke run"]
    assert status == "ok" and "q4_k_m GGUF generated 8 tokens" in smoke, smoke
    for name in ("python", "torch", "mpy-cross", "dagster instance"):
        assert found[name][0] == "ok", done.stdout
    # Ollama is optional: unreachable is a warning that says how to start it, not a failure.
    assert found["ollama"][0] == "WARN" and "ollama serve" in found["ollama"][1]
