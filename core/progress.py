"""The run's progress bar: items, accepted and rejected records, rates (terminals only)."""

from __future__ import annotations

import time

from .counters import Counters


class ProgressBar:
    """A rich progress bar on terminals; nothing otherwise."""

    def __init__(self, enabled: bool, total: int | None, limit: int | None, done: int,
                 summary: Counters) -> None:
        self.summary = summary
        self.bar = None
        if not enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        if total is not None and limit is not None:
            total = min(total, limit)
        elif total is None:
            total = limit
        self.bar = Progress(
            TextColumn("[bold]items"), BarColumn(), MofNCompleteColumn(),
            TextColumn("[green]{task.fields[acc]} ok [red]{task.fields[rej]} rejected"),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            transient=False,
        )
        self.task = self.bar.add_task("run", total=total, completed=done, acc=0, rej=0, rate="")
        self.t0 = time.perf_counter()
        self.bar.start()
        self._last = 0.0

    def advance(self) -> None:
        if self.bar is None:
            return
        self.bar.advance(self.task)
        if time.perf_counter() - self._last > 0.1:
            self._refresh()

    def _refresh(self) -> None:
        assert self.bar is not None
        now = time.perf_counter()
        s, dt = self.summary, max(now - self.t0, 1e-9)
        decoded = (f" prompt {s.prompt_tokens_decoded / s.prompt_tokens:.0%} decoded"
                   if s.prompt_tokens else "")
        self.bar.update(self.task, acc=s.accepted, rej=s.rejected,
                        rate=f"{s.items / dt:.1f} it/s {s.completion_tokens / dt:.0f} tok/s"
                             f"{decoded}")
        self._last = now

    def close(self) -> None:
        if self.bar is not None:
            self._refresh()  # the last figures, not the ones from up to 0.1 s ago
            self.bar.stop()
