"""The peers gemmtune is measured against, built once: onnxruntime sessions and numpy's conv idiom.

onnxruntime and onnx are the optional ``peers`` extra (``pip install 'gemmtune[peers]'``);
they are imported only inside the functions here, so a missing install costs a column, never
an import of gemmtune. Each onnxruntime peer is a one-node model (MatMul, MatMulInteger or
Conv) run by the CPU execution provider (MLAS kernels for float32 and the integer pairs) with

- ``intra_op_num_threads`` = the benchmark's thread count, ``inter_op_num_threads`` = 1 and
  sequential execution, so it computes on as many threads as the other contenders;
- no spinning of its thread pool between calls: in interleaved rounds the next contender
  runs right after it, and threads left spinning would take that contender's cores (the
  reason gemmtune's own figures are timed right after a numpy call, ``measure.AfterCall``).

A session is made once per shape and thread count, outside any timed region; the callable
returned runs ``session.run`` and returns its single output.

The benchmarks (``gemmtune bench``, ``benchmarks/int8_matmul.py``, ``amx_matmul.py``,
``conv_layers.py``) build their peers here, so the model building exists once.
"""

from __future__ import annotations

from typing import Any, Callable

INSTALL_HINT = "pip install 'gemmtune[peers]'"
OPSET = 17   # MatMul, MatMulInteger and Conv have not changed since opsets 13, 10 and 11
IR_VERSION = 8   # what onnxruntime 1.17 (the extra's floor) reads


class PeerUnavailable(Exception):
    """A peer that cannot run here: not installed, or no kernel for this dtype (one sentence)."""


def onnxruntime_version() -> str | None:
    """onnxruntime's version when it and onnx import, else None."""
    try:
        import onnx  # noqa: F401
        import onnxruntime
    except ImportError:
        return None
    return str(onnxruntime.__version__)


def missing_note() -> str:
    """The one line a benchmark prints when it runs without onnxruntime."""
    return f"onnxruntime and onnx are not installed, so there is no onnxruntime column ({INSTALL_HINT})."


def _modules() -> tuple[Any, Any]:
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise PeerUnavailable(missing_note()) from None
    return onnx, onnxruntime


def _elem(onnx: Any, dtype: Any) -> int:
    import numpy as np

    names = {"float32": "FLOAT", "float64": "DOUBLE", "uint8": "UINT8", "int8": "INT8",
             "int32": "INT32"}
    name = names.get(np.dtype(dtype).name)
    if name is None:
        raise PeerUnavailable(f"onnxruntime peers take {', '.join(names)}, not {np.dtype(dtype).name}.")
    return getattr(onnx.TensorProto, name)


def session(node: Any, inputs: list[tuple[str, Any, Any]], output: tuple[str, Any, Any],
            threads: int, initializers: list[Any] = ()) -> Callable[..., Any]:
    """A callable ``f(*arrays) -> output array`` running a model of the one ``node``.

    Args:
        node: an ``onnx.helper.make_node`` node.
        inputs: ``(name, dtype, shape or None)`` of the fed inputs, in call order.
        output: ``(name, dtype, shape or None)`` of the output.
        threads: intra-op threads.
        initializers: constant tensors of the model (a Conv's weights).

    Raises:
        PeerUnavailable: onnxruntime or onnx is not installed, or has no kernel for the node.
    """
    onnx, ort = _modules()
    helper = onnx.helper
    graph = helper.make_graph(
        [node], node.op_type.lower(),
        [helper.make_tensor_value_info(name, _elem(onnx, dt), shape) for name, dt, shape in inputs],
        [helper.make_tensor_value_info(output[0], _elem(onnx, output[1]), output[2])],
        initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own classes, e.g. NotImplemented
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise PeerUnavailable(f"onnxruntime has no {node.op_type} for "
                              f"{', '.join(str(dt) for _, dt, _ in inputs)} here ({first[:120]}).") from None
    names = [name for name, _, _ in inputs]

    def run(*arrays: Any) -> Any:
        return sess.run(None, dict(zip(names, arrays)))[0]

    return run


def matmul(dtype: str, threads: int, a_shape: tuple[int, ...] | None = None,
           b_shape: tuple[int, ...] | None = None) -> Callable[[Any, Any], Any]:
    """onnxruntime's MatMul of two ``dtype`` arrays, 2-D or stacked (numpy's rules).

    Raises:
        PeerUnavailable: see :func:`session`.
    """
    onnx, _ = _modules()
    node = onnx.helper.make_node("MatMul", ["A", "B"], ["C"])
    return session(node, [("A", dtype, a_shape), ("B", dtype, b_shape)], ("C", dtype, None), threads)


def matmul_integer(a_dtype: str, b_dtype: str, threads: int) -> Callable[[Any, Any], Any]:
    """onnxruntime's MatMulInteger (8-bit A and B, int32 C, zero points 0): exact.

    Raises:
        PeerUnavailable: see :func:`session` (e.g. a pair this build has no kernel for).
    """
    onnx, _ = _modules()
    node = onnx.helper.make_node("MatMulInteger", ["A", "B"], ["C"])
    return session(node, [("A", a_dtype, None), ("B", b_dtype, None)], ("C", "int32", None), threads)


def conv(spec: Any, w: Any, threads: int) -> Callable[[Any], Any]:
    """onnxruntime's Conv of ``spec`` (a ``gemmtune.conv.ConvSpec``, NCHW) with weights ``w``.

    Raises:
        PeerUnavailable: see :func:`session` (onnxruntime 1.32 has no float64 Conv), or an
            NHWC spec (ONNX's Conv is NCHW).
    """
    onnx, _ = _modules()
    if spec.layout != "NCHW":
        raise PeerUnavailable("onnxruntime's Conv takes NCHW inputs only.")
    node = onnx.helper.make_node("Conv", ["X", "W"], ["Y"], strides=list(spec.stride),
                                 pads=[spec.padding[0], spec.padding[1]] * 2,
                                 dilations=list(spec.dilation), group=spec.groups)
    weights = onnx.numpy_helper.from_array(w, "W")
    return session(node, [("X", w.dtype, list(spec.input_shape()))],
                   ("Y", w.dtype, list(spec.output_shape())), threads, [weights])


def numpy_conv(spec: Any) -> Callable[[Any, Any], Any]:
    """``f(x, w) -> y``: the convolution by numpy's idiom, a strided window view of the padded
    input and one ``tensordot`` with the filters (BLAS), as a numpy user writes it.

    Raises:
        ValueError: grouped or NHWC specs (the idiom is one tensordot over all channels).
    """
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    if spec.groups != 1 or spec.layout != "NCHW":
        raise ValueError("numpy's conv idiom here covers groups=1 and NCHW only.")
    (sh, sw), (ph, pw), (dh, dw) = spec.stride, spec.padding, spec.dilation
    R, S = spec.r, spec.s

    def run(x: Any, w: Any) -> Any:
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
        win = sliding_window_view(xp, ((R - 1) * dh + 1, (S - 1) * dw + 1), axis=(2, 3))
        win = win[:, :, ::sh, ::sw, ::dh, ::dw]                  # (N, C, P, Q, R, S)
        return np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)

    return run
