"""A benchmark's workloads: a GEMM, a stack of GEMMs or a convolution layer, and the memory
and traffic each needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class Workload:
    """One shape of a benchmark, with the name it is shown under.

    A GEMM C(m x n) = A(m x k) @ B(k x n); ``batch`` > 1 makes it a stack of that many
    products (A is (batch, m, k)); with ``conv`` (a ``gemmtune.conv.ConvSpec``) it is that
    convolution layer instead, and m, n, k are unused (make it with :meth:`layer`).
    """

    name: str
    m: int
    n: int
    k: int
    batch: int = 1
    conv: Any = None

    @classmethod
    def layer(cls, name: str, spec: Any) -> "Workload":
        return cls(name, 0, 0, 0, conv=spec)

    @property
    def square(self) -> bool:
        return self.conv is None and self.batch == 1 and self.m == self.n == self.k

    def flops(self) -> int:
        """2*B*M*N*K for a GEMM or a stack; 2*N*K*P*Q*C*R*S/groups for a layer."""
        if self.conv is not None:
            return self.conv.flops()
        return 2 * self.batch * self.m * self.n * self.k

    def label(self) -> str:
        """E.g. "512x512x512", "96 x 128x128x64", "N1 C64 56x56 K64 3x3 s1 p1"."""
        if self.conv is not None:
            return self.conv.label()
        shape = f"{self.m}x{self.n}x{self.k}"
        return shape if self.batch == 1 else f"{self.batch} x {shape}"


def workloads_from_sizes(sizes: Sequence[int]) -> list[Workload]:
    """Square problems N x N x N, named by N."""
    return [Workload(str(s), s, s, s) for s in sizes]


def memory_needed(w: Workload, dtype: str) -> int:
    """Bytes held at once: the operands, one result per contender, and the check's float64 copies."""
    from ..dtypes import spec
    from ..kernels.params import ITEMSIZE

    if spec(dtype).kind == "int":
        # 8-bit A and B with their float32, int32 and (for the reference) float64 copies; C
        # as int32 for four contenders, float32 for numpy's, onnxruntime's, and the int64
        # reference with its float64 product.
        return w.batch * ((w.m * w.k + w.k * w.n) * (1 + 4 + 4 + 8) + w.m * w.n * (4 * 4 + 4 + 4 + 8 + 8))
    if w.conv is not None:
        x, y = _size(w.conv.input_shape()), _size(w.conv.output_shape())
        wt = _size(w.conv.weight_shape())
        # conv2d's im2col buffer and numpy's window copy are about R*S inputs each.
        cols = w.conv.r * w.conv.s * x
        return (x + wt + 5 * y + 2 * cols) * ITEMSIZE[dtype] + (x + wt + 2 * y + cols) * 8
    return w.batch * ((w.m * w.k + w.k * w.n + 5 * w.m * w.n) * ITEMSIZE[dtype]
                      + (w.m * w.k + w.k * w.n + 2 * w.m * w.n) * 8)


def min_traffic_bytes(w: Workload, dtype: str) -> int:
    """Bytes a GEMM (or layer) must move at least: read the operands, write the result once."""
    from ..dtypes import spec
    from ..kernels.params import ITEMSIZE

    d = spec(dtype)
    if d.kind == "int":   # 8-bit operands, an int32 result
        return w.batch * ((w.m * w.k + w.k * w.n) * d.itemsize + w.m * w.n * 4)
    if w.conv is not None:
        return (_size(w.conv.input_shape()) + _size(w.conv.weight_shape())
                + _size(w.conv.output_shape())) * ITEMSIZE[dtype]
    return w.batch * (w.m * w.k + w.k * w.n + w.m * w.n) * ITEMSIZE[dtype]


def _size(shape: Sequence[int]) -> int:
    out = 1
    for v in shape:
        out *= v
    return out
