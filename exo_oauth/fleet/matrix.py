"""Split a list of stacks into the entries of a GitHub Actions matrix: shards across runs, batches within a job.

GitHub runs at most 256 jobs per matrix. A shard (`N/M`) is one of M contiguous, near-equal slices of the sorted
stacks, for runs that must stay one stack per job; a batch is several stacks run one after another in one job,
so that a fleet fits one matrix and pays a job's setup once per batch instead of once per stack.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..util.errors import UsageError

MAX_JOBS = 256
"""GitHub's limit of jobs per matrix."""
_SHARD = re.compile(r"([1-9][0-9]*)/([1-9][0-9]*)")


@dataclass(frozen=True)
class Shard:
    """Shard `index` (1-based) of `count`."""

    index: int
    count: int


def parse_shard(text: str) -> Shard:
    """Parse `N/M` with 1 <= N <= M; raise UsageError otherwise."""
    match = _SHARD.fullmatch(text.strip())
    if not match or int(match.group(1)) > int(match.group(2)):
        raise UsageError(f"--shard {text!r}: allowed: N/M with 1 <= N <= M, such as 1/4")
    return Shard(int(match.group(1)), int(match.group(2)))


def shard_of(stacks: Sequence[str], shard: Shard) -> list[str]:
    """Return the shard's slice: the stacks are cut into `count` contiguous slices whose sizes differ by one at most."""
    size, extra = divmod(len(stacks), shard.count)
    start = (shard.index - 1) * size + min(shard.index - 1, extra)
    return list(stacks[start:start + size + (1 if shard.index <= extra else 0)])


def parse_batch_size(text: str) -> int | None:
    """Parse `--batch-size`: a positive number, or `auto` (None) for the smallest size that fits one matrix."""
    if text.strip() == "auto":
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise UsageError(f"--batch-size {text!r}: allowed: a whole number from 1 up, or auto")
    return int(text)


def matrix_entries(stacks: Sequence[str], batch_size: int | None, max_jobs: int = MAX_JOBS) -> list[str]:
    """Return one entry per job: the stack names of a batch, separated by spaces (a stack name has none).

    `batch_size` None picks the smallest size that keeps the jobs within `max_jobs`. The stacks are spread evenly
    over the jobs that size needs. Raise UsageError when the jobs would exceed `max_jobs`.
    """
    if not stacks:
        return []
    size = batch_size or math.ceil(len(stacks) / max_jobs)
    jobs = math.ceil(len(stacks) / size)
    if jobs > max_jobs:
        shards = math.ceil(len(stacks) / (max_jobs * (batch_size or 1)))
        raise UsageError(f"{len(stacks)} stacks in batches of {batch_size} make {jobs} jobs, more than the "
                         f"{max_jobs} a GitHub matrix allows; allowed: --batch-size auto, a larger --batch-size, or "
                         f"--shard 1/{shards} to {shards}/{shards} (one run each)")
    return [" ".join(shard_of(stacks, Shard(i, jobs))) for i in range(1, jobs + 1)]
