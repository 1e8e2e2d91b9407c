"""The portable llama.cpp build: flag choice, the flag-keyed wheel cache, and SIGILL explained.

The cache logic is tested without compiling: a changed flag set must land on a new key (so a
new build), an unchanged one on the cached wheel.
"""

import signal

import pytest

from pipeline.common.child import describe_exit, run_child
from scripts import build_llama_cpp as build

REQ = "llama-cpp-python==0.3.36"


def test_x86_64_gets_the_avx2_baseline_without_avx512_or_amx():
    args = build.cmake_args(environ={}, machine="x86_64").split()
    assert "-DGGML_NATIVE=OFF" in args
    for flag in ("AVX", "AVX2", "FMA", "F16C"):
        assert f"-DGGML_{flag}=ON" in args
    for flag in ("AVX512", "AMX_TILE", "AMX_INT8", "AMX_BF16"):
        assert f"-DGGML_{flag}=OFF" in args
    assert not any(arg.endswith("=ON") and ("AVX512" in arg or "AMX" in arg) for arg in args)


def test_other_architectures_get_llama_cpp_portable_defaults():
    assert build.cmake_args(environ={}, machine="aarch64") == "-DGGML_NATIVE=OFF"


def test_the_environment_variable_is_merged_into_the_portable_flags():
    portable = build.cmake_args({}, "x86_64").split()
    # A CUDA build keeps every portable flag (GGML_NATIVE stays OFF) and pins its GPU architectures.
    args = build.cmake_args({build.ENV_OVERRIDE: "  -DGGML_CUDA=ON  "}, "x86_64", nvcc=(12, 8)).split()
    assert args == [*portable, "-DGGML_CUDA=ON", "-DCMAKE_CUDA_ARCHITECTURES=75;80;86;89;90;120"]
    # An older nvcc does not know sm_120 (RTX 50xx).
    assert build.cmake_args({build.ENV_OVERRIDE: "-DGGML_CUDA=ON"}, "aarch64", nvcc=(12, 4)) == (
        "-DGGML_NATIVE=OFF -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=75;80;86;89;90"
    )
    # A variable the user sets replaces the project's value in place; their own architectures are kept.
    native = build.cmake_args({build.ENV_OVERRIDE: "-DGGML_NATIVE=ON -DGGML_AVX512:BOOL=ON"}, "x86_64").split()
    assert native[0] == "-DGGML_NATIVE=ON" and "-DGGML_AVX512:BOOL=ON" in native and "-DGGML_AVX512=OFF" not in native
    assert len(native) == len(portable)
    pinned = build.cmake_args({build.ENV_OVERRIDE: "-DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=89"}, "x86_64")
    assert pinned.endswith("-DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=89")
    assert build.cmake_args({build.ENV_OVERRIDE: "   "}, "x86_64") == " ".join(portable)


def test_the_key_changes_with_everything_that_changes_the_binary():
    base = build.flags_key(REQ, "-DGGML_NATIVE=OFF", "x86_64", "cp311-cpython")
    assert base == build.flags_key(REQ, " -DGGML_NATIVE=OFF ", "X86_64", "cp311-cpython")  # same build
    assert base != build.flags_key(REQ, "-DGGML_NATIVE=ON", "x86_64", "cp311-cpython")
    assert base != build.flags_key(REQ, "-DGGML_NATIVE=OFF -DGGML_CUDA=ON", "x86_64", "cp311-cpython")
    assert base != build.flags_key("llama-cpp-python==0.3.37", "-DGGML_NATIVE=OFF", "x86_64", "cp311-cpython")
    assert base != build.flags_key(REQ, "-DGGML_NATIVE=OFF", "aarch64", "cp311-cpython")
    assert base != build.flags_key(REQ, "-DGGML_NATIVE=OFF", "x86_64", "cp312-cpython")


def test_changed_flags_rebuild_and_unchanged_flags_reuse_the_cache(tmp_path):
    portable = build.flags_key(REQ, build.cmake_args({}, "x86_64"), "x86_64", "cp311-cpython")
    native = build.flags_key(
        REQ, build.cmake_args({build.ENV_OVERRIDE: "-DGGML_NATIVE=ON"}, "x86_64"), "x86_64", "cp311-cpython"
    )
    portable_dir = build.wheel_dir(portable, root=tmp_path)
    assert portable_dir == tmp_path / "var" / "wheels" / portable
    assert build.plan(portable, None, portable_dir, importable=False) == "build"  # first time: compile

    portable_dir.mkdir(parents=True)
    (portable_dir / "llama_cpp_python-0.3.36-cp311-cp311-linux_x86_64.whl").write_bytes(b"wheel")
    installed = {"key": portable}
    assert build.plan(portable, installed, portable_dir, importable=True) == "current"  # nothing to do
    assert build.plan(portable, installed, portable_dir, importable=False) == "install"  # pip replaced it
    # The user switches to a native build: another key, no wheel for it yet, so it compiles.
    native_dir = build.wheel_dir(native, root=tmp_path)
    assert build.plan(native, installed, native_dir, importable=True) == "build"
    # ... and switching back reuses the portable wheel without compiling.
    assert build.plan(portable, {"key": native}, portable_dir, importable=True) == "install"


def test_the_version_comes_from_the_pin_in_pyproject(tmp_path):
    assert build.pinned_requirement().startswith("llama-cpp-python==")
    loose = tmp_path / "pyproject.toml"
    loose.write_text('[project]\ndependencies = ["llama-cpp-python>=0.3"]\n')
    with pytest.raises(SystemExit, match="no pinned"):
        build.pinned_requirement(loose)


def test_a_child_killed_by_sigill_is_explained(tmp_path, monkeypatch):
    assert "make setup" in describe_exit(-signal.SIGILL) and "SIGILL" in describe_exit(-signal.SIGILL)
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL" and describe_exit(3) == "exit 3"
    (tmp_path / "faulting_child.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGILL)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="killed by SIGILL.*make setup"):
        run_child("faulting_child", [], 120, RuntimeError, "the child failed")
