"""Structured logs without global configuration: each run builds its own logger."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import FilteringBoundLogger

LogFormat = Literal["console", "json"]
#: The logger every run object takes: what :func:`make_logger` returns.
Log = FilteringBoundLogger


def make_logger(
    fmt: LogFormat = "console", level: int = logging.INFO, stream: TextIO | None = None
) -> Log:
    """A structlog logger on ``stream`` (stderr); never calls ``structlog.configure``."""
    stream = stream or sys.stderr
    processors: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=False),
    ]
    if fmt == "json":
        processors += [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        colors = hasattr(stream, "isatty") and stream.isatty()
        processors.append(structlog.dev.ConsoleRenderer(colors=colors))
    logger: Log = structlog.wrap_logger(
        structlog.PrintLogger(stream),
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    return logger


def quiet_logger() -> Log:
    """The library default: only warnings and errors, on stderr."""
    return make_logger("console", logging.WARNING)


class ForwardToRunLog(logging.Handler):
    """Hands ``logging`` records of the ``instructgen.*`` loggers to a run's structured log.

    Library parts that cannot take a run logger (the backends' load-time
    warnings, llama.cpp's own log lines) log through the standard ``logging``
    module. Without this, Python prints their warnings bare on stderr, outside
    the structured log and outside ``-q``. The run's log decides what shows.
    """

    def __init__(self, log: Log) -> None:
        super().__init__(logging.DEBUG)
        self.run_log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.run_log.log(record.levelno, record.getMessage(), logger=record.name)
        except Exception:  # a broken log must never break the run
            self.handleError(record)


@contextlib.contextmanager
def forward_library_logs(log: Log, name: str = "instructgen") -> Iterator[ForwardToRunLog]:
    """While the block runs, send the ``name`` logger tree's records to ``log`` only.

    For programs that own the process's logging, such as the ``instructgen``
    command; an application embedding the library configures ``logging`` itself.
    The logger's level, handlers and propagation are restored afterwards.
    """
    target = logging.getLogger(name)
    handler = ForwardToRunLog(log)
    saved = target.level, target.propagate
    target.addHandler(handler)
    target.setLevel(logging.DEBUG)  # the run log filters by its own level
    target.propagate = False
    try:
        yield handler
    finally:
        target.removeHandler(handler)
        target.setLevel(saved[0])
        target.propagate = saved[1]
