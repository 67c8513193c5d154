"""How a convolution is lowered: which GEMMs run, through how large a buffer.

``conv2d_plan`` is the single place that decides; ``conv2d``, ``conv2d_backward``,
``ConvSpec.gemms`` (what the tuner tunes) and the benchmark all read the same plan.

Orientation follows the layout, so that every GEMM operand and output is a view with unit
stride along rows (``matmul`` then copies nothing but what the plan says). L is the output
pixels of a chunk, Kg = K/groups, taps = C/groups*R*S, per group g:

- NCHW, "kp" im2col matrix (taps x L):
  forward y_g (Kg x L) = W_g @ col_g; backward data dcol_g (taps x L) = W_g^T @ dy_g, then
  col2im; backward weight dW_g^T (taps x Kg) = col_g @ dy_g^T, or dW_g = dy_g @ col_g^T.
- NHWC, "pk" im2col matrix (L x taps, columns ordered g, r, s, c):
  forward y_g (L x Kg) = col_g @ W_g'; backward data dcol_g (L x taps) = dy_g @ W_g'', then
  col2im; backward weight dW_g'' (Kg x taps) = dy_g^T @ col_g, or its transpose.

W_g' and W_g'' are the filters of group g reordered to (R, S, Cg) x Kg and Kg x (R, S, Cg),
small copies. For NCHW a chunk of one image (or part of one) writes y and reads grad_y in
place; a chunk of several images runs one wide GEMM into a temporary and copies it into y in
contiguous P*Q runs (grad_y is gathered the same way), since one GEMM with N*P*Q columns runs
faster than N with P*Q. The weight gradient sums over pixels, the contiguous axis of both
grad_y and the im2col matrix, so one of them is copied transposed: the smaller
(``ConvPlan.weight_grad_transposes``). A pointwise convolution (1x1, stride 1, no padding)
uses x itself as the im2col matrix: for NHWC the whole batch is one plain GEMM on x reshaped
to (N*H*W, C), for NCHW one GEMM per image on x[n] reshaped to (C, H*W).

The im2col buffer holds at most ``BUFFER_LIMIT`` bytes: the output rows of the flattened
(n, p) index are processed in chunks of whole images when an image fits, else of a part of
an image. One buffer serves the backward pass too (im2col for the weight gradient, then the
data gradient's columns before col2im).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from .spec import DIRECTIONS, ConvSpec, GemmShape

BUFFER_LIMIT = 64 * 2**20  # bytes; larger batches run in chunks

# What each direction's GEMM computes, as tables and summaries name it.
ROLES = {"forward": "forward", "backward_data": "grad_x", "backward_weight": "grad_w"}

_ITEMSIZE = {"float32": 4, "float64": 8}


def _itemsize(dtype: Any) -> int:
    name = getattr(dtype, "name", None) or getattr(dtype, "__name__", None) or str(dtype)
    name = {"f32": "float32", "f64": "float64"}.get(name, name)
    if name not in _ITEMSIZE:
        raise TypeError(f"dtype {dtype!r} is not float32 or float64.")
    return _ITEMSIZE[name]


@dataclass(frozen=True)
class ConvPlan:
    """The lowering of one convolution for one dtype.

    Attributes:
        spec: the layer.
        dtype: "float32" or "float64".
        lowering: "gemm" (pointwise: x is the GEMM operand, no copy) or "im2col".
        chunks: output-row ranges [t0, t1) of the flattened (n, p) index, one buffer fill each.
        buffer_bytes: size of the im2col buffer (0 for "gemm").
        gemms: per direction, the distinct GEMM problems with how often one call runs them.
    """

    spec: ConvSpec
    dtype: str
    lowering: str
    chunks: tuple[tuple[int, int], ...]
    buffer_bytes: int
    gemms: Mapping[str, tuple[GemmShape, ...]] = field(compare=False)

    @property
    def weight_grad_transposes(self) -> str:
        """Which operand of the weight gradient is copied transposed: "dy" or "col".

        Both grad_y and the im2col matrix have the output pixels along their contiguous axis,
        and the GEMM sums over pixels, so one of them must be transposed (a strided copy,
        several times slower than a plain one): the smaller, grad_y (Kg rows) or the im2col
        matrix (Cg*R*S rows).
        """
        return weight_grad_transposes(self.spec)

    @property
    def chunk_rows(self) -> int:
        """Output rows (n, p) in the largest chunk."""
        return max(t1 - t0 for t0, t1 in self.chunks)

    def segments(self, t0: int, t1: int) -> list[tuple[int, int, int]]:
        """The per-image pieces (n, p0, p1) of output rows [t0, t1)."""
        P = self.spec.output_hw()[0]
        return [(n, max(t0, n * P) - n * P, min(t1, (n + 1) * P) - n * P)
                for n in range(t0 // P, (t1 - 1) // P + 1)]

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec.to_dict(), "label": self.spec.label(), "dtype": self.dtype,
                "lowering": self.lowering, "chunks": len(self.chunks),
                "chunk_rows": self.chunk_rows, "buffer_bytes": self.buffer_bytes,
                "weight_grad_transposes": self.weight_grad_transposes,
                "gemms": {d: [g.to_dict() for g in gs] for d, gs in self.gemms.items()}}


def weight_grad_transposes(sp: ConvSpec) -> str:
    """"dy" or "col": see ``ConvPlan.weight_grad_transposes``."""
    return "col" if sp.c // sp.groups * sp.r * sp.s < sp.k // sp.groups else "dy"


def _chunks(spec: ConvSpec, row_bytes: int, limit: int) -> tuple[tuple[int, int], ...]:
    P = spec.output_hw()[0]
    total = spec.n * P
    rows = max(1, limit // row_bytes)
    if rows >= P:
        # Whole images per chunk, so that NCHW runs one GEMM per image.
        rows = min(total, rows // P * P)
        return tuple((t, min(t + rows, total)) for t in range(0, total, rows))
    # Part of an image per chunk: equal parts, so the GEMM shapes repeat.
    parts = -(-P // rows)
    rows = -(-P // parts)
    return tuple((n * P + p, n * P + min(p + rows, P)) for n in range(spec.n) for p in range(0, P, rows))


def conv2d_plan(spec: ConvSpec, dtype: Any = "float32", buffer_limit: int | None = None) -> ConvPlan:
    """The lowering ``conv2d`` and ``conv2d_backward`` run for ``spec`` in ``dtype``.

    Args:
        spec: the layer (its layout picks the GEMM orientation).
        dtype: float32 or float64 (a name or numpy dtype).
        buffer_limit: bytes the im2col buffer may take (default ``BUFFER_LIMIT``); a chunk
            is at least one output row.

    Raises:
        TypeError: a dtype other than float32 or float64.
        ValueError: buffer_limit below 1.
    """
    if not isinstance(spec, ConvSpec):
        raise TypeError(f"spec must be a ConvSpec, got {type(spec).__name__}.")
    itemsize = _itemsize(dtype)
    if buffer_limit is None:
        buffer_limit = BUFFER_LIMIT
    if isinstance(buffer_limit, bool) or not isinstance(buffer_limit, int) or buffer_limit < 1:
        raise ValueError(f"buffer_limit must be a positive int of bytes, got {buffer_limit!r}.")
    return _plan(spec, itemsize, buffer_limit)


@lru_cache(maxsize=256)
def _plan(spec: ConvSpec, itemsize: int, buffer_limit: int) -> ConvPlan:
    # Cached: a layer is planned once, not on every call (the plan is immutable: tuples of
    # frozen GemmShapes in a read-only mapping). Planning took 16-23 us against 1-2 us for
    # the lookup, about 1% of a ResNet-50 1x1 layer's forward (docs/performance.md, 16).
    P, Q = spec.output_hw()
    G = spec.groups
    Kg, Cg = spec.k // G, spec.c // G
    taps = Cg * spec.r * spec.s  # the GEMM's inner size per group
    if spec.is_pointwise:
        lowering, buffer_bytes = "gemm", 0
        if spec.layout == "NHWC":
            chunks: tuple[tuple[int, int], ...] = ((0, spec.n * P),)
        else:
            chunks = tuple((n * P, (n + 1) * P) for n in range(spec.n))
    else:
        lowering = "im2col"
        chunks = _chunks(spec, spec.c * spec.r * spec.s * Q * itemsize, buffer_limit)
        buffer_bytes = max(t1 - t0 for t0, t1 in chunks) * Q * spec.c * spec.r * spec.s * itemsize
    transpose_dy = weight_grad_transposes(spec) == "dy"
    counts: dict[str, Counter] = {d: Counter() for d in DIRECTIONS}
    for t0, t1 in chunks:
        # One matmul call per chunk and direction, stacking the G groups' products.
        L = (t1 - t0) * Q
        if spec.layout == "NCHW":
            counts["forward"][(Kg, L, taps)] += 1
            counts["backward_data"][(taps, L, Kg)] += 1
            counts["backward_weight"][(taps, Kg, L) if transpose_dy else (Kg, taps, L)] += 1
        else:
            counts["forward"][(L, Kg, taps)] += 1
            counts["backward_data"][(L, taps, Kg)] += 1
            counts["backward_weight"][(Kg, taps, L) if transpose_dy else (taps, Kg, L)] += 1
    gemms = {d: tuple(GemmShape(m, n, k, c, d, G) for (m, n, k), c in counts[d].items())
             for d in DIRECTIONS}
    return ConvPlan(spec, "float32" if itemsize == 4 else "float64", lowering, chunks,
                    buffer_bytes, MappingProxyType(gemms))


def layer_gemms(spec: ConvSpec, dtype: Any = "float32",
                directions: tuple[str, ...] = DIRECTIONS) -> list[tuple[GemmShape, tuple[str, ...]]]:
    """The distinct GEMM problems ``conv2d`` and ``conv2d_backward`` run for ``spec``: what to tune.

    Read from :func:`conv2d_plan`, the plan the passes run, so the list cannot drift from
    them. A problem that two directions share (e.g. the forward and data-gradient GEMMs of
    a layer with as many filters as channels and a 1x1 kernel) is listed once, with both
    roles.

    Args:
        spec: the layer.
        dtype: float32 or float64.
        directions: which passes, in order ("forward", "backward_data", "backward_weight").

    Returns:
        ``[(gemm, roles)]`` in the order of ``directions``; roles are names from ``ROLES``
        ("forward", "grad_x", "grad_w").

    Raises:
        ValueError: an unknown direction.
    """
    for d in directions:
        if d not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {d!r}.")
    plan = conv2d_plan(spec, dtype)
    found: dict[tuple[int, int, int, int], tuple[GemmShape, tuple[str, ...]]] = {}
    for d in directions:
        for g in plan.gemms[d]:
            key = (g.m, g.n, g.k, g.batch)
            first, roles = found.get(key, (g, ()))
            if ROLES[d] not in roles:
                found[key] = (first, roles + (ROLES[d],))
    return list(found.values())
