"""Implicit (EditWorld-style) instructions: seed examples in, checked quadruples out.

A quadruple is *(original caption; implicit instruction; target caption;
keywords)*, such as ("a glass of milk on a table"; "What happens if the cat
knocks it over?"; "spilled milk and broken glass on the floor"; [glass, milk,
floor]). Plugins:

- source ``implicit_seeds`` (:mod:`.seeds`): hand-written examples, as the real
  ``{"sampleN": {...}}`` file (misspelled keys accepted), a JSON list or JSONL;
- generator ``implicit`` (:mod:`.generator`): one conversation per seed, a first
  turn and ``continue_turns`` more, every answer an array of quadruples checked by
  :mod:`.checks`, in the words of :mod:`.prompts`;
- post-processor ``implicit_dedup`` (:mod:`.dedup`): near-duplicates across seeds;

Every record is one :class:`.payloads.Quadruple`, and the keys the plan declares for
the generator are read off that class.

The ``anyedit_implicit`` sink, which writes these quadruples with the keys AnyEdit's
implicit stage reads, is the ``anyedit`` family's (:mod:`instructgen.plugins.anyedit`).

This module holds the hook implementations only.
"""

from __future__ import annotations

from collections.abc import Iterator

from instructgen.manager import hookimpl
from instructgen.plugin import (
    GeneratorPlugin,
    PayloadKeys,
    PostProcessorPlugin,
    SourcePlugin,
)
from instructgen.plugins.anyedit.contract import TypeContract

from .dedup import ImplicitDedup, ImplicitDedupOptions
from .generator import ImplicitGenerator, ImplicitOptions
from .payloads import Quadruple
from .seeds import ImplicitSeedsOptions, ImplicitSeedsSource


def implicit_keys(options: ImplicitOptions, _ctx: object) -> PayloadKeys:
    """Every record is one :class:`Quadruple`; ``theme`` is declared only when the options
    can write it: a continue turn draws one, and only from a non-empty ``themes``."""
    return Quadruple.keys(themed=bool(options.continue_turns and options.themes))


#: What AnyEdit reads of an implicit record, when one goes through the ``anyedit`` sink.
IMPLICIT_CONTRACT = TypeContract(
    name="implicit_change", keys=(), made_by="implicit",
    common_from={"edit": "instruction", "input": "original_caption", "output": "target_caption"},
    note="image_file is null: the image is drawn first")


@hookimpl(optionalhook=True)
def instructgen_anyedit_contracts(catalog: object) -> Iterator[TypeContract]:
    yield IMPLICIT_CONTRACT


@hookimpl
def instructgen_sources() -> Iterator[SourcePlugin]:
    yield SourcePlugin(
        name="implicit_seeds",
        description="Hand-written implicit-edit examples (EditWorld sample file, JSON or JSONL).",
        options=ImplicitSeedsOptions,
        factory=ImplicitSeedsSource,
    )


@hookimpl
def instructgen_generators() -> Iterator[GeneratorPlugin]:
    yield GeneratorPlugin(
        name="implicit",
        description="EditWorld-style implicit quadruples over a multi-turn conversation per seed.",
        options=ImplicitOptions,
        factory=ImplicitGenerator,
        produces=implicit_keys,
    )


@hookimpl
def instructgen_postprocessors() -> Iterator[PostProcessorPlugin]:
    yield PostProcessorPlugin(
        name="implicit_dedup",
        description="Drop implicit quadruples that repeat an earlier one across seeds.",
        options=ImplicitDedupOptions,
        factory=ImplicitDedup,
        # dedup.dedup_text: the instruction and the original caption.
        needs=lambda _options: frozenset({"instruction", "original_caption"}),
    )
