"""Reading JSON Lines files: one object per line, errors that name file and line.

:class:`BadRows` is the ``on_bad_row`` policy every streaming source shares
(JSONL, CSV, Parquet), handed to :func:`iter_objects` as its ``on_bad`` callback.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from instructgen.logs import Log

from .errors import UserError
from .logs import quiet_logger

#: Called with ``(line number, problem)`` for a bad line that is to be skipped.
BadLineHandler = Callable[[int, str], None]


def iter_objects(path: Path, on_bad: BadLineHandler | None = None,
                 ) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for every non-empty line, streamed.

    A line that is not JSON (or not UTF-8), or not a JSON object, raises
    :class:`UserError` naming ``path:line``; with ``on_bad`` it is handed to
    that callback instead and skipped, so one broken line in a large dump need
    not stop a run.
    """
    with path.open("rb") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            problem = None
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                problem = f"not valid JSON ({exc.msg})"
            except UnicodeDecodeError:
                problem = "not valid UTF-8"
            else:
                if not isinstance(obj, dict):
                    problem = "expected a JSON object per line"
            if problem is not None:
                if on_bad is None:
                    raise UserError(f"{path}:{lineno}: {problem}")
                on_bad(lineno, problem)
                continue
            yield lineno, obj


OnBadRow = Literal["stop", "skip"]


class BadRows:
    """The ``on_bad_row`` policy of a streaming source: stop, or count, log and skip.

    Large scraped dumps have a few broken lines; ``skip`` lets a run get past
    them without hiding them: each is logged with its line and the total goes
    to the manifest's ``source_stats`` as ``bad_rows_skipped``.
    """

    def __init__(self, policy: OnBadRow, path: Path, log: Log | None = None,
                 error: type[UserError] = UserError) -> None:
        self.policy, self.path, self.error = policy, path, error
        self.log = log
        self.skipped = 0

    def reset(self) -> None:
        """Start a new pass over the file (each pass counts from zero)."""
        self.skipped = 0

    def __call__(self, where: str | int, problem: str) -> None:
        """Handle one bad row at ``where`` (a line number or ``row N``)."""
        if self.policy == "stop":
            at = f"{self.path}:{where}" if isinstance(where, int) else f"{self.path}: {where}"
            raise self.error(f"{at}: {problem} (set source.on_bad_row = \"skip\" to skip "
                             f"bad rows)")
        self.skip(where, problem)

    def skip(self, where: str | int, problem: str) -> None:
        """Count and log one skipped row."""
        self.skipped += 1
        if self.log is None:
            self.log = quiet_logger()
        self.log.warning("bad_row_skipped", file=str(self.path), at=str(where),
                         problem=problem)

    def stats(self) -> Mapping[str, int]:
        return {"bad_rows_skipped": self.skipped} if self.policy == "skip" else {}
