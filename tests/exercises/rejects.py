"""One way for the checks' tests to say "this wrong implementation is rejected, with this
message", on each of an assignment's seeds (the visible one and hidden ones)."""

from __future__ import annotations

import pytest


def rejecting(seeds):
    """``fails(check, func, match, seeds=seeds, error=AssertionError)``: ``check(func, seed=s)``
    raises ``error`` with a message matching ``match`` for every seed ``s``."""

    def fails(check, func, match, seeds=seeds, error=AssertionError):
        for seed in seeds:
            with pytest.raises(error, match=match):
                check(func, seed=seed)

    return fails
