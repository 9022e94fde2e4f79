"""A test plugin: the fake backend, except that it can kill its own process by a signal.

What it does is steered from outside the recipe, so a crashed run and its
rerun share one recipe hash: ``$IG_CRASH_CONTROL`` names a JSON file
``{"signal": "SIGILL", "left": 2, "trigger": "lamp number 21", "at": "batch"}``.
While ``left`` is positive, a batch holding ``trigger`` in a prompt (``"at":
"batch"``) or the backend's construction (``"at": "load"``) decrements it and
sends ``signal`` to the current process, as a native fault in a model library
would. Replica workers are spawned processes: they import this module by
name, so it lives beside the tests (on ``sys.path``) rather than inside one.

The ``gated`` backend holds batches instead: while the file ``$IG_GATE_DIR/closed``
exists, every batch first writes ``$IG_GATE_DIR/entered.<pid>`` and then waits for
that file to go. A test that sees ``entered.<pid>`` knows worker ``pid`` is inside a
batch, so a kill lands mid-batch by construction, not by timing.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from instructgen.backend import Completion, LLMRequest
from instructgen.backends.fake import FakeBackend, FakeOptions
from instructgen.manager import hookimpl
from instructgen.plugin import BackendPlugin

CONTROL_ENV = "IG_CRASH_CONTROL"
GATE_ENV = "IG_GATE_DIR"


def _crash_now(at: str, text: str = "") -> None:
    path = os.environ.get(CONTROL_ENV)
    if not path or not Path(path).exists():
        return
    control = json.loads(Path(path).read_text())
    if control.get("left", 0) <= 0 or control.get("at", "batch") != at:
        return
    if at == "batch" and control["trigger"] not in text:
        return
    control["left"] -= 1
    Path(path).write_text(json.dumps(control))
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource  # no core file for SIGSEGV/SIGABRT

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.kill(os.getpid(), getattr(signal, control["signal"]))


class CrashingBackend(FakeBackend):
    """The fake backend, killed by a signal when ``$IG_CRASH_CONTROL`` says so."""

    def __init__(self, options: FakeOptions | None = None) -> None:
        _crash_now("load")
        super().__init__(options)

    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        _crash_now("batch", "\n".join(m.content for r in requests for m in r.messages))
        return super().generate(requests)


class GatedBackend(FakeBackend):
    """The fake backend, holding each batch while ``$IG_GATE_DIR/closed`` exists."""

    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        gate = Path(os.environ.get(GATE_ENV, "")) if os.environ.get(GATE_ENV) else None
        if gate is not None and (gate / "closed").exists():
            (gate / f"entered.{os.getpid()}").write_text("")
            while (gate / "closed").exists():
                time.sleep(0.01)
        return super().generate(requests)


@hookimpl
def instructgen_backends() -> Iterator[BackendPlugin]:
    yield BackendPlugin(name="crashing", description="The fake backend that kills its process.",
                        options=FakeOptions, factory=CrashingBackend)
    yield BackendPlugin(name="gated", description="The fake backend that holds batches.",
                        options=FakeOptions, factory=GatedBackend)
