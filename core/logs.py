"""Structured logs without global configuration: each run builds its own logger."""

from __future__ import annotations

import logging
import sys
from typing import IO, Any, Literal

import structlog
from structlog.typing import FilteringBoundLogger

LogFormat = Literal["console", "json"]
#: The logger every run object takes: what :func:`make_logger` returns.
Log = FilteringBoundLogger


def make_logger(
    fmt: LogFormat = "console", level: int = logging.INFO, stream: IO[str] | None = None
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
