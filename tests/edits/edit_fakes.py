"""Scripted model answers for the edit tests: edit requests and judge requests told apart."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from instructgen.backend import LLMRequest

FAKE = {"name": "fake"}
_SPARE = ("lamp", "vase", "drum", "kite", "globe", "bucket")


def last_user(req: LLMRequest) -> str:
    return next(m.content for m in reversed(req.messages) if m.role == "user")


def is_judge(req: LLMRequest) -> bool:
    return last_user(req).startswith("Caption before:")


def caption_in(req: LLMRequest) -> str:
    """The caption an edit request asks about."""
    text = last_user(req)
    assert text.startswith("Caption: "), text
    return text.removeprefix("Caption: ")


def type_of(req: LLMRequest) -> str:
    """The edit type's title, read from the system prompt."""
    m = re.search(r"instruction of type (.+?):", req.messages[0].content)
    assert m, req.messages[0].content
    return m.group(1)


def replace_last_noun(caption: str) -> dict[str, str]:
    """A valid replace edit: the caption's last word becomes an object it does not name."""
    words = caption.rstrip(".").split()
    old = words[-1]
    new = next(s for s in _SPARE if s not in caption.lower())
    return {"edit": f"Replace the {old} with a {new}.", "edited_object": old,
            "new_object": new, "output": " ".join([*words[:-1], new]) + "."}


class Scripted:
    """A responder: ``edit(caption, request)`` answers edits, ``judge(request)`` judges.

    Either may return a dict (sent as JSON) or a raw string.
    """

    def __init__(
        self,
        edit: Callable[[str, LLMRequest], Any] = lambda c, r: replace_last_noun(c),
        judge: Callable[[LLMRequest], Any] = lambda r: {"answer": "yes"},
    ) -> None:
        self.edit, self.judge = edit, judge
        self.edit_requests: list[LLMRequest] = []
        self.judge_requests: list[LLMRequest] = []

    def __call__(self, req: LLMRequest) -> str:
        if is_judge(req):
            self.judge_requests.append(req)
            out = self.judge(req)
        else:
            self.edit_requests.append(req)
            out = self.edit(caption_in(req), req)
        return out if isinstance(out, str) else json.dumps(out)


def jsonl_source(path: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Write ``rows`` as JSONL and return a ``captions`` source table for them."""
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return {"name": "captions", "path": str(path), "id_column": "id"}
