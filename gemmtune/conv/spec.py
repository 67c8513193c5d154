"""The geometry of a 2-D convolution layer, and the GEMM problems it lowers to.

Vocabulary (as in cuDNN and the im2col literature): a batch of N images of C channels and
H x W pixels is convolved with K filters of C/groups channels and R x S taps; the output has
P x Q pixels per filter. ``ConvSpec`` carries no data and imports nothing heavy, so the CLI
and the shape suites can use it without starting numba.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LAYOUTS = ("NCHW", "NHWC")
DIRECTIONS = ("forward", "backward_data", "backward_weight")


def pair(name: str, value: Any, minimum: int) -> tuple[int, int]:
    """``value`` (an int or a pair of ints) as a pair, each at least ``minimum``.

    Raises:
        TypeError: not an int or a pair of ints.
        ValueError: an element below ``minimum``.
    """
    if isinstance(value, (tuple, list)):
        items = tuple(value)
        if len(items) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}.")
    else:
        items = (value, value)
    out = []
    for v in items:
        if isinstance(v, bool) or not hasattr(v, "__index__"):
            raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}.")
        v = int(v.__index__())
        if v < minimum:
            bound = "positive" if minimum == 1 else "non-negative"
            raise ValueError(f"{name} must be {bound}, got {value!r}.")
        out.append(v)
    return out[0], out[1]


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an int, got {value!r}.")
    v = int(value.__index__())
    if v < 1:
        raise ValueError(f"{name} must be a positive int, got {v}.")
    return v


@dataclass(frozen=True)
class GemmShape:
    """One GEMM problem of a lowered convolution: C(m x n) = A(m x k) @ B(k x n), ``count`` times.

    ``count`` is how many ``gemmtune.matmul`` calls one call of the convolution makes with it
    (once per image or batch chunk); ``batch`` is how many products each call stacks (the
    groups: a grouped convolution runs one stacked call, not one call per group); ``role``
    says which product it is, e.g. "forward".
    """

    m: int
    n: int
    k: int
    count: int = 1
    role: str = "forward"
    batch: int = 1

    @property
    def flops(self) -> int:
        return 2 * self.m * self.n * self.k * self.count * self.batch

    def to_dict(self) -> dict[str, Any]:
        return {"m": self.m, "n": self.n, "k": self.k, "count": self.count, "role": self.role,
                "batch": self.batch}

    def problem(self, dtype: str = "float32", threads: int = 1):
        """The ``gemmtune.problem.Problem`` under which this GEMM's tuning is searched and cached
        (a stack of ``batch`` products when the layer has groups)."""
        from ..problem import Problem

        return Problem(self.m, self.n, self.k, dtype, threads, batch=self.batch)


@dataclass(frozen=True)
class ConvSpec:
    """A convolution layer: x (N, C, H, W) or (N, H, W, C) with w (K, C/groups, R, S).

    Construct it with keyword arguments (ints or pairs for stride, padding, dilation are
    normalised to pairs) or with :meth:`parse`. The geometry is checked on construction.

    Raises:
        TypeError, ValueError: bad geometry, with one sentence.
    """

    n: int
    c: int
    h: int
    w: int
    k: int
    r: int
    s: int
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    layout: str = "NCHW"

    def __post_init__(self) -> None:
        for name in ("n", "c", "h", "w", "k", "r", "s", "groups"):
            object.__setattr__(self, name, _positive(name.upper() if len(name) == 1 else name,
                                                     getattr(self, name)))
        object.__setattr__(self, "stride", pair("stride", self.stride, 1))
        object.__setattr__(self, "padding", pair("padding", self.padding, 0))
        object.__setattr__(self, "dilation", pair("dilation", self.dilation, 1))
        if not isinstance(self.layout, str) or self.layout.upper() not in LAYOUTS:
            raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {self.layout!r}.")
        object.__setattr__(self, "layout", self.layout.upper())
        g = self.groups
        if self.c % g or self.k % g:
            raise ValueError(f"groups={g} must divide both the input channels C={self.c} "
                             f"and the filters K={self.k}.")
        for axis, size, taps, pad, dil in (("height", self.h, self.r, self.padding[0], self.dilation[0]),
                                           ("width", self.w, self.s, self.padding[1], self.dilation[1])):
            span = dil * (taps - 1) + 1
            if span > size + 2 * pad:
                raise ValueError(f"the kernel spans {span} pixels in {axis}, more than the padded "
                                 f"input's {size + 2 * pad}.")

    # -- geometry -----------------------------------------------------------------------
    def output_hw(self) -> tuple[int, int]:
        """(P, Q): output height and width."""
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        p = (self.h + 2 * ph - dh * (self.r - 1) - 1) // sh + 1
        q = (self.w + 2 * pw - dw * (self.s - 1) - 1) // sw + 1
        return p, q

    def flops(self) -> int:
        """2 * N * K * P * Q * (C/groups) * R * S: the multiply-adds of the forward pass, twice."""
        p, q = self.output_hw()
        return 2 * self.n * self.k * p * q * (self.c // self.groups) * self.r * self.s

    def input_shape(self) -> tuple[int, int, int, int]:
        return (self.n, self.c, self.h, self.w) if self.layout == "NCHW" else (self.n, self.h, self.w, self.c)

    def weight_shape(self) -> tuple[int, int, int, int]:
        return (self.k, self.c // self.groups, self.r, self.s)

    def output_shape(self) -> tuple[int, int, int, int]:
        p, q = self.output_hw()
        return (self.n, self.k, p, q) if self.layout == "NCHW" else (self.n, p, q, self.k)

    @property
    def is_pointwise(self) -> bool:
        """A 1x1, stride-1, unpadded convolution: x itself is the im2col matrix."""
        return (self.r, self.s) == (1, 1) and self.stride == (1, 1) and self.padding == (0, 0)

    def gemms(self, direction: str = "forward", dtype: str = "float32") -> list[GemmShape]:
        """The distinct GEMM problems one call runs in ``direction``, with their counts.

        These are the problems to tune so that ``conv2d`` and ``matmul`` share tunings:
        conv2d calls ``gemmtune.matmul`` on exactly these shapes.

        Args:
            direction: "forward", "backward_data" or "backward_weight".
            dtype: the element type; it sets the im2col buffer's batch chunks.
        """
        from .plan import conv2d_plan

        return list(conv2d_plan(self, dtype=dtype).gemms[_direction(direction)])

    # -- text and JSON ------------------------------------------------------------------
    def label(self) -> str:
        """A short human name, e.g. "N1 C128 28x28 K128 3x3 s1 p1"."""
        def one(v: tuple[int, int]) -> str:
            return str(v[0]) if v[0] == v[1] else f"{v[0]}x{v[1]}"

        text = (f"N{self.n} C{self.c} {self.h}x{self.w} K{self.k} {self.r}x{self.s} "
                f"s{one(self.stride)} p{one(self.padding)}")
        if self.dilation != (1, 1):
            text += f" d{one(self.dilation)}"
        if self.groups != 1:
            text += f" g{self.groups}"
        if self.layout != "NCHW":
            text += f" {self.layout}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "c": self.c, "h": self.h, "w": self.w, "k": self.k, "r": self.r,
                "s": self.s, "stride": list(self.stride), "padding": list(self.padding),
                "dilation": list(self.dilation), "groups": self.groups, "layout": self.layout}

    @classmethod
    def from_dict(cls, data: Any) -> "ConvSpec":
        """The spec from :meth:`to_dict`'s form (stride, padding, dilation may be ints).

        Raises:
            ValueError: not an object, a missing size or an unknown key.
        """
        if not isinstance(data, dict):
            raise ValueError("a convolution must be an object with n, c, h, w, k, r and s.")
        required = ("n", "c", "h", "w", "k", "r", "s")
        missing = [key for key in required if key not in data]
        if missing:
            raise ValueError(f"the convolution lacks {missing[0]!r}.")
        known = set(required) | {"stride", "padding", "dilation", "groups", "layout"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown convolution key {unknown[0]!r}; expected {', '.join(sorted(known))}.")
        return cls(**data)

    @classmethod
    def parse(cls, text: str, layout: str = "NCHW") -> "ConvSpec":
        """Parse "N,C,H,W,K,R,S[,stride,pad[,dilation[,groups]]]" (e.g. "1,64,56,56,64,3,3,1,1").

        Raises:
            ValueError: not 7 to 11 comma-separated integers, or bad geometry.
        """
        if not isinstance(text, str):
            raise ValueError(f"a convolution must be text like '1,64,56,56,64,3,3,1,1', got {text!r}.")
        fields = [f.strip() for f in text.split(",")]
        if not 7 <= len(fields) <= 11 or not all(f.lstrip("-").isdigit() for f in fields):
            raise ValueError(f"{text!r} is not N,C,H,W,K,R,S[,stride,pad[,dilation[,groups]]] "
                             "(7 to 11 comma-separated integers).")
        v = [int(f) for f in fields]
        names = ("n", "c", "h", "w", "k", "r", "s", "stride", "padding", "dilation", "groups")
        try:
            return cls(**dict(zip(names, v)), layout=layout)
        except TypeError as e:
            raise ValueError(str(e)) from None


def _direction(direction: str) -> str:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}.")
    return direction
