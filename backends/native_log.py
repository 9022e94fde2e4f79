"""llama.cpp's and ggml's own log lines, as Python log records.

llama-cpp-python prints llama.cpp's log straight to stderr, outside the run's
structured log and outside ``-q``. :func:`route_native_log` installs one
callback for the process instead, which joins the C library's fragments into
lines and hands each to the ``instructgen.native.llamacpp`` logger:

* informational lines (model loading, buffer sizes) at debug level, or at info
  level when the backend option ``verbose`` is on;
* warnings and errors at their own level, so they reach the run log and obey ``-q``;
* lines this backend has made harmless, at debug level with the reason
  (:data:`HARMLESS`).

The run (see :mod:`instructgen.logs`) forwards ``instructgen.*`` records into its
structured log.
"""

from __future__ import annotations

import ctypes
import logging
import re
import threading
from typing import Any

LOGGER_NAME = "instructgen.native.llamacpp"

# ggml_log_level as ggml.h numbers it since late 2024 (llama-cpp-python's own _logger.py
# still carries the older order): NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5
# (continues the previous line).
_LEVELS = {0: logging.DEBUG, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING,
           4: logging.ERROR}
_CONT = 5

#: Warnings about conditions the backend rules out itself: pattern -> why it is harmless.
HARMLESS: dict[re.Pattern[str], str] = {
    re.compile(r"n_ctx_seq \(\d+\) > n_ctx_train \(\d+\)"): (
        "one unified KV cache holds every sequence, so llama.cpp measures a sequence "
        "against the whole cache; the backend ends each sequence at its own n_ctx, which "
        "is at most the training context unless the user set it higher (a warning then)"),
    re.compile(r"n_ctx_seq \(\d+\) < n_ctx_train \(\d+\)"): (
        "a sequence window shorter than the training context is the n_ctx option"),
}


class _Router:
    """Joins fragments into lines and logs them; one per process."""

    def __init__(self) -> None:
        self.log = logging.getLogger(LOGGER_NAME)
        self.verbose = False
        self._lock = threading.Lock()
        self._parts: list[str] = []
        self._level = logging.DEBUG

    def __call__(self, level: int, text: bytes | None, _user_data: Any) -> None:
        piece = (text or b"").decode("utf-8", errors="replace")
        with self._lock:
            if level != _CONT:
                self._flush()
                self._level = _LEVELS.get(level, logging.DEBUG)
            self._parts.append(piece)
            if piece.endswith("\n"):
                self._flush()

    def _flush(self) -> None:
        line = "".join(self._parts).strip()
        self._parts.clear()
        if line:
            self.emit(self._level, line)

    def emit(self, level: int, line: str) -> None:
        """Log one complete line at the level this router gives it."""
        if level == logging.INFO and not self.verbose:
            level = logging.DEBUG
        if level == logging.WARNING:
            for pattern, why in HARMLESS.items():
                if pattern.search(line):
                    self.log.debug("%s (harmless here: %s)", line, why)
                    return
        self.log.log(level, "%s", line)


_router = _Router()
_callback: Any = None  # the ctypes callback object; must outlive every llama.cpp call


def route_native_log(llama_cpp: Any, *, verbose: bool = False) -> logging.Logger:
    """Send llama.cpp's log through :data:`LOGGER_NAME` from now on; returns that logger.

    Safe to call for every backend built: the callback is installed once per
    process, and the latest ``verbose`` wins.
    """
    global _callback
    _router.verbose = verbose
    if _callback is None:
        _callback = llama_cpp.llama_log_callback(_router)
        llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
    return _router.log
