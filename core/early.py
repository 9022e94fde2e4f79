"""Early warnings for recipe mistakes that only the data reveals.

A template that names ``{captoin}`` validates fine; only the items show that
no item has that field. Without a warning such a run rejects every item and
exits 0 with nothing made. :class:`EarlyWarning` watches the first items of a
run and warns once when they all fail for the same reason;
:func:`precheck` does the same for ``instructgen preview`` before any model
call, by stepping each item's generator up to its first model request.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from instructgen.logs import Log

from .context import ItemContext
from .errors import Reject
from .records import Rejection, SourceItem
from .seeds import derive_seed

#: How many first items must all fail the same way before the warning.
EARLY_ITEMS = 5


def same_reason_message(rejections: Sequence[tuple[str, str]], n: int = EARLY_ITEMS,
                        ) -> str | None:
    """The warning for ``n`` first items' ``(reason, detail)``, or None when they differ."""
    if len(rejections) < n or len({reason for reason, _ in rejections[:n]}) != 1:
        return None
    reason, detail = rejections[0]
    return (f"the first {n} items were all rejected as {reason}"
            f"{f' ({detail})' if detail else ''}: check the recipe against the data")


class EarlyWarning:
    """Watches the first items of a run; warns once if all are rejected alike."""

    def __init__(self, log: Log, n: int = EARLY_ITEMS) -> None:
        self.log, self.n = log, n
        self.seen: list[tuple[str, str]] = []
        self.done = False

    def observe(self, accepted: int, rejections: Sequence[Rejection]) -> None:
        """Feed one committed item: how many records it gave and its rejections."""
        if self.done:
            return
        if accepted or not rejections:
            self.done = True  # a good item: the recipe works on this data
            return
        self.seen.append((rejections[0].reason, rejections[0].detail))
        if len(self.seen) < self.n:
            return
        self.done = True
        message = same_reason_message(self.seen, self.n)
        if message:
            self.log.warning("early_rejections", message=message)


def precheck(source: Any, generator: Any, seed: int, max_retries: int,
             n: int = EARLY_ITEMS) -> str | None:
    """Step the first ``n`` items up to their first model request; the warning, if any.

    Nothing is asked of a model: an item whose generator parks on a request
    passes. Only rejections raised before any request count, which is where
    a template or field mistake shows.
    """
    found: list[tuple[str, str]] = []
    for item in itertools.islice(iter(source), n):
        outcome = _step(generator, item, seed, max_retries)
        if outcome is None:
            return None
        found.append(outcome)
    return same_reason_message(found, n)


def _step(generator: Any, item: SourceItem, seed: int, max_retries: int,
          ) -> tuple[str, str] | None:
    ctx = ItemContext(item, derive_seed(seed, item.id), max_retries=max_retries)
    try:
        coro = generator.generate(item, ctx)
    except Reject as rej:  # a plain function that rejects at once
        return rej.reason, rej.detail
    if not hasattr(coro, "send"):
        return None  # not a coroutine: the run will say what is wrong with it
    try:
        coro.send(None)
    except StopIteration:
        return None  # finished without the model: not a mistake we can see
    except Reject as rej:
        return rej.reason, rej.detail
    except Exception as exc:  # a plugin bug shows up the same way in the run
        return "plugin_error", f"{type(exc).__name__}: {exc}"
    coro.close()  # parked on a model request: this item gets that far
    return None
