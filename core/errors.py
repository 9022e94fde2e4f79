"""Exceptions that carry a one-line, user-facing message.

Anything derived from :class:`UserError` is the user's to fix (a bad recipe, a
missing file, an unknown plugin). The CLI prints its message on one line and
exits with the error's ``exit_code`` (2 unless a subclass says otherwise),
without a traceback.
"""

from __future__ import annotations

import difflib
import errno
import signal
from collections.abc import Iterable


class UserError(Exception):
    """An error in what the user gave us; the CLI exits with code 2."""

    exit_code = 2


class RecipeError(UserError):
    """A recipe that cannot be read or does not validate."""


class PluginError(UserError):
    """A plugin problem the user can fix: an unknown or duplicate name."""


class UnknownPluginError(PluginError):
    """A name that no installed plugin of that kind provides."""

    def __init__(self, kind: str, name: str, known: Iterable[str], where: str = "") -> None:
        known = sorted(known)
        prefix = f"{where}: " if where else ""
        msg = f"{prefix}unknown {kind} {name!r}{did_you_mean(name, known)}"
        msg += f" (valid: {', '.join(known) if known else 'none installed'})"
        super().__init__(msg)
        self.kind, self.name, self.known = kind, name, known


class DuplicatePluginError(PluginError):
    """Two plugins registered the same name for the same kind."""


class ModelNotFoundError(RecipeError):
    """A model name or path that does not resolve to a file on this machine.

    A recipe error: ``resolve()`` looks the recipe's model up at plan time."""


class SchemaError(UserError):
    """A JSON schema that the constrained decoders cannot use."""


class ContextOverflowError(UserError):
    """A prompt that does not fit the backend's context window."""


class Reject(Exception):
    """Raised by a plugin to reject one item or record, with a reason.

    ``reason`` is a short machine-friendly label (``invalid_output``,
    ``too_long``); ``detail`` says more; ``raw`` keeps the model text.
    """

    def __init__(
        self, reason: str, detail: str = "", *, stage: str = "", raw: str | None = None
    ) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail, self.stage, self.raw = reason, detail, stage, raw


class InvalidOutput(Exception):
    """Raised by a validator: the model answer is unusable; the runner retries."""


class RunAborted(UserError):
    """The run stopped itself, for example because too many items failed; exit code 3."""

    exit_code = 3


class BackendCrashed(UserError):
    """A backend worker process died (SIGILL, SIGSEGV, the OOM killer); exit code 4.

    Raised only where the backend runs in worker processes (``backend.isolate``,
    replicas), so the run survives to say which signal it was and what to try.
    Finished records are kept; rerunning the same command resumes.
    """

    exit_code = 4

    def __init__(self, message: str, *, backend: str = "", signum: int | None = None) -> None:
        super().__init__(message)
        self.backend, self.signum = backend, signum


class RunDirLocked(UserError):
    """Another live run holds the output directory's lock."""


class OutputWriteError(UserError):
    """A run file could not be written (a full disk, an I/O error); exit code 5.

    Everything committed before the failure is kept, and the state describes only
    whole lines, so rerunning the same command once the disk is fixed resumes.
    """

    exit_code = 5

    def __init__(self, path: object, error: OSError, *, committed: int = 0) -> None:
        reason = error.strerror or type(error).__name__
        fix = ("free some space" if error.errno in (errno.ENOSPC, errno.EDQUOT)
               else "check the disk")
        super().__init__(f"{path}: cannot write ({reason}); the first {committed} items are "
                         f"saved; {fix}, then rerun the same command to resume")
        self.path, self.error, self.committed = path, error, committed


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C: finished work is saved, exit 128 + signal."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signame = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(self.signame)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """Return "; did you mean 'x'?" for the closest known name, or ''."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
