"""``numpy.matmul``'s shape rules for gemmtune: vectors, stacks, broadcasting, GEMV.

``matmul_nd(A, B)`` multiplies any operands ``numpy.matmul`` accepts (of a supported dtype
pair) and returns what it returns, with alpha, beta and out= on top:

- a 1-D A is a row vector (1, K) and a 1-D B a column vector (K, 1); the 1 is dropped from
  the result;
- ``(..., M, K) @ (..., K, N)`` is a stack of products whose leading dimensions broadcast
  (numpy's rules: aligned from the right, a dimension of 1 stretches);
- out= has exactly the result's shape, any strides; it may overlap an input (the product
  then goes through a temporary);
- empty batches and zero-size M, N or K give numpy's empty or zero results.

Products with M or N = 1 run the GEMV kernels (``kernels/gemv.py``, bound by memory
bandwidth); every other stack runs one call of the batched GEMM (``kernels/batched.py``).
Broadcasting never copies an operand: each product names its matrices by index.

The dtype pair is a seam: ``register_dtype_pair`` maps a pair of operand dtypes to the dtype
of C and to the kernels that multiply it, so another pair (8-bit integers into int32) plugs
in without a branch here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Protocol

import numpy as np

from .kernels.batched import unit_rows
from .kernels.params import KernelParams, lanes, normalize_dtype

ParamsFor = Callable[[int, int, int, int, str, int], KernelParams]
"""``params_for(m, n, k, batch, dtype, threads)``: the KernelParams to run a stack with."""


class BatchedRunner(Protocol):
    def __call__(self, A3: np.ndarray, B3: np.ndarray, C3: np.ndarray, ia: np.ndarray,
                 ib: np.ndarray, alpha: float, beta: float, threads: int) -> None: ...


class GemvRunner(Protocol):
    def __call__(self, M3: np.ndarray, X2: np.ndarray, Y2: np.ndarray, im: np.ndarray,
                 ix: np.ndarray, alpha: float, beta: float, threads: int, form: str) -> None: ...


@dataclass(frozen=True)
class DtypePair:
    """How one pair of operand dtypes is multiplied.

    Attributes:
        a, b: the dtypes of A and B.
        out: the dtype of C (and of out=).
        name: the problem's dtype name, passed to ``params_for`` ("float32", "u8s8", ...).
        gemm: ``gemm(params, cache_dir)`` -> the batched GEMM for those parameters.
        gemv: the batched GEMV.
    """

    a: np.dtype
    b: np.dtype
    out: np.dtype
    name: str
    gemm: Callable[[KernelParams, Any], BatchedRunner]
    gemv: GemvRunner


_PAIRS: dict[tuple[np.dtype, np.dtype], DtypePair] = {}
_floats_registered = False


def _pairs() -> dict[tuple[np.dtype, np.dtype], DtypePair]:
    # The float pairs are registered on first use: their kernels import numba, and
    # ``stacked_problem`` alone should not.
    global _floats_registered
    if not _floats_registered:
        from .kernels.gemv import gemv

        for name in ("float32", "float64"):
            dt = np.dtype(name)
            _PAIRS.setdefault((dt, dt), DtypePair(dt, dt, dt, name, _float_gemm(name), gemv))
        # Marked only once registered: a second thread arriving while the first imports
        # the kernels would otherwise see no pair at all ("does not multiply float32").
        _floats_registered = True
    return _PAIRS


def _float_gemm(name: str) -> Callable[[KernelParams, Any], BatchedRunner]:
    def gemm(params: KernelParams, root: Any) -> BatchedRunner:
        from .kernels.batched import batched_kernel

        return batched_kernel(params, name, root)

    return gemm


def register_dtype_pair(pair: DtypePair) -> None:
    """Make ``matmul_nd`` multiply operands of ``pair.a`` and ``pair.b`` (replacing any before)."""
    _pairs()[(np.dtype(pair.a), np.dtype(pair.b))] = pair


def unregister_dtype_pair(a: Any, b: Any) -> None:
    """Forget the pair of ``a`` and ``b`` (no error if it is not registered)."""
    _pairs().pop((np.dtype(a), np.dtype(b)), None)


def dtype_pair(A: np.ndarray, B: np.ndarray) -> DtypePair:
    """The registered pair for A's and B's dtypes; TypeError with one sentence if none."""
    pairs = _pairs()
    found = pairs.get((A.dtype, B.dtype))
    if found is not None:
        return found
    if A.dtype != B.dtype and A.dtype in {a for a, _ in pairs} and B.dtype in {b for _, b in pairs}:
        raise TypeError(f"A and B have different dtypes ({A.dtype} and {B.dtype}); cast one first.")
    known = ", ".join(sorted({str(a) if a == b else f"{a} x {b}" for a, b in pairs}))
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


# -- default parameters -----------------------------------------------------------------------

MIN_FLOPS_PER_THREAD = 2_000_000   # about 20 us of work at 100 GFLOP/s
SMALL_FLOPS = 2 * 128 ** 3   # products up to this many flops run unpacked, one block each


def stack_params(m: int, n: int, k: int, dtype: str, threads: int = 1,
                 vec_bits: int | None = None, registers: int | None = None) -> KernelParams:
    """Parameters for a stack of (m x k) @ (k x n) products when nothing is tuned for it.

    The 2-D seeds are made for large products (a 14 x 32 tile, 168-row A blocks): a 16^3
    product would be all edge tiles. For a small product the tile is cut to the product:
    NR the vector lanes times as many vectors as n fills (at most 4), MR the most rows the
    register file holds (accumulators MR * NR / lanes, leaving room for the B vectors)
    preferring a divisor of m, one cache block per product (MC, KC, NC cover it) and
    neither operand packed: the whole product is in L1 or L2, so packing would only copy.
    Larger products take the ISA family's seed.

    Args:
        m, n, k: each product's sizes.
        dtype: "float32" or "float64".
        threads: the threads it will run on. The driver is the serial one ("m") for any
            count: more threads run its batch ranges on the thread pool, so one compiled
            kernel serves every thread count, and on a shared machine it degraded far less
            than the prange driver ("ic"), whose threads wait for each other at every call
            (docs/stacks.md).
        vec_bits, registers: the vector width and register count (default: this machine's).
    """
    dtype = normalize_dtype(dtype)
    if vec_bits is None or registers is None:
        bits, regs = _machine_vectors()
        vec_bits = bits if vec_bits is None else vec_bits
        registers = regs if registers is None else registers
    return _stack_params(m, n, k, dtype, threads, vec_bits, registers)


@lru_cache(maxsize=None)
def _machine_vectors() -> tuple[int, int]:
    """This machine's vector width and register count (read once: a lookup costs ~100 us)."""
    from .fingerprint import vector_bits, vector_registers

    return vector_bits(), vector_registers()


@lru_cache(maxsize=4096)
def _stack_params(m: int, n: int, k: int, dtype: str, threads: int, vec_bits: int,
                  registers: int) -> KernelParams:
    if 2 * m * n * k > SMALL_FLOPS:
        from .defaults import default_params

        return default_params(dtype)
    vl = lanes(vec_bits, dtype)
    nv = max(1, min(4, -(-n // vl)))
    budget = max(1, (registers - nv - 1) // nv)       # accumulator rows that fit
    budget = min(budget, 16)                           # MR row pointers also need registers
    mr = min(budget, max(m, 1))
    for d in range(mr, 0, -1):
        # A divisor of m at least half the budget avoids an edge tile per product.
        if m % d == 0 and 2 * d >= mr:
            mr = d
            break
    nr = nv * vl
    # One block per product, within bounds that keep a long thin product's blocks sane.
    mc = min(-(-max(m, 1) // mr) * mr, max(1, 1024 // mr) * mr)
    nc = min(-(-max(n, 1) // nr) * nr, max(1, 4096 // nr) * nr)
    kc = max(1, min(k, 512))
    return KernelParams(MR=mr, NR=nr, MC=mc, KC=kc, NC=nc, vec_bits=vec_bits, unroll=1 if k <= 32 else 4,
                        prefetch=0, parallel="m",
                        pack_a=False, pack_b=False).validate(dtype)


def default_params_for(m: int, n: int, k: int, batch: int, dtype: str, threads: int) -> KernelParams:
    """``params_for`` with no tuning lookup: :func:`stack_params`."""
    return stack_params(m, n, k, dtype, threads)


# -- the product -----------------------------------------------------------------------------

def _check_scalar(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}.")
    return float(value)


def _check_threads(threads: Any) -> int:
    if threads is None:
        from .fingerprint import usable_cores

        threads = usable_cores()
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
              cache_dir: Any = None) -> np.ndarray:
    """``alpha * A @ B + beta * out`` under numpy.matmul's shape rules.

    Args:
        A, B: arrays of a registered dtype pair (float32 or float64 here), of any
            dimensions >= 1 and any strides.
        out: optional array of exactly the result's shape and C's dtype, written in place;
            when ``beta`` is 0 it is not read.
        alpha, beta: scalars of the update (BLAS semantics).
        threads: threads to run on at most (default the usable cores); a stack with less
            than ``MIN_FLOPS_PER_THREAD`` flops per thread runs on fewer.
        params_for: ``params_for(m, n, k, batch, dtype, threads)`` -> the KernelParams of the
            batched GEMM (default :func:`default_params_for`); not called for GEMV shapes
            or empty products.
        cache_dir: the gemmtune cache dir for generated kernels.

    Returns:
        ``out``, or a new C-ordered array (a numpy scalar for two vectors, as numpy).

    Raises:
        TypeError, ValueError: for operands that cannot be multiplied, with the reason.
    """
    for name, X in (("A", A), ("B", B)):
        if not isinstance(X, np.ndarray):
            raise TypeError(f"{name} must be a numpy array, got {type(X).__name__}.")
    pair = dtype_pair(A, B)
    shape = stack_shape(A, B)
    alpha = _check_scalar("alpha", alpha)
    beta = _check_scalar("beta", beta)
    if out is None:
        if not shape.out_shape:
            # Vector @ vector: numpy returns a scalar, not a 0-d array.
            return matmul_nd(A, B, np.empty((), dtype=pair.out), alpha=alpha, beta=0.0,
                             threads=threads, params_for=params_for, cache_dir=cache_dir)[()]
        out = np.empty(shape.out_shape, dtype=pair.out)
        beta = 0.0
    else:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy array, got {type(out).__name__}.")
        if out.shape != shape.out_shape:
            raise ValueError(f"out has shape {out.shape}, expected {shape.out_shape}.")
        if out.dtype != pair.out:
            raise TypeError(f"out has dtype {out.dtype}, expected {pair.out}.")
        if not out.flags.writeable:
            raise ValueError("out is read-only.")
    threads = _check_threads(threads)
    if out.size == 0:
        return out
    # A thread costs a pool hand-off or a parallel launch (tens of microseconds): a stack too
    # small to give each thread MIN_FLOPS_PER_THREAD runs on fewer.
    threads = max(1, min(threads, 2 * shape.batch * shape.m * shape.n * shape.k // MIN_FLOPS_PER_THREAD))
    if shape.k == 0:
        # An empty sum: C = beta*C, and C is not read when beta is 0 (BLAS semantics).
        if beta == 0:
            out[...] = 0
        else:
            out *= beta
        return out
    # The 2-D form of each operand and of out: vectors become (1, K) and (K, 1).
    A2 = A[None, :] if shape.a_vector else A
    B2 = B[:, None] if shape.b_vector else B
    C = np.expand_dims(out, -1) if shape.b_vector else out
    if shape.a_vector:
        C = np.expand_dims(C, -2)
    if shape.m == 1 or shape.n == 1:
        _gemv(pair, shape, A2, B2, C, out, alpha, beta, threads)
    else:
        _gemm(pair, shape, A2, B2, C, out, alpha, beta, threads, params_for, cache_dir)
    return out


def _gemm(pair, shape, A2, B2, C, out, alpha, beta, threads, params_for, cache_dir) -> None:
    batch = shape.batch
    A3, ia = _collapse(A2, shape.batch_shape, batch)
    B3, ib = _collapse(B2, shape.batch_shape, batch)
    A3, B3 = _rows_unit(A3), _rows_unit(B3)
    C3 = _view(C, (batch, shape.m, shape.n))
    if C3 is None or not unit_rows(C3) or _overlaps(out, A2) or _overlaps(out, B2):
        # out overlaps an input or has no usable layout: compute into a temporary.
        tmp = (np.array(C, order="C") if beta != 0 else np.empty(C.shape, pair.out))
        _gemm(pair, shape, A2, B2, tmp, tmp, alpha, beta, threads, params_for, cache_dir)
        C[...] = tmp
        return
    choose = params_for or default_params_for
    params = choose(shape.m, shape.n, shape.k, batch, pair.name, threads)
    pair.gemm(params, cache_dir)(A3, B3, C3, ia, ib, alpha, beta, threads)


def _gemv(pair, shape, A2, B2, C, out, alpha, beta, threads) -> None:
    """M or N = 1: y = M @ x per product, the matrix being A (N = 1) or B transposed (M = 1)."""
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
        tmp = np.array(C, order="C") if beta != 0 else np.empty(C.shape, pair.out)
        _gemv(pair, shape, A2, B2, tmp, tmp, alpha, beta, threads)
        C[...] = tmp
        return
    if unit_rows(M3):
        pair.gemv(M3, X2, Y2, im, ix, alpha, beta, threads, "dot")
    elif unit_rows(np.swapaxes(M3, 1, 2)):
        # The matrix is contiguous along its rows' other axis: sum scaled rows of its transpose.
        pair.gemv(np.swapaxes(M3, 1, 2), X2, Y2, im, ix, alpha, beta, threads, "axpy")
    else:
        pair.gemv(np.ascontiguousarray(M3), X2, Y2, im, ix, alpha, beta, threads, "dot")
