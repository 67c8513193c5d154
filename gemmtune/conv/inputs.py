"""Checks of conv2d's arguments: one sentence per mistake, before any work starts."""

from __future__ import annotations

from typing import Any

import numpy as np

from .spec import LAYOUTS, ConvSpec


def _array(name: str, a: Any) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}.")
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} has dtype {a.dtype}; conv2d takes float32 or float64.")
    return a


def conv_spec(x: Any, w: Any, *, stride: Any, padding: Any, dilation: Any, groups: Any,
              layout: Any) -> ConvSpec:
    """The ConvSpec of ``x`` convolved with ``w``, after checking both arrays.

    Raises:
        TypeError: not float32/float64 numpy arrays, different dtypes, non-int options.
        ValueError: wrong ranks, channels that do not match, bad geometry.
    """
    x, w = _array("x", x), _array("w", w)
    if not isinstance(layout, str) or layout.upper() not in LAYOUTS:
        raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}.")
    layout = layout.upper()
    if x.ndim != 4:
        raise ValueError(f"x must be 4-D ({layout}), got shape {x.shape}.")
    if w.ndim != 4:
        raise ValueError(f"w must be 4-D (K, C/groups, R, S), got shape {w.shape}.")
    if x.dtype != w.dtype:
        raise TypeError(f"x and w have different dtypes ({x.dtype} and {w.dtype}); cast one first.")
    if isinstance(groups, bool) or not hasattr(groups, "__index__"):
        raise TypeError(f"groups must be an int, got {groups!r}.")
    groups = int(groups.__index__())
    if groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups}.")
    n, c, h, wd = x.shape if layout == "NCHW" else (x.shape[0], x.shape[3], x.shape[1], x.shape[2])
    if 0 in x.shape or 0 in w.shape:
        raise ValueError(f"x {x.shape} and w {w.shape} must have no empty axis.")
    k, cg, r, s = w.shape
    if c % groups:
        raise ValueError(f"groups={groups} does not divide the {c} input channels of x.")
    if cg * groups != c:
        raise ValueError(f"w has {cg} channels per filter but x has {c} channels in "
                         f"{groups} group(s), so w.shape[1] must be {c // groups}.")
    return ConvSpec(n, c, h, wd, k, r, s, stride=stride, padding=padding, dilation=dilation,
                    groups=groups, layout=layout)


def check_bias(bias: Any, spec: ConvSpec, dtype: np.dtype) -> np.ndarray | None:
    """``bias`` as a 1-D array of K elements of ``dtype``, or None."""
    if bias is None:
        return None
    bias = _array("bias", bias)
    if bias.shape != (spec.k,):
        raise ValueError(f"bias must have shape ({spec.k},), one value per filter, got {bias.shape}.")
    if bias.dtype != dtype:
        raise TypeError(f"bias has dtype {bias.dtype} but x has {dtype}; cast one first.")
    return bias


def check_grad(grad_y: Any, spec: ConvSpec, dtype: np.dtype) -> np.ndarray:
    """``grad_y`` after checking it has the output's shape and the inputs' dtype."""
    grad_y = _array("grad_y", grad_y)
    if grad_y.shape != spec.output_shape():
        raise ValueError(f"grad_y has shape {grad_y.shape}, but the output of this convolution "
                         f"has shape {spec.output_shape()}.")
    if grad_y.dtype != dtype:
        raise TypeError(f"grad_y has dtype {grad_y.dtype} but x has {dtype}; cast one first.")
    return grad_y


def resolve_threads(threads: Any) -> int:
    """``threads``, or the usable cores when None."""
    if threads is None:
        from ..fingerprint import usable_cores

        return usable_cores()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}.")
    return int(threads)
