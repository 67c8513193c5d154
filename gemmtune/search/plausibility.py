"""Is a candidate's figure a result, or a fault of the measurement?

Two faults were seen on a shared machine, and both crowned the wrong kernel:

- **the reference moved**: a candidate's figure is its per-round speed relative to numpy's,
  put on the study's numpy scale (``worker.evaluate``). When numpy's own run beside the
  candidate collapses (11 GFLOP/s against the study's 76.6, another process held the cores
  in numpy's turns), the ratio, scaled, gave a 2-thread figure of 423 GFLOP/s for a kernel
  that re-measured at 184;
- **above the ceiling**: no kernel is faster than the machine's FMA peak (for a memory-bound
  shape, the bandwidth times its arithmetic intensity): such a figure is a fault whatever
  caused it.

A faulty figure is measured again (``MAX_REMEASURES`` times); one that stays faulty is not a
result: the candidate fails with the reason, so it is kept out of the best and nothing is
pruned against it.
"""

from __future__ import annotations

from typing import Any

MAX_REMEASURES = 2       # extra measurements of a candidate whose figure looks faulty
REFERENCE_TOLERANCE = 0.25   # numpy beside the candidate within 25% of the study's reference
SPREAD_WIDTH = 2.0       # ... or within twice its own IQR in the candidate's rounds, if wider
CEILING_MARGIN = 1.05    # timer and clock noise: 5% above the measured ceiling is still a result


def reference_moved(numpy_gflops: float | None, numpy_iqr: float | None,
                    reference: float | None) -> str | None:
    """Why numpy's figure beside a candidate says its rounds were disturbed, or None.

    Args:
        numpy_gflops: numpy's median in the candidate's rounds.
        numpy_iqr: the IQR of numpy's per-round figures there.
        reference: the study's numpy figure, the scale candidates are put on.
    """
    if not numpy_gflops or not reference:
        return None
    allowed = max(REFERENCE_TOLERANCE * reference, SPREAD_WIDTH * float(numpy_iqr or 0.0))
    # A spread wider than the reference itself says nothing is steady: always a fault.
    if numpy_iqr and numpy_iqr > reference:
        return (f"numpy's figure beside it scattered by {numpy_iqr:.1f} GFLOP/s (IQR), more than "
                f"the study's reference {reference:.1f}")
    if abs(numpy_gflops - reference) > allowed:
        return (f"numpy ran at {numpy_gflops:.1f} GFLOP/s beside it, against the study's "
                f"reference {reference:.1f}")
    return None


def above_ceiling(gflops: float | None, ceiling: float | None, what: str = "ceiling") -> str | None:
    """Why ``gflops`` cannot be a result (above ``ceiling`` with the margin), or None."""
    if gflops is None or not ceiling:
        return None
    if gflops > CEILING_MARGIN * ceiling:
        return f"{gflops:.1f} GFLOP/s is above the machine's measured {what} ({ceiling:.1f})"
    return None


def fault(outcome: Any, reference: float | None, ceiling: float | None,
          what: str = "FMA peak") -> str | None:
    """The measurement fault in an ``ok`` outcome (``messages.Outcome``), or None."""
    if outcome.status != "ok":
        return None
    return above_ceiling(outcome.gflops, ceiling, what) \
        or reference_moved(outcome.numpy_gflops, outcome.numpy_iqr, reference)


def percent_of_peak(gflops: float | None, peak: float | None) -> float | None:
    """``gflops`` as a percentage of ``peak``; None when there is no peak or the figure is
    above it (with the margin): a share above 100% is a measurement fault, never a fact."""
    if gflops is None or not peak or above_ceiling(gflops, peak):
        return None
    return min(100.0, 100.0 * gflops / peak)


def ceiling_of(problem: Any, peak_fig: dict[str, Any] | None,
               triad: dict[str, Any] | None = None) -> tuple[float | None, str]:
    """The attainable GFLOP/s for ``problem`` and what bounds it ("FMA peak" or "bandwidth
    ceiling"), from :mod:`gemmtune.peak` figures; (None, "") without a peak.

    The bandwidth bounds a product only when its operands cannot stay in a cache between
    calls: at least the triad's own working set (``peak.TRIAD_BYTES``, out of every cache
    here by construction). A smaller skinny product timed in a loop runs from the caches and
    may beat the memory bandwidth honestly.
    """
    from ..peak import TRIAD_BYTES, roofline

    if not peak_fig or not peak_fig.get("gflops"):
        return None, ""
    top = float(peak_fig["gflops"])
    nbytes = (problem.m * problem.k + problem.k * problem.n + problem.m * problem.n) \
        * problem.batch * _itemsize(problem.dtype)
    gbs = (triad or {}).get("gbs") if nbytes >= TRIAD_BYTES else None
    bound = roofline(float(problem.flops), nbytes, top, gbs)
    return bound, ("FMA peak" if bound >= top else "bandwidth ceiling")


def _itemsize(dtype: str) -> int:
    from ..dtypes import spec

    return spec(dtype).itemsize


QUIET_SPREAD = 0.05   # numpy's own figure within ±5% across the search: a quiet machine
NOISY_SPREAD = 0.15   # beyond ±15%: other work moved every figure
BUSY_MEANING = ("other work held the cores, so figures are low and the ranking is rough; "
                "search again on a quiet machine")


def _busy(share: float | None) -> bool:
    from ..measure import BUSY_CPU_SHARE

    return share is not None and share < BUSY_CPU_SHARE


def noise_summary(numpy_figures: list[float], run_shares: list[float] | None = None,
                  finish_run_share: float | None = None) -> dict[str, Any] | None:
    """How noisy the machine was across a search, from numpy's figure beside each candidate
    and from whether the worker got its cores (``contention.run_share``) while it timed.

    The spread alone cannot see a machine that stays busy: with a core taken for the whole
    search numpy's 2-thread figure collapsed steadily (15.3 GFLOP/s, all alike), which reads
    as quiet. So the verdict is "busy" whenever other work left the worker's threads less
    than ``measure.BUSY_CPU_SHARE`` of the time they were ready to run, in the median
    measurement or in the finish (whose figures are the ones reported), however steady
    numpy was.

    Returns:
        ``{"numpy_gflops" (median), "numpy_iqr", "spread" (half the IQR over the median),
        "measurements", "verdict" ("quiet", "some noise", "noisy", "busy"), "meaning",
        "run_share" (the median measurement's, or None where unknown),
        "run_share_measurements", "busy_measurements", "finish_run_share"}``, or None with
        fewer than three numpy figures (with none, on a busy machine).
    """
    import statistics

    from ..measure import iqr

    figs = [float(f) for f in numpy_figures if f]
    shares = [float(s) for s in (run_shares or []) if s is not None]
    share = statistics.median(shares) if shares else None
    busy = _busy(share) or _busy(finish_run_share)
    if len(figs) < 3 and not (busy and figs):
        return None
    med = statistics.median(figs)
    spread = iqr(figs) / 2 / med if med > 0 else 0.0
    if busy:
        verdict, meaning = "busy", BUSY_MEANING
    elif spread <= QUIET_SPREAD:
        verdict = "quiet"
        meaning = "differences between candidates above a few percent are real"
    elif spread <= NOISY_SPREAD:
        verdict = "some noise"
        meaning = (f"differences below about {100 * spread:.0f}% between candidates may be noise; "
                   "the finalists were re-measured side by side")
    else:
        verdict = "noisy"
        meaning = (f"other work moved figures by about {100 * spread:.0f}%: the ranking is rough; "
                   "search again on a quiet machine for a result to rely on")
    return {"numpy_gflops": med, "numpy_iqr": iqr(figs), "spread": spread,
            "measurements": len(figs), "verdict": verdict, "meaning": meaning,
            "run_share": share, "run_share_measurements": len(shares),
            "busy_measurements": sum(_busy(s) for s in shares),
            "finish_run_share": finish_run_share}


def noise_line(noise: dict[str, Any] | None) -> str | None:
    """The one line a search ends with about the machine's noise (None without a summary)."""
    if not noise:
        return None
    spread = (f"numpy's own figure moved by ±{100 * noise['spread']:.0f}% across the search "
              f"(median {noise['numpy_gflops']:.1f} GFLOP/s, {noise['measurements']} measurements)")
    if noise["verdict"] != "busy":
        return f"machine noise: {noise['verdict']}, {spread}: {noise['meaning']}."
    from ..measure import BUSY_CPU_SHARE

    share, finish = noise.get("run_share"), noise.get("finish_run_share")
    if _busy(share):
        held = (f"got {100 * share:.0f}% of the time they were ready to run (the median of "
                f"{noise['run_share_measurements']} measurements; {noise['busy_measurements']} "
                f"below {100 * BUSY_CPU_SHARE:.0f}%)")
    else:
        held = (f"got {100 * finish:.0f}% of the time they were ready to run in the finish "
                "that picked the winner")
    return f"machine noise: busy, the search's threads {held} and {spread}: {noise['meaning']}."


def numpy_unreliable(run_share: float | None) -> str | None:
    """Why the finish's numpy figure is not numpy's own speed, or None.

    With other work on one of two cores, OpenBLAS's 2-thread product waits for its slower
    thread at every step and collapses (15.3 GFLOP/s), far more than a kernel whose threads
    each take a band of C: a ratio to that figure (370% "of numpy") measures the load, not
    the kernel.
    """
    if not _busy(run_share):
        return None
    return (f"numpy was measured on a busy machine (the finish's threads got {100 * run_share:.0f}% "
            "of the time they were ready to run)")
