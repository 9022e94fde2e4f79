"""Run the ``instructgen`` CLI with a fake backend that stops at a known point.

``python gated_cli.py N ARGS...`` runs ``instructgen ARGS...``; the fake
backend's N-th call prints ``gate-closed`` on stdout and then waits, without a
timeout, until the process gets SIGINT. A test reads that line and only then
signals, so the run is mid-way for certain (N-1 batches answered, the N-th
held), however fast or slow the machine is: no race to lose.
"""

from __future__ import annotations

import signal
import sys
import threading

from instructgen.backends.fake import FakeBackend
from instructgen.cli import main

released = threading.Event()
_original = FakeBackend.generate
_calls = 0


def _gated_generate(self, requests):  # type: ignore[no-untyped-def]
    global _calls
    _calls += 1
    if _calls == GATE_AT:
        print("gate-closed", flush=True)
        released.wait()  # SIGINT sets it (and raises KeyboardInterrupt in the main thread)
    return _original(self, requests)


def _on_sigint(signum, frame):  # type: ignore[no-untyped-def]
    released.set()  # a backend thread, if any, may finish; the run stops as on Ctrl-C
    signal.default_int_handler(signum, frame)


if __name__ == "__main__":
    GATE_AT = int(sys.argv[1])
    FakeBackend.generate = _gated_generate  # type: ignore[method-assign]
    signal.signal(signal.SIGINT, _on_sigint)
    sys.exit(main(sys.argv[2:]))
