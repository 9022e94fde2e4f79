"""``compose = "auto"``: the path each model gets, from what was measured on it.

The ``model`` path lets the model write the instruction and the output; the
``rules`` path lets it only choose the fields and writes both by rule
(:mod:`.turn`). Which one gives usable records depends on the model, so the
choice is a table of measurements, not a guess: a model is given ``model``
only where that path was measured to be at least as precise as ``rules``.
A model not in the table gets ``rules``, the path that does not depend on the
model's writing.

The generator chooses at plan time, from the model the recipe's backend names
(``BuildContext.backend_model``: its ``model`` option, defaults included). A backend without a
model option (the fake) or a model not in the table is treated as unmeasured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Path = Literal["model", "rules"]


#: Measured path per model name (the backend's model, as recipes name it), with where the
#: figure comes from. SmolLM2-135M: read by hand, about 3 of 66 accepted ``model``-path
#: records on COCO val2017 captions were usable (issue 27); docs/edits.md, "Paths", has the
#: ``rules`` path's figures on the example captions.
MEASURED: Mapping[str, tuple[Path, str]] = {
    "smollm2-135m-instruct": ("rules", "issue 27 (model path: about 3 of 66 accepted records "
                                       "usable); docs/edits.md, 'Paths' (rules path)"),
}
#: What a model without a measurement gets.
UNMEASURED: Path = "rules"


def path_for(model: str | None) -> tuple[Path, str]:
    """The path for ``model`` (``None``: not known to the generator) and why."""
    if model is not None:
        key = model.lower().removesuffix(".gguf")
        if key in MEASURED:
            path, source = MEASURED[key]
            return path, f"measured on {key}: {source}"
    return UNMEASURED, ("no measurement for this model; the rules path does not depend on "
                        "the model's writing")
