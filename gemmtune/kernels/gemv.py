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
  four rows at a time into a buffer of one band of outputs that stays in L1.

Threads split the rows of the output (across the batch first, then inside each product),
in contiguous ranges.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np
from numba import prange

# reassoc lets LLVM vectorise the dot product's reduction; contract makes FMAs. Neither
# lets LLVM assume there is no NaN or Inf.
FLAGS = {"contract", "reassoc"}
AXPY_BAND = 2048   # outputs per axpy work unit: 8 KiB of float32 accumulators, in L1

_threads_lock = threading.Lock()


def gemv_dot(M3, X2, Y2, im, ix, alpha, beta, zero, nt):
    """Y2[c, i] = alpha * sum_p M3[im[c], i, p] * X2[ix[c], p] + beta * Y2[c, i].

    ``zero`` is 0 in the dtype of the sums (a float32 accumulator must start as float32,
    or every FMA becomes convert-add-convert).
    """
    batch, R = Y2.shape
    K = M3.shape[2]
    total = batch * R
    per = (total + nt - 1) // nt
    for t in prange(nt):
        u = t * per
        end = min(total, u + per)
        while u < end:
            c = u // R
            i = u - c * R
            i_end = min(R, i + (end - u))
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


def gemv_axpy(MT3, X2, Y2, im, ix, band, alpha, beta, zero, nt):
    """Y2[c, j] = alpha * sum_p X2[ix[c], p] * MT3[im[c], p, j] + beta * Y2[c, j].

    Work unit u is the band of ``band`` outputs (u % bands) of product u // bands.
    """
    batch, R = Y2.shape
    K = MT3.shape[1]
    nb = (R + band - 1) // band
    total = batch * nb
    per = (total + nt - 1) // nt
    for t in prange(nt):
        acc = np.empty(band, dtype=Y2.dtype)
        for u in range(t * per, min(total, (t + 1) * per)):
            c = u // nb
            j0 = (u - c * nb) * band
            w = min(band, R - j0)
            a = im[c]
            xs = X2[ix[c]]
            for j in range(w):
                acc[j] = zero
            p = 0
            while p + 4 <= K:
                # 1-D row slices keep the matrix's contiguity in their type, and their
                # indices start at 0 (no wrap-around check): LLVM vectorises with plain
                # vector loads. A 2-D slice of the band would be typed as strided.
                r0 = MT3[a, p, j0:j0 + w]
                r1 = MT3[a, p + 1, j0:j0 + w]
                r2 = MT3[a, p + 2, j0:j0 + w]
                r3 = MT3[a, p + 3, j0:j0 + w]
                x0 = xs[p]
                x1 = xs[p + 1]
                x2 = xs[p + 2]
                x3 = xs[p + 3]
                for j in range(w):
                    acc[j] += x0 * r0[j] + x1 * r1[j] + x2 * r2[j] + x3 * r3[j]
                p += 4
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
def _compiled(form: str, dtype: str, contiguous: bool):
    """The driver of ``form`` compiled for one signature (or loaded from numba's disk cache).

    The matrix is typed C-contiguous when it is, so numba knows its strides and LLVM
    vectorises with plain vector loads; any other matrix gets the general ("A") variant.
    Vectors are always contiguous (``stacks.py`` copies them: they are small) and outputs
    always general, so each form has at most two variants per dtype.
    """
    from numba import njit, types

    elem = getattr(types, dtype)
    # Inputs typed read-only: read-only arrays need no copy, writable ones convert.
    m3 = types.Array(elem, 3, "C" if contiguous else "A", readonly=True)
    x2 = types.Array(elem, 2, "C", readonly=True)
    y2 = types.Array(elem, 2, "A")
    idx = types.Array(types.int64, 1, "C", readonly=True)
    if form == "dot":
        sig = types.void(m3, x2, y2, idx, idx, elem, elem, elem, types.int64)
        fn = gemv_dot
    else:
        sig = types.void(m3, x2, y2, idx, idx, types.int64, elem, elem, elem, types.int64)
        fn = gemv_axpy
    return njit([sig], cache=True, parallel=True, fastmath=FLAGS, nogil=True)(fn)


def gemv(M3: np.ndarray, X2: np.ndarray, Y2: np.ndarray, im: np.ndarray, ix: np.ndarray,
         alpha: float, beta: float, threads: int, form: str) -> None:
    """Run the GEMV of ``form`` ("dot": M3 is (n, R, K); "axpy": M3 is (n, K, R)).

    Args:
        M3: the matrices, unit stride along their last axis.
        X2: (nx, K) vectors, unit stride along K.
        Y2: (batch, R) outputs, any strides, not overlapping M3 or X2.
        im, ix: int64 indices of each product's matrix and vector.
        alpha, beta: scalars of the update; with beta 0, Y2 is not read.
        threads: threads to run on.
        form: "dot" or "axpy".
    """
    dtype = Y2.dtype.type
    a, b = dtype(alpha), dtype(beta)
    batch, R = Y2.shape
    if batch == 0 or R == 0:
        return
    if form not in ("dot", "axpy"):
        raise ValueError(f"unknown GEMV form {form!r}: expected 'dot' or 'axpy'.")
    if X2.ndim != 2 or not X2.flags.c_contiguous:
        raise ValueError("X2 must be a C-contiguous 2-D array.")
    fn = _compiled(form, np.dtype(dtype).name, bool(M3.flags.c_contiguous))
    if form == "dot":
        run = lambda nt: fn(M3, X2, Y2, im, ix, a, b, dtype(0), nt)  # noqa: E731
    elif form == "axpy":
        # Enough bands for every thread, each at most AXPY_BAND outputs.
        parts = max(-(-threads // batch), -(-R // AXPY_BAND))
        band = -(-(-(-R // parts)) // 16) * 16
        run = lambda nt: fn(M3, X2, Y2, im, ix, band, a, b, dtype(0), nt)  # noqa: E731
    import numba

    # set_num_threads is per calling thread in numba; restore it for the caller.
    with _threads_lock:
        before = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            run(threads)
        finally:
            numba.set_num_threads(before)
