"""The layering holds: core names no plugin family, read from the import graph.

Core (``instructgen``) holds every plugin contract, the backend's included
(:mod:`instructgen.backend`), so blocking a family (``-p no:backends``) leaves the
machinery whole. The graph is read from the source with :mod:`ast` (see
``import_graph.py``): lazy imports and ``TYPE_CHECKING`` imports count too.
"""

from __future__ import annotations

import import_graph
import pytest


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph.import_graph()


def test_the_graph_sees_every_folder(graph):
    folders = {import_graph.folder_of(module) for module in graph}
    assert folders == {"core", "plugins", "backends"}
    # Relative imports are resolved: the backends family imports its own modules.
    assert "instructgen.backends.fake" in graph["instructgen.backends"]


@pytest.mark.parametrize("family", ["backends", "plugins"])
def test_core_imports_nothing_from_a_plugin_family(graph, family):
    arrows = import_graph.arrows(graph, "core", family)
    assert not arrows, "\n".join(f"{a} imports {b}" for a, b in arrows)


def test_the_check_would_see_an_arrow_from_core(tmp_path):
    for folder in import_graph.FOLDERS:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "backends" / "fake.py").write_text("")
    (tmp_path / "core" / "runner.py").write_text(
        "def build():\n    from .backends.fake import FakeBackend\n")
    graph = import_graph.import_graph(tmp_path)
    assert import_graph.arrows(graph, "core", "backends") == [
        ("instructgen.runner", "instructgen.backends.fake")]


def test_no_backend_reads_another_objects_private_state():
    """Backends are packages of collaborators that speak through public methods."""
    reads = import_graph.private_reads("backends")
    assert not reads, "\n".join(reads)


def test_the_check_would_see_a_private_read(tmp_path):
    (tmp_path / "backends").mkdir()
    (tmp_path / "backends" / "decode.py").write_text(
        "import argparse\n\n"
        "def step(backend, sub: argparse._SubParsersAction):\n"
        "    return backend._ctx, backend.model._lock\n\n"
        "class Run:\n"
        "    def go(self):\n"
        "        return self._queue\n")
    assert import_graph.private_reads("backends", tmp_path) == [
        "backends/decode.py:4: backend._ctx", "backends/decode.py:4: backend.model._lock"]


def test_no_backend_module_is_in_an_import_circle(graph):
    circles = [c for c in import_graph.cycles(graph)
               if any(import_graph.folder_of(m) == "backends" for m in c)]
    assert not circles, circles


#: Import circles in the whole package: ``python tests/import_graph.py --list``
#: prints them. There were three (18 core modules around the package root, ``cli``
#: with ``cli.run_cmds``, and ``plugins.edits.rules*``) until inner modules imported
#: from the defining module instead of the root; now there are none.
CYCLES = 0


def test_no_core_module_is_in_an_import_circle(graph):
    """Core's modules import one way: the package root re-exports, inner modules import
    from the module that defines a name (``instructgen.version``, not ``instructgen``)."""
    circles = [c for c in import_graph.cycles(graph)
               if any(import_graph.folder_of(m) == "core" for m in c)]
    assert not circles, "\n".join(" <-> ".join(c) for c in circles)


def test_no_import_circle(graph):
    circles = import_graph.cycles(graph)
    assert len(circles) == CYCLES, "\n".join(" <-> ".join(c) for c in circles)
