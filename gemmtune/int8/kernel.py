"""A compiled integer kernel as a Python callable: checks, zero points, layouts, threads."""

from __future__ import annotations

import numbers
import os
import threading
from typing import Any, Callable

import numpy as np

from ..kernels.cached_load import load_cached
from ..kernels.gemm import _thread_pool, bands
from .isa import raw_core, require_isa
from .pairs import max_k, normalize_pair, pair_dtypes, value_range
from .params import Int8Params

_compile_lock = threading.Lock()


def _check_zero_point(name: str, zp: Any, dtype: np.dtype, length: int, along: str) -> None:
    if zp is None:
        return
    if isinstance(zp, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer or an integer array, got a bool.")
    arr = np.asarray(zp)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer or an integer array, got {arr.dtype}.")
    # A 1-element vector is a scalar, as ONNX allows.
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] not in (1, length)):
        raise ValueError(f"{name} must be a scalar or a vector of {length} values (one per {along}), "
                         f"got shape {arr.shape}.")
    lo, hi = value_range(dtype)
    if arr.size and (int(arr.min()) < lo or int(arr.max()) > hi):
        raise ValueError(f"{name} must lie in {lo}..{hi}, the range of {dtype}.")


def check_int8_operands(A: Any, B: Any, out: Any = None, a_zero_point: Any = None,
                        b_zero_point: Any = None) -> str:
    """Raise TypeError/ValueError with one sentence unless A @ B fits the integer GEMM.

    Returns:
        the dtype pair name of A and B ("u8s8", ...).
    """
    for name, x in (("A", A), ("B", B)):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}.")
        if x.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got {x.ndim}-D with shape {x.shape}.")
    pair = normalize_pair(A.dtype, B.dtype)
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"shapes {A.shape} and {B.shape} do not align: A has {A.shape[1]} "
                         f"columns but B has {B.shape[0]} rows.")
    M, N = A.shape[0], B.shape[1]
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy array, got {type(out).__name__}.")
        if out.shape != (M, N):
            raise ValueError(f"out has shape {out.shape}, expected {(M, N)}.")
        if out.dtype != np.int32:
            raise TypeError(f"out has dtype {out.dtype}; an integer product is int32.")
        if not out.flags.writeable:
            raise ValueError("out is read-only.")
    _check_zero_point("a_zero_point", a_zero_point, A.dtype, M, "row of A")
    _check_zero_point("b_zero_point", b_zero_point, B.dtype, N, "column of B")
    return pair


def _check_beta(beta: Any) -> int:
    if type(beta) is int and (beta == 0 or beta == 1):
        return beta
    if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, numbers.Real):
        raise TypeError(f"beta must be 0 or 1, got {type(beta).__name__}.")
    if beta not in (0, 1):
        raise ValueError(f"beta must be 0 or 1 for an integer product, got {beta!r}.")
    return int(beta)


def _zp_vector(zp: Any, n: int) -> np.ndarray:
    if zp is None:
        return np.zeros(n, dtype=np.int32)
    # Contiguous: the packing intrinsics load zero points as vectors.
    return np.ascontiguousarray(np.broadcast_to(np.asarray(zp, dtype=np.int32), (n,)))


def _rows_unit(X: np.ndarray) -> np.ndarray:
    """X when its rows have unit stride (and a non-negative row stride), else a C copy."""
    if X.strides[1] == X.itemsize and X.strides[0] >= 0:
        return X
    return np.ascontiguousarray(X)


def _check_threads(threads: Any) -> int:
    if type(threads) is int and threads >= 1:
        return threads
    if threads is None:
        from ..fingerprint import usable_cores

        return usable_cores()
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}.")
    return int(threads)


class Int8Kernel:
    """``kernel(A, B, out=None, *, beta=0, a_zero_point=None, b_zero_point=None, threads=None)``.

    Computes (A - a_zp) @ (B - b_zp) (+ out when beta is 1) exactly in int32 for one
    Int8Params and dtype pair. A and B may have any layout (a copy brings rows to unit
    stride, O(MK + KN) against the O(MNK) product); out any int32 array of shape (M, N),
    through a temporary when its rows are not contiguous or it overlaps A or B. Threads
    each run the serial kernel on a band of C's rows ("m") or columns ("n").
    A registered raw core (int8/isa.py) runs the raw product and gets the zero points as
    a rank-2 correction; generated kernels fuse them (int8/template.py).
    """

    def __init__(self, params: Int8Params, pair: str, root: str | os.PathLike | None = None):
        self.pair = normalize_pair(pair)
        self.params = params.validate(self.pair)
        require_isa(params.isa)
        core = raw_core(params.isa)
        self._raw: Callable[..., Any] | None = core.build(params, self.pair) if core else None
        self.module = None
        if self._raw is None:
            from .build import load_module

            self.module = load_module(params, self.pair, root)

    @classmethod
    def around(cls, raw: Callable[..., Any], params: Any, pair: str) -> "Int8Kernel":
        """The wrapper (checks, layouts, zero points, the K limit, ``out=``) around a raw core
        ``raw(A, B, C, beta, threads)`` whose parameters are its own type (AMX tiles)."""
        self = cls.__new__(cls)
        self.pair = normalize_pair(pair)
        self.params = params
        self._raw = raw
        self.module = None
        return self

    def signature(self) -> tuple:
        from numba import types
        from numba.np.numpy_support import from_dtype

        a_dt, b_dt = pair_dtypes(self.pair)
        # Read-only array types accept writable arrays too: one signature serves both.
        a = types.Array(from_dtype(a_dt), 2, "A", readonly=True)
        b = types.Array(from_dtype(b_dt), 2, "A", readonly=True)
        zp = types.Array(types.int32, 1, "A", readonly=True)
        return (a, b, types.Array(types.int32, 2, "A"), zp, zp, types.int64)

    def compile(self) -> None:
        """Compile the driver (or load it from numba's disk cache); later calls are free."""
        if self.module is None or getattr(self.module, "compiled", False):
            return
        with _compile_lock:
            if not getattr(self.module, "compiled", False):
                sig = self.signature()
                gemm = self.module.gemm
                # Marked on the module: True when numba's disk cache had the machine code.
                self.module.from_disk_cache = load_cached(gemm, sig)
                if not self.module.from_disk_cache:
                    gemm.compile(sig)
                gemm.disable_compile()
                self.module.compiled = True

    @property
    def from_disk_cache(self) -> bool:
        """True when compile() loaded machine code from numba's disk cache instead of compiling."""
        return bool(getattr(self.module, "from_disk_cache", False))

    def asm(self) -> str:
        """The assembly of the compiled driver (micro-kernels inlined).

        numba cannot disassemble machine code it loaded from its disk cache, so a kernel
        that came from the cache is compiled once more in a temporary directory for this.
        """
        if self.module is None:
            raw_asm = getattr(self._raw, "asm", None)
            if raw_asm is not None:
                return raw_asm()
            raise ValueError(f"the {getattr(self.params, 'isa', 'raw')} core is not generated here; "
                             "it has no assembly to show.")
        self.compile()
        if self.from_disk_cache:
            import tempfile

            with tempfile.TemporaryDirectory(prefix="gemmtune-asm-") as tmp:
                return Int8Kernel(self.params, self.pair, tmp).asm()
        return "\n".join(self.module.gemm.inspect_asm().values())

    def __call__(self, A: np.ndarray, B: np.ndarray, out: np.ndarray | None = None, *, beta: Any = 0,
                 a_zero_point: Any = None, b_zero_point: Any = None, threads: int | None = None) -> np.ndarray:
        pair = check_int8_operands(A, B, out, a_zero_point, b_zero_point)
        if pair != self.pair:
            raise TypeError(f"this kernel multiplies {self.pair}, got {pair} operands.")
        beta = _check_beta(beta)
        threads = _check_threads(threads)
        M, K = A.shape
        N = B.shape[1]
        limit = max_k(pair, a_zero_point, b_zero_point)
        if K > limit:
            raise ValueError(f"K={K} could overflow int32 for {pair} with these zero points; "
                             f"the largest K allowed is {limit}.")
        if out is None:
            out = np.empty((M, N), dtype=np.int32)
            beta = 0
        if M == 0 or N == 0:
            return out
        if K == 0:
            if beta == 0:
                out[...] = 0
            return out
        za = _zp_vector(a_zero_point, M)
        zb = _zp_vector(b_zero_point, N)
        direct = (out.strides[1] == 4 and out.strides[0] >= 0 and out.strides[0] % 4 == 0
                  and not np.shares_memory(out, A) and not np.shares_memory(out, B))
        if direct:
            self._run(_rows_unit(A), _rows_unit(B), out, za, zb, beta, threads)
        else:
            tmp = np.array(out, order="C") if beta else np.empty((M, N), np.int32)
            self._run(_rows_unit(A), _rows_unit(B), tmp, za, zb, beta, threads)
            out[...] = tmp
        return out

    def _run(self, A, B, C, za, zb, beta, threads):
        if self._raw is not None:
            self._run_raw(A, B, C, za, zb, beta, threads)
            return
        self.compile()
        gemm = self.module.gemm
        p = self.params
        if threads == 1:
            gemm(A, B, C, za, zb, beta)
            return
        if p.parallel == "m":
            parts = [(A[lo:hi], B, C[lo:hi], za[lo:hi], zb) for lo, hi in bands(A.shape[0], threads, p.MR)]
        else:
            parts = [(A, B[:, lo:hi], C[:, lo:hi], za, zb[lo:hi]) for lo, hi in bands(B.shape[1], threads, p.NR)]
        futures = [_thread_pool().submit(gemm, *part, beta) for part in parts[1:]]
        gemm(*parts[0], beta)
        for f in futures:
            f.result()

    def _run_raw(self, A, B, C, za, zb, beta, threads):
        # The raw core wants C-contiguous operands and knows nothing of zero points:
        # (A - za) @ (B - zb) = A @ B - za colsum(B) - rowsum(A) zb + K za zb, in wrapping int32.
        A = np.ascontiguousarray(A)
        B = np.ascontiguousarray(B)
        target = C if C.flags.c_contiguous else np.ascontiguousarray(C)
        self._raw(A, B, target, beta, threads)
        if za.any() or zb.any():
            K = A.shape[1]
            za64 = za.astype(np.int64)
            zb64 = zb.astype(np.int64)
            col = B.sum(axis=0, dtype=np.int64)
            row = A.sum(axis=1, dtype=np.int64)
            fix = -np.outer(za64, col) - np.outer(row, zb64) + K * np.outer(za64, zb64)
            target += fix.astype(np.int32)
        if target is not C:
            C[...] = target


def compile_int8(params: Int8Params, pair: str, root: str | os.PathLike | None = None) -> Int8Kernel:
    """Generate, compile (or load from numba's disk cache) and return the kernel for ``params``."""
    kernel = Int8Kernel(params, pair, root)
    kernel.compile()
    return kernel
