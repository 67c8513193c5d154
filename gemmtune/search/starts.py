"""Starting points: the candidates a search measures before its sampler proposes anything.

In order, each snapped into the search space, without duplicates:

1. transfer: the verified winners already cached here for the nearest problems of the same
   kind (operation, dtype, threads), nearest first (``gemmtune.problem.rank_nearest``);
2. the kernel family's own points (for the float GEMM family: the BLIS analytical model,
   the ISA default configuration of ``configs/defaults/``, skinny variants).
"""

from __future__ import annotations

from typing import Any

from ..families import KernelFamily, StartingPoint
from ..problem import Problem, rank_nearest

TRANSFER_LIMIT = 2


def transfer_points(family: KernelFamily, cache: Any, fingerprint_id: str, problem: Problem,
                    limit: int = TRANSFER_LIMIT) -> list[tuple[Any, str]]:
    """The cached winners of the ``limit`` problems nearest ``problem``, with their sources."""
    try:
        entries = [e for e in cache.entries(fingerprint_id, problem.dtype, problem.threads)
                   if e.verified and e.family == family.name]
    except Exception:  # an unreadable cache only means no transfer points
        return []
    out = []
    for e in rank_nearest(entries, problem, lambda e: e.problem, lambda e: e.gflops)[:limit]:
        try:
            params = family.parse_params(e.params)
        except ValueError:
            continue
        out.append((params, f"transfer:{e.problem.m}x{e.problem.n}x{e.problem.k}"))
    return out


def starting_points(family: KernelFamily, space: Any, problem: Problem, *,
                    fp: dict[str, Any] | None = None, cache: Any = None,
                    fingerprint_id: str | None = None) -> list[StartingPoint]:
    """Every starting point for ``problem`` (see the module docstring)."""
    tuned: list[tuple[Any, str]] = []
    if cache is not None and fingerprint_id is not None:
        tuned = transfer_points(family, cache, fingerprint_id, problem)
    return family.starting_points(space, problem, fp=fp, tuned=tuned)
