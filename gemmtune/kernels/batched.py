'''A batched GEMM: one generated driver runs a whole stack of products.

``C[b] = alpha * A[ia[b]] @ B[ib[b]] + beta * C[b]`` for every ``b`` of the batch. The
index arrays ``ia`` and ``ib`` carry numpy's broadcasting of the leading dimensions: an
operand with fewer matrices than the batch (a broadcast dimension of size 1, or no leading
dimension at all) is named once per product instead of being copied.

The per-product loops are the ones of the 2-D driver (``template.py``): jc (NC) -> pc (KC)
-> [pack B] -> ic (MC) -> [pack A] -> jr (NR) -> ir (MR) -> micro-kernel, on the same
``KernelParams``, so the search space of 2-D kernels serves stacks unchanged. What differs is
where the time goes on small products: a 16^3 product is about 60 ns of FMAs, and the 2-D
driver's four scratch allocations per call cost more than that. Here each thread allocates
its packing buffers, edge tile and edge sliver once and reuses them for all its products,
and the batch loop is inside the compiled code, so no product pays Python or dispatch costs.

The work is a list of units, one band of rows of one product each. When the batch has at
least as many products as threads, a unit is a whole product and threads split the batch;
a smaller batch is cut into row bands (multiples of MR), so the threads work inside each
product. Threads take contiguous ranges of units: with ``parallel`` "ic" or "jr" the driver
does it with numba's ``prange``; with "m" or "n" the driver is serial (``nogil``, half the
compile time) and ``BatchedKernel`` gives each thread of a pool its own range.
'''

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from types import ModuleType

import numpy as np

from ..paths import ENV_CACHE_DIR, kernel_dir
from .cached_load import load_cached
from .gemm import _thread_pool, bands
from .params import KernelParams, normalize_dtype
from .template import _HEADER, _ukernel_defs, generator_hash

_BODY = '''
@njit(cache=True, fastmath=FLAGS, nogil=True)
def pack_a3(A3, a, ic, pc, mc, kc, Ap):
    """A3[a, ic:ic+mc, pc:pc+kc] -> MR-row slivers of Ap: sliver s at s*kc*MR, (p, i) at p*MR+i.

    Rows past mc are zero. Elements are indexed, not sliced: a view would cost an atomic
    reference count update per row, more than the copy of a small product's row.
    """
    for s in range((mc + MR - 1) // MR):
        base = s * kc * MR
        mr = min(MR, mc - s * MR)
        for i in range(mr):
            r = ic + s * MR + i
            for p in range(kc):
                Ap[base + p * MR + i] = A3[a, r, pc + p]
        for i in range(mr, MR):
            for p in range(kc):
                Ap[base + p * MR + i] = 0


@njit(cache=True, fastmath=FLAGS, nogil=True)
def pack_b3(B3, b, pc, jc, kc, s0, s1, nc, Bp, s_base):
    """Slivers s0..s1-1 of B3[b, pc:pc+kc, jc:jc+nc] -> Bp at (s-s_base)*kc*NR, (p, j) at p*NR+j."""
    for p in range(kc):
        for s in range(s0, s1):
            base = (s - s_base) * kc * NR + p * NR
            j0 = jc + s * NR
            if s * NR + NR <= nc:
                # A constant trip count: LLVM turns the copy into NR/VL vector moves.
                for j in range(NR):
                    Bp[base + j] = B3[b, pc + p, j0 + j]
            else:
                nr = nc - s * NR
                for j in range(nr):
                    Bp[base + j] = B3[b, pc + p, j0 + j]
                for j in range(nr, NR):
                    Bp[base + j] = 0


@njit(cache=True, fastmath=FLAGS, nogil=True)
def write_edge3(tile, C3, c, i0, j0, mr, nr, alpha, beta):
    """Write the valid mr x nr corner of a full tile (rows NR apart) into C3[c]."""
    for i in range(mr):
        for j in range(nr):
            v = alpha * tile[i * NR + j]
            if beta == 0:
                C3[c, i0 + i, j0 + j] = v
            else:
                C3[c, i0 + i, j0 + j] = v + beta * C3[c, i0 + i, j0 + j]


@njit(cache=True, __DRIVER_FLAGS__fastmath=FLAGS)
def gemm_batched(A3, B3, C3, ia, ib, u0, u1, mb, alpha, beta, nt):
    """C3[c] = alpha*A3[ia[c]]@B3[ib[c]] + beta*C3[c], work units u0..u1-1 in nt contiguous ranges.

    A work unit is one band of mb rows of one product (unit u: product u // bands, band
    u % bands): mb = M gives one unit per product, threads over the batch; a smaller mb
    lets threads share the products of a batch smaller than the threads.
    Every matrix has unit stride along its rows and a non-negative row stride; the batch
    strides are free (0 for a broadcast operand, negative for a reversed one). The product
    loops are written out here, on element offsets, rather than called on 2-D views: a
    view or a call costs reference count updates and dozens of pushed arguments per
    product, which on a 16^3 product is more than its FMAs.
    """
    M = C3.shape[1]
    N = C3.shape[2]
    K = A3.shape[2]
    isz = A3.itemsize
    sa, lda = A3.strides[0] // isz, A3.strides[1] // isz
    sb, ldb = B3.strides[0] // isz, B3.strides[1] // isz
    sc, ldc = C3.strides[0] // isz, C3.strides[1] // isz
    alpha = DTYPE(alpha)
    beta = DTYPE(beta)
    kb = min(KC, K)
    nbands = (M + mb - 1) // mb
    per = (u1 - u0 + nt - 1) // nt
    for t in prange(nt):
        # Scratch of this thread, reused by all its products.
        Ap = np.empty(((min(MC, mb) + MR - 1) // MR) * MR * kb if PACK_A else 1, dtype=DTYPE)
        Bp = np.empty((((min(NC, N) + NR - 1) // NR) if PACK_B else 1) * NR * kb, dtype=DTYPE)
        tile = np.empty(MR * NR, dtype=DTYPE)
        Ae = np.empty(MR * kb, dtype=DTYPE)
        for u in range(u0 + t * per, min(u1, u0 + (t + 1) * per)):
            c = u // nbands
            r0 = (u - c * nbands) * mb
            r1 = min(M, r0 + mb)
            a = ia[c]
            bb = ib[c]
            a0 = a * sa
            bo = bb * sb
            c0 = c * sc
            for jc in range(0, N, NC):
                nc = min(NC, N - jc)
                ns = (nc + NR - 1) // NR
                for pc in range(0, K, KC):
                    kc = min(KC, K - pc)
                    # beta applies once, on the first pc block; later blocks accumulate.
                    be = beta if pc == 0 else DTYPE(1.0)
                    if PACK_B:
                        pack_b3(B3, bb, pc, jc, kc, 0, ns, nc, Bp, 0)
                    elif nc % NR:
                        # The cut last sliver of B is packed and zero-padded.
                        pack_b3(B3, bb, pc, jc, kc, ns - 1, ns, nc, Bp, ns - 1)
                    for ic in range(r0, r1, MC):
                        mc = min(MC, r1 - ic)
                        if PACK_A:
                            pack_a3(A3, a, ic, pc, mc, kc, Ap)
                        elif mc % MR:
                            pack_a3(A3, a, ic + mc - mc % MR, pc, mc % MR, kc, Ae)
                        for jr in range(0, nc, NR):
                            nr = min(NR, nc - jr)
                            s = jr // NR
                            for ir in range(0, mc, MR):
                                mr = min(MR, mc - ir)
                                if mr == MR and nr == NR:
                                    __FULL__(kc, __A_FULL__, __B_FULL__, C3, c0 + (ic + ir) * ldc + jc + jr, ldc, alpha, be)
                                else:
                                    # A tile cut by the edge of C: computed whole into a
                                    # buffer from zero-padded slivers, its valid part written.
__EDGE_CALLS__
                                    write_edge3(tile, C3, c, ic + ir, jc + jr, mr, nr, alpha, be)
'''

_lock = threading.Lock()
_compile_lock = threading.Lock()
_threads_lock = threading.Lock()


def batched_generator_hash() -> str:
    """Hash of this generator together with the 2-D generator it shares code with."""
    h = hashlib.sha256(generator_hash().encode())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:12]


def generate_batched_source(params: KernelParams, dtype: str) -> str:
    """The complete numba module of the batched driver for ``params`` and ``dtype``."""
    dtype = normalize_dtype(dtype)
    params.validate(dtype)
    fa = "p" if params.pack_a else "u"
    fb = "p" if params.pack_b else "u"
    # Operands as (buffer, element offset, leading dimension) of the micro-kernel call.
    a_full = "Ap, (ir // MR) * kc * MR, 0" if params.pack_a else "A3, a0 + (ic + ir) * lda + pc, lda"
    b_full = "Bp, s * kc * NR, 0" if params.pack_b else "B3, bo + pc * ldb + jc + jr, ldb"
    a_edge = a_full if params.pack_a else "Ae, 0, 0"
    b_edge = b_full if params.pack_b else "Bp, 0, 0"
    pad = " " * 36
    if params.pack_a and params.pack_b:
        # Packed slivers are zero-padded already: one call site serves every edge.
        edge = f"{pad}uk_pp(kc, {a_full}, {b_full}, tile, 0, NR, 1.0, 0.0)"
        forms = {"pp"}
    else:
        edge = (f"{pad}if mr < MR and nr < NR:\n"
                f"{pad}    uk_pp(kc, {a_edge}, {b_edge}, tile, 0, NR, 1.0, 0.0)\n"
                f"{pad}elif mr < MR:\n"
                f"{pad}    uk_p{fb}(kc, {a_edge}, {b_full}, tile, 0, NR, 1.0, 0.0)\n"
                f"{pad}else:\n"
                f"{pad}    uk_{fa}p(kc, {a_full}, {b_edge}, tile, 0, NR, 1.0, 0.0)")
        forms = {fa + fb, "pp", "p" + fb, fa + "p"}
    body = (_BODY.replace("__EDGE_CALLS__", edge).replace("__FULL__", "uk_" + fa + fb)
            .replace("__A_FULL__", a_full).replace("__B_FULL__", b_full))
    if params.serial:
        body = body.replace("prange(", "range(").replace("__DRIVER_FLAGS__", "nogil=True, ")
    else:
        body = body.replace("__DRIVER_FLAGS__", "parallel=True, ")
    head = _HEADER.format(label=params.label() + " batched", dtype=dtype, **params.to_dict(),
                          ukernels=_ukernel_defs(params, dtype, forms),
                          PACK_A=params.pack_a, PACK_B=params.pack_b, PARALLEL_JR=False)
    return head + body


def batched_module_name(params: KernelParams, dtype: str) -> str:
    return f"gemmtune_b_{normalize_dtype(dtype)}_{params.key()}_{batched_generator_hash()}"


def load_batched_module(params: KernelParams, dtype: str,
                        root: str | os.PathLike | None = None) -> ModuleType:
    """Write (once) and import the batched module for ``params``; importing does not compile."""
    from .build import import_generated

    dtype = normalize_dtype(dtype)
    params.validate(dtype)
    return import_generated(batched_module_name(params, dtype),
                            lambda: generate_batched_source(params, dtype), root)


def unit_rows(X: np.ndarray) -> bool:
    """Whether X's matrices have unit stride along rows and a non-negative row stride.

    The stride of an axis of length 1 is never used, and numpy leaves it arbitrary.
    """
    return (X.ndim == 3 and (X.strides[2] == X.itemsize or X.shape[2] <= 1)
            and (X.strides[1] >= 0 or X.shape[1] <= 1))


class BatchedKernel:
    """``kernel(A3, B3, C3, ia, ib, alpha, beta, threads)`` for one KernelParams and dtype.

    A low-level callable: ``gemmtune/stacks.py`` brings any input to its form (3-D arrays
    whose matrices have unit stride along rows, C3 not overlapping A3 or B3, int64 index
    arrays with one entry per product) and handles empty sizes.
    """

    def __init__(self, params: KernelParams, dtype: str, root: str | os.PathLike | None = None):
        self.params = params
        self.dtype = normalize_dtype(dtype)
        self.np_dtype = np.dtype(self.dtype)
        self.module = load_batched_module(params, self.dtype, root)

    def compile(self) -> None:
        """Compile the driver (or load it from numba's disk cache); later calls are free."""
        if getattr(self.module, "compiled", False):
            return
        with _compile_lock:
            if getattr(self.module, "compiled", False):
                return
            from numba import types

            elem = types.float32 if self.dtype == "float32" else types.float64
            # Operands typed read-only: a read-only array (a broadcast view, a user's frozen
            # array) then needs no copy, and a writable one converts to it.
            src = types.Array(elem, 3, "A", readonly=True)
            arr = types.Array(elem, 3, "A")
            idx = types.Array(types.int64, 1, "C", readonly=True)
            sig = (src, src, arr, idx, idx, types.int64, types.int64, types.int64,
                   types.float64, types.float64, types.int64)
            fn = self.module.gemm_batched
            if not load_cached(fn, sig):
                fn.compile(sig)
            fn.disable_compile()
            self.module.compiled = True

    def __call__(self, A3: np.ndarray, B3: np.ndarray, C3: np.ndarray, ia: np.ndarray,
                 ib: np.ndarray, alpha: float, beta: float, threads: int) -> None:
        """C3[c] = alpha * A3[ia[c]] @ B3[ib[c]] + beta * C3[c] for every c, on ``threads``."""
        for name, X in (("A3", A3), ("B3", B3), ("C3", C3)):
            if X.dtype != self.np_dtype or not unit_rows(X):
                raise ValueError(f"{name} must be a 3-D {self.dtype} array with unit stride "
                                 "along its rows.")
        batch, M = C3.shape[:2]
        if ia.shape != (batch,) or ib.shape != (batch,):
            raise ValueError(f"ia and ib must have one entry per product ({batch}).")
        if not getattr(self.module, "compiled", False):
            self.compile()
        if batch == 0 or M == 0 or C3.shape[2] == 0:
            return
        mb = band_rows(batch, M, threads, self.params.MR)
        units = batch * (-(-M // mb))
        fn = self.module.gemm_batched
        alpha, beta = float(alpha), float(beta)
        if self.params.serial:
            parts = bands(units, threads, 1)
            futures = [_thread_pool().submit(fn, A3, B3, C3, ia, ib, lo, hi, mb, alpha, beta, 1)
                       for lo, hi in parts[1:]]
            lo, hi = parts[0]
            fn(A3, B3, C3, ia, ib, lo, hi, mb, alpha, beta, 1)
            for f in futures:
                f.result()
            return
        if threads == 1:
            fn(A3, B3, C3, ia, ib, 0, units, mb, alpha, beta, 1)
            return
        import numba

        # set_num_threads is per calling thread in numba; restore it for the caller.
        with _threads_lock:
            before = numba.get_num_threads()
            numba.set_num_threads(threads)
            try:
                fn(A3, B3, C3, ia, ib, 0, units, mb, alpha, beta, threads)
            finally:
                numba.set_num_threads(before)


def band_rows(batch: int, m: int, threads: int, mr: int) -> int:
    """Rows per work unit: all of them when the batch keeps every thread busy, else bands
    (a multiple of MR) so that batch x bands >= threads."""
    if batch >= threads or m <= mr:
        return max(m, 1)
    parts = -(-threads // batch)
    rows = -(-m // parts)
    return -(-rows // mr) * mr


_kernels: dict[tuple[str, KernelParams, str], BatchedKernel] = {}
_by_request: dict[tuple, BatchedKernel] = {}


def batched_kernel(params: KernelParams, dtype: str,
                   root: str | os.PathLike | None = None) -> BatchedKernel:
    """The batched kernel for ``params`` and ``dtype``, built once per process and cache dir."""
    # Looked up first by what the caller gave: resolving the kernel dir costs more than a
    # small product.
    fast = (str(root) if root else None, os.environ.get(ENV_CACHE_DIR), params, dtype)
    k = _by_request.get(fast)
    if k is not None:
        return k
    key = (str(kernel_dir(root)), params, normalize_dtype(dtype))
    with _lock:
        k = _kernels.get(key)
    if k is None:
        k = BatchedKernel(params, dtype, root)
        with _lock:
            k = _kernels.setdefault(key, k)
    _by_request[fast] = k
    return k


# Stacks that cross every fringe of a small-product configuration: 1, primes, a broadcast
# operand (one A for every product), and more products than threads.
FRINGE_STACKS = ((1, 1, 1, 1), (3, 1, 37, 5), (2, 29, 1, 17), (5, 13, 11, 1), (4, 67, 41, 23))


def verify_batched(kernel, batch: int, m: int, n: int, k: int, threads: int = 1, seed: int = 0,
                   fringes: bool = True):
    """Run a batched kernel on a stack of the problem's shape (and fringe stacks), C poisoned.

    The problem's own stack is capped at 64 products (every product is checked); the first
    fringe stack broadcasts one A to every product. Returns the first failing
    ``reference.Verdict``, else the worst passing one, as ``reference.verify_kernel`` does
    for 2-D kernels.

    Args:
        kernel: a callable with ``BatchedKernel``'s signature (``kernel.dtype`` names its dtype).
        batch, m, n, k: the stack to check.
        threads: threads to run it on.
    """
    from .reference import Verdict, check

    rng = np.random.default_rng(seed)
    dtype = kernel.dtype
    shapes = [(min(batch, 64), m, n, k)] + (list(FRINGE_STACKS) if fringes else [])
    worst = Verdict(0.0, "PASS")
    for i, (bb, mm, nn, kk) in enumerate(shapes):
        shared = i == 1   # one A for every product: the broadcast path
        A3 = rng.standard_normal((1 if shared else bb, mm, kk)).astype(dtype)
        B3 = rng.standard_normal((bb, kk, nn)).astype(dtype)
        C3 = np.full((bb, mm, nn), np.nan, dtype=dtype)   # poison: unwritten shows as NaN
        ia = np.zeros(bb, dtype=np.int64) if shared else np.arange(bb, dtype=np.int64)
        ib = np.arange(bb, dtype=np.int64)
        kernel(A3, B3, C3, ia, ib, 1.0, 0.0, threads)
        for c in range(bb):
            v = check(C3[c], A3[ia[c]], B3[ib[c]])
            if not v.ok:
                return Verdict(v.residual, v.status, f"{bb} x {mm}x{nn}x{kk}, product {c}: {v.reason}")
            if v.residual > worst.residual:
                worst = v
    return worst
