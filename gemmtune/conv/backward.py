"""conv2d_backward: the weight gradient by im2col + GEMM, the input gradient by GEMM + col2im.

Per chunk of output rows, one buffer serves both: im2col fills it for the weight gradient's
GEMM, then the data gradient's GEMM overwrites it with the gradient's columns and col2im
folds them back into grad_x. The weight gradient accumulates over chunks (beta = 1).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .inputs import check_grad, conv_spec, resolve_threads
from .plan import ConvPlan, conv2d_plan


def conv2d_backward(x: np.ndarray, w: np.ndarray, grad_y: np.ndarray, *, stride: Any = 1,
                    padding: Any = 0, dilation: Any = 1, groups: int = 1, layout: str = "NCHW",
                    threads: int | None = None, cache_dir: str | os.PathLike | None = None,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``conv2d(x, w, bias, ...)`` given the output's gradient ``grad_y``.

    Args:
        x, w, stride, padding, dilation, groups, layout, threads, cache_dir: as in ``conv2d``.
        grad_y: the gradient of the output, shaped like the output, same dtype.

    Returns:
        ``(grad_x, grad_w, grad_b)``: new C-contiguous arrays shaped like x, w and (K,);
        grad_b is grad_y summed over every axis but the channel axis.

    Raises:
        TypeError, ValueError: bad arrays or geometry, with one sentence.
    """
    spec = conv_spec(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups,
                     layout=layout)
    grad_y = check_grad(grad_y, spec, x.dtype)
    threads = resolve_threads(threads)
    plan = conv2d_plan(spec, x.dtype)
    grad_b = _bias_grad(grad_y, spec)
    run = _backward_nchw if spec.layout == "NCHW" else _backward_nhwc
    grad_x, grad_w = run(plan, np.ascontiguousarray(x), np.ascontiguousarray(w),
                         np.ascontiguousarray(grad_y), threads, cache_dir)
    return grad_x, grad_w, grad_b


def _bias_grad(gy: np.ndarray, spec) -> np.ndarray:
    """grad_y summed over all but the channel axis, accumulated in float64."""
    if spec.layout == "NCHW" and gy.flags.c_contiguous:
        # Along the contiguous pixel axis first (numpy sums it pairwise, fast and accurate).
        per_image = gy.reshape(spec.n, spec.k, -1).sum(axis=2)
        return per_image.sum(axis=0, dtype=np.float64).astype(gy.dtype)
    axes = (0, 2, 3) if spec.layout == "NCHW" else (0, 1, 2)
    return gy.sum(axis=axes, dtype=np.float64).astype(gy.dtype)


def _backward_nchw(plan: ConvPlan, x, w, gy, threads, cache_dir):
    from .forward import group_matmul
    from .im2col import col2im, im2col, numba_threads

    sp = plan.spec
    P, Q = sp.output_hw()
    G = sp.groups
    Kg, Cg = sp.k // G, sp.c // G
    taps = Cg * sp.r * sp.s
    rows = sp.c * sp.r * sp.s
    geometry = (P, Q, sp.r, sp.s, sp.stride, sp.padding, sp.dilation, G)
    mm = {"threads": threads, "cache_dir": cache_dir}
    # W_g^T (taps x Kg) per group: a small copy so that every GEMM operand has unit-stride rows.
    wt = np.ascontiguousarray(w.reshape(G, Kg, taps).transpose(0, 2, 1))
    gyv = gy.reshape(sp.n, sp.k, P * Q)
    # A pointwise convolution's data GEMM writes every element of grad_x (beta = 0);
    # col2im adds into it, so it starts at zero.
    gx = (np.empty if plan.lowering == "gemm" else np.zeros)(x.shape, dtype=x.dtype)
    gxv = gx.reshape(sp.n, sp.c, sp.h * sp.w)
    transpose_dy = plan.weight_grad_transposes == "dy"
    # grad_w^T (taps x Kg) per group when grad_y is transposed, else grad_w (Kg x taps).
    dw = np.empty((G, taps, Kg) if transpose_dy else (G, Kg, taps), dtype=x.dtype)
    buf = np.empty(plan.buffer_bytes // x.itemsize, dtype=x.dtype)
    for i, (t0, t1) in enumerate(plan.chunks):
        L = (t1 - t0) * Q
        if plan.lowering == "gemm":
            col = x[t0 // P].reshape(sp.c, L)
        else:
            col = buf[:rows * L].reshape(rows, L)
            with numba_threads(threads):
                im2col(x, col, "NCHW", t0, t1, *geometry)
        segments = plan.segments(t0, t1)
        if len(segments) == 1:
            n, p0, p1 = segments[0]
            dy = gyv[n, :, p0 * Q:p1 * Q]  # (K, L), a view
        else:
            # Several whole images: grad_y gathered to (K, L) in contiguous P*Q runs.
            n0 = t0 // P
            dy = np.ascontiguousarray(gyv[n0:n0 + (t1 - t0) // P].transpose(1, 0, 2)).reshape(sp.k, L)
        beta = 0.0 if i == 0 else 1.0
        col3, dy3 = col.reshape(G, taps, L), dy.reshape(G, Kg, L)
        if transpose_dy:
            dyt = np.ascontiguousarray(dy.T)  # grad_w^T = col @ dy^T
            group_matmul(col3, dyt.reshape(L, G, Kg).transpose(1, 0, 2), dw, beta=beta, **mm)
        else:
            colt = np.ascontiguousarray(col.T)  # grad_w = dy @ col^T
            group_matmul(dy3, colt.reshape(L, G, taps).transpose(1, 0, 2), dw, beta=beta, **mm)
        # The data gradient's columns overwrite the im2col matrix, which is no longer needed;
        # a pointwise convolution writes them straight into grad_x.
        dcol = gxv[t0 // P].reshape(G, taps, L) if plan.lowering == "gemm" else col3
        group_matmul(wt, dy3, dcol, **mm)
        if plan.lowering != "gemm":
            with numba_threads(threads):
                col2im(col, gx, "NCHW", t0, t1, *geometry)
    if transpose_dy:
        dw = np.ascontiguousarray(dw.transpose(0, 2, 1))
    return gx, dw.reshape(sp.k, Cg, sp.r, sp.s)


def _backward_nhwc(plan: ConvPlan, x, w, gy, threads, cache_dir):
    from .forward import group_matmul
    from .im2col import col2im, im2col, numba_threads

    sp = plan.spec
    P, Q = sp.output_hw()
    G = sp.groups
    Kg, Cg = sp.k // G, sp.c // G
    taps = Cg * sp.r * sp.s
    cols = sp.c * sp.r * sp.s
    geometry = (P, Q, sp.r, sp.s, sp.stride, sp.padding, sp.dilation, G)
    mm = {"threads": threads, "cache_dir": cache_dir}
    # Group g's filters as Kg x (R, S, Cg), the column order of the "pk" im2col matrix.
    wk = np.ascontiguousarray(w.reshape(G, Kg, Cg, sp.r, sp.s).transpose(0, 1, 3, 4, 2)).reshape(G, Kg, taps)
    gy2 = gy.reshape(sp.n * P * Q, sp.k)
    gx = (np.empty if plan.lowering == "gemm" else np.zeros)(x.shape, dtype=x.dtype)
    gx2 = gx.reshape(sp.n * sp.h * sp.w, sp.c)
    transpose_dy = plan.weight_grad_transposes == "dy"
    # grad_w per group as Kg x (R, S, Cg) when grad_y is transposed, else its transpose.
    dwk = np.empty((G, Kg, taps) if transpose_dy else (G, taps, Kg), dtype=x.dtype)
    buf = np.empty(plan.buffer_bytes // x.itemsize, dtype=x.dtype)
    for i, (t0, t1) in enumerate(plan.chunks):
        L = (t1 - t0) * Q
        if plan.lowering == "gemm":
            col = x.reshape(sp.n * sp.h * sp.w, sp.c)[t0 * Q:t1 * Q]
        else:
            col = buf[:L * cols].reshape(L, cols)
            with numba_threads(threads):
                im2col(x, col, "NHWC", t0, t1, *geometry)
        dy = gy2[t0 * Q:t1 * Q]
        # Group g's columns as (G, rows, columns) views.
        col3 = col.reshape(L, G, taps).transpose(1, 0, 2)
        dy3 = dy.reshape(L, G, Kg).transpose(1, 0, 2)
        beta = 0.0 if i == 0 else 1.0
        if transpose_dy:
            dyt = np.ascontiguousarray(dy3.transpose(0, 2, 1))  # (G, Kg, L), one copy
            group_matmul(dyt, col3, dwk, beta=beta, **mm)
        else:
            colt = np.ascontiguousarray(col3.transpose(0, 2, 1))  # (G, taps, L)
            group_matmul(colt, dy3, dwk, beta=beta, **mm)
        dcol = gx2[t0 * Q:t1 * Q] if plan.lowering == "gemm" else col
        group_matmul(dy3, wk, dcol.reshape(L, G, taps).transpose(1, 0, 2), **mm)
        if plan.lowering != "gemm":
            with numba_threads(threads):
                col2im(col, gx, "NHWC", t0, t1, *geometry)
    if not transpose_dy:
        dwk = dwk.transpose(0, 2, 1)
    gw = np.ascontiguousarray(
        dwk.reshape(G, Kg, sp.r, sp.s, Cg).transpose(0, 1, 4, 2, 3)).reshape(sp.k, Cg, sp.r, sp.s)
    return gx, gw
