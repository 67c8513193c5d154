"""conv2d and conv2d_backward refuse bad input with one sentence, before any work."""

from __future__ import annotations

import numpy as np
import pytest

import gemmtune

X = np.zeros((1, 4, 5, 5), np.float32)
W = np.zeros((6, 2, 3, 3), np.float32)


@pytest.mark.parametrize("args, kwargs, error, words", [
    ((X.tolist(), W), {}, TypeError, "x must be a numpy array"),
    ((X.astype(np.int32), W), {}, TypeError, "float32 or float64"),
    ((X, W.astype(np.float64)), {}, TypeError, "different dtypes"),
    ((X[0], W), {}, ValueError, "x must be 4-D"),
    ((X, W[0]), {}, ValueError, "w must be 4-D"),
    ((X, W), {"groups": 1}, ValueError, "w.shape\\[1\\] must be 4"),
    ((X, W), {"groups": 3}, ValueError, "does not divide the 4 input channels"),
    ((X, np.zeros((5, 2, 3, 3), np.float32)), {"groups": 2}, ValueError, "filters K=5"),
    ((X, np.zeros((6, 2, 7, 3), np.float32)), {"groups": 2, "padding": 0}, ValueError, "kernel spans 7"),
    ((X, W), {"groups": 2, "stride": 0}, ValueError, "stride must be positive"),
    ((X, W), {"groups": 2, "stride": (1, -1)}, ValueError, "stride must be positive"),
    ((X, W), {"groups": 2, "padding": -1}, ValueError, "padding must be non-negative"),
    ((X, W), {"groups": 2, "dilation": 1.5}, TypeError, "dilation must be an int"),
    ((X, W), {"groups": 2, "layout": "CNHW"}, ValueError, "layout"),
    ((X, W), {"groups": 0}, ValueError, "groups must be a positive int"),
    ((X, W), {"groups": 2, "threads": 0}, ValueError, "threads must be an integer"),
    ((X, W, np.zeros(5, np.float32)), {"groups": 2}, ValueError, "bias must have shape \\(6,\\)"),
    ((X, W, np.zeros(6, np.float64)), {"groups": 2}, TypeError, "bias has dtype float64"),
    ((np.zeros((0, 4, 5, 5), np.float32), W), {"groups": 2}, ValueError, "no empty axis"),
])
def test_conv2d_refuses(args, kwargs, error, words):
    with pytest.raises(error, match=words) as e:
        gemmtune.conv2d(*args, **kwargs)
    assert str(e.value).endswith(".")


@pytest.mark.parametrize("gy, error, words", [
    (np.zeros((1, 6, 5, 5), np.float32), ValueError, "grad_y has shape \\(1, 6, 5, 5\\)"),
    (np.zeros((1, 6, 3, 3), np.float64), TypeError, "grad_y has dtype float64"),
    (None, TypeError, "grad_y must be a numpy array"),
])
def test_conv2d_backward_refuses(gy, error, words):
    with pytest.raises(error, match=words):
        gemmtune.conv2d_backward(X, W, gy, groups=2)


def test_nhwc_reads_channels_last():
    x = np.zeros((1, 5, 5, 4), np.float32)
    with pytest.raises(ValueError, match="w.shape\\[1\\] must be 4"):
        gemmtune.conv2d(x, W, layout="NHWC")
    # An NCHW-shaped x read as NHWC has 5 channels.
    with pytest.raises(ValueError, match="does not divide the 5 input channels"):
        gemmtune.conv2d(np.zeros((1, 4, 5, 5), np.float32), W, layout="NHWC", groups=2)


def test_conv2d_loads_no_command_line_libraries():
    """Like matmul, conv2d's modules load without click, rich or optuna."""
    import subprocess
    import sys

    code = ("import sys, gemmtune.conv.forward, gemmtune.conv.backward, gemmtune.conv.im2col; "
            "print(sorted(m for m in ('click', 'rich', 'optuna') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
