"""Scripted model answers for the concept generators, keyed on the prompt."""

from __future__ import annotations

import json
import re
from pathlib import Path

from instructgen.backend import LLMRequest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "concepts"


def last_user(request: LLMRequest) -> str:
    return next(m.content for m in reversed(request.messages) if m.role == "user")


def caption_for(request: LLMRequest) -> str | None:
    """A caption that obeys the rules, built from the subjects named in the prompt."""
    text = last_user(request)
    pair = re.fullmatch(r"Subjects: (.+), (.+)", text)
    if pair:
        return f"A {pair.group(1)} next to a {pair.group(2)}."
    single = re.match(r"Subject: (.+)", text)
    setting = re.search(r"\nSetting: (.+)", text)
    if single and setting:
        return f"A {single.group(1)} in a {setting.group(1)}."
    if single:
        return f"A {single.group(1)} on a wooden table."
    return None


def field_answer(request: LLMRequest) -> str | None:
    """The template path's answer: the first option of every closed-list field."""
    props = (request.schema or {}).get("properties", {})
    if not props or "caption" in props:
        return None
    return json.dumps({key: spec["enum"][0] for key, spec in props.items()})
