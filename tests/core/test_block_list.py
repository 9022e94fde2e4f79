"""The user's block list: ``INSTRUCTGEN_DISABLE_PLUGINS`` and ``-p no:NAME``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from instructgen.errors import PluginError
from instructgen.manager import DISABLE_PLUGINS_ENV, make_registry


def test_short_builtin_name_blocks_the_module():
    reg = make_registry(autoload=False, block=["implicit"])
    assert not reg.pm.has_plugin("instructgen.plugins.implicit")
    assert "implicit" not in reg.plugins("generator")
    assert "edit" in reg.plugins("generator")


def test_environment_variable_adds_to_the_block_list(monkeypatch):
    monkeypatch.setenv(DISABLE_PLUGINS_ENV, " concepts , implicit")
    reg = make_registry(autoload=False)
    names = set(reg.plugins("generator"))
    assert {"c2cap", "implicit"}.isdisjoint(names)
    assert "prompt" in names


def test_a_misspelt_name_is_an_error_with_a_did_you_mean():
    with pytest.raises(PluginError, match=r"'implcit'.*did you mean 'implicit'\?"):
        make_registry(autoload=False, block=["implcit"])


def test_an_embedded_plugin_can_be_blocked_by_its_name():
    import types

    mod = types.ModuleType("my_plugins")
    reg = make_registry([mod], autoload=False, block=["my_plugins"])
    assert not reg.pm.is_registered(mod)


def _cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "instructgen", *args], capture_output=True,
                          text=True, env=env, timeout=120)


@pytest.mark.slow
def test_cli_p_no_name_leaves_the_plugin_out():
    out = _cli("-p", "no:implicit", "plugins", "--kind", "generator", "--json")
    assert out.returncode == 0, out.stderr
    names = {row["name"] for row in json.loads(out.stdout)}
    assert "implicit" not in names and "edit" in names


@pytest.mark.reliability(failure="-p no:NAME with a misspelt plugin name",
                         user_sees="cannot block plugin 'implcit': ... did you mean 'implicit'?",
                         exit_code=2, kept="nothing is run")
@pytest.mark.slow
def test_cli_block_typo_exits_2_with_one_line():
    out = _cli("-p", "no:implcit", "plugins")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "did you mean 'implicit'?" in lines[0]
    bad = _cli("-p", "implicit", "plugins")
    assert bad.returncode == 2 and "expected no:NAME" in bad.stderr
