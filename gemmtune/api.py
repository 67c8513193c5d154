"""``gemmtune.matmul`` and ``gemmtune.best_config``: the tuned kernels from Python.

Which configuration runs, in order:
1. the tuning cached for exactly this shape, dtype and thread count on this machine;
2. else the tuned configuration of the nearest shape for this machine, dtype and thread
   count, nearest by Euclidean distance between (log M, log N, log K): doubling one side
   costs log 2, whatever the absolute size;
3. else the seed configuration of this machine's ISA family (``configs/seeds/``).
A configuration imported from another machine (``verified: false``) is checked against the
float64 reference on this machine before its first use; one that fails is never run and the
next option is taken. Compiled kernels are kept for the life of the process and, through
numba's disk cache, across processes.
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import Any

import numpy as np

from .kernels.gemm import GemmKernel, check_operands, compile_kernel
from .kernels.params import KernelParams, normalize_dtype
from .paths import cache_dir
from .problem import Problem

_kernels: dict[tuple[str, KernelParams, str], GemmKernel] = {}
# Unverified entries that failed verification, by cache dir, fingerprint, problem and params:
# another cache dir, or a later entry for the same problem, deserves its own check.
_rejected: set[tuple[str, str, Problem, KernelParams]] = set()
_lock = threading.RLock()


def _default_threads() -> int:
    from .fingerprint import usable_cores

    return usable_cores()


def _check_threads(threads: Any) -> int:
    if threads is None:
        return _default_threads()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}.")
    return int(threads)


def _store(root: str | os.PathLike | None):
    from .cache import TuningCache

    return TuningCache(cache_dir(root))


def resolve(problem: Problem, root: str | os.PathLike | None = None) -> tuple[KernelParams, dict[str, Any]]:
    """The parameters ``matmul`` runs for ``problem``, and where they came from.

    Returns:
        ``(params, info)`` where ``info["source"]`` is "exact", "nearest" or "seed", with the
        tuned problem and distance for tuned sources.
    """
    from .fingerprint import fingerprint_id

    fp = fingerprint_id()
    found = _tuned(fp, problem, root)
    if found is not None:
        entry, dist = found
        info = {"source": "exact" if dist == 0 else "nearest", "problem": entry.problem.to_dict(),
                "distance": dist, "verified": entry.verified}
        return entry.kernel_params, info
    from .seeds import seed_params

    return seed_params(problem.dtype), {"source": "seed"}


def _tuned(fp: str, problem: Problem, root):
    """The nearest usable tuned entry, verifying an imported one on first use."""
    store = _store(root)
    found = store.nearest(fp, problem)
    if found is None:
        return None
    entry, dist = found
    if entry.verified:
        return found
    rejected = (str(cache_dir(root)), fp, entry.problem, entry.kernel_params)
    with _lock:
        if rejected in _rejected:
            return None
        from .kernels.reference import verify_kernel

        p = entry.problem
        kernel = _kernel(entry.kernel_params, problem.dtype, root)
        # The real shape when it is small; else a shape that still crosses every block edge.
        verdict = verify_kernel(kernel, min(p.m, 300), min(p.n, 300), min(p.k, 300), p.dtype,
                                threads=problem.threads)
        if not verdict.ok:
            _rejected.add(rejected)
            warnings.warn(f"imported configuration for {p.label()} failed verification on this "
                          f"machine ({verdict.reason}); it will not be used.", stacklevel=3)
            return None
        try:
            store.mark_verified(fp, entry.problem)
        except Exception as e:  # a read-only cache: still usable in this process
            warnings.warn(f"could not record the verification in the cache: {e}", stacklevel=3)
        return found


def _kernel(params: KernelParams, dtype: str, root) -> GemmKernel:
    key = (str(cache_dir(root)), params, dtype)
    with _lock:
        k = _kernels.get(key)
        if k is None:
            k = _kernels[key] = compile_kernel(params, dtype, cache_dir(root))
        return k


def matmul(A: np.ndarray, B: np.ndarray, out: np.ndarray | None = None, *, alpha: float = 1.0,
           beta: float = 0.0, threads: int | None = None,
           cache_dir: str | os.PathLike | None = None) -> np.ndarray:
    """``alpha * A @ B + beta * out`` with the best kernel known on this machine.

    Args:
        A: (M, K) float32 or float64 array, any layout (C, Fortran, transposed, strided).
            A 1-D or N-D A (or B) follows numpy.matmul's rules (``gemmtune/stacks.py``).
        B: (K, N) array of the same dtype.
        out: optional (M, N) array written in place; when ``beta`` is 0 it is not read.
        alpha, beta: scalars of the update (BLAS semantics).
        threads: threads to run on; default the usable cores.
        cache_dir: the gemmtune cache dir (default: ``$GEMMTUNE_CACHE_DIR`` or the user cache).

    Returns:
        ``out``, or a new C-ordered array.

    Raises:
        TypeError, ValueError: for operands that cannot be multiplied, with the reason.
    """
    if getattr(A, "ndim", 2) != 2 or getattr(B, "ndim", 2) != 2:
        # Vectors and stacks: numpy.matmul's shape rules (gemmtune/stacks.py). A stack runs
        # the configuration tuned for exactly its product shape, else one cut to it.
        from .stacks import matmul_nd, stack_params

        def params_for(m: int, n: int, k: int, batch: int, dtype: str, t: int) -> KernelParams:
            from .fingerprint import fingerprint_id

            entry = _store(cache_dir).get(fingerprint_id(), Problem(m, n, k, dtype, t))
            if entry is not None and entry.verified:
                return entry.kernel_params
            return stack_params(m, n, k, dtype, t)

        return matmul_nd(A, B, out, alpha=alpha, beta=beta, threads=threads,
                         params_for=params_for, cache_dir=cache_dir)
    dtype = check_operands(A, B, out)
    threads = _check_threads(threads)
    M, K = A.shape
    N = B.shape[1]
    if min(M, N, K) == 0:
        # Nothing to tune: any kernel handles empty products the same way.
        from .seeds import seed_params

        return _kernel(seed_params(dtype.name), dtype.name, cache_dir)(
            A, B, out, alpha=alpha, beta=beta, threads=threads)
    params, _ = resolve(Problem(M, N, K, dtype.name, threads), cache_dir)
    return _kernel(params, dtype.name, cache_dir)(A, B, out, alpha=alpha, beta=beta, threads=threads)


def best_config(m: int, n: int, k: int, dtype: str = "float32", threads: int | None = None,
                cache_dir: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """The tuned configuration ``matmul`` would use for this problem, or None if none is tuned.

    Returns:
        ``{"params": {...}, "source": "exact" | "nearest", "problem": {...tuned problem...},
        "distance": float, "verified": bool}``; None when nothing is tuned for this machine,
        dtype and thread count (``matmul`` then runs the ISA family's seed).
    """
    problem = Problem(m, n, k, normalize_dtype(dtype), _check_threads(threads))
    params, info = resolve(problem, cache_dir)
    if info["source"] == "seed":
        return None
    return {"params": params.to_dict(), **info}
