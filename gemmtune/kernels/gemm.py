"""A compiled kernel as a Python callable: input checks, layouts, threads."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import numpy as np

from .build import load_module
from .cached_load import load_cached
from .params import KernelParams, normalize_dtype

_threads_lock = threading.Lock()
_compile_lock = threading.Lock()


def check_operands(A: Any, B: Any, out: Any = None) -> np.dtype:
    """Raise TypeError/ValueError with one sentence when A, B, out cannot be multiplied."""
    for name, x in (("A", A), ("B", B)):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}.")
        if x.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got {x.ndim}-D with shape {x.shape}.")
        # float32 or float64 in this machine's byte order; the char test is ~10x cheaper
        # than comparing dtypes.
        if x.dtype.char not in "fd" or not x.dtype.isnative:
            raise TypeError(f"{name} has dtype {x.dtype}; gemmtune multiplies float32 or float64.")
    if A.dtype.char != B.dtype.char:
        raise TypeError(f"A and B have different dtypes ({A.dtype} and {B.dtype}); cast one first.")
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"shapes {A.shape} and {B.shape} do not align: A has {A.shape[1]} "
                         f"columns but B has {B.shape[0]} rows.")
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy array, got {type(out).__name__}.")
        want = (A.shape[0], B.shape[1])
        if out.shape != want:
            raise ValueError(f"out has shape {out.shape}, expected {want}.")
        if out.dtype.char != A.dtype.char:
            raise TypeError(f"out has dtype {out.dtype}, expected {A.dtype}.")
        if not out.flags.writeable:
            raise ValueError("out is read-only.")
    return A.dtype


def _check_scalar(name: str, value: Any) -> float:
    if type(value) is float:  # the common case, checked cheaply
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}.")
    try:
        return float(value)
    except OverflowError:  # a Python int beyond 1.8e308
        raise ValueError(f"{name} is beyond the float64 range (magnitude above 1.8e308)."
                         ) from None


def _row_unit_stride(X: np.ndarray) -> bool:
    return X.strides[1] == X.itemsize and X.strides[0] >= 0


def _rows_unit(X: np.ndarray) -> np.ndarray:
    """X itself when its rows have unit stride and it is writeable, else a C-contiguous copy.

    The driver is compiled for writeable arrays only (a read-only signature would be a
    second compile); a read-only operand (``frombuffer``, a read-only memmap,
    ``broadcast_to``) costs an O(MK) copy against the O(MNK) product.
    """
    if _row_unit_stride(X) and X.flags.writeable:
        return X
    return np.array(X, order="C")  # ascontiguousarray would return a read-only X as it is


_pool = None
# Set in a child forked from a process whose numba thread pool is GNU OpenMP's: libgomp is
# not fork-safe, and numba ends such a child ("fork() called from a process already using
# GNU OpenMP") at its first parallel launch, even with one thread. The child then runs every
# kernel as its serial twin (threads split C in bands on a fresh Python thread pool).
_forked_from_openmp = False


def _parallel_layer_is_fork_unsafe() -> bool:
    """True when this process has started numba's thread pool on GNU OpenMP."""
    parallel = sys.modules.get("numba.np.ufunc.parallel")
    if parallel is None:
        return False  # numba never launched a parallel region: the child starts its own
    try:
        layer = parallel.threading_layer()
    except ValueError:  # not initialised yet
        return False
    if layer != "omp":
        return False  # tbb and workqueue survive a fork
    omppool = sys.modules.get("numba.np.ufunc.omppool")
    return getattr(omppool, "openmp_vendor", "GNU") != "Intel"


def _after_fork_in_child() -> None:
    global _pool, _forked_from_openmp, _threads_lock, _compile_lock
    # The parent's threads do not exist here: its pool would queue work nobody runs, and a
    # lock one of them held would never be released.
    _pool = None
    _threads_lock, _compile_lock = threading.Lock(), threading.Lock()
    if _parallel_layer_is_fork_unsafe():
        _forked_from_openmp = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def serial_twin(params: KernelParams) -> KernelParams:
    """The serial kernel that splits C the way ``params``' parallel loop would: "ic" splits
    rows (the A blocks) and "jr" columns (the B slivers); a serial set is its own twin."""
    if params.serial:
        return params
    return params.replace(parallel="m" if params.parallel == "ic" else "n")


def _thread_pool():
    global _pool
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 1) - 1),
                                   thread_name_prefix="gemmtune")
    return _pool


def bands(size: int, parts: int, unit: int) -> list[tuple[int, int]]:
    """Split range(size) into at most ``parts`` bands whose starts are multiples of ``unit``."""
    step = -(-size // parts)
    step = -(-step // unit) * unit
    return [(lo, min(size, lo + step)) for lo in range(0, size, step)]


def _may_overlap(X: np.ndarray, Y: np.ndarray) -> bool:
    """Whether ``X`` and ``Y`` may share memory. Two arrays that allocated their own memory
    (``OWNDATA``) are the same array or apart: only views and arrays over foreign buffers need
    ``np.may_share_memory``, which took 0.4-0.9 us a call on a virtual Zen 3 (a 64^3
    product's whole call is about 9 us there)."""
    if X.flags.owndata and Y.flags.owndata:
        return X is Y
    return np.may_share_memory(X, Y)


class GemmKernel:
    """``kernel(A, B, out=None, alpha=1.0, beta=0.0, threads=None)`` for one KernelParams and dtype.

    The generated driver needs C-contiguous A and B and C with unit stride along rows. A
    Fortran-ordered C is handled by computing its transpose (C.T = B.T @ A.T); other
    layouts of A and B are copied (O(MK + KN), against O(MNK) for the product); any other C,
    or one that overlaps A or B, goes through a temporary.
    """

    def __init__(self, params: KernelParams, dtype: str, root: str | os.PathLike | None = None):
        self.params = params
        self.dtype = normalize_dtype(dtype)
        self.root = root
        self.module = load_module(params, self.dtype, root)
        self.np_dtype = np.dtype(self.dtype)
        self.itemsize = self.np_dtype.itemsize
        self._twin: GemmKernel | None = None
        self._direct: Any = None  # the compiled serial driver, once compile() has run

    def compile(self) -> None:
        """Compile the driver (or load it from numba's disk cache); later calls are free.

        One signature serves every input: arrays of any layout ("A") whose rows have unit
        stride; ``__call__`` brings every input to that form (a Fortran-ordered operand is
        transposed or copied), so numba never compiles a second variant.
        """
        if not getattr(self.module, "compiled", False):
            with _compile_lock:
                if not getattr(self.module, "compiled", False):
                    self._compile_driver()
        if self.params.serial:
            self._direct = self.module.gemm  # one thread calls the serial driver directly

    def _compile_driver(self) -> None:
        from numba import types

        elem = getattr(types, self.dtype)
        arr = types.Array(elem, 2, "A")
        sig = (arr, arr, arr, types.float64, types.float64, types.int64)
        gemm = self.module.gemm
        if not load_cached(gemm, sig):
            gemm.compile(sig)
        gemm.disable_compile()
        # Marked on the module, which every GemmKernel for these parameters shares.
        self.module.compiled = True

    def __call__(self, A: np.ndarray, B: np.ndarray, out: np.ndarray | None = None, *,
                 alpha: float = 1.0, beta: float = 0.0, threads: int | None = None) -> np.ndarray:
        dtype = check_operands(A, B, out)
        if dtype != self.np_dtype:
            raise TypeError(f"this kernel multiplies {self.dtype}, got {dtype}.")
        alpha = _check_scalar("alpha", alpha)
        beta = _check_scalar("beta", beta)
        M, K = A.shape
        N = B.shape[1]
        if out is None:
            out = np.empty((M, N), dtype=dtype)
            beta = 0.0
        if M == 0 or N == 0:
            return out
        if K == 0:
            # An empty sum: C = beta*C, and C is not read when beta is 0 (BLAS semantics).
            if beta == 0:
                out[...] = 0
            else:
                out *= beta
            return out
        if _may_overlap(out, A) or _may_overlap(out, B) or not (
                _row_unit_stride(out) or _row_unit_stride(out.T)):
            # C overlaps an input, or has no unit stride at all: compute into a temporary.
            tmp = np.array(out, order="C") if beta != 0 else np.empty((M, N), dtype)
            self._oriented(A, B, tmp, alpha, beta, threads)
            out[...] = tmp
        else:
            self._oriented(A, B, out, alpha, beta, threads)
        return out

    def product(self, A: np.ndarray, B: np.ndarray, out: np.ndarray | None = None,
                alpha: float = 1.0, beta: float = 0.0, threads: int = 1) -> np.ndarray:
        """``self(A, B, out, alpha=alpha, beta=beta, threads=threads)`` for 2-D A and B that
        align, with fewer checks: ``gemmtune.matmul``'s fast path.

        C-contiguous operands (and an ``out`` of the right shape that cannot overlap them) go
        straight to the driver, whose dispatcher refuses any other dtype or a read-only
        array with a TypeError; any other call, or a refused one, is ``self(...)``, which
        checks, converts and says what is wrong.
        """
        if type(alpha) is not float:
            alpha = _check_scalar("alpha", alpha)
        if type(beta) is not float:
            beta = _check_scalar("beta", beta)
        if not (A.flags.c_contiguous and B.flags.c_contiguous) or A.size == 0 or B.size == 0:
            return self(A, B, out, alpha=alpha, beta=beta, threads=threads)
        C = out
        if C is None:
            C = np.empty((A.shape[0], B.shape[1]), self.np_dtype)
            beta = 0.0
        elif (not C.flags.c_contiguous or C.shape != (A.shape[0], B.shape[1])
                or _may_overlap(C, A) or _may_overlap(C, B)):
            return self(A, B, out, alpha=alpha, beta=beta, threads=threads)
        try:
            if threads == 1 and self._direct is not None:
                self._direct(A, B, C, alpha, beta, 1)  # what _run does for one band
            else:
                self._run(A, B, C, alpha, beta, threads)
        except TypeError:  # no compiled variant for these arrays (read-only, other dtype)
            return self(A, B, out, alpha=alpha, beta=beta, threads=threads)
        return C

    def _oriented(self, A, B, C, alpha, beta, threads):
        if _row_unit_stride(C):
            self._run(_rows_unit(A), _rows_unit(B), C, alpha, beta, threads)
        else:
            # A Fortran-ordered C: compute C.T = B.T @ A.T, whose rows are C's columns.
            self._run(_rows_unit(B.T), _rows_unit(A.T), C.T, alpha, beta, threads)

    def _run(self, A, B, C, alpha, beta, threads):
        if _forked_from_openmp and not self.params.serial:
            if self._twin is None:
                self._twin = GemmKernel(serial_twin(self.params), self.dtype, self.root)
            self._twin._run(A, B, C, alpha, beta, threads)
            return
        self.compile()
        import numba

        if threads is None:
            threads = numba.get_num_threads()
        if not 1 <= threads <= numba.config.NUMBA_NUM_THREADS:
            raise ValueError(f"threads={threads} is outside 1..{numba.config.NUMBA_NUM_THREADS}, "
                             "the threads numba can use on this machine.")
        gemm = self.module.gemm
        if self.params.serial and threads == 1:
            gemm(A, B, C, alpha, beta, 1)  # one band: no slicing, no pool
            return
        if self.params.serial:
            self._run_bands(gemm, A, B, C, alpha, beta, threads)
            return
        # set_num_threads is per calling thread in numba; restore it so the caller's
        # setting survives.
        with _threads_lock:
            before = numba.get_num_threads()
            numba.set_num_threads(threads)
            try:
                gemm(A, B, C, alpha, beta, threads)
            finally:
                numba.set_num_threads(before)

    def _run_bands(self, gemm, A, B, C, alpha, beta, threads):
        """Serial kernel, one band of C per thread: rows ("m") or columns ("n")."""
        p = self.params
        if p.parallel == "m":
            parts = [(A[lo:hi], B, C[lo:hi]) for lo, hi in bands(A.shape[0], threads, p.MR)]
        else:
            parts = [(A, B[:, lo:hi], C[:, lo:hi]) for lo, hi in bands(B.shape[1], threads, p.NR)]
        futures = [_thread_pool().submit(gemm, a, b, c, alpha, beta, 1) for a, b, c in parts[1:]]
        a, b, c = parts[0]
        gemm(a, b, c, alpha, beta, 1)
        for f in futures:
            f.result()


def compile_kernel(params: KernelParams, dtype: str, root: str | os.PathLike | None = None) -> GemmKernel:
    """Generate, compile (or load from the disk cache) and return the kernel for ``params``."""
    return GemmKernel(params, dtype, root)
