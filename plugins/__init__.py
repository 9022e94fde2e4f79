"""The builtin plugin families. They load through the same path as third-party ones.

Core names them in :data:`instructgen.manager.BUILTIN_PLUGINS`; each is registered
under its module name, so ``make_registry(block=["instructgen.plugins.implicit"])``
leaves it out.
"""
