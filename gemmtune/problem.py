"""A problem: the key under which tunings are stored and searched.

``op`` says which operation the kernels compute ("gemm": C = A @ B, with ``batch``
independent products for a stack), ``dtype`` the input pair and so the output (see
``gemmtune.dtypes``). Files written before ``op`` and ``batch`` existed have neither field:
they read as a single GEMM, so their keys and files stay valid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from . import dtypes

OPS = ("gemm",)


@dataclass(frozen=True, order=True)
class Problem:
    """``batch`` products C(m x n) = A(m x k) @ B(k x n) in ``dtype`` on ``threads`` threads."""

    m: int
    n: int
    k: int
    dtype: str = "float32"
    threads: int = 1
    batch: int = 1
    op: str = "gemm"

    def __post_init__(self) -> None:
        for name in ("m", "n", "k", "threads", "batch"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}.")
        object.__setattr__(self, "dtype", dtypes.normalize(self.dtype))
        if self.op not in OPS:
            raise ValueError(f"unknown operation {self.op!r}: expected one of {', '.join(OPS)}.")

    @property
    def flops(self) -> int:
        """Operations of one call: a multiply and an add per term, for every product."""
        return 2 * self.m * self.n * self.k * self.batch

    @property
    def dtype_spec(self) -> dtypes.DType:
        return dtypes.spec(self.dtype)

    def shape(self) -> tuple[int, int, int]:
        return (self.m, self.n, self.k)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"m": self.m, "n": self.n, "k": self.k, "dtype": self.dtype,
                               "threads": self.threads}
        # Written only when they say something, so a single GEMM reads as it always has.
        if self.batch != 1:
            out["batch"] = self.batch
        if self.op != "gemm":
            out["op"] = self.op
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Problem":
        if not isinstance(data, dict):
            raise ValueError("a problem must be a JSON object with m, n, k, dtype and threads.")
        missing = [f for f in ("m", "n", "k", "dtype", "threads") if f not in data]
        if missing:
            raise ValueError(f"problem lacks {missing[0]!r}.")
        op = data.get("op", "gemm")
        if not isinstance(op, str):
            raise ValueError(f"op must be a string, got {op!r}.")
        return cls(m=data["m"], n=data["n"], k=data["k"], dtype=data["dtype"],
                   threads=data["threads"], batch=data.get("batch", 1), op=op)

    def replace(self, **changes: Any) -> "Problem":
        from dataclasses import replace

        return replace(self, **changes)

    def key(self) -> str:
        """A stable name, e.g. ``float32-t2-512x512x512`` (``-b96`` for a stack of 96)."""
        prefix = "" if self.op == "gemm" else f"{self.op}-"
        suffix = "" if self.batch == 1 else f"-b{self.batch}"
        return f"{prefix}{self.dtype}-t{self.threads}-{self.m}x{self.n}x{self.k}{suffix}"

    def label(self) -> str:
        stack = "" if self.batch == 1 else f"{self.batch} x "
        return f"{stack}{self.m}x{self.n}x{self.k} {self.dtype} {self.threads}t"

    def kin(self) -> tuple[str, str, int]:
        """What must match for one problem's tuning to stand in for another's."""
        return (self.op, self.dtype, self.threads)


def log_distance(a: Problem, b: Problem) -> float:
    """Euclidean distance of two problems in (log m, log n, log k, log batch): 0 when equal.

    Doubling one side costs log 2 whatever the absolute size: the ranking every borrowed
    tuning (``matmul``'s nearest shape, the search's transfer starting points) uses.
    """
    return math.sqrt(sum((math.log(x) - math.log(y)) ** 2 for x, y in
                         ((a.m, b.m), (a.n, b.n), (a.k, b.k), (a.batch, b.batch))))


def rank_nearest(items: list, target: Problem, problem_of=lambda x: x, figure_of=lambda x: 0.0) -> list:
    """``items`` of ``target``'s kind, nearest first (ties: the faster first).

    Args:
        items: anything that carries a Problem (cache entries, ...).
        target: the problem to stand in for.
        problem_of: the item's Problem.
        figure_of: the item's speed (ties between equally near items go to the faster).
    """
    same = [x for x in items if problem_of(x).kin() == target.kin()]
    return sorted(same, key=lambda x: (log_distance(problem_of(x), target), -_number(figure_of(x))))


def _number(value: Any) -> float:
    # A hand-edited or hostile file may hold anything where a figure belongs.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0.0
    return float(value)
