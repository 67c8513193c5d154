"""Strategies and helpers shared by the convolution tests.

Sizes stay small: the float64 oracle is a loop over taps, and numba compiles the im2col and
col2im kernels once per dtype (cached on disk), the GEMM once per dtype in a shared dir.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st

from gemmtune.conv import ConvSpec
from gemmtune.conv.reference import check_conv


@st.composite
def conv_specs(draw, layouts=("NCHW", "NHWC"), max_n: int = 3) -> ConvSpec:
    """Any small convolution: strides, paddings, dilations, groups (incl. depthwise), both layouts."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cg = draw(st.integers(1, 3))
    depthwise = draw(st.booleans()) and groups > 1
    kg = 1 if depthwise else draw(st.integers(1, 3))
    if depthwise:
        cg = 1
    r, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    span_h, span_w = dilation[0] * (r - 1) + 1, dilation[1] * (s - 1) + 1
    h = draw(st.integers(max(1, span_h - 2 * padding[0]), span_h - 2 * padding[0] + 6))
    w = draw(st.integers(max(1, span_w - 2 * padding[1]), span_w - 2 * padding[1] + 6))
    return ConvSpec(draw(st.integers(1, max_n)), cg * groups, h, w, kg * groups, r, s, stride,
                    padding, dilation, groups, draw(st.sampled_from(layouts)))


def random_inputs(spec: ConvSpec, dtype: str, rng: np.random.Generator, contiguous: bool = True):
    """x, w (and grad_y) for ``spec``; non-contiguous views when ``contiguous`` is False."""
    def make(shape):
        if contiguous:
            return rng.standard_normal(shape).astype(dtype)
        # Every other element of a larger array, with the axes in reversed memory order.
        big = rng.standard_normal(tuple(2 * d for d in shape[::-1])).astype(dtype)
        return big[tuple(slice(None, None, 2) for _ in shape)].transpose(3, 2, 1, 0)

    return make(spec.input_shape()), make(spec.weight_shape()), make(spec.output_shape())


def conv_kwargs(spec: ConvSpec) -> dict:
    return {"stride": spec.stride, "padding": spec.padding, "dilation": spec.dilation,
            "groups": spec.groups, "layout": spec.layout}


def amax(a) -> float:
    return float(np.max(np.abs(a)))


def assert_pass(verdict, what: str) -> None:
    assert verdict.ok, f"{what}: {verdict.status} {verdict.reason}"


def assert_forward(y, ref, x, w, spec) -> None:
    terms = spec.c // spec.groups * spec.r * spec.s
    assert_pass(check_conv(y, ref, amax(x), amax(w), terms), f"forward {spec.label()}")


@pytest.fixture(scope="session")
def conv_cache(compiled_root) -> str:
    """The cache dir for the GEMMs: nothing tuned (seed kernels), compiled once per session."""
    return str(compiled_root)
