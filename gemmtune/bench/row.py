"""One result row of ``gemmtune bench``: the figures of a workload's contenders, its ceiling
and the ratios a reader compares (``bench.run`` builds GEMM and stack rows, ``bench.layer``
convolution rows)."""

from __future__ import annotations

from typing import Any

from .workload import Workload, min_traffic_bytes


def _row(w: Workload, problem: dict[str, Any], dtype: str, figs: dict[str, Any],
         default_fig: dict[str, Any] | None, tuned_fig: dict[str, Any] | None,
         peak_gflops: float | None, bandwidth_gbs: float | None) -> dict[str, Any]:
    from ..peak import roofline

    flops = w.flops()
    ceiling = roofline(flops, min_traffic_bytes(w, dtype), peak_gflops, bandwidth_gbs) \
        if peak_gflops else None
    best = tuned_fig or default_fig or {}
    row = {
        "name": w.name,
        "problem": problem,
        "flops": flops,
        "unit": _unit(dtype),
        "numpy": figs.get("numpy"),
        "default": default_fig,
        "tuned": tuned_fig,
        "peak_gflops": peak_gflops,
        "ceiling_gflops": ceiling,
        "memory_bound": bool(ceiling is not None and peak_gflops and ceiling < peak_gflops),
        "gemmtune_vs_numpy": _ratio(best, figs.get("numpy")),
    }
    if row["memory_bound"] and best.get("gflops"):
        # A memory-bound shape (GEMV, skinny) is judged against the bandwidth, not the FMA
        # peak: the share of the roofline ceiling and the bytes per second it implies.
        row["percent_of_ceiling"] = 100.0 * best["gflops"] / ceiling
        row["achieved_gbs"] = best["gflops"] * min_traffic_bytes(w, dtype) / flops
    if "numpy_int" in figs:     # integer problems up to numpy_int's size limit
        row["numpy_int"] = figs["numpy_int"]
        row["gemmtune_vs_numpy_int"] = _ratio(best, figs["numpy_int"])
    if "onnxruntime" in figs:   # absent, not zero, when onnxruntime did not run
        row["onnxruntime"] = figs["onnxruntime"]
        row["gemmtune_vs_onnxruntime"] = _ratio(best, figs["onnxruntime"])
    return row


def _unit(dtype: str) -> str:
    from ..dtypes import spec

    return spec(dtype).unit


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    if not a or not b or not a.get("gflops") or not b.get("gflops"):
        return None
    return a["gflops"] / b["gflops"]
