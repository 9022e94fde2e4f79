"""Who writes a concept caption: the model (``compose = "model"``) or a template bank.

``model`` is the original flow: the model writes the whole sentence under the
caption pattern. ``template``: the model picks a few fields from closed lists
(:mod:`.fields`) and :mod:`.templates` writes the sentence. ``auto`` picks by
the precision of accepted captions measured by reading (docs/concepts.md,
"Which path"): the model path only for a model whose measured precision on it
meets :data:`TARGET`, the template path otherwise.
"""

from __future__ import annotations

from typing import Literal

Compose = Literal["model", "template", "auto"]
COMPOSE_PATHS: tuple[str, ...] = ("model", "template", "auto")

#: Precision of accepted captions (good among accepted) that a path must reach.
TARGET = 0.9

#: Precision of the model path's accepted captions, by reading, per model and family.
#: Source: docs/concepts.md, "Which path": SmolLM2-135M on examples/concepts/pool.json,
#: a seeded sample of 30 accepted captions read per family (c2cap 8, cb2cap 15,
#: cc2cap 6 kept); the template path read the same way kept 29, 30 and 27.
MODEL_PATH_PRECISION: dict[str, dict[str, float]] = {
    "smollm2-135m-instruct": {"c2cap": 8 / 30, "cb2cap": 15 / 30, "cc2cap": 6 / 30},
}


def model_path_fits(model: str, family: str) -> bool:
    """Whether the model path's measured precision for ``model`` meets :data:`TARGET`."""
    return MODEL_PATH_PRECISION.get(model, {}).get(family, 0.0) >= TARGET


def resolve(compose: str, family: str, model: str | None = None) -> Literal["model", "template"]:
    """The path ``compose`` stands for in ``family``.

    ``auto``: ``model`` only for a named model whose measured model-path
    precision meets the target. ``model`` is the one the recipe's backend
    names (``None``: it names none, as the fake); a model that was never
    measured has no precision to trust, so ``auto`` is ``template`` there;
    for the embedded SmolLM2-135M it is ``template`` by measurement.
    """
    if compose in ("model", "template"):
        return "model" if compose == "model" else "template"
    return "model" if model is not None and model_path_fits(model, family) else "template"
