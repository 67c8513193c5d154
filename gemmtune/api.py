"""``gemmtune.matmul``, ``gemmtune.best_config`` and ``gemmtune.tune``: the kernels from Python.

Which configuration runs, in order:
1. the tuning cached for exactly this problem (shape, dtype, thread count) on this machine;
2. else the tuned configuration of the nearest problem of the same kind for this machine,
   nearest by ``gemmtune.problem.log_distance`` (doubling one side costs log 2, whatever the
   absolute size);
3. else the kernel family's default configuration for this machine's ISA family
   (``configs/defaults/``).
A configuration imported from another machine (``verified: false``) is checked against the
reference on this machine before its first use; one that fails is never run and the next
option is taken. A configuration outside what the search would explore on this machine is
never run either. Which configuration a problem gets is decided once per process and kept
until the tunings file changes; compiled kernels are kept for the life of the process and,
through numba's disk cache, across processes.
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass
from time import monotonic as _clock
from typing import Any

import numpy as np

from . import cache as _tunings
from .paths import ENV_CACHE_DIR, cache_dir
from .problem import Problem

_lock = threading.RLock()


@dataclass
class Choice:
    """What ``matmul`` runs for a problem: the family, its parameters and the threads it runs
    on (``threads`` of the call is a maximum, see ``_fit_threads``); the kernel is compiled on
    first use, so ``best_config`` never compiles anything."""

    family: Any
    params: Any
    info: dict[str, Any]
    threads: int
    problem: Problem
    root: str
    _kernel: Any = None

    @property
    def kernel(self) -> Any:
        if self._kernel is None:
            # What runs on ``threads``: the parameters, or the family's equivalent for that
            # thread count (a parallel float configuration runs as its serial twin on one).
            runs = self.family.params_for_threads(self.params, self.problem, self.threads)
            self._kernel = _kernel(self.family, runs, self.problem, self.root)
        return self._kernel


# Below this many flops a product with no tuning of its own runs on one thread: starting
# and joining a second thread costs more than it saves (as OpenBLAS does for small sizes).
# 2 * 128^3: about 40 us of work at 100 GFLOP/s.
SPLIT_MIN_FLOPS = 2 * 128 ** 3


# (cache dir, fingerprint, problem) -> (tunings file stamp, Choice). A call through ``choose``
# costs one stat of the tunings file (a kept plan, fewer: STAMP_INTERVAL); the choice is made
# again only when the file changed.
_choices: dict[tuple[str, str, Problem], tuple[Any, Choice]] = {}
_kernels: dict[tuple[str, str, Any, Problem], Any] = {}
# Unverified entries that failed verification, by cache dir, fingerprint, problem and params:
# another cache dir, or a later entry for the same problem, deserves its own check.
_rejected: set[tuple[str, str, Problem, str]] = set()


def _default_threads() -> int:
    # min(usable cores, NUMBA_NUM_THREADS, numpy's BLAS thread count): gemmtune/threads.py.
    global _default_threads
    from .threads import default_threads

    _default_threads = default_threads  # every later call goes there directly
    return default_threads()


def _check_threads(threads: Any) -> int:
    if threads is None:
        return _default_threads()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}.")
    return int(threads)


def _stamp(root: Any) -> Any:
    from .cache import FILENAME

    return _file_stamp(os.path.join(root, FILENAME))


def _file_stamp(path: str) -> Any:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def choose(problem: Problem, root: str | os.PathLike | None = None) -> Choice:
    """The configuration ``matmul`` runs for ``problem``, compiled, and where it came from."""
    from .fingerprint import fingerprint_id

    root_s = _root(root)
    key = (root_s, fingerprint_id(), problem)
    stamp = _stamp(root_s)
    hit = _choices.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    with _lock:
        choice = _choose(problem, root_s, key[1])
        _choices[key] = (stamp, choice)
        return choice


def _choose(problem: Problem, root: str, fp: str) -> Choice:
    from .families import family_for

    family = family_for(problem)
    found = _tuned(family, fp, problem, root)
    threads = problem.threads
    if (found is None or found[2] > 0) and _fit_threads(problem, family) < threads:
        # No tuning measured this size on these threads: a small product runs on one.
        threads = _fit_threads(problem, family)
        found = _tuned(family, fp, problem.replace(threads=threads), root)
    if found is not None:
        entry, params, dist = found
        info = {"source": "exact" if dist == 0 else "nearest", "problem": entry.problem.to_dict(),
                "distance": dist, "verified": entry.verified}
        if dist > 0:
            params, fitted = family.fit_borrowed(params, problem.replace(threads=threads))
            if fitted:
                info["fitted"] = fitted
    else:
        params, info = family.default_params(problem), {"source": "default"}
    info.update(family=family.name, threads=threads)
    if threads < problem.threads:
        info["threads_reason"] = (f"a product of {problem.flops:.2g} flops with no tuning of its "
                                  f"own runs on {threads} thread: splitting it costs more than it saves")
    from .explain import report_choice

    report_choice(problem, params, info)  # GEMMTUNE_VERBOSE=1: one line per new choice
    return Choice(family, params, info, threads, problem, root)


def _fit_threads(problem: Problem, family: Any) -> int:
    least = family.split_min_flops or SPLIT_MIN_FLOPS
    return 1 if problem.flops < least else problem.threads


def untuned_threads(problem: Problem) -> int:
    """The threads ``matmul`` runs ``problem`` on when nothing is tuned for it: one for a
    product too small to split (the family's ``split_min_flops``, else ``SPLIT_MIN_FLOPS``),
    else ``problem.threads``."""
    from .families import family_for

    return _fit_threads(problem, family_for(problem))


def resolve(problem: Problem, root: str | os.PathLike | None = None) -> tuple[Any, dict[str, Any]]:
    """The parameters ``matmul`` runs for ``problem``, and where they came from.

    Returns:
        ``(params, info)`` where ``info["source"]`` is "exact", "nearest" or "default", with
        the tuned problem and distance for tuned sources.
    """
    choice = choose(problem, root)
    return choice.params, dict(choice.info)


def _tuned(family: Any, fp: str, problem: Problem, root: str):
    """The nearest usable tuned entry as (entry, params, distance), verifying an imported one
    on first use, or None."""
    from .cache import TuningCache
    from .problem import log_distance, rank_nearest

    store = TuningCache(root)
    try:
        entries = [e for e in store.entries(fp, problem.dtype, problem.threads)
                   if e.family == family.name]
    except Exception as e:  # an unusable cache costs the tuning, never the product
        warnings.warn(f"the tuning cache in {root} could not be read ({e}); using the default "
                      "configuration.", stacklevel=4)
        return None
    for entry in rank_nearest(entries, problem, lambda e: e.problem, lambda e: e.gflops):
        if entry.problem != problem and not family.borrowable(entry.problem, problem):
            continue
        try:
            params = family.check_params(entry.params, entry.problem)
        except ValueError as err:
            warnings.warn(f"the tuning for {entry.problem.label()} is not used: {err}", stacklevel=4)
            continue
        if entry.verified or _verify_imported(family, store, fp, entry, params, problem, root):
            return entry, params, log_distance(entry.problem, problem)
    return None


def _verify_imported(family, store, fp, entry, params, problem, root) -> bool:
    rejected = (root, fp, entry.problem, params.key())
    if rejected in _rejected:
        return False
    p = entry.problem
    kernel = _kernel(family, params, problem, root)
    # The real shape when it is small; else a shape that still crosses every block edge.
    verdict = family.verify(kernel, problem, shape=(min(p.m, 300), min(p.n, 300), min(p.k, 300)))
    if not verdict.ok:
        _rejected.add(rejected)
        warnings.warn(f"imported configuration for {p.label()} failed verification on this "
                      f"machine ({verdict.reason}); it will not be used.", stacklevel=5)
        return False
    try:
        store.mark_verified(fp, entry.problem)
    except Exception as e:  # a read-only cache: still usable in this process
        warnings.warn(f"could not record the verification in the cache: {e}", stacklevel=5)
    return True


def _kernel(family: Any, params: Any, problem: Problem, root: str) -> Any:
    # One compiled kernel per configuration and dtype, whatever shape it serves.
    kind = problem.replace(m=1, n=1, k=1, threads=1, batch=1)
    key = (root, family.name, params, kind)
    with _lock:
        k = _kernels.get(key)
        if k is None:
            k = _kernels[key] = family.compile(params, kind, root)
        return k


# Seconds between two looks at the tunings file's stamp from a kept plan. A stat costs 4-5 us
# on a virtual machine (half of a small call); a tuning written by another process (a search
# running beside the program) is seen within this interval, one written by this process at
# once (``cache.writes``).
STAMP_INTERVAL = 0.1


class _Plan:
    """What a ``matmul`` call with given operand shapes, dtypes and arguments runs, kept so
    that the next such call goes straight to the kernel.

    It holds while the three things the choice depends on are unchanged: the cache dir (the
    argument, else ``$GEMMTUNE_CACHE_DIR``), the thread count asked for (the argument, else
    ``default_threads()``, which follows ``threadpool_limits``) and the tunings file's stamp
    (looked at every ``STAMP_INTERVAL`` seconds, and after this process wrote tunings).
    Checking them costs a few microseconds; ``choose`` and the operand checks cost tens.
    """

    __slots__ = ("choice", "tunings", "env", "asked", "stamp", "run", "checked", "writes")

    def __init__(self, choice: Choice, root: str, env: str | None, asked: int, gemv: Any = None):
        from .cache import FILENAME

        self.choice, self.env, self.asked = choice, env, asked
        self.tunings = os.path.join(root, FILENAME)
        self.stamp = _file_stamp(self.tunings)
        self.checked = _clock()
        self.writes = _tunings.writes
        if gemv is not None:  # M or N = 1: the GEMV kernel (docs/stacks.md); no GEMM compiled
            self.run = lambda A, B, out, alpha, beta: gemv(A, B, out, alpha=alpha, beta=beta,
                                                           threads=asked)
            return
        kernel = choice.kernel
        product = getattr(kernel, "product", None)  # the float kernels' direct entry
        threads = choice.threads
        if product is not None:
            self.run = lambda A, B, out, alpha, beta: product(A, B, out, alpha, beta, threads)
        else:
            self.run = lambda A, B, out, alpha, beta: kernel(A, B, out, alpha=alpha, beta=beta,
                                                             threads=threads)


_plans: dict[tuple[Any, ...], _Plan] = {}
_PLANS_MAX = 4096  # distinct call signatures kept; past that the table starts again


def _planned(A: np.ndarray, B: np.ndarray, threads: Any, root_arg: Any) -> _Plan | None:
    """The kept plan for this call, if it still holds."""
    plan = _plans.get((A.shape, B.shape, A.dtype, B.dtype, threads, root_arg))
    if plan is None:
        return None
    if root_arg is None and os.environ.get(ENV_CACHE_DIR) != plan.env:
        return None
    if threads is None and _default_threads() != plan.asked:
        return None
    now = _clock()
    if now - plan.checked >= STAMP_INTERVAL or plan.writes != _tunings.writes:
        if _file_stamp(plan.tunings) != plan.stamp:
            return None
        plan.checked, plan.writes = now, _tunings.writes
    return plan


def _keep_plan(A: np.ndarray, B: np.ndarray, threads: Any, root_arg: Any) -> _Plan | None:
    """Make and keep the plan for a call the fast path can serve (non-empty 2-D operands
    that align, no options); None when the call is not of that kind."""
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0] or 0 in A.shape or 0 in B.shape:
        return None
    env = os.environ.get(ENV_CACHE_DIR) if root_arg is None else None
    asked = _check_threads(threads)
    dtype = _operand_dtype(A, B)
    root = str(cache_dir(root_arg))
    # The stamp is read before the choice, so a tuning written in between is seen next call.
    stamp = _stamp(root)
    choice = choose(Problem(A.shape[0], B.shape[1], A.shape[1], dtype, asked), root)
    gemv = None
    if A.shape[0] == 1 or B.shape[1] == 1:
        from .stacks import gemv_route

        gemv = gemv_route(A, B)
    plan = _Plan(choice, root, env, asked, gemv)
    plan.stamp = stamp
    if len(_plans) >= _PLANS_MAX:
        _plans.clear()
    _plans[(A.shape, B.shape, A.dtype, B.dtype, threads, root_arg)] = plan
    return plan


def _operand_dtype(A: Any, B: Any) -> str:
    from . import dtypes
    from .kernels.gemm import check_operands

    if isinstance(A, np.ndarray) and isinstance(B, np.ndarray):
        name = dtypes.of_operands(A.dtype, B.dtype)
        if name is not None:
            return name
    return check_operands(A, B).name  # raises the sentence that says what is wrong


def matmul(A: np.ndarray, B: np.ndarray, out: np.ndarray | None = None, *, alpha: float = 1.0,
           beta: float = 0.0, threads: int | None = None,
           cache_dir: str | os.PathLike | None = None, **options: Any) -> np.ndarray:
    """``alpha * A @ B + beta * out`` with the best kernel known on this machine.

    Args:
        A: (M, K) float32 or float64 array, any layout (C, Fortran, transposed, strided).
            A 1-D or N-D A (or B) follows numpy.matmul's rules (``gemmtune/stacks.py``).
        B: (K, N) array of the same dtype.
        out: optional (M, N) array written in place; when ``beta`` is 0 it is not read.
        alpha, beta: scalars of the update (BLAS semantics).
        threads: threads to run on. Given, it wins (at most ``NUMBA_NUM_THREADS``). By
            default the smallest of: the usable cores, ``NUMBA_NUM_THREADS``, and the thread
            count numpy's BLAS would use now, which follows ``threadpoolctl.threadpool_limits``
            and ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` (see ``gemmtune/threads.py``).
        cache_dir: the gemmtune cache dir (default: ``$GEMMTUNE_CACHE_DIR`` or the user cache).
        options: passed to the kernel family's kernel (e.g. zero points for integers).

    Returns:
        ``out``, or a new C-ordered array.

    Raises:
        TypeError, ValueError: for operands that cannot be multiplied, with the reason.
    """
    # The fast path: a call like one made before (same shapes, dtypes, threads and cache
    # dir, no options) runs the plan kept for it.
    if (not options and type(A) is np.ndarray and type(B) is np.ndarray
            and (out is None or type(out) is np.ndarray)
            and (threads is None or type(threads) is int)
            and (cache_dir is None or type(cache_dir) is str or isinstance(cache_dir, os.PathLike))):
        plan = _planned(A, B, threads, cache_dir) or _keep_plan(A, B, threads, cache_dir)
        if plan is not None:
            return plan.run(A, B, out, alpha, beta)
    if getattr(A, "ndim", 2) != 2 or getattr(B, "ndim", 2) != 2:
        # Vectors and stacks: numpy.matmul's shape rules (gemmtune/stacks.py).
        from .stacks import matmul_nd

        return matmul_nd(A, B, out, alpha=alpha, beta=beta, threads=threads,
                         params_for=lambda m, n, k, batch, dtype, t: _stack_params(
                             Problem(m, n, k, dtype, t, batch=batch), cache_dir),
                         cache_dir=cache_dir, **options)
    dtype = _operand_dtype(A, B)
    threads = _check_threads(threads)
    if (A.shape[0] == 1 or B.shape[1] == 1) and not options:
        from .stacks import gemv_route  # M or N = 1: the GEMV kernel (docs/stacks.md)
        if (gemv := gemv_route(A, B)) is not None:
            return gemv(A, B, out, alpha=alpha, beta=beta, threads=threads)
    if A.ndim != 2 or B.ndim != 2:
        from .kernels.gemm import check_operands

        check_operands(A, B, out)
    M, K = A.shape
    N = B.shape[1]
    # An empty product needs no tuning: any kernel handles it; the smallest problem's does.
    problem = Problem(max(M, 1), max(N, 1), max(K, 1), dtype, threads)
    choice = choose(problem, cache_dir)
    return choice.kernel(A, B, out, alpha=alpha, beta=beta, threads=choice.threads, **options)


def _stack_params(problem: Problem, root: Any) -> Any:
    """The KernelParams a stack runs: tuned for exactly this stack, else for its product shape
    alone, else a configuration cut to the product (``stacks.stack_params``)."""
    return stack_choice(problem, root)[0]


def stack_choice(problem: Problem, root: Any) -> tuple[Any, dict[str, Any]]:
    """What :func:`_stack_params` picks and where from: ``(params, {"source": "exact" |
    "product" | "default", "problem": the tuned problem's dict (tuned sources)})``."""
    from .fingerprint import fingerprint_id

    root_s = _root(root)
    key = (root_s, fingerprint_id(), problem)
    stamp = _stamp(root_s)
    hit = _stack_choices.get(key)
    if hit is not None and hit[0] == stamp:  # decided before, and the tunings are unchanged
        return hit[1]
    choice = _stack_choice(problem, root_s, key[1])
    _stack_choices[key] = (stamp, choice)
    return choice


_stack_choices: dict[tuple[str, str, Problem], tuple[Any, tuple[Any, dict[str, Any]]]] = {}


def _stack_choice(problem: Problem, root: str, fp: str) -> tuple[Any, dict[str, Any]]:
    from .cache import TuningCache
    from .small import stack_params

    store = TuningCache(root)
    for p, source in ((problem, "exact"), (problem.replace(batch=1), "product")):
        entry = store.get(fp, p)
        if entry is not None and entry.verified:
            return entry.kernel_params, {"source": source, "problem": p.to_dict()}
    return (stack_params(problem.m, problem.n, problem.k, problem.dtype, problem.threads),
            {"source": "default"})


_roots: dict[tuple[Any, Any], str] = {}


def _root(root: str | os.PathLike | None) -> str:
    """``str(cache_dir(root))``, resolved once per argument and $GEMMTUNE_CACHE_DIR value
    (resolving costs about 15 us of path handling)."""
    key = (root, os.environ.get(ENV_CACHE_DIR) if root is None else None)
    found = _roots.get(key)
    if found is None:
        found = _roots[key] = str(cache_dir(root))
    return found


def best_config(m: int, n: int, k: int, dtype: str = "float32", threads: int | None = None,
                cache_dir: str | os.PathLike | None = None, batch: int = 1) -> dict[str, Any]:
    """The configuration ``matmul`` runs for this problem, and where it comes from.

    Returns:
        ``{"params": {...}, "source": "exact" | "nearest" | "default", "family": ...,
        "threads": ...}``; a tuned source also has ``"problem"`` (the tuned problem),
        ``"distance"`` and ``"verified"``; ``"threads_reason"`` says why fewer threads run
        than were asked for; ``"kernel"`` is "gemv" when ``matmul`` runs the GEMV kernel
        for 2-D operands of this shape (M or N = 1, a float dtype, large enough:
        ``stacks.gemv_kernel``; "params" would then serve only the GEMM), else "gemm".
    """
    from .stacks import gemv_kernel

    problem = Problem(m, n, k, dtype, _check_threads(threads), batch=batch)
    params, info = resolve(problem, cache_dir)
    # M or N = 1 runs the GEMV kernel, which has no parameters: "params" is what the GEMM
    # of this shape would run.
    kernel = "gemv" if gemv_kernel(problem.m, problem.n, problem.k, problem.dtype) else "gemm"
    return {"params": params.to_dict(), **info, "kernel": kernel}


def tune(m: int, n: int, k: int, dtype: str = "float32", threads: int | None = None, *,
         trials: int = 40, cache_dir: str | os.PathLike | None = None, batch: int = 1,
         **options: Any) -> dict[str, Any]:
    """Search the fastest configuration for this problem and cache it (``gemmtune search``).

    Args:
        options: passed to ``gemmtune.search.tune`` (timeout, candidate_timeout, sampler,
            sampler_seed, storage, study, on_trial).

    Returns:
        The search's document, as ``gemmtune search --json`` prints it.
    """
    from .search.tune import tune as run_tune

    problem = Problem(m, n, k, dtype, _check_threads(threads), batch=batch)
    return run_tune(problem, root=cache_dir_path(cache_dir), trials=trials, **options)


def cache_dir_path(root: str | os.PathLike | None) -> str:
    return str(cache_dir(root))
