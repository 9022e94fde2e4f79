"""Backend capabilities: a generator declares what it ``requires`` of the backend, a
backend what it ``provides``, and ``resolve()`` refuses a pair that cannot work before
any model loads (the edit judge's score mode on a backend that gives no logits)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from instructgen import GeneratorPlugin, hookimpl
from instructgen.api import plan
from instructgen.cli import main
from instructgen.errors import RecipeError
from instructgen.plugin import BackendPlugin, Generator
from instructgen.plugins.edits import edit_requires
from instructgen.plugins.edits.generator import EditOptions, PreparedEdit

SCORE_JUDGE = {"name": "edit", "judge": True, "judge_format": "score"}


def _recipe(tmp_path: Path, backend: dict, generator: dict = SCORE_JUDGE) -> dict:
    rows = tmp_path / "in.jsonl"
    rows.write_text(json.dumps({"id": "a", "caption": "A dog on a couch."}) + "\n")
    return {"output_dir": str(tmp_path / "out"), "backend": backend, "generator": generator,
            "source": {"name": "captions", "path": str(rows), "id_column": "id"}}


def _toml(tmp_path: Path, backend_lines: str) -> Path:
    path = tmp_path / "r.toml"
    rows = tmp_path / "in.jsonl"
    rows.write_text(json.dumps({"id": "a", "caption": "A dog on a couch."}) + "\n")
    path.write_text(f"""output_dir = {json.dumps(str(tmp_path / "out"))}
[source]
name = "captions"
path = {json.dumps(str(rows))}
id_column = "id"
[generator]
name = "edit"
judge = true
judge_format = "score"
[backend]
{backend_lines}
""")
    return path


@pytest.mark.reliability(
    failure="the edit judge in score mode (generator.judge_format = \"score\") with a backend "
            "that gives no first-token scores (openai; fake without backend.scores)",
    user_sees="one line at validate and run: `generator.judge_format: backend openai cannot "
              "answer with first-token scores of fixed labels (LLMRequest.choices), which "
              "generator edit asks for with this setting; backends that can: llamacpp, "
              "transformers`",
    exit_code=2, kept="nothing is run; no output directory is created")
def test_validate_refuses_score_judging_on_a_backend_without_scores(tmp_path, capsys) -> None:
    path = _toml(tmp_path, 'name = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "m"')
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("instructgen: error: generator.judge_format: backend openai cannot answer "
                   "with first-token scores of fixed labels (LLMRequest.choices), which "
                   "generator edit asks for with this setting; backends that can: llamacpp, "
                   "transformers")
    assert main(["run", str(path), "--no-progress"]) == 2
    assert "generator.judge_format: backend openai cannot" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_fake_scores_only_with_a_scores_script(tmp_path) -> None:
    with pytest.raises(RecipeError, match=r"generator\.judge_format: backend fake cannot"):
        plan(_recipe(tmp_path, {"name": "fake"}))
    scripted = {"name": "fake", "scores": {"^Caption before:": {"yes": 0.6, "no": 0.4}}}
    assert plan(_recipe(tmp_path, scripted))[0].backend.spec.name == "fake"


@pytest.mark.parametrize("backend", ["llamacpp", "transformers"])
def test_local_backends_provide_scores(tmp_path, backend) -> None:
    resolved, _ = plan(_recipe(tmp_path, {"name": backend}))
    assert resolved.generator.options.judge_format == "score"


def test_only_the_score_judge_requires_scores() -> None:
    def requires(**options: object) -> dict[str, str]:
        return edit_requires(PreparedEdit(EditOptions(**options), ()))

    assert requires(judge=True, judge_format="score") == {"scores": "judge_format"}
    assert requires(judge=False, judge_format="score") == {}
    assert requires(judge=True, judge_format="json") == {}


def test_a_handed_backend_object_is_not_checked_against_the_recipe(tmp_path) -> None:
    """``run(recipe, backend=obj)`` answers with ``obj``; only it can say what it can do."""
    from instructgen.backend import Backend
    from instructgen.backends.fake import FakeBackend

    recipe = _recipe(tmp_path, {"name": "openai", "base_url": "http://127.0.0.1:9/v1",
                                "model": "m"})
    with pytest.raises(RecipeError):
        plan(recipe)
    resolved, _ = plan(recipe, prepare_backend=False)
    assert resolved.backend.spec.name == "openai"
    assert isinstance(FakeBackend(), Backend)


class _Scorer(Generator):
    def __init__(self, options: object) -> None:
        self.options = options

    async def generate(self, item, ctx):  # pragma: no cover - never run: refused at plan time
        return []


class _NeedsScores:
    @hookimpl
    def instructgen_generators(self) -> Iterator[GeneratorPlugin]:
        yield GeneratorPlugin(name="needs_scores", description="asks for scores",
                              factory=_Scorer, requires=lambda options: {"scores": "mode"})


class _UndeclaredBackend:
    @hookimpl
    def instructgen_backends(self) -> Iterator[BackendPlugin]:
        from instructgen.backends.fake import FakeBackend, FakeOptions

        yield BackendPlugin(name="mute", description="declares nothing", options=FakeOptions,
                            factory=FakeBackend)


def test_a_third_party_generator_is_checked_and_an_undeclared_backend_never_refused(
        tmp_path) -> None:
    generator = {"name": "needs_scores"}
    with pytest.raises(RecipeError, match=r"^generator\.mode: backend openai cannot answer"):
        plan(_recipe(tmp_path, {"name": "openai", "base_url": "http://127.0.0.1:9/v1",
                                "model": "m"}, generator),
             plugins=[_NeedsScores()])
    resolved, _ = plan(_recipe(tmp_path, {"name": "mute"}, generator),
                       plugins=[_NeedsScores(), _UndeclaredBackend()])
    assert resolved.backend.spec.name == "mute"
