"""Start llama-cpp-python's own OpenAI-compatible server on 127.0.0.1.

Used by the backend's tests and benchmark, and handy for trying the
``openai`` backend without a GPU server::

    with llama_cpp_server(embedded_model_path(), n_ctx=2048) as url:
        backend = OpenAIBackend(OpenAIOptions(base_url=url, schema_mode="json_object"))

Needs the ``openai`` extra (fastapi, uvicorn, sse-starlette, starlette-context,
pydantic-settings) next to llama-cpp-python.

The server runs through :mod:`instructgen.backends.openai.serve_llama`, so it
takes the machine's extra-buffer-types verdict like the in-process backend
(a CPU that faults on AMX tiles would otherwise kill it at its first decode).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from instructgen.errors import UserError

#: Modules ``python -m llama_cpp.server`` imports besides llama-cpp-python itself.
SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context",
                  "pydantic_settings")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_llama_cpp_server(
    model: str | os.PathLike[str], *, n_ctx: int = 2048, port: int | None = None,
    n_threads: int | None = None, api_key: str | None = None, startup_s: float = 120.0,
    extra_buffers: str = "auto", log_path: str | os.PathLike[str] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server and wait until it lists its model; (process, base URL ending in /v1).

    ``extra_buffers``: ``auto`` (the probe's verdict), ``on`` or ``off``. ``log_path``
    keeps the server's output in that file; by default it is read only to explain a
    server that did not start.
    """
    port = port or free_port()
    cmd = [sys.executable, "-m", "instructgen.backends.openai.serve_llama", "--extra-buffers",
           extra_buffers, "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
           "--n_ctx", str(n_ctx)]
    if n_threads:
        cmd += ["--n_threads", str(n_threads), "--n_threads_batch", str(n_threads)]
    env = dict(os.environ)
    if api_key:
        env["API_KEY"] = api_key  # through the environment: never on a command line
    # Closed below, once the server is up (or has failed).
    log = open(log_path, "w+b") if log_path else tempfile.TemporaryFile()  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + startup_s
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(urllib.request.Request(url + "/models", headers=headers),
                                        timeout=2) as resp:
                if json.load(resp).get("data"):
                    log.close()
                    return proc, url
        except (OSError, ValueError, urllib.error.URLError):
            time.sleep(0.25)
    stop_server(proc)
    log.seek(0)
    tail = " ".join(log.read().decode(errors="replace").split()[-40:])
    log.close()
    raise UserError(f"llama-cpp-python's server did not start on port {port}: {tail}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the server, then kill it if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def llama_cpp_server(model: str | os.PathLike[str] | Path, **kwargs: object) -> Iterator[str]:
    """The server for the length of a ``with`` block; yields its base URL."""
    proc, url = start_llama_cpp_server(model, **kwargs)  # type: ignore[arg-type]
    try:
        yield url
    finally:
        stop_server(proc)
