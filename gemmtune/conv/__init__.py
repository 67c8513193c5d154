"""Convolution lowered to tuned GEMM: im2col forward, GEMM + col2im backward.

``ConvSpec``, ``conv2d_plan`` and ``load_conv_suite`` are plain Python; ``conv2d`` and
``conv2d_backward`` load numba on first use.
"""

from __future__ import annotations

from typing import Any

from .plan import BUFFER_LIMIT, ROLES, ConvPlan, conv2d_plan, layer_gemms
from .spec import ConvSpec, GemmShape
from .suite import ConvLayer, load_conv_suite

__all__ = ["conv2d", "conv2d_backward", "conv2d_plan", "ConvPlan", "ConvSpec", "GemmShape",
           "ConvLayer", "load_conv_suite", "BUFFER_LIMIT", "layer_gemms", "ROLES"]


def __getattr__(name: str) -> Any:
    if name == "conv2d":
        from .forward import conv2d

        return conv2d
    if name == "conv2d_backward":
        from .backward import conv2d_backward

        return conv2d_backward
    raise AttributeError(f"module 'gemmtune.conv' has no attribute {name!r}")
