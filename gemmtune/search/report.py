"""What a finished search tells: the ``search --json`` document (``gemmtune/cli/search_view.py``
draws it for people)."""

from __future__ import annotations

from typing import Any

from ..problem import Problem
from .runner import RunStats


def build_document(problem: Problem, best: dict[str, Any] | None, stats: RunStats,
                   counts: dict[str, int], *, study: str, storage: str, sampler: str,
                   sampler_seed: int | None, fingerprint_id: str, cached: bool,
                   family: str = "") -> dict[str, Any]:
    """The ``search --json`` document (the documented contract's fields first).

    ``percent_of_numpy`` is null when numpy's figure was measured on a busy machine: the
    ratio is then kept apart (``percent_of_numpy_measured``) with the reason
    (``percent_of_numpy_unreliable``), so that nothing reading the key takes it for the
    kernel's speed relative to numpy.
    """
    from .plausibility import numpy_unreliable

    numpy = best.get("numpy_gflops") if best else None
    share = best.get("numpy_run_share") if best else None
    measured = (100.0 * best["gflops"] / numpy) if best and numpy else None
    unreliable = numpy_unreliable(share) if measured is not None else None
    wall = stats.wall_seconds
    doc: dict[str, Any] = {
        "best": None if best is None else {
            "params": best["params"], "gflops": best["gflops"], "label": best["label"],
            "gflops_iqr": best.get("gflops_iqr"), "samples": best.get("samples"),
            "unstable": best.get("unstable"), "trial": best["trial"],
            "search_gflops": best["search_gflops"], "remeasured": best["remeasured"],
            "alone_gflops": best.get("alone_gflops"), "after_gflops": best.get("after_gflops")},
        "numpy_gflops": numpy,
        "percent_of_numpy": None if unreliable else measured,
        "percent_of_numpy_measured": measured,
        "percent_of_numpy_unreliable": unreliable,
        "numpy_run_share": share,
        "trials": counts["evaluated"],
        "problem": problem.to_dict(),
        "run": {"trials": stats.evaluated, "failed": stats.failed, "pruned": stats.pruned,
                "rejected": stats.rejected, "duplicates": stats.duplicates, "wall_seconds": wall,
                "compile_seconds": stats.compile_seconds,
                "compile_share": stats.compile_seconds / wall if wall > 0 else 0.0,
                "interrupted": stats.interrupted, "remeasured": stats.remeasured,
                "measurement_faults": stats.faults, "stopped_by_time": stats.stopped_by_time},
        "study": {"name": study, "storage": storage, **counts},
        "sampler": sampler,
        "sampler_seed": sampler_seed,
        "family": family,
        "fingerprint": {"id": fingerprint_id},
        "cached": cached,
        "finalists": best["finalists"] if best else [],
    }
    return doc
