"""The ``rules`` path of the ``edit`` generator: small models choose, rules write.

Under ``compose = "rules"`` the model never writes prose. It chooses the
edit's parts from closed options (an object of the caption, a colour, a new
object, an action, a background, a tone), and this package writes the rest:

* :mod:`.lexicon`: the known objects by class and the closed lists of values;
* :mod:`.objects`: the caption's objects the rules may edit;
* :mod:`.caption`: word-level editing of a caption (spans, articles, punctuation);
* :mod:`.rewrite`: the output caption, one function per kind of change;
* :mod:`.phrasings`: the instruction, from a bank of phrasings per type;
* :mod:`.kinds`: per type, the choice schema and the writer of edit and output;
* :mod:`.turn`: one turn (choose, write, optionally paraphrase);
* :mod:`.auto`: which path ``compose = "auto"`` gives each model.
"""

from __future__ import annotations

from .auto import MEASURED, path_for
from .kinds import PLANNERS, Composed
from .turn import ComposeFailure, compose_turn, composes, result_of

__all__ = ["MEASURED", "PLANNERS", "ComposeFailure", "Composed", "compose_turn", "composes",
           "path_for", "result_of"]
