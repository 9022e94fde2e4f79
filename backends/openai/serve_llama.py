"""``python -m instructgen.backends.openai.serve_llama``: llama-cpp-python's server, probe-aware.

llama-cpp-python's ``python -m llama_cpp.server`` has no setting for llama.cpp's
``use_extra_bufts``: it always loads with the library default (on). On CPUs
that advertise AMX but fault on tile instructions (some cloud VMs), that server
then dies with SIGSEGV or SIGILL at its first decode. This launcher runs the
very same server, after making every model it loads take the verdict of
:func:`instructgen.backends.native.decide_extra_buffers`:

* ``--extra-buffers auto`` (the default): the machine's cached probe verdict;
* ``--extra-buffers on`` / ``off``: decide by hand.

Every other argument goes to ``llama_cpp.server`` unchanged. It prints one line
``instructgen-serve: extra buffer types on|off`` on stderr before the server
starts, so whoever started it can tell which setting it took.
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path
from typing import Any


def _without_extra_buffers(bindings: Any) -> None:
    """Make ``bindings.llama_model_default_params`` hand out ``use_extra_bufts = False``.

    ``llama_cpp.Llama`` builds its model parameters from that function, and the
    server builds its models with ``Llama``; nothing else is changed.
    """
    default = bindings.llama_model_default_params

    def params() -> Any:
        p = default()
        p.use_extra_bufts = False
        return p

    bindings.llama_model_default_params = params


def main(argv: list[str] | None = None) -> None:
    """Decide extra buffer types, then run ``llama_cpp.server`` with the other arguments."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ours = argparse.ArgumentParser(add_help=False)
    ours.add_argument("--extra-buffers", choices=("auto", "on", "off"), default="auto")
    ours.add_argument("--model", default="")
    ours.add_argument("--n_gpu_layers", type=int, default=0)
    known, _ = ours.parse_known_args(argv)
    rest = [a for a in argv if not a.startswith("--extra-buffers")]
    if "--extra-buffers" in argv:  # the separate-value form: drop its value too
        at = argv.index("--extra-buffers")
        rest = argv[:at] + argv[at + 2:]

    from instructgen.backends.native import decide_extra_buffers

    choice: bool | str = {"on": True, "off": False}.get(known.extra_buffers, "auto")
    use = decide_extra_buffers(choice, Path(known.model), max(0, known.n_gpu_layers))
    import llama_cpp.llama_cpp as bindings

    if not use:
        _without_extra_buffers(bindings)
    print(f"instructgen-serve: extra buffer types {'on' if use else 'off'}", file=sys.stderr,
          flush=True)
    sys.argv = ["llama_cpp.server", *rest]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
