"""Shared pieces of the run-directory safety tests: a recipe, a gated run, a lesser user.

Run as a script, this module is the *gated run*: it runs a recipe with a fake
backend that creates ``STARTED`` before its first answer and then waits until
``RELEASE`` exists. A test thereby holds a real run in the middle of its work,
for as long as it needs, without sleeping and hoping::

    python tests/core/rundir_helpers.py RECIPE STARTED RELEASE

With ``--cli N STARTED ARGS...`` it runs the ``instructgen`` command line instead,
and the fake backend's N-th call creates ``STARTED`` and then waits for a signal.

:func:`strike_at_checkpoints` is the kill loop of the signal and crash tests: it
signals a run on a checkpoint it saw in ``state.json``, never after a guessed sleep.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECIPE = """
seed = 5
batch_size = 4
output_dir = "{out}"
[cache]
path = "{cache}"
[source]
name = "jsonl"
path = "{items}"
[generator]
name = "prompt"
template = "Write a caption about {{subject}}."
max_tokens = 12
[backend]
name = "fake"
delay = {delay}
[sink]
name = "jsonl"
format = "flat"
"""
FILES = ("records.jsonl", "rejects.jsonl", "output.jsonl")
HERE = Path(__file__).resolve()


def setup(tmp_path: Path, name: str, n: int = 60, delay: float = 0.0,
          cache: Path | None = None) -> tuple[Path, Path]:
    """A recipe writing to ``tmp_path/name``; every 7th item is rejected (no subject)."""
    items = tmp_path / "items.jsonl"
    if not items.exists():
        with items.open("w") as f:
            for i in range(n):
                row = {"other": i} if i % 7 == 3 else {"subject": f"lamp {i}", "n": i}
                f.write(json.dumps(row) + "\n")
    out = tmp_path / name
    recipe = tmp_path / f"{name}.toml"
    recipe.write_text(RECIPE.format(out=out, items=items, delay=delay,
                                    cache=cache or tmp_path / f"{name}.sqlite"))
    return recipe, out


def cli(*args: object) -> list[str]:
    return [sys.executable, "-m", "instructgen", *map(str, args)]


def files(out: Path) -> dict[str, bytes]:
    return {n: (out / n).read_bytes() for n in FILES}


def gated(recipe: Path, started: Path, release: Path) -> list[str]:
    """The command of a run that pauses at its first batch until ``release`` exists."""
    return [sys.executable, str(HERE), str(recipe), str(started), str(release)]


def wait_for(path: Path, proc: Any, timeout: float = 60.0) -> None:
    """Wait until ``path`` exists (the gated run created it), failing if ``proc`` died."""
    if not wait_until(path.exists, proc, timeout, f"{path.name} never appeared"):
        raise AssertionError(f"the run ended ({proc.returncode}) before {path.name}")


def wait_until(event: Callable[[], object], proc: Any | None, timeout: float = 60.0,
               failure: str = "the event never happened", poll_s: float = 0.005) -> bool:
    """Poll ``event()`` until it is true: ``True``; ``False`` if ``proc`` ended first.

    ``proc`` is a :class:`subprocess.Popen`, or ``None`` for an event of this process
    (a worker entering a batch). Fails with ``failure`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while not event():
        if proc is not None and proc.poll() is not None:
            return bool(event())
        if time.monotonic() > deadline:
            raise AssertionError(f"{failure} (waited {timeout:.0f} s)")
        time.sleep(poll_s)
    return True


def committed_items(out: Path) -> int:
    """The items ``out/state.json`` says are committed (0 before the first checkpoint).

    The state is replaced atomically, so a reader sees the old or the new one, whole.
    """
    try:
        return int(json.loads((out / "state.json").read_text())["committed_items"])
    except FileNotFoundError:
        return 0


def run_status(out: Path) -> str | None:
    """The manifest's status, or ``None`` when the run directory has no manifest yet."""
    path = out / "manifest.json"
    return json.loads(path.read_text())["status"] if path.exists() else None


@dataclass(frozen=True)
class Strike:
    """One attempt of :func:`strike_at_checkpoints`: a run started, signalled, ended."""

    returncode: int
    stderr: str
    #: ``committed_items`` when the attempt started.
    start: int
    #: ``committed_items`` seen when the signal was sent; ``None``: the run ended first.
    struck_at: int | None


def strike_at_checkpoints(cmd: Sequence[object], out: Path, sig: int, *, seed: int,
                          steps: tuple[int, int] = (1, 30), attempts: int = 3,
                          group: bool = False, after: Callable[[Strike], None] | None = None,
                          finish: bool = True, timeout: float = 60.0) -> list[Strike]:
    """Run ``cmd`` (a run writing to ``out``) again and again, signalling it on a checkpoint.

    Each attempt starts ``cmd`` with a checkpoint after every item (the runner's test
    hook, ``instructgen.runner.COMMIT_EVERY_ENV`` = 0), waits until ``state.json``
    counts ``step`` more committed items than when the attempt began (``step`` drawn
    from ``steps`` by ``random.Random(seed)``, so the signal lands at a different item,
    and so between batches, between two lines of an item or inside a checkpoint, yet
    the same in every run of the test), then sends ``sig`` (to the whole process group
    with ``group``) and waits for the process to end. ``after`` sees each attempt while
    the run directory is as that attempt left it. The loop stops once the manifest says
    ``finished`` or after ``attempts``; with ``finish``, a run still unfinished then is
    run once more to the end, unsignalled. Returns every attempt, for the caller to
    assert on.
    """
    from instructgen.runner import COMMIT_EVERY_ENV

    rng = random.Random(seed)
    env = {**os.environ, COMMIT_EVERY_ENV: "0"}
    argv = [str(a) for a in cmd]
    strikes: list[Strike] = []
    for _ in range(attempts):
        start = committed_items(out)
        target = start + rng.randint(*steps)
        proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=group, preexec_fn=as_from_a_terminal)
        try:
            reached = wait_until(lambda target=target: committed_items(out) >= target, proc,
                                 timeout, f"the run never committed {target} items")
            struck_at = committed_items(out) if reached and proc.poll() is None else None
            if struck_at is not None:
                (os.killpg if group else os.kill)(proc.pid, sig)
            _, err = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        strikes.append(Strike(proc.returncode, err, start, struck_at))
        if after is not None:
            after(strikes[-1])
        if run_status(out) == "finished":
            return strikes
    if finish:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout * 4)
        assert done.returncode == 0, done.stderr
    return strikes


def as_unprivileged(fn: Callable[[], Any]) -> Any:
    """Call ``fn`` as a user that file permissions apply to, and return its result.

    Root ignores permission bits, so as root ``fn`` runs in a forked child that
    has become ``nobody`` (uid 65534); its result comes back through a pipe.
    """
    if os.geteuid() != 0:
        return fn()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges, run, report, never return into pytest
        code = 0
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                payload = ("ok", fn())
            except BaseException as exc:
                payload = ("error", f"{type(exc).__name__}: {exc}")
            with os.fdopen(write, "wb") as f:
                pickle.dump(payload, f)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and data, "the unprivileged child failed"
    kind, value = pickle.loads(data)
    if kind == "error":
        raise AssertionError(f"as nobody: {value}")
    return value


def shared_dir(tmp_path: Path, name: str) -> Path:
    """A folder that ``nobody`` can reach: tmp_path's parents are private to root."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix=f"instructgen-{name}-"))
    base.chmod(0o755)
    return base


def as_from_a_terminal() -> None:
    """``preexec_fn`` for a child the test signals: the dispositions of a typed command.

    A suite run under ``nohup`` ignores SIGHUP, one run as a background job ignores
    SIGINT, and children inherit ignored signals; the run would then rightly leave
    them alone and the test would wait forever. These tests stand for a run started
    in a terminal, so the child starts with every termination signal at its default.
    """
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def gated_cli(gate_at: int, started: Path, *args: object) -> list[str]:
    """``instructgen ARGS`` whose fake backend holds its ``gate_at``-th call for a signal."""
    return [sys.executable, str(HERE), "--cli", str(gate_at), str(started), *map(str, args)]


def _gated_cli_main(argv: Sequence[str]) -> int:
    from instructgen.backends.fake import FakeBackend
    from instructgen.cli import main

    gate_at, started, args = int(argv[0]), Path(argv[1]), list(argv[2:])
    original = FakeBackend.generate
    calls = []

    def generate(self, requests):
        calls.append(1)
        if len(calls) == gate_at:
            started.write_text(str(os.getpid()))
            while True:  # until a signal's handler raises out of this sleep
                time.sleep(0.05)
        return original(self, requests)

    FakeBackend.generate = generate  # type: ignore[method-assign]
    return main(args)


def _gated_main(argv: Sequence[str]) -> int:
    import instructgen
    from instructgen.backends import FakeBackend, FakeOptions
    from instructgen.errors import UserError

    recipe, started, release = (Path(a) for a in argv)

    class Gated(FakeBackend):
        def generate(self, requests):
            if not started.exists():
                started.write_text(str(os.getpid()))
                deadline = time.monotonic() + 120
                while not release.exists() and time.monotonic() < deadline:
                    time.sleep(0.01)
            return super().generate(requests)

    try:
        summary = instructgen.run(recipe, backend=Gated(FakeOptions()), autoload=False)
    except UserError as exc:
        print(f"instructgen: error: {exc}", file=sys.stderr)
        return 2
    print(f"{summary.items} items, {summary.accepted} accepted", file=sys.stderr)
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--cli":
        sys.exit(_gated_cli_main(sys.argv[2:]))
    sys.exit(_gated_main(sys.argv[1:]))
