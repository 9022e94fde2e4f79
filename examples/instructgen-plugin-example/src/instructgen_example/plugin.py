"""The hook implementations: the module named by the ``instructgen`` entry point.

instructgen calls each registration hook once when it builds its plugin
registry; every record yielded here becomes a name usable in recipes.
"""

from __future__ import annotations

from collections.abc import Iterator

from instructgen import PostProcessorPlugin, SourcePlugin, hookimpl
from instructgen.plugins.edits import EditType

from .blocklist import BlocklistOptions, WordBlocklist
from .expression import EXPRESSION_CHANGE
from .source import TsvCaptions, TsvCaptionsOptions


@hookimpl
def instructgen_sources() -> Iterator[SourcePlugin]:
    yield SourcePlugin(name="tsv_captions", options=TsvCaptionsOptions, factory=TsvCaptions,
                       description="Image captions from a tab-separated file with a header row.")


@hookimpl
def instructgen_edit_types() -> Iterator[EditType]:
    yield EXPRESSION_CHANGE


@hookimpl
def instructgen_postprocessors() -> Iterator[PostProcessorPlugin]:
    yield PostProcessorPlugin(name="word_blocklist", options=BlocklistOptions,
                              factory=WordBlocklist,
                              description="Drop or mask records that use a blocked word.")
