"""The peers bench measures against: numpy's conv idiom, onnxruntime's sessions, and their absence."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from gemmtune.bench import peers
from gemmtune.conv import ConvSpec
from gemmtune.conv.reference import check_conv, conv2d_ref
from gemmtune.kernels.reference import check

HAS_ORT = peers.onnxruntime_version() is not None
needs_ort = pytest.mark.skipif(not HAS_ORT, reason="the peers extra (onnxruntime, onnx) is not installed")


def operands(spec: ConvSpec, dtype: str = "float64"):
    rng = np.random.default_rng(3)
    return (rng.standard_normal(spec.input_shape()).astype(dtype),
            rng.standard_normal(spec.weight_shape()).astype(dtype))


@pytest.mark.parametrize("text", ["2,3,9,7,4,3,2,2,1", "1,2,8,8,3,3,3,1,2,2", "1,5,6,6,2,1,1,1,0"])
def test_numpy_conv_is_the_oracle(text):
    spec = ConvSpec.parse(text)
    x, w = operands(spec)
    got = np.asarray(peers.numpy_conv(spec)(x, w))
    assert got.shape == spec.output_shape()
    assert np.allclose(got, conv2d_ref(x, w, spec), rtol=1e-12, atol=1e-12)


def test_numpy_conv_refuses_groups():
    with pytest.raises(ValueError, match="groups=1"):
        peers.numpy_conv(ConvSpec.parse("1,4,6,6,4,3,3,1,1,1,2"))


@needs_ort
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_onnxruntime_matmul_plain_and_stacked(dtype):
    rng = np.random.default_rng(0)
    for a_shape, b_shape in (((13, 7), (7, 5)), ((3, 9, 4), (3, 4, 6))):
        A = rng.standard_normal(a_shape).astype(dtype)
        B = rng.standard_normal(b_shape).astype(dtype)
        run = peers.matmul(dtype, 1, A.shape, B.shape)
        C = run(A, B)
        assert C.dtype == A.dtype and C.shape == np.matmul(A, B).shape
        for i in range(C.shape[0] if C.ndim == 3 else 1):
            pair = (C[i], A[i], B[i]) if C.ndim == 3 else (C, A, B)
            assert check(*pair).ok


@needs_ort
def test_onnxruntime_conv_and_integer_matmul():
    spec = ConvSpec.parse("1,3,9,9,4,3,3,2,1")
    x, w = operands(spec, "float32")
    y = peers.conv(spec, w, 1)(x)
    assert check_conv(y, conv2d_ref(x, w, spec), float(np.abs(x).max()), float(np.abs(w).max()), 27).ok
    A = np.arange(12, dtype=np.uint8).reshape(3, 4)
    B = (np.arange(8, dtype=np.int8) - 4).reshape(4, 2)
    assert np.array_equal(peers.matmul_integer("uint8", "int8", 1)(A, B), A.astype(np.int32) @ B)


@needs_ort
def test_a_kernel_onnxruntime_lacks_is_one_sentence():
    # onnxruntime 1.32 has no float64 Conv: the peer is unavailable, not a crash.
    spec = ConvSpec.parse("1,2,5,5,2,3,3")
    with pytest.raises(peers.PeerUnavailable, match="no Conv for float64"):
        peers.conv(spec, operands(spec)[1], 1)


def test_absent_onnxruntime(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)   # what an absent package looks like
    assert peers.onnxruntime_version() is None
    with pytest.raises(peers.PeerUnavailable, match=r"gemmtune\[peers\]"):
        peers.matmul("float32", 1)
