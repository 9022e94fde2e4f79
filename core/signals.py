"""SIGTERM and SIGHUP end a run like Ctrl-C: finished work saved, status ``interrupted``."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

from .errors import Terminated


class SignalGate:
    """Raises :class:`Terminated` for the first SIGTERM or SIGHUP, unless held.

    While ``hold`` is set (the run is saving its manifest or finishing), a signal
    is only noted; :meth:`release` raises it then. Later signals are ignored, so
    the save that the first one started can finish.
    """

    def __init__(self) -> None:
        self.hold = False
        self.caught: int | None = None
        self._raised = False
        #: The signals this gate handles (those left at their default when the run began).
        self.signals: list[int] = []

    def handler(self, signum: int, _frame: Any) -> None:
        if self.caught is not None:
            return
        self.caught = signum
        if not self.hold:
            self._raised = True
            raise Terminated(signum)

    def release(self) -> None:
        self.hold = False
        if self.caught is not None and not self._raised:
            self._raised = True
            raise Terminated(self.caught)

    def reclaim(self) -> None:
        """Handle our signals again after a library the run started took them over."""
        for sig in self.signals:
            if signal.getsignal(sig) != self.handler:
                signal.signal(sig, self.handler)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[SignalGate | None]:
    """Turn SIGTERM and SIGHUP into :class:`Terminated` (a ``KeyboardInterrupt``).

    Schedulers (Slurm, Kubernetes, systemd) send SIGTERM before they kill a job;
    closing a terminal sends SIGHUP. Both then save finished work like Ctrl-C. Only
    signals left at their default are taken over, and only in the main thread, so
    an application's own handlers (or ``nohup``) win; then this yields ``None``.
    """
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    gate = SignalGate()
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:
            previous[sig] = signal.signal(sig, gate.handler)
            gate.signals.append(sig)
    try:
        yield gate if previous else None
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)  # whoever took it over meanwhile was started by the run
