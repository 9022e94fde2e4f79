"""Sense checks of a caption: the shared fluency signs, and a concept modifying itself.

The caption rules (:func:`~.captions.check_caption`) test form: the word
limit, the concepts named, no digits. A 135M model wrote captions that pass
them and that no one would keep: "A wooden wooden hipflask", "a woodbine, a
mace, a woodbine, a mace", invented words. These checks reject such a
caption under the sign's own reason name (:mod:`instructgen.plugins.sense`),
so ``rejects.jsonl`` says what was wrong and not only that something was.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from instructgen.errors import InvalidOutput
from instructgen.plugins.sense import SELF_MODIFIER, fluency_problem, self_modifier

#: The reasons a caption can be rejected with here (see :mod:`instructgen.plugins.sense`).
CAPTION_SENSE_REASONS = ("repeated_ngram", "repeated_phrase", "non_ascii", "glued_word",
                         "non_word", "dangling_word", "several_sentences", SELF_MODIFIER)


class SenseProblem(InvalidOutput):
    """An answer that breaks a sense check; ``reason`` names the check."""

    def __init__(self, reason: str, problem: str) -> None:
        super().__init__(f"{reason}: {problem}")
        self.reason = reason


def caption_problem(text: str, concepts: Sequence[str],
                    known: Iterable[str] = ()) -> tuple[str, str] | None:
    """The first sense problem of ``text`` as ``(reason, problem)``, or ``None``.

    The concepts' words (and ``known`` texts, such as a background) count as
    English as written, so a rare concept name is no ``non_word``.
    """
    found = fluency_problem(text, known=(*concepts, *known))
    if found is not None:
        return found
    for concept in concepts:
        problem = self_modifier(text, concept)
        if problem is not None:
            return SELF_MODIFIER, problem
    return None


def check_sense(text: str, concepts: Sequence[str], known: Iterable[str] = ()) -> None:
    """Raise :class:`SenseProblem` for the first sense problem of ``text``."""
    found = caption_problem(text, concepts, known)
    if found is not None:
        raise SenseProblem(*found)
