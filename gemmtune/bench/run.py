"""Measuring one benchmark: each shape at each thread count, every contender interleaved.

Contenders, all at the same thread count (numba's for gemmtune, threadpoolctl's limit for
the BLAS):
- ``numpy``: ``np.matmul`` with ``out=``, i.e. the BLAS numpy links (named in the document);
- ``default``: the kernel family's ISA default configuration, what ``matmul`` runs before
  any tuning;
- ``tuned``: ``gemmtune.matmul`` as users call it, which runs the cached tuning for exactly
  this shape or, failing that, the nearest tuned shape's (marked "nearest"); absent when
  nothing is tuned for this dtype and thread count. ``tuned_kernel`` is the same kernel
  called directly, back to back: the kernel's own speed, without ``matmul``'s per-call cost.
They are timed in alternating rounds (``measure.interleaved``), so a change of load during
the run touches every contender alike. ``default`` and ``tuned`` are timed the way a user's
loop runs them: every call right after a numpy call (``measure.AfterCall``), because
OpenBLAS's threads keep spinning after a call and slow down a parallel kernel that follows;
so bench and such a loop agree. Each gemmtune kernel's result is checked once against the
float64 reference first: a fast wrong answer is not a figure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

DEFAULT_ROUNDS = 7
DEFAULT_SAMPLE_SECONDS = 0.1
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Workload:
    """One GEMM shape of a benchmark, with the name it is shown under."""

    name: str
    m: int
    n: int
    k: int

    @property
    def square(self) -> bool:
        return self.m == self.n == self.k


def workloads_from_sizes(sizes: Sequence[int]) -> list[Workload]:
    """Square problems N x N x N, named by N."""
    return [Workload(str(s), s, s, s) for s in sizes]


def memory_needed(w: Workload, dtype: str) -> int:
    """Bytes held at once: A, B, one C per contender, and the check's float64 copies."""
    from ..kernels.params import ITEMSIZE

    return (w.m * w.k + w.k * w.n + 3 * w.m * w.n) * ITEMSIZE[dtype] \
        + (w.m * w.k + w.k * w.n + 2 * w.m * w.n) * 8


def min_traffic_bytes(w: Workload, dtype: str) -> int:
    """Bytes a GEMM must move at least: read A and B, write C once."""
    from ..kernels.params import ITEMSIZE

    return (w.m * w.k + w.k * w.n + w.m * w.n) * ITEMSIZE[dtype]


def blas_libraries() -> list[dict[str, Any]]:
    """numpy's BLAS as threadpoolctl names it: vendor, version, architecture, threading.

    Other BLAS copies may be loaded in the process (numba loads scipy's for its own linear
    algebra); the ones shipped inside numpy's wheel (``numpy.libs``) or under numpy's
    directory come first, as they are the ones ``@`` calls.
    """
    import numpy
    from threadpoolctl import threadpool_info

    libs = [{"vendor": lib.get("internal_api"), "version": lib.get("version"),
             "architecture": lib.get("architecture"), "threading": lib.get("threading_layer"),
             "filepath": str(lib.get("filepath", ""))}
            for lib in threadpool_info() if lib.get("user_api") == "blas"]
    home = os.path.dirname(os.path.dirname(numpy.__file__))
    ours = [lib for lib in libs
            if lib["filepath"].startswith((os.path.join(home, "numpy.libs"),
                                           os.path.dirname(numpy.__file__)))]
    for lib in libs:
        lib["used_by_numpy"] = lib in ours
    return ours + [lib for lib in libs if lib not in ours]


def blas_label(libs: Sequence[dict[str, Any]]) -> str:
    """E.g. "OpenBLAS 0.3.31 (Haswell kernels)"; "unknown BLAS" when threadpoolctl sees none."""
    if not libs:
        return "unknown BLAS"
    lib = libs[0]
    vendor = {"openblas": "OpenBLAS", "mkl": "MKL", "blis": "BLIS"}.get(str(lib["vendor"]), str(lib["vendor"]))
    arch = f" ({lib['architecture']} kernels)" if lib.get("architecture") else ""
    return f"{vendor} {lib.get('version') or ''}".strip() + arch


class _Kernels:
    """Compiled kernels of this run, one per (family, params, dtype)."""

    def __init__(self, root: Any):
        self.root = root
        self.made: dict[Any, Any] = {}

    def get(self, family: Any, params: Any, problem: Any) -> Any:
        key = (family.name, params, problem.dtype)
        if key not in self.made:
            self.made[key] = family.compile(params, problem, self.root)
        return self.made[key]


def _figure(timing: Any, flops: float, peak_gflops: float | None) -> dict[str, Any]:
    from ..search.plausibility import above_ceiling, percent_of_peak

    doc = timing.summary(flops)
    doc["samples_seconds"] = list(timing.samples)
    # Above the peak is a fault of the measurement (or of a peak measured under load), not a
    # share of it: no percentage is given, and the fault is named.
    doc["percent_of_peak"] = percent_of_peak(doc["gflops"], peak_gflops)
    fault = above_ceiling(doc["gflops"], peak_gflops, "FMA peak")
    if fault:
        doc["fault"] = fault
    return doc


def compare(w: Workload, dtype: str, threads: int, root: Any, *, peak_gflops: float | None = None,
            bandwidth_gbs: float | None = None, rounds: int = DEFAULT_ROUNDS,
            sample_seconds: float = DEFAULT_SAMPLE_SECONDS, kernels: Any = None) -> dict[str, Any]:
    """Time numpy, the default and the tuned configuration on one shape and thread count.

    Args:
        w: the shape.
        dtype: "float32" or "float64".
        threads: threads for every contender.
        root: the gemmtune cache dir (tunings, compiled kernels).
        peak_gflops: the FMA peak at ``threads`` threads, for the percentages.
        bandwidth_gbs: the triad bandwidth, for the memory-bound ceiling of skinny shapes.
        rounds: interleaved rounds (samples per contender).
        sample_seconds: minimum length of one sample.
        kernels: a compiled-kernel memo shared across calls (made here when None).

    Returns:
        The result row: ``problem``, ``flops``, ``numpy``, ``default``, ``tuned`` (None when
        nothing is tuned), ``peak_gflops``, ``ceiling_gflops``, ``memory_bound``, ratios.
    """
    import numpy as np

    from ..api import resolve
    from ..errors import GemmtuneError
    from ..kernels.reference import check
    from ..measure import AfterCall, gemm_flops, interleaved, pinned_threads
    from ..peak import roofline
    from ..families import family_for
    from ..problem import Problem

    kernels = kernels or _Kernels(root)
    problem = Problem(w.m, w.n, w.k, dtype, threads)
    family = family_for(problem)
    default = family.default_params(problem)
    tuned, info = resolve(problem, root)
    has_tuned = info["source"] != "default"

    rng = np.random.default_rng(0)
    A = rng.standard_normal((w.m, w.k)).astype(dtype)
    B = rng.standard_normal((w.k, w.n)).astype(dtype)
    outs = [np.empty((w.m, w.n), dtype) for _ in range(3)]   # numpy, default, tuned
    outs.append(np.empty((w.m, w.n), dtype))
    numpy_call = lambda: np.matmul(A, B, out=outs[0])  # noqa: E731
    contenders: list[tuple[str, Callable[[], Any]]] = [("numpy", numpy_call)]
    verdicts: dict[str, Any] = {}
    for role, params in (("default", default), ("tuned", tuned if has_tuned else None)):
        if params is None:
            continue
        kernel = kernels.get(family, params, problem)
        C = outs[1 if role == "default" else 2]
        # The tuned configuration runs on the threads matmul gives it (fewer for a small
        # product with no tuning of its own).
        t = info.get("threads", threads) if role == "tuned" else threads
        if role == "default" or params != default:
            kernel(A, B, C, threads=t)
            verdict = check(C, A, B)
            if not verdict.ok:
                raise GemmtuneError(f"the {role} kernel {params.label()} gave a wrong result for "
                                    f"{problem.label()} ({verdict.reason}); no figure is reported.")
            verdicts[role] = verdict
        if role == "default":
            contenders.append(("default", AfterCall(numpy_call, lambda kernel=kernel, C=C:
                                                    kernel(A, B, C, threads=threads))))
            continue
        from ..api import matmul

        # What users call, in a user's loop; and the kernel alone unless it is the default
        # (the same kernel twice would only measure noise).
        contenders.append(("tuned", AfterCall(numpy_call, lambda Cu=outs[3]: matmul(
            A, B, out=Cu, threads=threads, cache_dir=root))))
        if params != default:
            contenders.append(("tuned_kernel", lambda kernel=kernel, C=C, t=t:
                               kernel(A, B, C, threads=t)))

    flops = gemm_flops(w.m, w.n, w.k)
    for attempt in range(2):
        with pinned_threads(threads):
            timings = interleaved([fn for _, fn in contenders], rounds, min_sample_seconds=sample_seconds)
        figs = {role: _figure(t, flops, peak_gflops) for (role, _), t in zip(contenders, timings)}
        # A figure above the peak is a fault of this measurement: measure once more; if it
        # stays, it is reported with its fault and no share of the peak.
        if not any("fault" in f for f in figs.values()):
            break
    for f in figs.values():
        if "fault" in f:
            f["remeasured"] = True

    def kernel_figure(role: str, params: Any) -> dict[str, Any]:
        fig = dict(figs.get(role) or figs["default"])
        verdict = verdicts.get(role, verdicts.get("default"))
        fig.update(params=params.to_dict(), label=params.label(),
                   check={"status": verdict.status, "residual": verdict.residual})
        return fig

    tuned_fig = None
    if has_tuned:
        tuned_fig = kernel_figure("tuned", tuned)
        tuned_fig.update(threads=info.get("threads", threads), threads_reason=info.get("threads_reason"),
                         source=info["source"], tuned_problem=info.get("problem"),
                         distance=info.get("distance"), same_as_default=tuned == default,
                         timed="gemmtune.matmul, each call after a numpy call")
        if "tuned_kernel" in figs:
            tuned_fig["kernel"] = figs["tuned_kernel"]
    ceiling = roofline(flops, min_traffic_bytes(w, dtype), peak_gflops, bandwidth_gbs) \
        if peak_gflops else None
    numpy_g = figs["numpy"]["gflops"]
    best = tuned_fig or kernel_figure("default", default)
    return {
        "name": w.name,
        "problem": problem.to_dict(),
        "flops": flops,
        "numpy": figs["numpy"],
        "default": kernel_figure("default", default),
        "tuned": tuned_fig,
        "peak_gflops": peak_gflops,
        "ceiling_gflops": ceiling,
        "memory_bound": bool(ceiling is not None and peak_gflops and ceiling < peak_gflops),
        "gemmtune_vs_numpy": best["gflops"] / numpy_g if numpy_g else None,
    }


def bench(workloads: Sequence[Workload], dtype: str, threads: Sequence[int], root: Any, *,
          rounds: int = DEFAULT_ROUNDS, sample_seconds: float = DEFAULT_SAMPLE_SECONDS,
          remeasure_peak: bool = False, with_bandwidth: bool = True,
          on_step: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the whole benchmark and return its document (what ``--json`` prints).

    Args:
        workloads: the shapes, in display order.
        dtype: "float32" or "float64".
        threads: the thread counts to compare at.
        root: the gemmtune cache dir.
        rounds, sample_seconds: the timing protocol's knobs (see :func:`compare`).
        remeasure_peak: measure the peak and bandwidth again instead of using ``peak.json``.
        with_bandwidth: measure the triad bandwidth for the memory-bound ceiling.
        on_step: told what is being measured next (for a progress line).
    """
    from datetime import datetime, timezone

    from .. import __version__
    from ..fingerprint import fingerprint
    from ..peak import bandwidth, peak

    say = on_step or (lambda text: None)
    load_before = _loadavg()
    fp = fingerprint()
    peaks, bands = {}, {}
    for t in threads:
        say(f"peak FMA throughput, {dtype}, {t} thread(s)")
        peaks[t] = peak(dtype, t, root, remeasure=remeasure_peak)
        if with_bandwidth:
            say(f"triad bandwidth, {t} thread(s)")
            bands[t] = bandwidth(t, root, remeasure=remeasure_peak)
    kernels = _Kernels(root)
    results = []
    for t in threads:
        for w in workloads:
            say(f"{w.m}x{w.n}x{w.k} {dtype} {t}t")
            results.append(compare(w, dtype, t, root, peak_gflops=peaks[t]["gflops"],
                                   bandwidth_gbs=bands[t]["gbs"] if t in bands else None,
                                   rounds=rounds, sample_seconds=sample_seconds, kernels=kernels))
    libs = blas_libraries()
    rec, ident = fp["recorded"], fp["identity"]
    return {
        "schema_version": SCHEMA_VERSION,
        "gemmtune_version": __version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "fingerprint": {"id": fp["id"], "cpu_name": ident.get("cpu_name"), "brand": rec.get("brand"),
                        "cores": ident.get("cores"), "isa": ident.get("isa")},
        "blas": libs,
        "blas_label": blas_label(libs),
        "numpy_version": rec.get("numpy"),
        "dtype": dtype,
        "threads": list(threads),
        "protocol": {"rounds": rounds, "min_sample_seconds": sample_seconds,
                     "interleaved": True, "statistic": "median", "spread": "IQR",
                     "unstable_iqr_ratio": _unstable_ratio()},
        "peak": {str(t): p for t, p in peaks.items()},
        "bandwidth": {str(t): b for t, b in bands.items()},
        "load_average": {"start": load_before, "end": _loadavg()},
        "results": results,
    }


def _unstable_ratio() -> float:
    from ..measure import UNSTABLE_IQR_RATIO

    return UNSTABLE_IQR_RATIO


def _loadavg() -> list[float] | None:
    """The 1, 5 and 15 minute load when the run ended: other work skews every figure."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None
