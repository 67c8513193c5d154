"""Measuring one benchmark: each shape at each thread count, every contender interleaved.

A workload is a GEMM (``-m -n -k``, a size, a suite entry), a stack of ``batch`` GEMMs
(``--batch``, suite entries with "batch") or a convolution layer (``--conv``, suite entries
with "conv"). Contenders, all at the same thread count (numba's for gemmtune, threadpoolctl's
limit for the BLAS, ``intra_op_num_threads`` for onnxruntime):
- ``numpy``: ``np.matmul`` with ``out=`` (stacked for a stack), i.e. the BLAS numpy links
  (named in the document); for a layer, numpy's idiom (``sliding_window_view`` +
  ``tensordot``, ``bench.peers.numpy_conv``);
- ``onnxruntime``: a one-node MatMul or Conv session (``bench.peers``), when the ``peers``
  extra is installed and has a kernel for the dtype; otherwise the column is absent and a
  note says why, once;
- ``default``: the kernel family's default configuration as ``matmul`` runs it before any
  tuning, on the threads it gives the product (for a stack, ``stacks.stack_params``; for a layer, ``conv2d`` when none of its
  GEMMs is tuned);
- ``tuned``: ``gemmtune.matmul`` as users call it, which runs the cached tuning for exactly
  this shape or, failing that, the nearest tuned shape's (marked "nearest"; a stack takes
  its own tuning or its product's, "product"); ``gemmtune.conv2d`` for a layer some of whose
  GEMMs are tuned. Absent when nothing applies. ``tuned_kernel`` is the 2-D tuned kernel
  called directly, back to back: the kernel's own speed, without ``matmul``'s per-call cost.
They are timed in alternating rounds (``measure.interleaved``), so a change of load during
the run touches every contender alike. ``default`` and ``tuned`` are timed the way a user's
loop runs them: every call right after a numpy call (``measure.AfterCall``), because
OpenBLAS's threads keep spinning after a call and slow down a parallel kernel that follows;
so bench and such a loop agree. Every contender's result is checked once against the
float64 reference first (its output poisoned with NaN before): a fast wrong answer is not
a figure.

An integer pair (``u8s8``, ``s8s8``, ``u8u8``, ``s8u8``: 8-bit A and B, int32 C) is timed on
GEMMs and stacks (not layers), in GOP/s (2*M*N*K / s, under the same ``gflops`` keys, with
``"unit"``), with the integer families (``numba-int8``, ``amx-int8`` where tiles run) as
default and tuned (a stack product by product with its product's configuration, as
``stacks.matmul_nd`` runs it), and
the peers of ``bench.integer``: ``numpy`` is float32 BLAS on cast inputs, ``numpy_int`` the
int32 loop (small sizes only), ``onnxruntime`` MatMulInteger. Every result is compared for
exact equality with an int64 reference (its output poisoned with a sentinel), except numpy's
float32 one past the K where float32 stops being exact: that one is marked inexact. There
is no measured integer peak, so such rows have no share of a peak.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from .contenders import Peers, _checked, _Contender, _Kernels, _timed, _verified
from .machine import _blas_thread_timeout, _loadavg, _omp_spin, blas_label, blas_libraries
from .row import _row
from .workload import Workload, memory_needed, workloads_from_sizes

# Where callers have always found them.
__all__ = ["Peers", "Workload", "bench", "compare", "memory_needed", "workloads_from_sizes"]

DEFAULT_ROUNDS = 7
DEFAULT_SAMPLE_SECONDS = 0.1
SCHEMA_VERSION = 1


def compare(w: Workload, dtype: str, threads: int, root: Any, *, peak_gflops: float | None = None,
            bandwidth_gbs: float | None = None, rounds: int = DEFAULT_ROUNDS,
            sample_seconds: float = DEFAULT_SAMPLE_SECONDS, kernels: Any = None,
            peers: Peers | None = None) -> dict[str, Any]:
    """Time every contender on one workload and thread count.

    Args:
        w: the shape (a GEMM, a stack or a layer; a GEMM only for an integer pair).
        dtype: "float32", "float64", or an 8-bit pair ("u8s8", "s8s8", "u8u8", "s8u8").
        threads: threads for every contender.
        root: the gemmtune cache dir (tunings, compiled kernels).
        peak_gflops: the FMA peak at ``threads`` threads, for the percentages (None for an
            integer pair: there is no measured integer peak to compare with).
        bandwidth_gbs: the triad bandwidth, for the memory-bound ceiling of skinny shapes.
        rounds: interleaved rounds (samples per contender).
        sample_seconds: minimum length of one sample.
        kernels: a compiled-kernel memo shared across calls (made here when None).
        peers: the run's optional peers (made here when None).

    Returns:
        The result row: ``problem``, ``flops``, ``unit`` ("GFLOP/s", or "GOP/s" for an
        integer pair, whose figures are still under the keys ``gflops``...), ``numpy``,
        ``default``, ``tuned`` (None when nothing is tuned), ``onnxruntime`` (only when it
        ran), ``peak_gflops``, ``ceiling_gflops``, ``memory_bound``, ratios. An integer row
        also has ``numpy_int`` (up to ``bench.integer.NUMPY_INT_MAX``^3), ``f32_exact`` and
        ``f32_exact_max_k``; its ``numpy`` is float32 BLAS on cast inputs, with
        ``"inexact": true`` and no check when K is past ``f32_exact_max_k``.

    Raises:
        ValueError: a layer of an integer pair (gemmtune.conv2d is float only).
    """
    from ..dtypes import spec

    integer = spec(dtype).kind == "int"
    if integer and w.conv is not None:
        raise ValueError(f"{w.label()}: {dtype} is benchmarked on GEMMs and stacks only; "
                         "gemmtune has no integer convolution.")
    peers = peers or Peers()
    args = (w, dtype, threads, root, peak_gflops, bandwidth_gbs, rounds, sample_seconds, peers)
    if w.conv is not None:
        from .layer import conv_row  # a layer: conv2d against numpy's idiom and Conv

        return conv_row(*args)
    if w.batch > 1 and not integer:   # an integer stack is a loop of 2-D products, as in matmul
        return _stack_row(*args)
    return _gemm_row(*args, kernels or _Kernels(root))


def _gemm_row(w, dtype, threads, root, peak_gflops, bandwidth_gbs, rounds, sample_seconds,
              peers, kernels) -> dict[str, Any]:
    import numpy as np

    from ..api import matmul, resolve, untuned_threads
    from ..dtypes import spec
    from ..families import family_for
    from ..measure import AfterCall
    from ..problem import Problem

    # An integer stack runs its products one by one through the 2-D choice (stacks.matmul_nd),
    # on the threads matmul_nd gives a stack of that size: the 2-D problem is what is looked up.
    stack = w.batch > 1
    problem = Problem(w.m, w.n, w.k, dtype, _stack_threads(w, threads) if stack else threads)
    family = family_for(problem)
    # What matmul runs with no tuning: the default on the threads it gives the product, as
    # the family runs it there (one thread: a parallel configuration's serial twin).
    default = family.params_for_threads(family.default_params(problem), problem,
                                        untuned_threads(problem))
    tuned, info = resolve(problem, root)
    has_tuned = info["source"] != "default"

    integer = spec(dtype).kind == "int"
    A, B, verify, numpies, ort = (_integer_peers if integer else _float_peers)(w, dtype, threads, peers)
    numpy_call = numpies[0].fn   # numpy's BLAS product: what a user's loop alternates with
    out_dtype = np.int32 if integer else dtype
    outs = {role: np.empty(numpies[0].out.shape, out_dtype) for role in ("default", "tuned", "tuned_kernel")}

    def each(kernel: Any, out: Any, t: int) -> Callable[[], Any]:
        if not stack:
            # The entry gemmtune.matmul calls for these operands (GemmKernel.product) where
            # the kernel has one, so the default column carries matmul's per-call cost too.
            product = getattr(kernel, "product", None)
            if product is not None:
                return lambda: product(A, B, out, 1.0, 0.0, t)
            return lambda: kernel(A, B, out, threads=t)

        def products() -> None:
            for i in range(w.batch):
                kernel(A[i], B[i], out[i], threads=t)
        return products

    dk = kernels.get(family, default, problem)
    # On the threads matmul gives a product with no tuning (one for a small product: a
    # 64^3 product split over 2 threads took 150 us a call, 3.4 GFLOP/s, on Zen 3).
    cs = [*numpies,
          _Contender("default",
                     AfterCall(numpy_call, each(dk, outs["default"], untuned_threads(problem))),
                     outs["default"], f"the default kernel {default.label()}")]
    if has_tuned:
        # What users call, in a user's loop; and the kernel alone unless it is the default
        # (the same kernel twice would only measure noise). The kernel alone runs on the
        # threads matmul gives it (fewer for a small product with no tuning of its own).
        cs.append(_Contender("tuned", AfterCall(numpy_call, lambda: matmul(
            A, B, out=outs["tuned"], threads=threads, cache_dir=root)), outs["tuned"],
            f"the tuned configuration {tuned.label()} (through gemmtune.matmul)"))
        if tuned != default:
            tk = kernels.get(family, tuned, problem)
            cs.append(_Contender("tuned_kernel", each(tk, outs["tuned_kernel"], info.get("threads", threads)),
                                 outs["tuned_kernel"], f"the tuned kernel {tuned.label()}"))
    if ort is not None:
        cs.append(ort)
    label = problem.replace(batch=w.batch, threads=threads).label()
    cs, verdicts = _verified(cs, verify, threads, label, peers)
    figs = _timed(cs, threads, rounds, sample_seconds, w.flops(), peak_gflops)
    for role in ("numpy", "numpy_int", "onnxruntime"):
        _checked(figs.get(role), verdicts.get(role))
    if integer and "numpy" in figs:
        # float32 BLAS past its exact K: timed, never checked, and said so in the row.
        figs["numpy"]["inexact"] = verdicts.get("numpy") is None

    def kernel_figure(role: str, params: Any) -> dict[str, Any]:
        fig = _checked(dict(figs[role]), verdicts[role])
        fig.update(params=params.to_dict(), label=params.label())
        return fig

    tuned_fig = None
    if has_tuned:
        tuned_fig = kernel_figure("tuned", tuned)
        tuned_fig.update(threads=info.get("threads", threads), threads_reason=info.get("threads_reason"),
                         # A stack runs its product's own tuning ("product") or a nearest one.
                         source="product" if stack and info["source"] == "exact" else info["source"],
                         tuned_problem=info.get("problem"),
                         distance=info.get("distance"), same_as_default=tuned == default,
                         timed="gemmtune.matmul, each call after a numpy call")
        if "tuned_kernel" in figs:
            tuned_fig["kernel"] = _checked(figs["tuned_kernel"], verdicts["tuned_kernel"])
    row = _row(w, problem.replace(batch=w.batch, threads=threads).to_dict(), dtype, figs,
               kernel_figure("default", default), tuned_fig, peak_gflops, bandwidth_gbs)
    row["family"] = family.name
    if integer:
        from ..int8 import f32_exact_k

        row["f32_exact_max_k"] = f32_exact_k(dtype)
        row["f32_exact"] = w.k <= row["f32_exact_max_k"]
    return row


def _stack_threads(w: Workload, threads: int) -> int:
    """The threads ``stacks.matmul_nd`` runs a stack of this size on (fewer when small)."""
    from ..stacks import MIN_FLOPS_PER_THREAD

    return max(1, min(threads, w.flops() // MIN_FLOPS_PER_THREAD))


def _float_peers(w: Workload, dtype: str, threads: int, peers: Peers):
    """A float GEMM's operands, its check, numpy's contender (in a list) and onnxruntime's (or None)."""
    import numpy as np

    from ..kernels.reference import check
    from .peers import matmul as ort_matmul

    rng = np.random.default_rng(0)
    A = rng.standard_normal((w.m, w.k)).astype(dtype)
    B = rng.standard_normal((w.k, w.n)).astype(dtype)
    C = np.empty((w.m, w.n), dtype)
    numpy = _Contender("numpy", lambda: np.matmul(A, B, out=C), C, "numpy's matmul")
    run = peers.make(lambda: ort_matmul(dtype, threads, A.shape, B.shape))
    ort = None if run is None else _Contender("onnxruntime", lambda: run(A, B), None,
                                              "onnxruntime's MatMul", peer=True)
    return A, B, (lambda C: check(C, A, B)), [numpy], ort


def _integer_peers(w: Workload, dtype: str, threads: int, peers: Peers):
    """An integer GEMM's operands, its exact check against the int64 reference, numpy's
    contenders of ``bench.integer`` (float32 BLAS first, then the int32 loop when the size
    allows it) and onnxruntime's MatMulInteger (or None)."""
    import numpy as np

    from ..int8.verify import compare as exact_compare
    from ..kernels.reference import Verdict
    from . import integer

    A, B = integer.operands(dtype, w.m, w.n, w.k, batch=w.batch)
    ref = integer.reference(A, B)
    label = f"{w.label()} {dtype}"

    def verify(C: Any) -> Any:
        if C.dtype.kind == "f" and not np.isfinite(C).all():   # a poisoned element left
            return Verdict(float("inf"), "FAIL", f"{label}: {int((~np.isfinite(C)).sum())} "
                           "elements not written")
        if C.shape != ref.shape or w.batch == 1:
            return exact_compare(C, ref, label)
        for i in range(w.batch):
            v = exact_compare(C[i], ref[i], f"product {i} of {label}")
            if not v.ok:
                return v
        return v

    # A missing onnxruntime was said when the run started (Peers); the note is not repeated.
    cs = [_Contender(p.role, p.fn, p.out, p.name, peer=p.role == "onnxruntime", checked=p.exact)
          for p in integer.peers(A, B, dtype, threads, on_note=peers.note)]
    ort = cs.pop() if cs[-1].role == "onnxruntime" else None
    return A, B, verify, cs, ort


def _stack_row(w, dtype, threads, root, peak_gflops, bandwidth_gbs, rounds, sample_seconds,
               peers) -> dict[str, Any]:
    """A stack: (batch, m, k) @ (batch, k, n) through gemmtune.matmul's stacked path."""
    import numpy as np

    from ..api import matmul, stack_choice
    from ..kernels.reference import Verdict, check
    from ..measure import AfterCall
    from ..problem import Problem
    from ..stacks import matmul_nd, stack_params
    from .peers import matmul as ort_matmul

    problem = Problem(w.m, w.n, w.k, dtype, threads, batch=w.batch)
    # M or N = 1 runs the GEMV kernels, which have no parameters: nothing to tune.
    gemv = w.m == 1 or w.n == 1
    default = None if gemv else stack_params(w.m, w.n, w.k, dtype, threads)
    tuned, info = stack_choice(problem, root)
    has_tuned = not gemv and info["source"] != "default"

    rng = np.random.default_rng(0)
    A = rng.standard_normal((w.batch, w.m, w.k)).astype(dtype)
    B = rng.standard_normal((w.batch, w.k, w.n)).astype(dtype)
    outs = {role: np.empty((w.batch, w.m, w.n), dtype) for role in ("numpy", "default", "tuned")}
    numpy_call = lambda: np.matmul(A, B, out=outs["numpy"])  # noqa: E731
    # The default: matmul's stacked path before any tuning (stacks.stack_params).
    cs = [_Contender("numpy", numpy_call, outs["numpy"], "numpy's stacked matmul"),
          _Contender("default", AfterCall(numpy_call, lambda: matmul_nd(
              A, B, outs["default"], threads=threads, cache_dir=root)), outs["default"],
              "gemmtune's stacked GEMV" if gemv else f"the default stacked kernel {default.label()}")]
    if has_tuned:
        cs.append(_Contender("tuned", AfterCall(numpy_call, lambda: matmul(
            A, B, out=outs["tuned"], threads=threads, cache_dir=root)), outs["tuned"],
            f"the tuned configuration {tuned.label()} (through gemmtune.matmul)"))
    ort = peers.make(lambda: ort_matmul(dtype, threads, A.shape, B.shape))
    if ort is not None:
        cs.append(_Contender("onnxruntime", lambda: ort(A, B), None, "onnxruntime's MatMul", peer=True))

    def verify(C: Any) -> Any:
        worst = None
        for i in range(w.batch):
            v = check(C[i], A[i], B[i])
            if not v.ok:
                return Verdict(v.residual, v.status, f"product {i}: {v.reason}")
            worst = v if worst is None or v.residual > worst.residual else worst
        return worst

    cs, verdicts = _verified(cs, verify, threads, problem.label(), peers)
    figs = _timed(cs, threads, rounds, sample_seconds, w.flops(), peak_gflops)
    for role in ("numpy", "onnxruntime"):
        _checked(figs.get(role), verdicts.get(role))
    default_fig = _checked(dict(figs["default"]), verdicts["default"])
    default_fig.update(label="gemv" if gemv else default.label(),
                       params=None if gemv else default.to_dict())
    tuned_fig = None
    if has_tuned:
        tuned_fig = _checked(dict(figs["tuned"]), verdicts["tuned"])
        tuned_fig.update(params=tuned.to_dict(), label=tuned.label(), threads=threads,
                         source=info["source"], tuned_problem=info.get("problem"),
                         same_as_default=tuned == default,
                         timed="gemmtune.matmul on the stack, each call after a numpy call")
    return _row(w, problem.to_dict(), dtype, figs, default_fig, tuned_fig, peak_gflops, bandwidth_gbs)


def bench(workloads: Sequence[Workload], dtype: str, threads: Sequence[int], root: Any, *,
          rounds: int = DEFAULT_ROUNDS, sample_seconds: float = DEFAULT_SAMPLE_SECONDS,
          remeasure_peak: bool = False, with_bandwidth: bool = True,
          on_step: Callable[[str], None] | None = None,
          on_note: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the whole benchmark and return its document (what ``--json`` prints).

    Args:
        workloads: the shapes, in display order.
        dtype: "float32", "float64" or an 8-bit pair ("u8s8", ...: GEMMs and stacks).
        threads: the thread counts to compare at.
        root: the gemmtune cache dir.
        rounds, sample_seconds: the timing protocol's knobs (see :func:`compare`).
        remeasure_peak: measure the peak and bandwidth again instead of using ``peak.json``.
        with_bandwidth: measure the triad bandwidth for the memory-bound ceiling.
        on_step: told what is being measured next (for a progress line).
        on_note: told, once each, why a peer's column is absent (onnxruntime not installed,
            no kernel for this dtype, ...); the notes are also in the document.
    """
    from datetime import datetime, timezone

    from .. import __version__
    from ..dtypes import spec
    from ..fingerprint import fingerprint
    from ..peak import bandwidth, peak

    say = on_step or (lambda text: None)
    peers = Peers(on_note)   # a missing onnxruntime is said before minutes of measuring
    load_before = _loadavg()
    fp = fingerprint()
    peaks, bands = {}, {}
    # The peak is an FMA loop's: no ceiling for integer dot products (vpdpbusd, AMX tiles),
    # so an integer run has no share of a peak and no memory-bound ceiling.
    ceilings = spec(dtype).kind == "float"
    for t in threads if ceilings else ():
        say(f"peak FMA throughput, {dtype}, {t} thread(s)")
        peaks[t] = peak(dtype, t, root, remeasure=remeasure_peak)
        if with_bandwidth:
            say(f"triad bandwidth, {t} thread(s)")
            bands[t] = bandwidth(t, root, remeasure=remeasure_peak)
    kernels = _Kernels(root)
    results = []
    for t in threads:
        for w in workloads:
            say(f"{w.label()} {dtype} {t}t")
            results.append(compare(w, dtype, t, root,
                                   peak_gflops=peaks[t]["gflops"] if t in peaks else None,
                                   bandwidth_gbs=bands[t]["gbs"] if t in bands else None,
                                   rounds=rounds, sample_seconds=sample_seconds, kernels=kernels,
                                   peers=peers))
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
        "blas_thread_timeout": _blas_thread_timeout(),
        "omp_spin": _omp_spin(),
        "numpy_version": rec.get("numpy"),
        "peers": {"onnxruntime": peers.onnxruntime},
        "notes": list(peers.notes),
        "dtype": dtype,
        "unit": spec(dtype).unit,
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
