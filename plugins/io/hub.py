"""The ``hub`` sink: publish the finished run to the Hugging Face Hub.

The push is the sink's :meth:`~instructgen.plugin.Sink.publish` step, which the
runner calls once the manifest is final, so the card shows the finished run.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from instructgen.plugin import Sink


@attrs.frozen
class HubSinkOptions:
    """Options of the ``hub`` sink."""

    #: Dataset repository on the Hugging Face Hub, ``owner/name`` (created if needed).
    repo_id: str
    #: Create the repository as private.
    private: bool = False
    #: Draw and upload the report's charts (needs matplotlib).
    charts: bool = True


class HubSink(Sink):
    """Publishes the finished run like ``instructgen push`` (needs ``instructgen[hub]``).

    The push happens once the manifest is final (:meth:`publish`), so the card
    shows the finished run. If the push fails, the run directory is complete;
    ``instructgen push`` retries.
    """

    def __init__(self, options: HubSinkOptions) -> None:
        from instructgen.hub import check_repo_id, hub_module

        check_repo_id(options.repo_id, "sink.repo_id")
        hub_module()
        self.options = options

    def publish(self, run_dir: Path) -> str:
        """Push the finished run; a refusal names the command that retries it."""
        from instructgen.hub import PushError, push_run

        opts = self.options
        try:
            result = push_run(run_dir, opts.repo_id, private=opts.private, charts=opts.charts)
        except PushError as exc:
            raise PushError(f"{exc} (the run is complete; retry with: instructgen push "
                            f"{run_dir} {opts.repo_id})") from None
        return f"pushed to {result.repo_url}"
