"""Reading JSON Lines files: one object per line, errors that name file and line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import UserError

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
