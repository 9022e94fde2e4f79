"""The builtin plugins. They load through the same path as third-party ones.

Each module listed in :data:`BUILTIN_PLUGINS` is registered under its module
name, so ``make_registry(block=["instructgen.plugins.implicit"])`` leaves it out.
"""

BUILTIN_PLUGINS: tuple[str, ...] = (
    "instructgen.backends",
    "instructgen.plugins.io",
    "instructgen.plugins.prompt",
    "instructgen.plugins.textchecks",
    "instructgen.plugins.concepts",
    "instructgen.plugins.datasets",
    "instructgen.plugins.edits",
    "instructgen.plugins.implicit",
    "instructgen.plugins.anyedit",
)
