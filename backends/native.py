"""Probe, once per machine and llama.cpp build, whether llama.cpp's extra buffer types work.

llama.cpp repacks weights into "extra" CPU buffer types (AMX tiles, AVX
repacks) when ``llama_model_params.use_extra_bufts`` is on. On some virtual
machines the CPU advertises AMX, the kernel grants the tile permission, and the
hypervisor still faults on the first tile instruction: the process dies with
SIGILL inside ``ggml_backend_amx_mul_mat`` and takes Python with it.

Nothing can catch that in-process, so :func:`extra_buffers_verdict` asks a
child process: it loads a model with extra buffer types on and decodes a short
prompt (several tokens, because llama.cpp's AMX code uses tiles only for
matrix products of more than one row) and one more token. A child killed by a
signal means "load without extra buffer types". The verdict is stored under
the user cache (``$XDG_CACHE_HOME/instructgen/native-probes.json``), keyed by
the llama.cpp library files (path, size, mtime) and the CPU's model name and
flags, so a machine and build are probed once; rebuilding llama-cpp-python or
moving to another CPU probes again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from instructgen.backend import signal_text

#: The fix printed when extra buffer types crash: what the user can do instead of the probe.
EXTRA_BUFFERS_FIX = ('set the llamacpp option extra_buffers = false, or '
                     'rebuild llama-cpp-python without native CPU tuning: CMAKE_ARGS='
                     '"-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=ON" pip install '
                     '--force-reinstall --no-cache-dir llama-cpp-python')
#: Seconds the probe child may take before it counts as inconclusive.
PROBE_TIMEOUT_S = 300.0

# The child: load with extra buffer types, decode 8 prompt tokens, then 1 more.
# llama.cpp's log goes to stderr, which the parent reads only for its last line.
# Exit 0: it worked; 3: the model or context could not be made (inconclusive);
# 4: llama_decode returned an error (inconclusive). A signal is the verdict.
_CHILD = r"""
import importlib.util, sys, types

try:  # only the ctypes bindings: the package's own imports (numpy, jinja2) double the cost
    found = importlib.util.find_spec("llama_cpp")
    package = types.ModuleType("llama_cpp")
    package.__path__ = list(found.submodule_search_locations)
    sys.modules["llama_cpp"] = package
    import llama_cpp.llama_cpp as lc
except Exception:
    for name in [m for m in sys.modules if m.split(".")[0] == "llama_cpp"]:
        del sys.modules[name]
    import llama_cpp as lc
lc.llama_backend_init()
mp = lc.llama_model_default_params()
mp.n_gpu_layers = int(sys.argv[2])
mp.use_extra_bufts = True
model = lc.llama_model_load_from_file(sys.argv[1].encode(), mp)
if not model:
    sys.exit(3)
cp = lc.llama_context_default_params()
cp.n_ctx, cp.n_batch, cp.n_ubatch, cp.n_seq_max = 64, 16, 16, 1
cp.n_threads = cp.n_threads_batch = int(sys.argv[3])
ctx = lc.llama_init_from_model(model, cp)
if not ctx:
    sys.exit(3)
vocab = lc.llama_model_get_vocab(model)
n_vocab = lc.llama_vocab_n_tokens(vocab)
prompt = (lc.llama_token * 8)(*[(7 + 31 * i) % n_vocab for i in range(8)])
ok = lc.llama_decode(ctx, lc.llama_batch_get_one(prompt, 8)) == 0
one = (lc.llama_token * 1)(prompt[1])
ok = ok and lc.llama_decode(ctx, lc.llama_batch_get_one(one, 1)) == 0
sys.exit(0 if ok else 4)
"""

@attrs.frozen
class ProbeVerdict:
    """What the probe found, and whether it came from the cache."""

    #: True when extra buffer types may be used.
    ok: bool
    #: ``"SIGILL (illegal instruction)"`` when the child died by a signal, else None.
    crash: str | None = None
    #: Why the verdict is what it is, for logs.
    detail: str = ""
    #: Seconds the child ran (0 when the verdict came from the cache).
    seconds: float = 0.0
    #: False when the verdict was read from the cache.
    probed: bool = True
    #: False when the child neither worked nor crashed (no model, timeout): not cached.
    conclusive: bool = True


# -- the cache key ---------------------------------------------------------------------------


def llama_library() -> Path | None:
    """The llama.cpp shared library that llama-cpp-python loaded, or None."""
    try:
        from llama_cpp import llama_cpp as bindings
    except ImportError:
        return None
    lib = getattr(bindings, "_lib", None)
    name = getattr(lib, "_name", None)
    if name and Path(name).is_file():
        return Path(name).resolve()
    found = sorted(Path(bindings.__file__).parent.glob("lib/libllama.*"))
    return found[0].resolve() if found else None


def _library_files(lib: Path) -> list[Path]:
    """The llama library and the ggml libraries beside it (a rebuild changes them too)."""
    siblings = {p.resolve() for p in lib.parent.glob("libggml*") if p.is_file()}
    return [lib, *sorted(siblings - {lib})]


def cpu_signature() -> dict[str, str]:
    """The CPU's model name and feature flags (``/proc/cpuinfo``; platform names elsewhere)."""
    model, flags = "", ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8",
                                            errors="replace") as f:
        for line in f:
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "Model", "cpu model") and not model:
                model = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = " ".join(sorted(value.split()))
            if model and flags:
                break
    return {"model": model or platform.processor() or platform.machine(),
            "flags": flags, "machine": platform.machine()}


def probe_key(lib: Path | None, cpu: dict[str, str] | None = None) -> str:
    """The cache key: library files (path, size, mtime) and the CPU signature."""
    files = []
    if lib is not None:
        for path in _library_files(lib):
            with contextlib.suppress(OSError):
                st = path.stat()
                files.append([str(path), st.st_size, st.st_mtime_ns])
    payload = {"probe": "extra_buffers/1", "files": files, "cpu": cpu or cpu_signature()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def default_probe_cache() -> Path:
    """``$INSTRUCTGEN_PROBE_CACHE``, else ``$XDG_CACHE_HOME/instructgen/native-probes.json``."""
    if os.environ.get("INSTRUCTGEN_PROBE_CACHE"):
        return Path(os.environ["INSTRUCTGEN_PROBE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "instructgen" / "native-probes.json"


# -- running the child ----------------------------------------------------------------------


def probe_command(model: Path, n_gpu_layers: int = 0, threads: int = 1) -> list[str]:
    """The default child: this Python running the probe snippet on ``model``.

    One thread: the kernels chosen do not depend on it, and llama.cpp's spinning
    thread barriers make a few tokens take seconds on a busy machine.
    """
    return [sys.executable, "-c", _CHILD, str(model), str(n_gpu_layers), str(threads)]


def run_probe(command: Sequence[str], timeout: float = PROBE_TIMEOUT_S) -> ProbeVerdict:
    """Run one probe child and read its fate; never raises for what the child does."""
    started = time.perf_counter()
    try:
        done = subprocess.run(list(command), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return ProbeVerdict(True, detail=f"the probe did not finish in {timeout:.0f}s",
                            seconds=time.perf_counter() - started, conclusive=False)
    except OSError as exc:
        return ProbeVerdict(True, detail=f"the probe could not start: {exc}", conclusive=False)
    seconds = time.perf_counter() - started
    if -done.returncode in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        return ProbeVerdict(True, seconds=seconds, conclusive=False,
                            detail=f"the probe was stopped by {signal_text(-done.returncode)}")
    if done.returncode < 0:
        text = signal_text(-done.returncode)
        return ProbeVerdict(False, crash=text, seconds=seconds,
                            detail=f"a test decode with extra buffer types died with {text}")
    if done.returncode == 0:
        return ProbeVerdict(True, detail="a test decode with extra buffer types worked",
                            seconds=seconds)
    tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
    return ProbeVerdict(True, seconds=seconds, conclusive=False,
                        detail=f"the probe exited with code {done.returncode} {tail[0]!r}")


def extra_buffers_verdict(model: Path, *, n_gpu_layers: int = 0,
                          command: Sequence[str] | None = None,
                          cache_path: Path | None = None,
                          key: str | None = None,
                          timeout: float = PROBE_TIMEOUT_S) -> ProbeVerdict:
    """Whether extra buffer types work here: from the cache, else from one probe child.

    ``command`` replaces the child (tests inject one that crashes or not);
    ``key`` replaces the library/CPU key. Concurrent callers (replica workers
    starting together) wait on a file lock, so only one of them probes.
    Inconclusive outcomes (the child could not load the model, timed out) allow
    extra buffer types and are not stored, so the next load asks again.
    """
    cache_path = cache_path or default_probe_cache()
    key = key or probe_key(llama_library())
    with _locked(cache_path):
        stored = _read(cache_path).get(key)
        if isinstance(stored, dict) and isinstance(stored.get("ok"), bool):
            return ProbeVerdict(stored["ok"], crash=stored.get("crash"),
                                detail=str(stored.get("detail", "")), probed=False)
        verdict = run_probe(command or probe_command(model, n_gpu_layers), timeout)
        if verdict.conclusive:
            table = _read(cache_path)
            table[key] = {"ok": verdict.ok, "crash": verdict.crash, "detail": verdict.detail,
                          "seconds": round(verdict.seconds, 3),
                          "probed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            _write(cache_path, table)
    return verdict


def decide_extra_buffers(choice: bool | str, model: Path, n_gpu_layers: int = 0) -> bool:
    """Whether a llama.cpp load here may use extra buffer types: ``choice``, or the probe's.

    ``choice`` is the ``extra_buffers`` option: ``True``/``False`` decide, ``"auto"``
    asks :func:`extra_buffers_verdict` on the small embedded model (else on ``model``
    itself) and warns once when the answer is no. Every process that loads a model
    with llama.cpp takes its setting from here: the in-process backend, replica
    workers and Ray actors (which build that backend), and the OpenAI-compatible
    server that :mod:`instructgen.backends.openai.local` starts.
    """
    if isinstance(choice, bool):
        return choice
    from .models import EMBEDDED_MODEL, resolve_builtin

    try:  # a small fixed model keeps the probe cheap
        found = resolve_builtin(EMBEDDED_MODEL, "llamacpp")
        probe_model, layers = (found, 0) if isinstance(found, Path) else (model, n_gpu_layers)
    except Exception:  # the embedded model is not installed: probe the model itself
        probe_model, layers = model, n_gpu_layers
    verdict = extra_buffers_verdict(probe_model, n_gpu_layers=layers)
    if not verdict.ok:
        logging.getLogger("instructgen.backends.llamacpp").warning(
            "llamacpp: %s (this CPU or its hypervisor faults on them, e.g. AMX on some cloud "
            "VMs), so the model is loaded without them, which is slower; to avoid this: %s",
            verdict.detail, EXTRA_BUFFERS_FIX)
    return verdict.ok


@contextlib.contextmanager
def _locked(cache_path: Path) -> Any:
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(cache_path.with_suffix(".lock"), "a+")  # noqa: SIM115 - held across yield
    except OSError:
        yield  # an unwritable cache: probe without a lock (and without storing)
        return
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, table: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(OSError):
        tmp.write_text(json.dumps(table, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    with contextlib.suppress(OSError):
        tmp.unlink()
