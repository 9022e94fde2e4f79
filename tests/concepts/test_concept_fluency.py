"""Caption sense checks: named rejections on the model path, for every caption family."""

from __future__ import annotations

import json

import pytest

from instructgen.plugins.concepts.fluency import caption_problem
from instructgen.plugins.sense import dictionary_available


@pytest.mark.parametrize(("caption", "concepts", "reason"), [
    ("A wooden wooden hipflask.", ["hipflask"], "repeated_phrase"),
    ("A woodbine, a mace, a woodbine, a mace.", ["woodbine", "mace"], "repeated_ngram"),
    ("A hipflask hipflask on a table.", ["hipflask"], "repeated_phrase"),
    ("A teapot-shaped teapot on a shelf.", ["teapot"], "self_modifier"),
    ("A kite flying over the horsesong.", ["kite"], "glued_word"),
    ("A kite flying over a hillSide.", ["kite"], "glued_word"),
    ("A kite flying over the", ["kite"], "dangling_word"),
    ("A kitе in the sky.", ["kite"], "non_ascii"),
])
def test_caption_problems_are_named(caption, concepts, reason):
    if reason == "glued_word" and "horsesong" in caption and not dictionary_available():
        pytest.skip("pyspellchecker is not installed (pip install 'instructgen[sense]')")
    found = caption_problem(caption, concepts)
    assert found is not None and found[0] == reason, found


@pytest.mark.parametrize(("caption", "concepts"), [
    ("A wooden hipflask on a table.", ["hipflask"]),
    ("A red kite flying over a hill.", ["kite"]),
    ("A horse next to a wooden fence, seen from the side.", ["horse"]),
    ("Red scissors in close-up.", ["scissors"]),
])
def test_fluent_captions_pass(caption, concepts):
    assert caption_problem(caption, concepts) is None


def test_a_non_word_is_refused_but_a_rare_concept_is_not():
    if not dictionary_available():
        pytest.skip("pyspellchecker is not installed (pip install 'instructgen[sense]')")
    assert caption_problem("A red kite over the blorfing hill.", ["kite"])[0] == "non_word"
    assert caption_problem("A brass hipflask on a table.", ["hipflask"]) is None
    assert caption_problem("A zorblat on a table.", ["zorblat"]) is None


@pytest.mark.parametrize("generator", [{"name": "c2cap"}, {"name": "cb2cap", "k": 1},
                                       {"name": "cc2cap", "append_backgrounds": 0}])
def test_model_path_rejects_a_repeated_word_by_name(pool_file, run_recipe, fake_backend,
                                                    generator):
    def respond(request):
        text = request.messages[-1].content
        names = [n.strip() for n in text.split("\n")[0].split(":", 1)[1].split(",")]
        return json.dumps({"caption": "A red red " + " and a ".join(names) + "."})

    path = pool_file({"kite": ["beach"], "owl": ["barn"]})
    source = "concept_pairs" if generator["name"] == "cc2cap" else "concept_pool"
    result = run_recipe({"source": {"name": source, "path": str(path),
                                    "shape": "concept_backgrounds"},
                         "generator": {**generator, "compose": "model"},
                         "backend": {"name": "fake"}, "max_retries": 1},
                        backend=fake_backend(responder=respond))
    assert not result.data and result.rejections
    for rej in result.rejections:
        assert rej.reason == "repeated_phrase", rej
        assert rej.detail.endswith("'red' twice in a row (after 2 attempts)"), rej.detail
        assert rej.raw and "red red" in rej.raw
