"""The ``hub`` sink: publish the finished run to the Hugging Face Hub.

The push itself runs from the ``instructgen_run_end`` hook in this package's
``__init__``, once the manifest is final.
"""

from __future__ import annotations

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

    The push happens once the manifest is final (at the run's end, see
    :func:`instructgen_run_end`), so the card shows the finished run. If the
    push fails, the run directory is complete; ``instructgen push`` retries.
    """

    def __init__(self, options: HubSinkOptions) -> None:
        from instructgen.hub import check_repo_id, hub_module

        check_repo_id(options.repo_id, "sink.repo_id")
        hub_module()
        self.options = options
