"""Publishing a finished run to the Hugging Face Hub: Parquet, dataset card and charts.

What goes up, in one commit to a dataset repository:

- ``data/train-00000-of-00001.parquet``: the accepted records as flat rows
  (the ``parquet`` sink's layout);
- ``README.md``: the dataset card of ``instructgen card``, its YAML header
  naming that Parquet file as the ``train`` split;
- ``report/``: ``report.md``, ``report.json`` and the PNG charts of
  ``instructgen report`` (charts need matplotlib).

The run directory itself is only read. The token comes from
``huggingface_hub`` itself (``HF_TOKEN``, or the login saved by
``hf auth login``); instructgen never stores, prints or logs it. ``HF_ENDPOINT``
chooses the server, read when the push starts.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import attrs

from .errors import UserError
from .rundir import iter_records

DATA_FILE = "data/train-00000-of-00001.parquet"
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_NETWORK_ERRORS = {"TransportError", "NetworkError", "ConnectError", "TimeoutException",
                   "ConnectionError", "ProxyError"}


class PushError(UserError):
    """The Hub refused the push or could not be reached; the run directory is untouched."""


@attrs.frozen
class PushResult:
    """Where a push went and what it uploaded."""

    repo_url: str
    commit_url: str
    files: tuple[str, ...]


def check_repo_id(repo_id: str, where: str = "REPO_ID") -> str:
    """``owner/name`` as the Hub spells it, or a :class:`UserError` naming ``where``."""
    if not _REPO_ID.match(repo_id) or ".." in repo_id or len(repo_id) > 96:
        raise UserError(f"{where}: {repo_id!r} is not a Hub repository id (owner/name)")
    return repo_id


def hub_module() -> Any:
    """``huggingface_hub``, or a one-line error saying which extra to install."""
    try:
        import huggingface_hub
    except ImportError:
        raise UserError("push: needs huggingface_hub and pyarrow: "
                        "pip install 'instructgen[hub]'") from None
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise UserError("push: needs pyarrow: pip install 'instructgen[hub]'") from None
    return huggingface_hub


def stage_run(run_dir: Path, stage: Path, *, charts: bool = True) -> list[str]:
    """Write what a push uploads into ``stage``; returns the paths, relative to it."""
    from instructgen.report import CARD_FILE, write_card, write_report
    from instructgen.tables import write_table

    (stage / DATA_FILE).parent.mkdir(parents=True)
    write_table(stage / DATA_FILE, lambda: iter_records(run_dir), "parquet")
    card = write_card(run_dir, stage / CARD_FILE)
    card.write_text(with_data_files(card.read_text(encoding="utf-8")), encoding="utf-8")
    write_report([run_dir], stage / "report", charts=charts)
    return sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())


def with_data_files(card: str) -> str:
    """Add a ``configs`` entry to the card's YAML header so the Hub finds the split."""
    if not card.startswith("---\n"):
        return card
    end = card.index("\n---\n", 4)
    configs = ("\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
               f"    path: {DATA_FILE}")
    return card[:end] + configs + card[end:]


def push_run(run_dir: str | Path, repo_id: str, *, private: bool = False,
             charts: bool = True, commit_message: str | None = None,
             endpoint: str | None = None) -> PushResult:
    """Upload a finished run to the dataset repository ``repo_id`` (created if needed).

    Raises :class:`PushError` with one line on a refused token, a missing
    permission or an unreachable server.
    """
    from instructgen.report import load_run

    hf = hub_module()
    run_dir = Path(run_dir)
    check_repo_id(repo_id)
    status = load_run(run_dir).manifest.get("status")
    if status != "finished":
        raise UserError(f"{run_dir}: the run is {status or 'not finished'}; rerun its recipe "
                        f"to finish it before pushing")
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    api = hf.HfApi(endpoint=endpoint)
    where = api.endpoint
    with tempfile.TemporaryDirectory(prefix="instructgen-push-") as tmp:
        stage = Path(tmp)
        files = stage_run(run_dir, stage, charts=charts)
        ops = [hf.CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(stage / f))
               for f in files]
        message = commit_message or f"instructgen: {run_dir.name}"
        try:
            repo_url = api.create_repo(repo_id, repo_type="dataset", private=private,
                                       exist_ok=True)
            info = api.create_commit(repo_id, ops, commit_message=message, repo_type="dataset")
        except Exception as exc:
            raise _push_error(exc, repo_id, where, hf) from None
    return PushResult(str(repo_url), str(info.commit_url), tuple(files))


def _push_error(exc: Exception, repo_id: str, where: str, hf: Any) -> Exception:
    http_error = getattr(getattr(hf, "errors", None), "HfHubHTTPError", None)
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if http_error is not None and isinstance(exc, http_error) and status is not None:
        if status == 401:
            how = ("the token was refused" if hf.get_token() else
                   "no token: set HF_TOKEN or run 'hf auth login'")
            return PushError(f"push: {where} answered 401 Unauthorized for {repo_id} ({how}; "
                             f"a write token is needed)")
        if status == 403:
            return PushError(f"push: {where} answered 403 Forbidden: the token may not write "
                             f"to {repo_id}")
        return PushError(f"push: {where} answered {status} for {repo_id}: "
                         f"{_first_line(str(exc))}")
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & _NETWORK_ERRORS or (isinstance(exc, OSError) and status is None):
        return PushError(f"push: cannot reach {where} ({type(exc).__name__}: "
                         f"{_first_line(str(exc))}); check the network or HF_ENDPOINT")
    return exc


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else "no detail"
