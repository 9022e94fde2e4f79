"""Fixtures of the concept tests: scripted captions and pool files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from concept_answers import caption_for, last_user

from instructgen.backend import LLMRequest


@pytest.fixture
def good_captions() -> Callable[[LLMRequest], str]:
    def respond(request: LLMRequest) -> str:
        caption = caption_for(request)
        assert caption is not None, last_user(request)
        return json.dumps({"caption": caption})

    return respond


@pytest.fixture
def pool_file(tmp_path: Path) -> Callable[[object, str], Path]:
    """Write a pool file: ``pool_file(data, "name.json")``; strings are written as is."""

    def write(data: object, name: str = "pool.json") -> Path:
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
        return path

    return write
