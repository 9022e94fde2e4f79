"""The backends are a plugin family like the others: their hook implementations sit in
``instructgen/backends/__init__.py``, registered under that module's name, so the
block list's short name is ``backends``."""

from __future__ import annotations

import subprocess
import sys

from instructgen.manager import BUILTIN_PLUGINS, make_registry


def test_the_package_registers_the_backends_and_models():
    assert "instructgen.backends" in BUILTIN_PLUGINS
    reg = make_registry(autoload=False)
    assert reg.pm.has_plugin("instructgen.backends")
    assert {"fake", "llamacpp", "openai", "transformers"} <= set(reg.plugins("backend"))


def test_short_name_backends_blocks_backends_and_models():
    reg = make_registry(autoload=False, block=["backends"])
    assert not reg.pm.has_plugin("instructgen.backends")
    assert reg.plugins("backend") == {}
    assert reg.get_models() == {}
    assert "edit" in reg.plugins("generator")


def test_importing_the_family_loads_no_heavy_library():
    code = ("import sys, instructgen, instructgen.backends\n"
            "heavy = {'llama_cpp', 'torch', 'transformers', 'llguidance'} & set(sys.modules)\n"
            "assert not heavy, heavy\n"
            "assert callable(instructgen.backends.instructgen_backends)\n")
    subprocess.run([sys.executable, "-c", code], check=True)
