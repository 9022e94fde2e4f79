"""Concept pools and the captions made from them (families 1 and 2 of the reference).

Sources: ``concept_pool`` (one item per concept) and ``concept_pairs``
(unordered pairs). Generators: ``c2b`` (backgrounds), ``c2cap`` (a caption
per concept), ``cb2cap`` (per concept and background) and ``cc2cap`` (per
pair of concepts). Command line: ``instructgen concepts merge|dedup|stats|filter``
(``cli.py``), added through ``instructgen_commands``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from instructgen.manager import hookimpl
from instructgen.plugin import CommandSpec, GeneratorPlugin, Payload, PayloadKeys, SourcePlugin

from . import cli
from .backgrounds import C2bOptions, ConceptBackgrounds
from .captions import (
    BackgroundCaptions,
    C2capOptions,
    Cb2capOptions,
    ConceptCaptions,
    prepare_captions,
)
from .compose import Cc2capOptions, PairCaptions
from .payloads import (
    BackgroundCaptionPayload,
    ConceptBackgroundsPayload,
    ConceptCaptionPayload,
    PairCaptionPayload,
)
from .pool import Concept, ConceptPool, PoolError, load_pool
from .sources import (
    ConceptPairsOptions,
    ConceptPairsSource,
    ConceptPoolOptions,
    ConceptPoolSource,
)


@hookimpl
def instructgen_sources() -> Iterator[SourcePlugin]:
    yield SourcePlugin(
        name="concept_pool",
        description="One item per concept of a pool file (names, concepts+backgrounds, "
                    "concept->backgrounds, or c2b output).",
        options=ConceptPoolOptions, factory=ConceptPoolSource)
    yield SourcePlugin(
        name="concept_pairs",
        description="Unordered pairs of distinct concepts from a pool: all of them, "
                    "or a seeded sample.",
        options=ConceptPairsOptions, factory=ConceptPairsSource)


def _keys(payload: type[Payload]) -> Callable[[object, object], PayloadKeys]:
    """``produces`` for a generator whose records are all written from ``payload``: the
    keys are read off that class, the same whatever the options."""
    keys = payload.keys()
    return lambda _options, _ctx: keys


@hookimpl
def instructgen_generators() -> Iterator[GeneratorPlugin]:
    yield GeneratorPlugin(
        name="c2b", description="Diverse, plausible backgrounds for each concept.",
        options=C2bOptions, factory=ConceptBackgrounds,
        produces=_keys(ConceptBackgroundsPayload))
    yield GeneratorPlugin(
        name="c2cap", description="One short factual caption per concept.",
        options=C2capOptions, factory=ConceptCaptions, prepare=prepare_captions("c2cap"),
        produces=_keys(ConceptCaptionPayload))
    yield GeneratorPlugin(
        name="cb2cap", description="Captions of a concept in k of its backgrounds.",
        options=Cb2capOptions, factory=BackgroundCaptions, prepare=prepare_captions("cb2cap"),
        produces=_keys(BackgroundCaptionPayload))
    yield GeneratorPlugin(
        name="cc2cap",
        description="A caption combining two concepts, with a pool background if it has no "
                    "scene.",
        options=Cc2capOptions, factory=PairCaptions, prepare=prepare_captions("cc2cap"),
        produces=_keys(PairCaptionPayload))


@hookimpl
def instructgen_commands() -> Iterator[CommandSpec]:
    yield CommandSpec(name="concepts", register=cli.register,
                      description="merge, deduplicate, count and filter concept pools")


__all__ = ["Concept", "ConceptPool", "PoolError", "load_pool"]
