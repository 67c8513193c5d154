"""Matrix-vector products (GEMV), batched: ``y[c] = alpha * M[im[c]] @ x[ix[c]] + beta * y[c]``.

A GEMV reads every element of the matrix once and does one FMA with it: its speed is the
memory bandwidth, not the FMA peak, so it gets no register tile and no packing, only loops
that stream the matrix once with vector loads. Two forms, by which way the matrix is
contiguous:

- dot: the matrix is R x K with unit stride along K (``A @ x`` for a C-ordered A). Each
  output is a dot product; four rows are reduced at once so each load of x serves four
  rows. The reduction is vectorised by LLVM, which needs ``reassoc`` (sums are regrouped,
  as any vectorised dot product does; NaN and Inf still propagate).
- axpy: the matrix is stored K x R with unit stride along R (``x @ B`` for a C-ordered B,
  or ``A @ x`` for a Fortran-ordered A). The output is a sum of scaled rows, accumulated
  eight rows at a time into a buffer of one band of outputs that stays in L1.

The drivers are serial (``nogil``) over a range of work units; more threads run
contiguous ranges of units on the thread pool of ``kernels/gemm.py``. A ``parallel=True``
driver paid a parallel launch and a ``set_num_threads`` round trip on every call, more
than a small GEMV's work (docs/performance.md, section 15). Units are output rows of the
dot form (across the batch first, then inside each product: row bands) and bands of
outputs of the axpy form (column bands of ``x @ B``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# reassoc lets LLVM vectorise the dot product's reduction; contract makes FMAs. Neither
# lets LLVM assume there is no NaN or Inf.
FLAGS = {"contract", "reassoc"}
AXPY_BAND_BYTES = 16 << 10   # accumulators of one axpy work unit: a third of a 48 KiB L1
MIN_UNIT_BYTES = 1 << 20     # matrix bytes per thread below which a second thread costs more


def gemv_dot(M3, X2, Y2, im, ix, u0, u1, alpha, beta, zero):
    """Y2[c, i] = alpha * sum_p M3[im[c], i, p] * X2[ix[c], p] + beta * Y2[c, i], units u0..u1-1.

    Unit u is output row u % R of product u // R. ``zero`` is 0 in the dtype of the sums
    (a float32 accumulator must start as float32, or every FMA becomes convert-add-convert).
    """
    R = Y2.shape[1]
    K = M3.shape[2]
    u = u0
    while u < u1:
        c = u // R
        i = u - c * R
        i_end = min(R, i + (u1 - u))
        a = im[c]
        xs = X2[ix[c]]
        while i + 4 <= i_end:
            s0 = zero
            s1 = zero
            s2 = zero
            s3 = zero
            for p in range(K):
                xp = xs[p]
                s0 += M3[a, i, p] * xp
                s1 += M3[a, i + 1, p] * xp
                s2 += M3[a, i + 2, p] * xp
                s3 += M3[a, i + 3, p] * xp
            if beta == 0:
                Y2[c, i] = alpha * s0
                Y2[c, i + 1] = alpha * s1
                Y2[c, i + 2] = alpha * s2
                Y2[c, i + 3] = alpha * s3
            else:
                Y2[c, i] = alpha * s0 + beta * Y2[c, i]
                Y2[c, i + 1] = alpha * s1 + beta * Y2[c, i + 1]
                Y2[c, i + 2] = alpha * s2 + beta * Y2[c, i + 2]
                Y2[c, i + 3] = alpha * s3 + beta * Y2[c, i + 3]
            i += 4
        while i < i_end:
            s0 = zero
            for p in range(K):
                s0 += M3[a, i, p] * xs[p]
            Y2[c, i] = alpha * s0 if beta == 0 else alpha * s0 + beta * Y2[c, i]
            i += 1
        u = c * R + i_end


def gemv_axpy(MT3, X2, Y2, im, ix, band, u0, u1, alpha, beta, zero):
    """Y2[c, j] = alpha * sum_p X2[ix[c], p] * MT3[im[c], p, j] + beta * Y2[c, j], units u0..u1-1.

    Unit u is the band of ``band`` outputs (u % bands) of product u // bands.
    """
    R = Y2.shape[1]
    K = MT3.shape[1]
    nb = (R + band - 1) // band
    acc = np.empty(band, dtype=Y2.dtype)
    for u in range(u0, u1):
        c = u // nb
        j0 = (u - c * nb) * band
        w = min(band, R - j0)
        a = im[c]
        xs = X2[ix[c]]
        for j in range(w):
            acc[j] = zero
        p = 0
        while p + 8 <= K:
            # 1-D row slices keep the matrix's contiguity in their type, and their indices
            # start at 0 (no wrap-around check): LLVM vectorises with plain vector loads. A
            # 2-D slice of the band would be typed as strided. Eight rows per pass read and
            # write the accumulators once per eight rows of the matrix.
            r0 = MT3[a, p, j0:j0 + w]
            r1 = MT3[a, p + 1, j0:j0 + w]
            r2 = MT3[a, p + 2, j0:j0 + w]
            r3 = MT3[a, p + 3, j0:j0 + w]
            r4 = MT3[a, p + 4, j0:j0 + w]
            r5 = MT3[a, p + 5, j0:j0 + w]
            r6 = MT3[a, p + 6, j0:j0 + w]
            r7 = MT3[a, p + 7, j0:j0 + w]
            x0 = xs[p]
            x1 = xs[p + 1]
            x2 = xs[p + 2]
            x3 = xs[p + 3]
            x4 = xs[p + 4]
            x5 = xs[p + 5]
            x6 = xs[p + 6]
            x7 = xs[p + 7]
            for j in range(w):
                acc[j] += ((x0 * r0[j] + x1 * r1[j] + x2 * r2[j] + x3 * r3[j])
                           + (x4 * r4[j] + x5 * r5[j] + x6 * r6[j] + x7 * r7[j]))
            p += 8
        while p < K:
            r0 = MT3[a, p, j0:j0 + w]
            x0 = xs[p]
            for j in range(w):
                acc[j] += x0 * r0[j]
            p += 1
        yu = Y2[c, j0:j0 + w]
        if beta == 0:
            for j in range(w):
                yu[j] = alpha * acc[j]
        else:
            for j in range(w):
                yu[j] = alpha * acc[j] + beta * yu[j]


@lru_cache(maxsize=None)
def _compiled(form: str, dtype: np.dtype, contiguous: bool):
    """The driver of ``form`` for one signature, loaded from numba's disk cache or compiled.

    The matrix is typed C-contiguous when it is, so numba knows its strides and LLVM
    vectorises with plain vector loads; any other matrix gets the general ("A") variant.
    Vectors are always contiguous (``stacks.py`` copies them: they are small) and outputs
    always general, so each form has at most two variants per dtype.
    """
    from numba import njit, types

    from .cached_load import load_cached

    elem = getattr(types, np.dtype(dtype).name)
    # Inputs typed read-only: read-only arrays need no copy, writable ones convert.
    m3 = types.Array(elem, 3, "C" if contiguous else "A", readonly=True)
    x2 = types.Array(elem, 2, "C", readonly=True)
    y2 = types.Array(elem, 2, "A")
    idx = types.Array(types.int64, 1, "C", readonly=True)
    i64 = types.int64
    if form == "dot":
        sig = (m3, x2, y2, idx, idx, i64, i64, elem, elem, elem)
        fn = gemv_dot
    else:
        sig = (m3, x2, y2, idx, idx, i64, i64, i64, elem, elem, elem)
        fn = gemv_axpy
    disp = njit(cache=True, fastmath=FLAGS, nogil=True)(fn)
    if not load_cached(disp, sig):
        disp.compile(sig)
    disp.disable_compile()
    return disp


def gemv(M3: np.ndarray, X2: np.ndarray, Y2: np.ndarray, im: np.ndarray, ix: np.ndarray,
         alpha: float, beta: float, threads: int, form: str) -> None:
    """Run the GEMV of ``form`` ("dot": M3 is (n, R, K); "axpy": M3 is (n, K, R)).

    Args:
        M3: the matrices, unit stride along their last axis.
        X2: (nx, K) vectors, unit stride along K.
        Y2: (batch, R) outputs, any strides, not overlapping M3 or X2.
        im, ix: int64 indices of each product's matrix and vector.
        alpha, beta: scalars of the update; with beta 0, Y2 is not read.
        threads: threads to run on at most; a GEMV whose matrices give a thread less than
            ``MIN_UNIT_BYTES`` runs on fewer.
        form: "dot" or "axpy".
    """
    if form not in ("dot", "axpy"):
        raise ValueError(f"unknown GEMV form {form!r}: expected 'dot' or 'axpy'.")
    if X2.ndim != 2 or not X2.flags.c_contiguous:
        raise ValueError("X2 must be a C-contiguous 2-D array.")
    if Y2.shape[0] and Y2.shape[1]:
        launch(M3, X2, Y2, im, ix, alpha, beta, threads, form)


def launch(M3: np.ndarray, X2: np.ndarray, Y2: np.ndarray, im: np.ndarray, ix: np.ndarray,
           alpha: float, beta: float, threads: int, form: str) -> None:
    """:func:`gemv` without its checks, for callers that made its arguments so (non-empty)."""
    dtype = Y2.dtype.type
    a, b, zero = dtype(alpha), dtype(beta), dtype(0)
    batch, R = Y2.shape
    # Keyed by the dtype object: its name is a Python property that costs microseconds.
    fn = _compiled(form, Y2.dtype, M3.flags.c_contiguous)
    K = M3.shape[2] if form == "dot" else M3.shape[1]
    threads = max(1, min(threads, batch * R * K * Y2.itemsize // MIN_UNIT_BYTES))
    if form == "dot":
        units, align = batch * R, 16
        run = lambda u0, u1: fn(M3, X2, Y2, im, ix, u0, u1, a, b, zero)  # noqa: E731
    else:
        # Enough bands for every thread, each at most AXPY_BAND_BYTES of accumulators and
        # a multiple of 16 outputs (whole cache lines of a contiguous y).
        cap = max(16, AXPY_BAND_BYTES // Y2.itemsize)
        parts = max(-(-threads // batch), -(-R // cap))
        band = -(-(-(-R // parts)) // 16) * 16
        units, align = batch * -(-R // band), 1
        run = lambda u0, u1: fn(M3, X2, Y2, im, ix, band, u0, u1, a, b, zero)  # noqa: E731
    if threads == 1:
        run(0, units)
        return
    from .gemm import _thread_pool, bands

    ranges = bands(units, threads, align)
    futures = [_thread_pool().submit(run, lo, hi) for lo, hi in ranges[1:]]
    run(*ranges[0])
    for f in futures:
        f.result()
