"""``numpy.matmul``'s shape rules for gemmtune: vectors, stacks, broadcasting, GEMV.

``matmul_nd(A, B)`` multiplies any operands ``numpy.matmul`` accepts (of a dtype of
``gemmtune/dtypes.py``) and returns what it returns, with alpha, beta and out= on top:

- a 1-D A is a row vector (1, K) and a 1-D B a column vector (K, 1); the 1 is dropped from
  the result;
- ``(..., M, K) @ (..., K, N)`` is a stack of products whose leading dimensions broadcast
  (numpy's rules: aligned from the right, a dimension of 1 stretches);
- out= has exactly the result's shape, any strides; it may overlap an input (the product
  then goes through a temporary);
- empty batches and zero-size M, N or K give numpy's empty or zero results.

Float products with M or N = 1 run the GEMV kernels (``kernels/gemv.py``, bound by memory
bandwidth); every other float stack runs one call of the batched GEMM
(``kernels/batched.py``). Broadcasting never copies an operand: each product names its
matrices by index. Integer stacks (8-bit A and B, int32 C) have no batched kernel yet: each
product runs the integer family's 2-D kernel in turn.

``gemv_route(A, B)`` gives ``gemmtune.matmul`` the GEMV for a 2-D product with M or N = 1,
which the blocked GEMM would run with a whole packed panel for one row or column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from . import dtypes
from .dtypes import DType
from .kernels.batched import unit_rows
from .kernels.gemm import _check_scalar, check_operands
from .kernels.gemv import gemv, launch
from .kernels.params import KernelParams
# Small products' untuned parameters live in small.py; stack_params is re-exported for callers.
from .small import SMALL_FLOPS, default_params_for, stack_params  # noqa: F401

ParamsFor = Callable[[int, int, int, int, str, int], KernelParams]
"""``params_for(m, n, k, batch, dtype, threads)``: the KernelParams to run a stack with."""


def operand_dtype(A: np.ndarray, B: np.ndarray) -> DType:
    """The dtype (``gemmtune/dtypes.py``) of ``A @ B``; TypeError with one sentence if none."""
    name = dtypes.of_operands(A.dtype, B.dtype)
    if name is not None:
        return dtypes.DTYPES[name]
    known_a = {d.a for d in dtypes.DTYPES.values()}
    known_b = {d.b for d in dtypes.DTYPES.values()}
    if A.dtype != B.dtype and A.dtype.name in known_a and B.dtype.name in known_b:
        raise TypeError(f"A and B have different dtypes ({A.dtype} and {B.dtype}); cast one first.")
    known = ", ".join(sorted({d.a if d.a == d.b else f"{d.a} x {d.b}" for d in dtypes.DTYPES.values()}))
    raise TypeError(f"gemmtune does not multiply {A.dtype} by {B.dtype}; it multiplies {known}.")


# -- shapes -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class StackShape:
    """The shape of ``A @ B`` under numpy.matmul's rules.

    Attributes:
        batch_shape: the broadcast leading dimensions.
        m, n, k: each product's sizes (m = 1 for a 1-D A, n = 1 for a 1-D B).
        a_vector, b_vector: whether A or B was 1-D (its 1 is not in the result).
    """

    batch_shape: tuple[int, ...]
    m: int
    n: int
    k: int
    a_vector: bool
    b_vector: bool

    @property
    def batch(self) -> int:
        return math.prod(self.batch_shape)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return (self.batch_shape + (() if self.a_vector else (self.m,))
                + (() if self.b_vector else (self.n,)))


def stack_shape(A: np.ndarray, B: np.ndarray) -> StackShape:
    """The shape of ``A @ B``; ValueError with one sentence where numpy.matmul refuses."""
    for name, X in (("A", A), ("B", B)):
        if X.ndim == 0:
            raise ValueError(f"{name} is a 0-d array; matmul needs at least one dimension "
                             "(use multiplication for scalars).")
    a_vector, b_vector = A.ndim == 1, B.ndim == 1
    m, ka = (1, A.shape[0]) if a_vector else A.shape[-2:]
    kb, n = (B.shape[0], 1) if b_vector else B.shape[-2:]
    if ka != kb:
        a_dim = "A's only dimension" if a_vector else "A's last dimension"
        b_dim = "B's only dimension" if b_vector else "B's second-to-last dimension"
        raise ValueError(f"A {A.shape} and B {B.shape} do not align for matmul: {a_dim} has "
                         f"size {ka} but {b_dim} has size {kb}.")
    lead_a, lead_b = A.shape[:-2], B.shape[:-2]
    try:
        # np.broadcast_shapes costs microseconds; equal or missing leading dims are common.
        batch_shape = (lead_a if lead_a == lead_b or not lead_b else lead_b if not lead_a
                       else np.broadcast_shapes(lead_a, lead_b))
    except ValueError:
        raise ValueError(f"A {A.shape} and B {B.shape} do not broadcast: their leading "
                         f"dimensions {lead_a} and {lead_b} differ where neither is 1.") from None
    return StackShape(tuple(batch_shape), int(m), int(n), int(ka), a_vector, b_vector)


def stacked_problem(A: np.ndarray, B: np.ndarray) -> tuple[int, int, int, int]:
    """``(batch, m, n, k)`` of ``A @ B``: batch products of (m x k) @ (k x n).

    A 2-D product is batch 1; a 1-D A gives m = 1 and a 1-D B n = 1. Raises ValueError
    where numpy.matmul would.
    """
    for name, X in (("A", A), ("B", B)):
        if not isinstance(X, np.ndarray):
            raise TypeError(f"{name} must be a numpy array, got {type(X).__name__}.")
    s = stack_shape(A, B)
    return s.batch, s.m, s.n, s.k


# -- the product -----------------------------------------------------------------------------

MIN_FLOPS_PER_THREAD = 2_000_000   # a stack's work per thread: about 20 us at 100 GFLOP/s


def _check_threads(threads: Any) -> int:
    if threads is None:
        # The 2-D default: the usable cores, at most NUMBA_NUM_THREADS and numpy's BLAS
        # thread count now (threadpool_limits), as gemmtune/threads.py says.
        from .threads import default_threads

        threads = default_threads()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}.")
    import numba

    if threads > numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"threads={threads} is outside 1..{numba.config.NUMBA_NUM_THREADS}, "
                         "the threads numba can use on this machine.")
    return int(threads)


def _overlaps(out: np.ndarray, X: np.ndarray) -> bool:
    if not np.may_share_memory(out, X):
        return False
    try:
        return bool(np.shares_memory(out, X, max_work=10_000))
    except np.exceptions.TooHardError:
        return True   # cannot tell cheaply: the temporary is always right


def _collapse(X: np.ndarray, batch_shape: tuple[int, ...], batch: int) -> tuple[np.ndarray, np.ndarray]:
    """X (lead..., r, c) as (n, r, c) and the index of each product's matrix in it.

    The leading dimensions of X are merged (a copy only if their strides do not allow a
    view); broadcasting becomes repeated indices instead of copies.
    """
    lead = X.shape[:-2]
    if not lead:
        return X[None], _indices(batch, True)
    X3 = X.reshape((-1,) + X.shape[-2:])
    if lead == batch_shape:
        return X3, _indices(batch, False)
    idx = np.arange(X3.shape[0], dtype=np.int64).reshape(lead)
    return X3, np.ascontiguousarray(np.broadcast_to(idx, batch_shape)).reshape(-1)


@lru_cache(maxsize=64)
def _indices(batch: int, zeros: bool) -> np.ndarray:
    """0, 1, ..., batch-1 (or batch zeros), read-only and shared: the common index arrays."""
    idx = np.zeros(batch, dtype=np.int64) if zeros else np.arange(batch, dtype=np.int64)
    idx.flags.writeable = False
    return idx


def _view(X: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """X reshaped to ``shape`` without a copy, or None when its strides do not allow it."""
    if X.flags.c_contiguous:
        return X.reshape(shape)
    try:
        return np.reshape(X, shape, copy=False)
    except ValueError:
        return None


def _rows_unit(X3: np.ndarray) -> np.ndarray:
    """X3 when its matrices have unit stride along rows and a non-negative row stride, else a copy."""
    return X3 if unit_rows(X3) else np.ascontiguousarray(X3)



def matmul_nd(A: np.ndarray, B: np.ndarray, out: np.ndarray | None = None, *, alpha: float = 1.0,
              beta: float = 0.0, threads: int | None = None, params_for: ParamsFor | None = None,
              cache_dir: Any = None, **options: Any) -> np.ndarray:
    """``alpha * A @ B + beta * out`` under numpy.matmul's shape rules.

    Args:
        A, B: arrays of a dtype pair of ``gemmtune/dtypes.py`` (float32, float64, or 8-bit
            integers into int32), of any dimensions >= 1 and any strides.
        out: optional array of exactly the result's shape and C's dtype, written in place;
            when ``beta`` is 0 it is not read.
        alpha, beta: scalars of the update (BLAS semantics); for integers alpha is 1 and
            beta 0 or 1, as for 2-D integer products.
        threads: threads to run on at most (default the usable cores); a stack with less
            than ``MIN_FLOPS_PER_THREAD`` flops per thread runs on fewer.
        params_for: ``params_for(m, n, k, batch, dtype, threads)`` -> the KernelParams of the
            batched GEMM (default :func:`default_params_for`); not called for GEMV shapes,
            integer stacks or empty products.
        cache_dir: the gemmtune cache dir for generated kernels.
        options: integer products only: ``a_zero_point``, ``b_zero_point``, applied to each
            product as the 2-D integer kernel applies them.

    Returns:
        ``out``, or a new C-ordered array (a numpy scalar for two vectors, as numpy).

    Raises:
        TypeError, ValueError: for operands that cannot be multiplied, with the reason.
    """
    for name, X in (("A", A), ("B", B)):
        if not isinstance(X, np.ndarray):
            raise TypeError(f"{name} must be a numpy array, got {type(X).__name__}.")
    dt = operand_dtype(A, B)
    out_dtype = np.dtype(dt.out)
    shape = stack_shape(A, B)
    if dt.kind == "int":
        from .families.int8_gemm import check_alpha
        from .int8.kernel import _check_beta

        check_alpha(alpha)
        beta = _check_beta(beta)
    else:
        if options:
            verb = "applies" if len(options) == 1 else "apply"
            raise TypeError(f"{', '.join(sorted(options))} {verb} only to integer products.")
        alpha = _check_scalar("alpha", alpha)
        beta = _check_scalar("beta", beta)
    if out is None:
        if not shape.out_shape:
            # Vector @ vector: numpy returns a scalar, not a 0-d array.
            return matmul_nd(A, B, np.empty((), dtype=out_dtype), alpha=alpha, beta=0,
                             threads=threads, params_for=params_for, cache_dir=cache_dir,
                             **options)[()]
        out = np.empty(shape.out_shape, dtype=out_dtype)
        beta = 0
    else:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy array, got {type(out).__name__}.")
        if out.shape != shape.out_shape:
            raise ValueError(f"out has shape {out.shape}, expected {shape.out_shape}.")
        if out.dtype != out_dtype:
            raise TypeError(f"out has dtype {out.dtype}, expected {out_dtype}.")
        if not out.flags.writeable:
            raise ValueError("out is read-only.")
    threads = _check_threads(threads)
    if out.size == 0:
        return out
    # A thread costs a pool hand-off or a parallel launch (tens of microseconds): a stack too
    # small to give each thread MIN_FLOPS_PER_THREAD runs on fewer.
    threads = max(1, min(threads, 2 * shape.batch * shape.m * shape.n * shape.k // MIN_FLOPS_PER_THREAD))
    if shape.k == 0:
        return _empty_sum(out, beta)
    # The 2-D form of each operand and of out: vectors become (1, K) and (K, 1).
    A2 = A[None, :] if shape.a_vector else A
    B2 = B[:, None] if shape.b_vector else B
    C = out[..., None] if shape.b_vector else out
    if shape.a_vector:
        C = C[..., None, :]
    if dt.kind == "int":
        _int_products(dt, shape, A2, B2, C, beta, threads, cache_dir, options)
    elif shape.m == 1 or shape.n == 1:
        _gemv(out_dtype, shape, A2, B2, C, out, alpha, beta, threads)
    else:
        _gemm(dt, shape, A2, B2, C, out, alpha, beta, threads, params_for, cache_dir)
    return out


def _empty_sum(out: np.ndarray, beta: float) -> np.ndarray:
    """A product with K = 0: C = beta * C, and C is not read when beta is 0 (BLAS semantics)."""
    if beta == 0:
        out[...] = 0
    elif beta != 1:
        out *= beta   # an integer C only ever has beta 0 or 1, so never meets a float here
    return out


def _gemm(dt, shape, A2, B2, C, out, alpha, beta, threads, params_for, cache_dir) -> None:
    from .kernels.batched import batched_kernel

    batch = shape.batch
    A3, ia = _collapse(A2, shape.batch_shape, batch)
    B3, ib = _collapse(B2, shape.batch_shape, batch)
    A3, B3 = _rows_unit(A3), _rows_unit(B3)
    C3 = _view(C, (batch, shape.m, shape.n))
    if C3 is None or not unit_rows(C3) or _overlaps(out, A2) or _overlaps(out, B2):
        # out overlaps an input or has no usable layout: compute into a temporary.
        tmp = (np.array(C, order="C") if beta != 0 else np.empty(C.shape, out.dtype))
        _gemm(dt, shape, A2, B2, tmp, tmp, alpha, beta, threads, params_for, cache_dir)
        C[...] = tmp
        return
    choose = params_for or default_params_for
    params = choose(shape.m, shape.n, shape.k, batch, dt.name, threads)
    batched_kernel(params, dt.name, cache_dir)(A3, B3, C3, ia, ib, alpha, beta, threads)


def _gemv(out_dtype, shape, A2, B2, C, out, alpha, beta, threads) -> None:
    """M or N = 1: y = M @ x per product, the matrix being A (N = 1) or B transposed (M = 1)."""
    if not shape.batch_shape:
        # One product (a vector and a matrix): the 2-D route's path, which costs less per call.
        gemv_2d(A2, B2, C, alpha=alpha, beta=beta, threads=threads)
        return
    batch = shape.batch
    if shape.n == 1:
        mat, vec, y = A2, B2[..., :, 0], C[..., :, 0]
    else:
        mat, vec, y = np.swapaxes(B2, -1, -2), A2[..., 0, :], C[..., 0, :]
    M3, im = _collapse(mat, shape.batch_shape, batch)
    X2, ix = _collapse(vec[..., None], shape.batch_shape, batch)
    X2 = np.ascontiguousarray(X2[..., 0])
    Y2 = _view(y, (batch, y.shape[-1]))
    if Y2 is None or _overlaps(out, A2) or _overlaps(out, B2):
        tmp = np.array(C, order="C") if beta != 0 else np.empty(C.shape, out_dtype)
        _gemv(out_dtype, shape, A2, B2, tmp, tmp, alpha, beta, threads)
        C[...] = tmp
        return
    _run_gemv(M3, X2, Y2, im, ix, alpha, beta, threads)


def _run_gemv(M3, X2, Y2, im, ix, alpha, beta, threads) -> None:
    """The GEMV form that reads M3 (n, R, K) along its unit stride, copying it if it has none."""
    if unit_rows(M3):
        gemv(M3, X2, Y2, im, ix, alpha, beta, threads, "dot")
    elif unit_rows(MT3 := M3.swapaxes(1, 2)):
        # The matrix is contiguous along its rows' other axis: sum scaled rows of its transpose.
        gemv(MT3, X2, Y2, im, ix, alpha, beta, threads, "axpy")
    else:
        gemv(np.ascontiguousarray(M3), X2, Y2, im, ix, alpha, beta, threads, "dot")


def _int_products(dt, shape, A2, B2, C, beta, threads, cache_dir, options) -> None:
    """Each product of an integer stack through the integer family's 2-D kernel, in turn.

    No batched integer driver exists yet; a product costs one kernel call from Python
    (tens of microseconds), which a stack of many small products feels.
    """
    from .api import choose
    from .problem import Problem

    batch = shape.batch
    # Broadcasting by index, as for floats: a broadcast view would be read-only, which the
    # integer kernels would copy (or refuse).
    A3, ia = _collapse(A2, shape.batch_shape, batch)
    B3, ib = _collapse(B2, shape.batch_shape, batch)
    C3 = _view(C, (batch, shape.m, shape.n))
    target = C3 if C3 is not None else np.array(C).reshape(batch, shape.m, shape.n)
    choice = choose(Problem(shape.m, shape.n, shape.k, dt.name, threads), cache_dir)
    kernel = choice.kernel
    for c in range(batch):
        kernel(A3[ia[c]], B3[ib[c]], target[c], beta=beta, threads=choice.threads, **options)
    if C3 is None:
        C[...] = target.reshape(C.shape)


# -- 2-D products with M or N = 1 ------------------------------------------------------------

# A @ x with fewer matrix elements than this runs the blocked GEMM: its tile cut to the
# product (stack_params) is a few microseconds faster per call than the GEMV's Python side
# up to 64 x 64; from 128 x 128 the GEMV is faster (docs/performance.md, section 15).
GEMV_MIN_ELEMENTS = 1 << 14


def gemv_kernel(m: int, n: int, k: int, dtype: str) -> bool:
    """Whether ``gemmtune.matmul`` runs the 2-D (m x k) @ (k x n) product as a GEMV.

    A float product with M or N = 1 does when the blocked GEMM would run the ISA tile (more
    than ``SMALL_FLOPS``: a whole packed panel for one row or column, 5-8x slower), or when
    N = 1 and the matrix has at least ``GEMV_MIN_ELEMENTS``. A small x @ B keeps the
    blocked GEMM: its 1-row tile cut to the product reads B once as the GEMV does, with
    less per call (docs/performance.md, section 15).
    """
    if not (m == 1 or n == 1) or dtypes.spec(dtype).kind != "float":
        return False
    return _gemv_pays(m, n, k)


def _gemv_pays(m: int, n: int, k: int) -> bool:
    return 2 * m * n * k > SMALL_FLOPS or (n == 1 and m * k >= GEMV_MIN_ELEMENTS)


def gemv_route(A: np.ndarray, B: np.ndarray) -> Callable[..., np.ndarray] | None:
    """The GEMV for the 2-D product ``A @ B`` when :func:`gemv_kernel` says so, else None.

    Returns ``run(A, B, out=None, *, alpha=1.0, beta=0.0, threads)``, with the checks,
    sentences and semantics of ``gemmtune.matmul`` on 2-D operands. A and B are 2-D arrays
    of a known dtype pair; products with neither M nor N = 1 cost two comparisons.
    """
    m, n = A.shape[0], B.shape[1]
    if m != 1 and n != 1:
        return None
    if A.dtype != B.dtype or A.dtype.kind != "f" or A.shape[1] != B.shape[0]:
        return None   # integers, mixed dtypes and misaligned shapes: the 2-D path's business
    return gemv_2d if _gemv_pays(m, n, A.shape[1]) else None


def gemv_2d(A: np.ndarray, B: np.ndarray, out: np.ndarray | None = None, *, alpha: float = 1.0,
            beta: float = 0.0, threads: int = 1) -> np.ndarray:
    """``alpha * A @ B + beta * out`` for 2-D float A, B with M or N = 1, by the GEMV kernel.

    A and B are operands ``gemv_route`` accepted (2-D, one float dtype, aligned). A small
    GEMV is a few microseconds of work, so this path costs only what it must: the (1, K)
    vector, the (1, R) output and the matrix are views of the operands whenever their
    strides allow (no copy, no reshape), and the driver is called without ``gemv``'s checks.
    """
    if out is not None:
        check_operands(A, B, out)   # the 2-D path's sentences for a wrong out
    if type(alpha) is not float:
        alpha = _check_scalar("alpha", alpha)
    if type(beta) is not float:
        beta = _check_scalar("beta", beta)
    if threads != 1:
        threads = _check_threads(threads)
    M, K = A.shape
    N = B.shape[1]
    if out is None:
        out = np.empty((M, N), dtype=A.dtype)
        beta = 0.0
    elif _overlaps(out, A) or _overlaps(out, B):
        tmp = np.array(out, order="C") if beta != 0 else np.empty((M, N), A.dtype)
        gemv_2d(A, B, tmp, alpha=alpha, beta=beta, threads=threads)
        out[...] = tmp
        return out
    if M == 0 or N == 0:
        return out
    if K == 0:
        return _empty_sum(out, beta)
    if threads > 1:
        threads = max(1, min(threads, 2 * M * N * K // MIN_FLOPS_PER_THREAD))
    item = A.itemsize
    if N == 1:
        # y (1, M) = x (1, K) times A's rows: x is B's column as a row, y out's column as one.
        x, y, mat = B.T, out.T, A
    else:
        x, y, mat = A, out, B.T
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    one = _ONE
    if mat.strides[1] == item and mat.strides[0] >= 0:
        launch(mat[None], x, y, one, one, alpha, beta, threads, "dot")
    elif mat.strides[0] == item and mat.strides[1] >= 0:
        launch(mat.T[None], x, y, one, one, alpha, beta, threads, "axpy")
    else:
        launch(np.ascontiguousarray(mat)[None], x, y, one, one, alpha, beta, threads, "dot")
    return out


_ONE = _indices(1, True)
