"""The line protocol between ``python -m grader grade`` and its long-lived worker processes.

A worker pays its start-up cost once (imports, the trusted baseline), says ``{"ready": true}``,
then answers one JSON job per line on stdin with one JSON result per line on stdout, in order
(the parent sends a worker one job at a time). Anything else the worker or its children print
goes to stderr, so it can never corrupt the protocol channel.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable


def serve(
    prepare: Callable[[], object],
    handle: Callable[[object, dict], dict],
    failure: Callable[[Exception], dict],
) -> None:
    """Run a worker: ``state = prepare()``, then ``handle(state, job)`` for every job.

    An exception in ``handle`` becomes ``failure(error)`` for that job; the worker goes on.
    """
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to stderr
    state = prepare()
    protocol.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        try:
            result = handle(state, job)
        except Exception as error:
            result = failure(error)
        protocol.write(json.dumps(result) + "\n")
