"""A class graded in N slices (``--shard K/N``, a Slurm task each): which students slice K
takes. The slice is a stable hash of the student id, so every machine agrees."""

from __future__ import annotations

import hashlib


def in_shard(student: str, shard: tuple[int, int]) -> bool:
    """Whether ``student`` is in slice K of N (a stable hash: every machine agrees)."""
    k, n = shard
    return int(hashlib.sha256(student.encode()).hexdigest(), 16) % n == k - 1


def parse_shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected K/N, e.g. 1/4") from None
    if not 1 <= k <= n:
        raise ValueError(f"--shard {text!r}: K must be between 1 and N")
    return k, n
